/**
 * The `key` entries of a log, as the chain of rotation notes they carry
 * (src/log/key-rotation.ts), and the `keys` file the origin serves beside
 * its checkpoint so a client can follow the chain without replaying the
 * log: one line per rotation, in order, giving the entry's log index and
 * its bytes as the log holds them (canonical JSON has no raw newline):
 *
 *   41 {"kind":"key","note":"cairn-key-rotation/v1\norigin …","sequence":1,"size":41,"time":"…","v":1}
 *
 * A client proves each line's inclusion at its index under a checkpoint
 * signed by the key it rotates to, so the file needs no signature of its own.
 */
import { followChain, KeyChainError, type KeyTrust, readRotation } from "../log/key-rotation.ts";
import { decodeEntry, EntryError, encodeEntry, type KeyEntry } from "./entries.ts";

export interface LoggedKey {
  readonly index: number;
  readonly entry: KeyEntry;
}

/** A line of the keys file: the entry and its exact bytes in the log. */
export interface KeysFileLine extends LoggedKey {
  readonly bytes: Uint8Array;
}

/** Most rotations a keys file may list. */
export const MAX_ROTATIONS = 4096;

/** The trust the chain of `key` entries ends at, from the key that signed the log before the first. */
export function trustAfter(chain: readonly LoggedKey[], pinned?: string): KeyTrust | undefined {
  const notes = chain.map((k) => k.entry.note);
  if (notes.length === 0) return undefined;
  return followChain(pinned ?? firstKey(chain), notes);
}

function firstKey(chain: readonly LoggedKey[]): string {
  return readRotation(chain[0].entry.note).old;
}

/**
 * Checks that `entry`, at log index `index`, is the next rotation after
 * `chain`: numbered next, and its note a valid step (a replay checks the
 * whole chain from the log alone). Throws EntryError "cannot-apply".
 */
export function checkKeyEntry(chain: readonly LoggedKey[], entry: KeyEntry, index: number): void {
  const refuse = (why: string, cause?: unknown) =>
    new EntryError("cannot-apply", `key entry ${index}: ${why}`, { index, cause });
  if (entry.sequence !== chain.length + 1)
    throw refuse(`it is rotation ${entry.sequence}, but ${chain.length} came before it`);
  try {
    const trust = trustAfter([...chain, { index, entry }]);
    if (trust?.sequence !== entry.sequence)
      throw refuse(`its note is rotation ${trust?.sequence}, not ${entry.sequence}`);
  } catch (err) {
    if (err instanceof KeyChainError) throw refuse(err.message, err);
    throw err;
  }
}

const encoder = new TextEncoder();

export function formatKeysFile(chain: readonly LoggedKey[]): Uint8Array {
  const text = chain
    .map(({ index, entry }) => `${index} ${new TextDecoder().decode(encodeEntry(entry))}\n`)
    .join("");
  return encoder.encode(text);
}

/** Parses a keys file strictly; the notes are checked by whoever follows them. */
export function parseKeysFile(data: Uint8Array): KeysFileLine[] {
  const malformed = (why: string) =>
    new KeyChainError("malformed-rotation", `malformed keys file: ${why}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    throw malformed("it is not UTF-8");
  }
  if (text.length === 0) return [];
  if (!text.endsWith("\n")) throw malformed("it must end in a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length > MAX_ROTATIONS) throw malformed(`more than ${MAX_ROTATIONS} rotations`);
  let last = -1;
  return lines.map((line) => {
    const match = /^(0|[1-9]\d{0,14}) (\{.*\})$/.exec(line);
    if (!match) throw malformed(`bad line ${JSON.stringify(line.slice(0, 80))}`);
    const index = Number(match[1]);
    if (index <= last) throw malformed("indexes must increase");
    last = index;
    const bytes = encoder.encode(match[2]);
    let entry: ReturnType<typeof decodeEntry>;
    try {
      entry = decodeEntry(bytes);
    } catch (err) {
      throw malformed(`line for index ${index}: ${(err as Error).message}`);
    }
    if (entry.kind !== "key") throw malformed(`line for index ${index} is a ${entry.kind} entry`);
    return { index, entry, bytes };
  });
}
