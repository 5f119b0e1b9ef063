/**
 * The key rotations a client has followed from the key it pinned
 * (src/log/key-rotation.ts), kept on disk beside its checkpoints as the
 * lines of the origin's `keys` file it accepted, and checked again on load.
 *
 * Several processes may share the directory, as they share the checkpoint
 * store: a chain of n rotations is written once, to `<path>.<n>`, by a hard
 * link that fails if the name exists, so no writer ever replaces a longer
 * chain with a shorter one; the longest file is the chain. (`<path>` alone
 * is where earlier versions kept it.)
 *
 * Which keys may sign a checkpoint of size s: the current key; the key the
 * last rotation retired, until its window ends; and each earlier key for a
 * checkpoint too small to hold the entry that retired it and no larger than
 * the one stored (a mirror still serving the tree from before the
 * rotation). A thief of an old key cannot extend the stored tree: the chain
 * may be remembered before the checkpoint that proved it (a crash between
 * the two writes), and a size between them would otherwise take the old key.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { basename, dirname } from "node:path";
import {
  type HashReader,
  isLogError,
  type LogSource,
  leafHash,
  proveInclusion,
  readUnverifiedCheckpoint,
  type SignedCheckpoint,
  verifyInclusion,
} from "../log/index.ts";
import {
  followChain,
  KEYS_PATH,
  KeyChainError,
  type KeyTrust,
  MAX_KEYS_BYTES,
  mergeChains,
  readRotation,
} from "../log/key-rotation.ts";
import { type NoteVerifier, parseVerifierKey } from "../log/note.ts";
import type { WitnessPolicy } from "../log/policy.ts";
import { type KeysFileLine, parseKeysFile } from "../registry/key-chain-log.ts";
import { syncDir, writeFileDurably } from "../util/durable-file.ts";
import { openServedCheckpoint } from "./checks.ts";
import { classify, SourceError } from "./errors.ts";

/** A chain a source served, checked, whose new lines still need their inclusion proved. */
export interface PendingChain {
  readonly lines: readonly KeysFileLine[];
  readonly trust: KeyTrust;
  /** The lines not accepted before. */
  readonly fresh: readonly KeysFileLine[];
}

const encoder = new TextEncoder();

export class KeyChain {
  readonly #path: string;
  readonly #pinned: NoteVerifier;
  /** The pinned key's string; without one, rotations cannot be followed. */
  readonly #pinnedKey: string | undefined;
  #lines: readonly KeysFileLine[];
  #trust: KeyTrust | undefined;

  private constructor(path: string, pinned: NoteVerifier, lines: readonly KeysFileLine[]) {
    this.#path = path;
    this.#pinned = pinned;
    this.#pinnedKey = "verifierKey" in pinned ? (pinned.verifierKey as string) : undefined;
    this.#lines = lines;
    this.#trust =
      this.#pinnedKey === undefined
        ? undefined
        : followChain(
            this.#pinnedKey,
            lines.map((line) => line.entry.note),
          );
  }

  /** The chain remembered at `path` (files beside the stored checkpoints). */
  static async load(path: string, pinned: NoteVerifier): Promise<KeyChain> {
    const data = await readLongest(path);
    try {
      return new KeyChain(path, pinned, data ? parseKeysFile(data) : []);
    } catch (err) {
      throw damaged(path, err);
    }
  }

  /**
   * Takes a longer chain another process sharing the directory remembered
   * since (a checkpoint it stored may need its keys).
   */
  async reload(): Promise<void> {
    const data = await readLongest(this.#path);
    if (!data || !this.#pinnedKey) return;
    try {
      const lines = parseKeysFile(data);
      if (lines.length <= this.#lines.length) return;
      const notes = mergeChains(
        this.#lines.map((line) => line.entry.note),
        lines.map((line) => line.entry.note),
      );
      this.#trust = followChain(this.#pinnedKey, notes);
      this.#lines = lines;
    } catch (err) {
      throw damaged(this.#path, err);
    }
  }

  /** True when a rotation can be followed: the pinned key came as a string. */
  get canFollow(): boolean {
    return this.#pinnedKey !== undefined;
  }

  /** The key that signs checkpoints and the mirror list now. */
  get current(): NoteVerifier {
    return this.#trust ? parseVerifierKey(this.#trust.key) : this.#pinned;
  }

  /** The keys a checkpoint of `size` may be signed by at `now`, `stored` the size stored (see the module doc). */
  verifiersFor(size: number, now: number, stored: number): NoteVerifier[] {
    return keysFor(this.#pinned, this.#lines, this.#trust, { size, now, stored });
  }

  /** Every key of the chain (with `pending` adopted): a checkpoint verified and stored earlier may bear any one. */
  all(pending?: PendingChain): NoteVerifier[] {
    const lines = pending?.lines ?? this.#lines;
    const keys = new Set(lines.map((line) => readRotation(line.entry.note).new));
    return [this.#pinned, ...[...keys].map(parseVerifierKey)];
  }

  /**
   * Checks the `keys` file `source` served against the chain accepted so
   * far, up to a checkpoint of `size`; undefined when it adds no rotation.
   * Throws SourceError "key-chain".
   */
  extend(data: Uint8Array, source: string, size: number): PendingChain | undefined {
    if (!this.#pinnedKey) return undefined;
    try {
      // The file may have been read after the origin appended a rotation the checkpoint does not hold yet.
      const served = parseKeysFile(data).filter((line) => line.index < size);
      for (const line of served)
        if (readRotation(line.entry.note).sequence !== line.entry.sequence)
          throw new KeyChainError(
            "key-chain",
            `the key entry at ${line.index} is numbered ${line.entry.sequence}, its note otherwise`,
          );
      const notes = mergeChains(
        this.#lines.map((line) => line.entry.note),
        served.map((line) => line.entry.note),
      );
      if (notes.length === this.#lines.length) return undefined;
      const lines = notes.map((note, i) => {
        const line =
          i < this.#lines.length ? this.#lines[i] : served.find((l) => l.entry.note === note);
        if (!line) throw new Error("unreachable: a merged note comes from one of the two chains");
        return line;
      });
      for (const [i, line] of this.#lines.entries())
        if (served[i] && served[i].index !== line.index)
          throw new KeyChainError(
            "key-chain",
            `rotation ${i + 1} is at log index ${served[i].index}, but was accepted at ${line.index}`,
          );
      const trust = followChain(this.#pinnedKey, notes);
      return { lines, trust, fresh: lines.slice(this.#lines.length) };
    } catch (err) {
      if (err instanceof KeyChainError)
        throw new SourceError(source, "key-chain", err.message, { cause: err });
      throw err;
    }
  }

  /** The keys a checkpoint of `size` may bear once `pending` is adopted. */
  pendingVerifiers(
    pending: PendingChain,
    size: number,
    now: number,
    stored: number,
  ): NoteVerifier[] {
    return keysFor(this.#pinned, pending.lines, pending.trust, { size, now, stored });
  }

  /** Remembers `pending`, once the checkpoint it came with is proven (see the module doc). */
  async adopt(pending: PendingChain): Promise<void> {
    const dir = dirname(this.#path);
    await mkdir(dir, { recursive: true });
    const data = keysFileOf(pending.lines);
    const target = `${this.#path}.${pending.lines.length}`;
    const tmp = `${this.#path}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await writeFileDurably(tmp, data, true, "wx");
      await link(tmp, target);
      await syncDir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // Another process remembered a chain of this length first: both were proven in one log.
      if (!Buffer.from(await readFile(target)).equals(Buffer.from(data)))
        throw damaged(target, new Error("another chain of the same length was remembered"));
    } finally {
      await rm(tmp, { force: true });
    }
    if (pending.lines.length > this.#lines.length) {
      this.#lines = pending.lines;
      this.#trust = pending.trust;
    }
    await this.reload();
  }

  /** The accepted chain as the origin's `keys` file holds it (byte for byte). */
  get keysFile(): Uint8Array | undefined {
    return this.#lines.length === 0 ? undefined : keysFileOf(this.#lines);
  }
}

function damaged(path: string, err: unknown): Error {
  return new Error(
    `the key chain remembered in ${path} is refused (${(err as Error).message}); ` +
      "it was damaged or replaced",
    { cause: err },
  );
}

/** The longest chain remembered at `path`: `<path>.<n>` with the largest n, else `<path>`. */
async function readLongest(path: string): Promise<Uint8Array | undefined> {
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let longest = 0;
  for (const name of names) {
    const suffix = name.startsWith(`${base}.`) ? name.slice(base.length + 1) : "";
    if (/^[1-9]\d{0,5}$/.test(suffix)) longest = Math.max(longest, Number(suffix));
  }
  try {
    return await readFile(longest > 0 ? `${path}.${longest}` : path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function keysFileOf(lines: readonly KeysFileLine[]): Uint8Array {
  return encoder.encode(
    lines.map((line) => `${line.index} ${new TextDecoder().decode(line.bytes)}\n`).join(""),
  );
}

function keysFor(
  pinned: NoteVerifier,
  lines: readonly KeysFileLine[],
  trust: KeyTrust | undefined,
  at: { size: number; now: number; stored: number },
): NoteVerifier[] {
  if (!trust || lines.length === 0) return [pinned];
  const keys = new Set([trust.key]);
  if (trust.retired && at.now <= Date.parse(trust.retired.until)) keys.add(trust.retired.key);
  for (const line of lines)
    if (at.size <= line.index && at.size <= at.stored) keys.add(readRotation(line.entry.note).old);
  return [...keys].map(parseVerifierKey);
}

/** The size a checkpoint claims, before its signature is checked: which keys may sign it depends on it. */
export function claimedSize(raw: Uint8Array): number {
  try {
    return readUnverifiedCheckpoint(raw).size;
  } catch {
    return Number.MAX_SAFE_INTEGER; // Refused with the reason when it is opened.
  }
}

export interface FollowOptions {
  readonly policy?: WitnessPolicy;
  /** The size of the checkpoint stored (0: none). */
  readonly stored: number;
  /** Read `keys` even if the checkpoint verifies (see openFollowing). */
  readonly learn?: boolean;
}

/**
 * Opens a checkpoint `source` served with the keys trusted now; one they do
 * not verify may be signed by a key the origin rotated to: then the
 * source's `keys` file is followed, the checkpoint opened with the key it
 * ends at, and each new rotation's entry proven included in it (hashes from
 * `readerFor`, a reader of the checkpoint's tree). The caller adopts the
 * pending chain once it has accepted the checkpoint.
 *
 * With `learn` (a client's first checkpoint), the `keys` file is read
 * whether or not the checkpoint needs it: a client that pins the key of
 * today learns the root set the chain so far put in force, so that a thief
 * of that key cannot later serve a chain that starts at it and rotates
 * with its signature alone.
 */
export async function openFollowing(
  keys: KeyChain,
  raw: Uint8Array,
  source: string,
  log: LogSource,
  readerFor: (cp: SignedCheckpoint) => HashReader,
  options: FollowOptions,
): Promise<{ cp: SignedCheckpoint; pending?: PendingChain }> {
  const { policy, learn, stored } = options;
  const size = claimedSize(raw);
  const now = Date.now();
  const withTrusted = () =>
    openServedCheckpoint(raw, keys.verifiersFor(size, now, stored), source, policy);
  let refused: unknown;
  if (!learn || !keys.canFollow) {
    try {
      return { cp: withTrusted() };
    } catch (err) {
      if (!(err instanceof SourceError && err.code === "signature") || !keys.canFollow) throw err;
      refused = err;
    }
  }
  const served = await log.read(KEYS_PATH, MAX_KEYS_BYTES).catch((e: unknown) => {
    if (isLogError(e, "not-found")) return undefined;
    throw e;
  });
  const pending = served && keys.extend(served, source, size);
  if (!pending) {
    if (refused) throw refused;
    return { cp: withTrusted() };
  }
  const cp = openServedCheckpoint(
    raw,
    keys.pendingVerifiers(pending, size, now, stored),
    source,
    policy,
  );
  for (const line of pending.fresh) await proveKeyEntry(line, cp, source, readerFor(cp));
  return { cp, pending };
}

/** Proves a rotation's `key` entry, byte for byte as the keys file gave it, included in `cp`. */
async function proveKeyEntry(
  line: KeysFileLine,
  cp: SignedCheckpoint,
  source: string,
  reader: HashReader,
): Promise<void> {
  const refuse = (why: string) =>
    new SourceError(source, "key-chain", `rotation ${line.entry.sequence}: ${why}`);
  if (line.index >= cp.size)
    throw refuse(`its entry ${line.index} is not below the checkpoint's size ${cp.size}`);
  const proof = await proveInclusion(line.index, cp.size, reader).catch((err: unknown) => {
    throw classify(err, source, "tile");
  });
  try {
    verifyInclusion(line.index, cp.size, leafHash(line.bytes), proof, cp.root);
  } catch {
    throw refuse(`the log holds another entry at ${line.index}`);
  }
}
