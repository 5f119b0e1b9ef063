/** Logs to submit to a witness, and `cairn witness` in a child process. */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import {
  formatAddCheckpointRequest,
  formatCheckpoint,
  leafHash,
  MemoryHashReader,
  type NoteSigner,
  proveConsistency,
  signNote,
  TreeBuilder,
} from "../../src/log/index.ts";
import { CHECKOUT_CAIRN, collectOutput, waitForOutput } from "./cairn-server.ts";
import { entryBytes, TEST_ORIGIN } from "./log.ts";

/** A log of generated entries; `salt` makes another log that shares only the first `shared` entries. */
export function testLog(signer: NoteSigner, length = 600, fork?: { shared: number; salt: string }) {
  const entries = Array.from({ length }, (_, i) =>
    fork && i >= fork.shared ? new TextEncoder().encode(`${fork.salt}-${i}`) : entryBytes(i),
  );
  const reader = new MemoryHashReader(entries.map(leafHash));
  const checkpointAt = (size: number): string => {
    const tree = TreeBuilder.empty();
    for (const e of entries.slice(0, size)) tree.append(e, () => {});
    return signNote(
      formatCheckpoint({ origin: TEST_ORIGIN, size, root: tree.root(), extensions: [] }),
      [signer],
    );
  };
  const request = async (oldSize: number, size: number): Promise<string> =>
    formatAddCheckpointRequest({
      oldSize,
      // A request going backwards (which the witness must refuse) carries no proof.
      proof: oldSize > size ? [] : await proveConsistency(oldSize, size, reader),
      checkpoint: checkpointAt(size),
    });
  return { checkpointAt, request };
}

export async function postCheckpoint(
  url: string,
  body: string,
): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`${url}/add-checkpoint`, { method: "POST", body });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}

export interface WitnessProcess {
  readonly child: ChildProcess;
  readonly url: string;
  stdout(): string;
  /** Resolves once stdout matches `pattern`. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** Lets a stalled request of a stalling witness go on. */
  release(): void;
  kill(signal: NodeJS.Signals): Promise<void>;
}

const READY = /listening on (http:\/\/\S+)\n/;

async function started(child: ChildProcess): Promise<WitnessProcess> {
  const output = collectOutput(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = await waitForOutput(child, output.stdout, READY, 60_000).catch((err: Error) => {
    child.kill("SIGKILL");
    throw new Error(`${err.message}: ${output.stderr()}`);
  });
  return {
    child,
    url: ready[1],
    stdout: output.stdout,
    waitFor: (pattern) => waitForOutput(child, output.stdout, pattern, 60_000),
    release: () => child.stdin?.write("release\n"),
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** `cairn witness serve` on a free loopback port. */
export function startWitnessCli(dataDir: string, logs: readonly string[]): Promise<WitnessProcess> {
  const [program, ...leading] = CHECKOUT_CAIRN;
  const args = ["witness", "serve", "--data", dataDir, "--port", "0"];
  for (const vkey of logs) args.push("--log", vkey);
  return started(spawn(program, [...leading, ...args], { stdio: ["ignore", "pipe", "pipe"] }));
}

/**
 * The witness in a child process that stalls, for good, every request for
 * a checkpoint of `stallSize` between its checks and its compare-and-swap,
 * printing `stalled <size>` when it does, until `release`: a race held
 * open on purpose.
 */
export function startStallingWitness(
  dataDir: string,
  logs: readonly string[],
  stallSize: number,
): Promise<WitnessProcess> {
  const script = join(import.meta.dirname, "witness-stall.ts");
  return started(
    spawn(process.execPath, [script, dataDir, String(stallSize), ...logs], {
      stdio: ["pipe", "pipe", "pipe"],
    }),
  );
}
