/**
 * Rotation of a log's checkpoint key, as a chain of signed notes (C2SP
 * signed-note) in the manner of TUF's root role (spec §5.3.4): note n names
 * the key that signed checkpoints before it (`old`) and the one that signs
 * them after it (`new`), and is valid only when signed by a threshold of the
 * root keys in force before it and by the new key itself (proof of
 * possession). A client walks the chain one step at a time from the key it
 * pinned, never skipping one:
 *
 *   cairn-key-rotation/v1
 *   origin example.com/cairn
 *   sequence 1
 *   old example.com/cairn+1a2b3c4d+AXt…
 *   new example.com/cairn+5e6f7a8b+AZq…
 *   old-until 2026-12-07T21:30:00.000Z
 *   roots 2 alice+0badc0de+AQ… bob+0ddba11a+AR…
 *
 * Until `old-until` the origin signs checkpoints with both keys, so clients
 * that have not seen the rotation keep working; after it, a checkpoint signed
 * by the old key alone is refused by a client that knows the rotation. The
 * `roots` line is optional: without one the root set stays as it was, and
 * until a note sets one it is {the current checkpoint key}, threshold 1. A
 * note may keep the key (`new` = `old`) to change only the root set.
 * Thresholds count distinct keys, never signature lines.
 */
import { CodedError } from "../util/coded-error.ts";
import { isLogError } from "./errors.ts";
import {
  type KeyedVerifier,
  type NoteSigner,
  type OpenedNote,
  openNote,
  parseNote,
  parseVerifierKey,
  signNote,
} from "./note.ts";

/** The chain's path in the static tree, beside `checkpoint` and `mirrors`. */
export const KEYS_PATH = "keys";
/** A chain is a few hundred bytes per rotation; anything bigger is refused. */
export const MAX_KEYS_BYTES = 1024 * 1024;
/** At most this many root keys in one set. */
export const MAX_ROOT_KEYS = 16;
const HEADER = "cairn-key-rotation/v1";

export type KeyChainErrorCode =
  /** A rotation note that is not exactly what formatKeyRotation writes. */
  | "malformed-rotation"
  /** A note that does not follow from the trusted state: a gap, a wrong key, too few signatures, a competing note. */
  | "key-chain";

export class KeyChainError extends CodedError<KeyChainErrorCode> {
  override name = "KeyChainError";
}

export interface RootSet {
  readonly threshold: number;
  /** Verifier key strings, distinct. */
  readonly keys: readonly string[];
}

export interface KeyRotation {
  readonly origin: string;
  readonly sequence: number;
  /** Verifier key strings. */
  readonly old: string;
  readonly new: string;
  /** Until when the old key still signs checkpoints beside the new one (ISO 8601 UTC). */
  readonly oldUntil: string;
  /** The root set from this note on; absent: unchanged. */
  readonly roots?: RootSet;
}

/** What a client trusts after following the chain up to `sequence`. */
export interface KeyTrust {
  readonly origin: string;
  /** The last rotation followed, 0 before any. */
  readonly sequence: number;
  /** The key that signs checkpoints now. */
  readonly key: string;
  /** The root set a next rotation needs; absent: {key}, threshold 1. */
  readonly roots?: RootSet;
  /** The key the last rotation retired, still valid on checkpoints until `until`. */
  readonly retired?: { readonly key: string; readonly until: string };
}

export function formatKeyRotation(r: KeyRotation): string {
  const lines = [
    HEADER,
    `origin ${r.origin}`,
    `sequence ${r.sequence}`,
    `old ${r.old}`,
    `new ${r.new}`,
    `old-until ${r.oldUntil}`,
  ];
  if (r.roots) lines.push(`roots ${r.roots.threshold} ${r.roots.keys.join(" ")}`);
  const text = `${lines.join("\n")}\n`;
  // Only what parses back to itself is ever signed.
  parseKeyRotation(text);
  return text;
}

function malformed(why: string): KeyChainError {
  return new KeyChainError("malformed-rotation", `malformed key rotation note: ${why}`);
}

function field(line: string | undefined, name: string): string {
  if (!line?.startsWith(`${name} `)) throw malformed(`expected a line "${name} …"`);
  const value = line.slice(name.length + 1);
  if (value.length === 0) throw malformed(`empty ${name}`);
  return value;
}

function verifierKey(text: string, what: string): string {
  try {
    parseVerifierKey(text);
  } catch (err) {
    throw malformed(`${what}: ${(err as Error).message}`);
  }
  return text;
}

function count(text: string, what: string): number {
  if (!/^[1-9]\d{0,8}$/.test(text)) throw malformed(`${what} ${JSON.stringify(text)}`);
  return Number(text);
}

export function parseKeyRotation(text: string): KeyRotation {
  if (!text.endsWith("\n")) throw malformed("it must end in a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines[0] !== HEADER) throw malformed(`the first line must be ${HEADER}`);
  if (lines.length !== 6 && lines.length !== 7) throw malformed("wrong number of lines");
  const origin = field(lines[1], "origin");
  const sequence = count(field(lines[2], "sequence"), "sequence");
  const old = verifierKey(field(lines[3], "old"), "old");
  const next = verifierKey(field(lines[4], "new"), "new");
  const oldUntil = field(lines[5], "old-until");
  const time = Date.parse(oldUntil);
  if (!Number.isFinite(time) || new Date(time).toISOString() !== oldUntil)
    throw malformed(`old-until ${JSON.stringify(oldUntil)} is not an ISO 8601 UTC time`);
  if (parseVerifierKey(next).name !== origin)
    throw malformed("the new key must be named like the origin");
  const rotation: KeyRotation = { origin, sequence, old, new: next, oldUntil };
  if (lines.length === 6) return rotation;
  const [threshold, ...keys] = field(lines[6], "roots").split(" ");
  const k = count(threshold, "threshold");
  for (const key of keys) verifierKey(key, "root key");
  if (keys.length === 0 || keys.length > MAX_ROOT_KEYS)
    throw malformed(`a root set has 1 to ${MAX_ROOT_KEYS} keys`);
  // By public key: one key under two names would count twice toward the threshold.
  if (new Set(keys.map((key) => parseVerifierKey(key).publicKey)).size !== keys.length)
    throw malformed("a root key is listed twice");
  if (k > keys.length) throw malformed(`threshold ${k} of ${keys.length} keys`);
  return { ...rotation, roots: { threshold: k, keys } };
}

/** Signs a rotation with the root keys and the new key (each signer once). */
export function signKeyRotation(r: KeyRotation, signers: readonly NoteSigner[]): string {
  return signNote(formatKeyRotation(r), signers);
}

/** The trust a client starts from when it pins `key` and knows no rotation. */
export function initialTrust(key: string): KeyTrust {
  return { origin: parseVerifierKey(key).name, sequence: 0, key };
}

export function rootsOf(trust: KeyTrust): RootSet {
  return trust.roots ?? { threshold: 1, keys: [trust.key] };
}

function chainError(why: string): KeyChainError {
  return new KeyChainError("key-chain", `key rotation chain refused: ${why}`);
}

/** Opens `note` under `verifiers`; none of theirs signed it: no verified signatures. */
function openBy(note: string, verifiers: readonly KeyedVerifier[]): OpenedNote["verified"] {
  try {
    return openNote(note, verifiers).verified;
  } catch (err) {
    if (isLogError(err, "unverified-note")) return [];
    if (isLogError(err, "invalid-signature")) throw chainError((err as Error).message);
    throw malformed((err as Error).message);
  }
}

/**
 * Checks that `note` is the next step from `trust` and returns the trust
 * after it. Throws KeyChainError "key-chain" (or "malformed-rotation").
 */
export function followRotation(trust: KeyTrust, note: string): KeyTrust {
  const r = parseKeyRotation(parseNoteText(note));
  const at = `rotation ${r.sequence}`;
  if (r.origin !== trust.origin) throw chainError(`${at} is for ${r.origin}, not ${trust.origin}`);
  if (r.sequence !== trust.sequence + 1)
    throw chainError(`${at} does not follow rotation ${trust.sequence}: a step is missing`);
  if (r.old !== trust.key)
    throw chainError(`${at} replaces ${r.old}, but the trusted key is ${trust.key}`);
  const roots = rootsOf(trust);
  // openNote counts each key once, however many lines it signed.
  const byRoots = openBy(note, roots.keys.map(parseVerifierKey)).length;
  if (byRoots < roots.threshold)
    throw chainError(`${at} is signed by ${byRoots} of the root keys, ${roots.threshold} needed`);
  if (openBy(note, [parseVerifierKey(r.new)]).length === 0)
    throw chainError(`${at} is not signed by its new key`);
  return {
    origin: r.origin,
    sequence: r.sequence,
    key: r.new,
    ...(r.roots ? { roots: r.roots } : trust.roots ? { roots: trust.roots } : {}),
    ...(r.new === r.old
      ? trust.retired
        ? { retired: trust.retired }
        : {}
      : {
          retired: { key: r.old, until: r.oldUntil },
        }),
  };
}

function parseNoteText(note: string): string {
  try {
    return parseNote(note).text;
  } catch (err) {
    throw malformed((err as Error).message);
  }
}

/** What a note claims, unverified. */
export function readRotation(note: string): KeyRotation {
  return parseKeyRotation(parseNoteText(note));
}

/**
 * Follows `notes` (the whole chain, from sequence 1) from a client that
 * pinned `pinned` and has already accepted the first `known` of them:
 * every note is checked, and the pinned key must be where the chain starts
 * or a key it rotated to. Returns the trust at the end of the chain.
 */
export function followChain(pinned: string, notes: readonly string[]): KeyTrust {
  if (notes.length === 0) return initialTrust(pinned);
  const first = readRotation(notes[0]);
  let trust = initialTrust(first.old);
  let pinnedSeen = first.old === pinned;
  for (const note of notes) {
    trust = followRotation(trust, note);
    if (trust.key === pinned) pinnedSeen = true;
  }
  if (!pinnedSeen) throw chainError(`the pinned key ${pinned} is not in the chain`);
  return trust;
}

/**
 * Merges the chain a client accepted before with one a source serves now:
 * the served one must repeat the accepted notes byte for byte and number
 * its notes 1, 2, … without a gap; two notes with one sequence are refused,
 * naming both.
 */
export function mergeChains(accepted: readonly string[], served: readonly string[]): string[] {
  const bySequence = new Map<number, string>();
  for (const note of [...accepted, ...served]) {
    const { sequence } = readRotation(note);
    const other = bySequence.get(sequence);
    if (other !== undefined && other !== note)
      throw chainError(`two different notes claim rotation ${sequence}:\n${other}\n---\n${note}`);
    bySequence.set(sequence, note);
  }
  const chain: string[] = [];
  for (let s = 1; bySequence.has(s); s++) chain.push(bySequence.get(s) as string);
  if (chain.length !== bySequence.size)
    throw chainError(`rotation ${chain.length + 1} is missing from the chain`);
  return chain;
}

/** The verifier keys a checkpoint may be signed by at `now`. */
export function checkpointKeys(trust: KeyTrust, now: number): string[] {
  const keys = [trust.key];
  if (trust.retired && now <= Date.parse(trust.retired.until)) keys.push(trust.retired.key);
  return keys;
}
