/**
 * `cairn witness`: a C2SP tlog-witness for Cairn logs (or any log whose
 * checkpoints are Ed25519 signed notes). Its data directory holds the
 * cosigning key (`witness.key`) and the SQLite store (`witness.sqlite`),
 * and a lock so that only one process at a time uses them.
 */
import { join } from "node:path";
import {
  type Cosigner,
  LogError,
  type NoteVerifier,
  parseVerifierKey,
  releaseLock,
  takeLock,
} from "../log/index.ts";
import { createWitnessKey, loadWitnessKey } from "./key.ts";
import { startWitnessServer, type WitnessServer } from "./server.ts";
import { SqliteWitnessStore } from "./store.ts";

export { MAX_REQUEST_BYTES } from "./server.ts";
export { type Evidence, SqliteWitnessStore } from "./store.ts";

export function witnessPaths(dataDir: string) {
  return {
    key: join(dataDir, "witness.key"),
    store: join(dataDir, "witness.sqlite"),
    lock: join(dataDir, ".lock"),
  };
}

/** Creates the witness's key in `dataDir`; refuses to replace one. */
export async function initWitness(dataDir: string, name: string): Promise<Cosigner> {
  try {
    return await createWitnessKey(witnessPaths(dataDir).key, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST")
      throw new LogError("conflict", `${witnessPaths(dataDir).key} exists already`);
    throw err;
  }
}

/** The logs to witness, by origin: each verifier key names its origin (several: a rotation). */
export function logsFromKeys(vkeys: readonly string[]): Map<string, NoteVerifier[]> {
  const logs = new Map<string, NoteVerifier[]>();
  for (const vkey of vkeys) {
    const verifier = parseVerifierKey(vkey);
    logs.set(verifier.name, [...(logs.get(verifier.name) ?? []), verifier]);
  }
  return logs;
}

export interface RunWitnessOptions {
  readonly dataDir: string;
  /** Verifier keys of the logs to witness. */
  readonly logs: readonly string[];
  readonly host?: string;
  readonly port?: number;
  /** The cosigning clock, in seconds (tests). */
  readonly now?: () => bigint;
  readonly beforeSwap?: (origin: string, size: number) => Promise<void>;
}

export interface RunningWitness extends WitnessServer {
  readonly cosigner: Cosigner;
  readonly store: SqliteWitnessStore;
}

export async function runWitness(options: RunWitnessOptions): Promise<RunningWitness> {
  const paths = witnessPaths(options.dataDir);
  const logs = logsFromKeys(options.logs);
  if (logs.size === 0) throw new LogError("malformed-key", "give at least one log verifier key");
  const cosigner = await loadWitnessKey(paths.key, options.now);
  await takeLock(paths.lock);
  let store: SqliteWitnessStore | undefined;
  try {
    store = SqliteWitnessStore.open(paths.store);
    const server = await startWitnessServer({ ...options, cosigner, logs, store });
    const opened = store;
    return {
      url: server.url,
      cosigner,
      store: opened,
      close: async () => {
        await server.close();
        opened.close();
        await releaseLock(paths.lock);
      },
    };
  } catch (err) {
    store?.close();
    await releaseLock(paths.lock);
    throw err;
  }
}
