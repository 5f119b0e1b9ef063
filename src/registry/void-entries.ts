/**
 * Recovery from a log that holds an entry that cannot be applied (one an
 * older Cairn appended unchecked: a resolution field nested thousands of
 * levels deep, say). Every copy of the log replays it the same way, so the
 * way out must be the same for all of them, and deliberate:
 *
 * - By default replaying such an entry stops with a `cannot-apply`
 *   EntryError naming its log index and the reason.
 * - An operator who has looked at it lists its index in the environment
 *   variable CAIRN_VOID_ENTRIES (comma-separated), for every command that
 *   replays the log: `cairn serve`, `rebuild`, `mirror`, `proxy --full`,
 *   `sync`, `verify --replay`. A listed entry is then void: it changes
 *   nothing. Only an entry that cannot be applied may be listed; listing
 *   one that applies is an error, so the list cannot hide a valid change.
 * - The first snapshot entry after a void entry is not checked: the origin
 *   that wrote it folded the void entry in (that is how the log broke).
 *   Every later snapshot entry is checked as usual; an origin restarted
 *   with the list closes its log with a fresh snapshot entry at once, so
 *   the gap is that one entry.
 */
import type { Entry } from "./entries.ts";
import { decodeEntry, EntryError } from "./entries.ts";

export const VOID_ENTRIES_VARIABLE = "CAIRN_VOID_ENTRIES";

/** An entry listed as void: kept in the log, applied as nothing. */
export interface VoidEntry {
  readonly kind: "void";
  readonly index: number;
  /** Why it cannot be applied. */
  readonly reason: string;
}

/** An entry as a replay applies it. */
export type LogEntry = Entry | VoidEntry;

let parsed: { text: string; indexes: ReadonlySet<number> } | undefined;

/** The log indexes listed in CAIRN_VOID_ENTRIES; a malformed list is an error, never ignored. */
export function voidedEntries(): ReadonlySet<number> {
  const text = process.env[VOID_ENTRIES_VARIABLE] ?? "";
  if (parsed?.text === text) return parsed.indexes;
  const items = text.trim() === "" ? [] : text.split(",").map((s) => s.trim());
  for (const item of items) {
    if (!/^(0|[1-9]\d{0,14})$/.test(item))
      throw new Error(`${VOID_ENTRIES_VARIABLE}: ${JSON.stringify(item)} is not a log index`);
  }
  parsed = { text, indexes: new Set(items.map(Number)) };
  return parsed.indexes;
}

/** The error for entry `index`, which cannot be applied because of `cause`. */
export function cannotApply(index: number, cause: unknown): EntryError {
  const reason = (cause as Error).message;
  return new EntryError(
    "cannot-apply",
    `log entry ${index} cannot be applied: ${reason}. If it is to stay in the log as void, set ${VOID_ENTRIES_VARIABLE}=${index} for every command that replays this log (see "A log entry that cannot be applied" in the README)`,
    { cause, index },
  );
}

/** The error for entry `index`, listed as void although it applies. */
export function notVoid(index: number): EntryError {
  return new EntryError(
    "cannot-apply",
    `log entry ${index} is listed in ${VOID_ENTRIES_VARIABLE} but applies: only an entry that cannot be applied may be void`,
    { index },
  );
}

/** Decodes the entries of a log from index `first`, voiding those listed that do not decode. */
export function decodeLogEntries(first: number, entries: readonly Uint8Array[]): LogEntry[] {
  const voided = voidedEntries();
  return entries.map((bytes, i) => {
    const index = first + i;
    try {
      return decodeEntry(bytes);
    } catch (err) {
      if (!(err instanceof EntryError)) throw err;
      if (voided.has(index)) return { kind: "void", index, reason: err.message };
      throw cannotApply(index, err);
    }
  });
}
