/**
 * Which checkpoints garbage collection keeps whole, and the small state it
 * keeps between runs (`gc-state.json` beside the tree: never served).
 *
 * Retained: the newest checkpoint; every checkpoint whose snapshot entry
 * was written within `retainFor` of the run; and the first checkpoint
 * that holds the newest `database` entry, and the newest `popularity`
 * entry (a client bootstrapping from either reads that snapshot). A
 * checkpoint of size s is the one whose last entry, s - 1, is a snapshot.
 *
 * The state records how far the log was scanned, the retained snapshots,
 * the newest database entry, and the files found unreachable (with when
 * they were first found so), so that tree health and the next run know
 * what a missing file means.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Entry, SnapshotEntry } from "../registry/entries.ts";
import { replaceFile } from "../util/durable-file.ts";

/** A snapshot entry as retention needs it. */
export interface SnapshotRecord {
  /** Its log index: the checkpoint of size index + 1 ends with it. */
  readonly index: number;
  /** When it was written, ms since the epoch. */
  readonly time: number;
  readonly root: string;
  /** Meta files of its native index views. */
  readonly indexes: readonly string[];
  readonly database?: number;
  readonly popularity?: number;
}

export type GarbageKind = "snapshot" | "database" | "partial" | "orphan" | "temporary";

/** A file found unreachable, and since when (ms): deleted once that is at least the grace ago. */
export interface PendingFile {
  readonly path: string;
  readonly kind: GarbageKind;
  readonly since: number;
}

export interface GcState {
  readonly v: 1;
  /** Log entries [0, scanned) were scanned for snapshot and database entries. */
  readonly scanned: number;
  /** The snapshots retained at the last run. */
  readonly retained: readonly SnapshotRecord[];
  /** The newest database entry: its blob is kept. */
  readonly database?: { readonly index: number; readonly blob: string };
  readonly pending: readonly PendingFile[];
}

export const EMPTY_GC_STATE: GcState = { v: 1, scanned: 0, retained: [], pending: [] };

/** Where the state of the tree in `treeDir` is kept: beside the tree, not in it. */
export function gcStatePath(treeDir: string): string {
  return join(dirname(treeDir), "gc-state.json");
}

/** The state, or the empty one before the first run. */
export async function readGcState(treeDir: string): Promise<GcState> {
  let text: string;
  try {
    text = await readFile(gcStatePath(treeDir), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return EMPTY_GC_STATE;
    throw err;
  }
  // Our own file, written whole by writeGcState.
  return JSON.parse(text) as GcState;
}

/** Replaces the state whole (temporary file, then rename). */
export async function writeGcState(treeDir: string, state: GcState): Promise<void> {
  await replaceFile(gcStatePath(treeDir), new TextEncoder().encode(JSON.stringify(state)), true);
}

export function snapshotRecord(index: number, entry: SnapshotEntry): SnapshotRecord {
  return {
    index,
    time: Date.parse(entry.time),
    root: entry.root.sha256,
    indexes: Object.values(entry.indexes ?? {}).map((ref) => ref.sha256),
    ...(entry.database !== undefined ? { database: entry.database } : {}),
    ...(entry.popularity !== undefined ? { popularity: entry.popularity } : {}),
  };
}

/** The records (sorted by index, the newest last) of the snapshots retained at `now`. */
export function retainedSnapshots(
  records: readonly SnapshotRecord[],
  now: number,
  retainFor: number,
): SnapshotRecord[] {
  if (records.length === 0) return [];
  const newest = records[records.length - 1];
  const firstNaming = (field: "database" | "popularity") => {
    const wanted = newest[field];
    return wanted === undefined ? undefined : records.find((r) => r[field] === wanted);
  };
  const keep = new Set<SnapshotRecord>([newest]);
  for (const record of records) if (record.time >= now - retainFor) keep.add(record);
  for (const record of [firstNaming("database"), firstNaming("popularity")])
    if (record) keep.add(record);
  return records.filter((r) => keep.has(r));
}

/**
 * Whether the tree must hold the snapshot root or database blob of entry
 * `index`, after the collections recorded in `state`: those of entries
 * not yet scanned, of retained snapshots, and of the newest database.
 */
export function requiredAfterGc(state: GcState): (index: number, entry: Entry) => boolean {
  const retained = new Set(state.retained.map((r) => r.index));
  return (index, entry) => {
    if (index >= state.scanned) return true;
    if (entry.kind === "snapshot") return retained.has(index);
    if (entry.kind === "database") return state.database?.index === index;
    return true;
  };
}
