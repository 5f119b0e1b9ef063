/**
 * Rotating the origin's checkpoint key (src/log/key-rotation.ts), on a data
 * directory whose server is stopped. Files beside the key:
 *
 * - `key`: the key that signs checkpoints now.
 * - `key.next`: the key a rotation in progress introduces, and the end of
 *   its window (`old-until <time>`). Written before the `key` entry is
 *   appended; the first checkpoint it signs is the one that holds the entry.
 * - `key.retiring`: the key rotated out and the end of its window, during
 *   which it signs each checkpoint beside the new key.
 *
 * A crash anywhere is finished later: whoever loads the key (serve, `cairn
 * key`, admin commands) promotes the next key once the stored checkpoint
 * bears its signature, since the entry is then in the log. A next key that
 * signed nothing is dropped only by the next rotation, holding the log's
 * lock: without the lock, a rotation may be waiting for its append, and
 * dropping its key then would leave the log rotated to a key nobody holds.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  generateKey,
  isLogError,
  type NoteSigner,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from "../log/index.ts";
import {
  followRotation,
  initialTrust,
  type KeyTrust,
  type RootSet,
  rootsOf,
  signKeyRotation,
} from "../log/key-rotation.ts";
import { formatMirrorList, MIRROR_LIST_PATH, openMirrorList } from "../log/mirror-list.ts";
import { trustAfter } from "../registry/key-chain-log.ts";
import { CodedError } from "../util/coded-error.ts";
import { createPrivateFile, replaceFile, syncDir } from "../util/durable-file.ts";
import { dataPaths } from "./data-paths.ts";
import { loadOrCreateKey, type OriginKey } from "./keys.ts";
import { Registry } from "./registry.ts";

export type KeyRotationErrorCode =
  /** The data directory's key is not the key the log's chain ends at. */
  | "key-mismatch"
  /** The root keys given cannot reach the root set's threshold. */
  | "too-few-roots";

export class KeyRotationError extends CodedError<KeyRotationErrorCode> {
  override name = "KeyRotationError";
}

interface PendingKey {
  readonly signerKey: string;
  readonly signer: ReturnType<typeof parseSignerKey>;
  readonly until: string;
}

/** Writes a private key file whole, mode 0600, then renames it over `path`. */
async function writeKeyFile(path: string, text: string): Promise<void> {
  // Two processes may promote one rotation at once: each writes the same bytes through its own file.
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await createPrivateFile(tmp, text);
  await rename(tmp, path);
  await syncDir(dirname(path));
}

async function readPending(path: string): Promise<PendingKey | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const match = /^(\S+)\nold-until (\S+)\n$/.exec(text);
  if (!match) throw new Error(`${path} is not a key and an old-until line`);
  return { signerKey: match[1], signer: parseSignerKey(match[1]), until: match[2] };
}

function pendingText(signerKey: string, until: string): string {
  return `${signerKey}\nold-until ${until}\n`;
}

/**
 * Promotes the next key once the stored checkpoint bears its signature (see
 * the module doc); with `dropUnsigned`, which only a holder of the log's lock
 * may pass, drops one that signed nothing.
 */
async function finishRotation(dataDir: string, dropUnsigned = false): Promise<void> {
  const paths = dataPaths(dataDir);
  const next = await readPending(`${paths.key}.next`);
  if (!next) return;
  const current = (await readFile(paths.key, "utf8")).trim();
  const nextKey = next.signer.verifierKey;
  if (parseSignerKey(current).verifierKey !== nextKey) {
    const checkpoint = await readFile(join(paths.tree, "checkpoint")).catch(() => undefined);
    if (!checkpoint || !signedBy(checkpoint, nextKey)) {
      if (dropUnsigned) await rm(`${paths.key}.next`, { force: true });
      return;
    }
    await writeKeyFile(`${paths.key}.retiring`, pendingText(current, next.until));
    await writeKeyFile(paths.key, `${next.signerKey}\n`);
  }
  // Promoted: the key file holds it now.
  await rm(`${paths.key}.next`, { force: true });
}

function signedBy(note: Uint8Array, verifierKey: string): boolean {
  try {
    openNote(note, [parseVerifierKey(verifierKey)]);
    return true;
  } catch (err) {
    if (isLogError(err, "unverified-note") || isLogError(err, "invalid-signature")) return false;
    throw err;
  }
}

/**
 * The origin's key as `cairn serve` uses it: any interrupted rotation
 * finished, and the retiring key signing beside it until its window ends.
 */
export async function loadOriginKey(dataDir: string, originName?: string): Promise<OriginKey> {
  await finishRotation(dataDir);
  const path = dataPaths(dataDir).key;
  const key = await loadOrCreateKey(path, originName);
  const retiring = await readPending(`${path}.retiring`);
  if (!retiring) return key;
  const until = Date.parse(retiring.until);
  return { ...key, cosigners: () => (Date.now() <= until ? [retiring.signer] : []) };
}

export interface RotateOptions {
  readonly dataDir: string;
  readonly originName?: string;
  readonly durable: boolean;
  /** How long the old key keeps signing beside the new one, in milliseconds. */
  readonly windowMs: number;
  /** Offline root keys (signer key strings) that sign the note. */
  readonly rootSigners?: readonly NoteSigner[];
  /** A new root set; with `keepKey`, the rotation changes only this. */
  readonly roots?: RootSet;
  readonly keepKey?: boolean;
  readonly now?: () => number;
}

export interface RotateResult {
  readonly sequence: number;
  readonly index: number;
  readonly verifierKey: string;
  readonly oldUntil: string;
}

/** Appends the next rotation (see `cairn key rotate` and `cairn key roots`). */
export async function rotateKey(options: RotateOptions): Promise<RotateResult> {
  const paths = dataPaths(options.dataDir);
  const key = await loadOriginKey(options.dataDir, options.originName);
  let rotating: NoteSigner[] = [];
  const registry = await Registry.open({
    dataDir: options.dataDir,
    key: { ...key, cosigners: () => [...(key.cosigners?.() ?? []), ...rotating] },
    durable: options.durable,
  });
  try {
    // Holding the lock, no rotation is waiting for its append: a next key that signed nothing is a crash's.
    await finishRotation(options.dataDir, true);
    const trust: KeyTrust = trustAfter(registry.state.keyChain) ?? initialTrust(key.verifierKey);
    if (trust.key !== key.verifierKey)
      throw new KeyRotationError(
        "key-mismatch",
        `the log's key chain ends at ${trust.key}, but ${paths.key} holds ${key.verifierKey}`,
      );
    const oldUntil = new Date((options.now ?? Date.now)() + options.windowMs).toISOString();
    let next = { signer: key.signer, verifierKey: key.verifierKey };
    if (!options.keepKey) {
      const generated = generateKey(key.origin);
      next = { signer: parseSignerKey(generated.signerKey), verifierKey: generated.verifierKey };
      await writeKeyFile(`${paths.key}.next`, pendingText(generated.signerKey, oldUntil));
    }
    const note = signKeyRotation(
      {
        origin: key.origin,
        sequence: trust.sequence + 1,
        old: trust.key,
        new: next.verifierKey,
        oldUntil,
        ...(options.roots ? { roots: options.roots } : {}),
      },
      signersFor(trust, key, options.rootSigners ?? [], next.signer),
    );
    followRotation(trust, note);
    if (!options.keepKey) rotating = [next.signer];
    const index = await registry.appendKeyEntry(trust.sequence + 1, note);
    if (!options.keepKey) await resignMirrorList(paths.tree, key, next.signer);
    return { sequence: trust.sequence + 1, index, verifierKey: next.verifierKey, oldUntil };
  } finally {
    try {
      await finishRotation(options.dataDir, true);
    } finally {
      await registry.close();
    }
  }
}

/** Each distinct key that signs: the root keys at hand, then the new key. */
function signersFor(
  trust: KeyTrust,
  key: OriginKey,
  offline: readonly NoteSigner[],
  next: NoteSigner,
): NoteSigner[] {
  const roots = rootsOf(trust);
  const rootIds = new Set(roots.keys.map((k) => verifierId(parseVerifierKey(k))));
  const signers = new Map<string, NoteSigner>();
  for (const signer of [key.signer, ...offline])
    if (rootIds.has(verifierId(signer))) signers.set(verifierId(signer), signer);
  if (signers.size < roots.threshold)
    throw new KeyRotationError(
      "too-few-roots",
      `the rotation needs ${roots.threshold} of the root keys ${roots.keys.join(", ")}; ` +
        `${signers.size} given (--root-key)`,
    );
  signers.set(verifierId(next), next);
  return [...signers.values()];
}

function verifierId(k: { name: string; keyId: number }): string {
  return `${k.name}+${k.keyId}`;
}

/** The mirror list, signed by the old key, signed again by both so clients on either side read it. */
async function resignMirrorList(treeDir: string, key: OriginKey, next: NoteSigner): Promise<void> {
  const path = join(treeDir, MIRROR_LIST_PATH);
  const note = await readFile(path).catch(() => undefined);
  if (!note) return;
  const list = openMirrorList(note, key.verifier);
  const signed = signNote(formatMirrorList(list), [next, key.signer]);
  await replaceFile(path, new TextEncoder().encode(signed), true);
  await syncDir(treeDir);
}
