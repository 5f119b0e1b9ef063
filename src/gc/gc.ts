/**
 * Garbage collection of a static tree (origin or mirror): mark, then sweep
 * by age, safe while the tree is served and written.
 *
 * Garbage is only what GC can name as such, never "whatever is unmarked":
 * - the snapshot files (root, shards, package documents, index-view meta,
 *   shards and files) of snapshots no retained checkpoint ends with
 *   (retention.ts), minus every file a retained snapshot reaches;
 * - the SQLite snapshot blobs of superseded `database` entries;
 * - partial tiles and bundles whose full tile exists and that no retained
 *   checkpoint needs (C2SP tlog-tiles lets a log delete them; readers fall
 *   back to the full tile);
 * - orphan blobs: what a refused write stored and no entry names (listed by
 *   the writer in the orphan journal, src/gc/orphans.ts), once older
 *   than the orphan grace;
 * - temporary files older than an hour.
 * Blobs entries name (tarballs, manifests, file indexes, files, sketches)
 * are never garbage.
 *
 * Two phases: a file is deleted only when it was already found unreachable
 * by an earlier run at least `grace` ago (or by this one, with a grace of
 * 0), and only if it was last written before the run began minus the
 * grace. A put of a blob already held refreshes its mtime (and, in the same
 * process, is seen by the run's tracker), so a batch that names an old file
 * again after the mark keeps it.
 *
 * Crash safety: the pending list is written before the sweep and again
 * after it; a run killed in between leaves deleted files listed, and the
 * next run finds them gone. Nothing a retained checkpoint needs is ever a
 * candidate, so a tree between runs always verifies.
 */
import {
  bundlePath,
  edgeTiles,
  MAX_BUNDLE_BYTES,
  parseBundle,
  parseCheckpoint,
  TILE_WIDTH,
  tilePath,
} from "../log/index.ts";
import { decodeLogEntries } from "../registry/void-entries.ts";
import type { TreeFiles } from "../store/tree-files.ts";
import {
  type GarbageKind,
  type GcState,
  type PendingFile,
  retainedSnapshots,
  type SnapshotRecord,
  snapshotRecord,
} from "./retention.ts";

export const DEFAULT_GRACE_MS = 10 * 60_000;
export const DEFAULT_RETAIN_FOR_MS = 2 * 3600_000;
export const DEFAULT_ORPHAN_GRACE_MS = 24 * 3600_000;
const TEMPORARY_GRACE_MS = 3600_000;

export interface GcStateStore {
  read(): Promise<GcState>;
  write(state: GcState): Promise<void>;
}

export interface GcOptions {
  readonly tree: TreeFiles;
  readonly state: GcStateStore;
  readonly grace?: number;
  readonly retainFor?: number;
  readonly orphanGrace?: number;
  readonly dryRun?: boolean;
  /** Blobs refused writes left (from the orphan journal): candidates unless named. */
  readonly orphans?: readonly string[];
  /** Whether an entry names the blob (the state's versions); orphans it names are kept. */
  readonly isNamed?: (sha256: string) => boolean;
  /** Called between the mark (pending list written) and the sweep. */
  readonly afterMark?: () => Promise<void>;
  readonly now?: () => number;
}

export interface KindTotals {
  files: number;
  bytes: number;
}

export interface GcReport {
  /** The checkpoint size the run worked from. */
  readonly size: number;
  /** Sizes of the retained checkpoints. */
  readonly retained: readonly number[];
  /** Files a retained checkpoint reaches (snapshot files and the newest database). */
  readonly marked: number;
  /** What was deleted (or, in a dry run, would be), by kind. */
  readonly freed: Record<GarbageKind, KindTotals>;
  /** Files found unreachable and left for a later run (grace not yet passed). */
  readonly pending: number;
  readonly markMs: number;
  readonly sweepMs: number;
  readonly dryRun: boolean;
}

const SNAPSHOT_KIND = Buffer.from('"kind":"snapshot"');
const DATABASE_KIND = Buffer.from('"kind":"database"');
const HEX_LINE = /^(?:\S+ )?([0-9a-f]{64})$/;

function blobPath(hex: string): string {
  return `blob/sha256/${hex}`;
}

/** The hashes a snapshot root, shard, index meta or index shard lists (our own files: read loosely). */
function listedHashes(bytes: Uint8Array): string[] {
  const hashes: string[] = [];
  for (const line of Buffer.from(bytes).toString("utf8").split("\n")) {
    const m = HEX_LINE.exec(line);
    if (m) hashes.push(m[1]);
  }
  return hashes;
}

/** The checkpoint size the tree holds (its own, trusted: not verified again here). */
async function treeSize(tree: TreeFiles): Promise<number> {
  const note = await tree.read("checkpoint");
  if (note === undefined) return 0;
  const text = Buffer.from(note).toString("utf8");
  return parseCheckpoint(text.slice(0, text.indexOf("\n\n") + 1)).size;
}

async function readBundle(tree: TreeFiles, index: number, width: number): Promise<Uint8Array[]> {
  const partial = await tree.read(bundlePath(index, width));
  if (partial) return parseBundle(partial, width);
  const full = await tree.read(bundlePath(index, TILE_WIDTH));
  if (!full || full.length > MAX_BUNDLE_BYTES) throw new Error(`entry bundle ${index} is missing`);
  return parseBundle(full, TILE_WIDTH).slice(0, width);
}

interface Scanned {
  readonly snapshots: SnapshotRecord[];
  readonly databases: { index: number; blob: string }[];
}

/** The snapshot and database entries in [from, size). */
async function scan(tree: TreeFiles, from: number, size: number): Promise<Scanned> {
  const snapshots: SnapshotRecord[] = [];
  const databases: { index: number; blob: string }[] = [];
  for (let bundle = Math.floor(from / TILE_WIDTH); bundle * TILE_WIDTH < size; bundle++) {
    const width = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH);
    const first = Math.max(from, bundle * TILE_WIDTH);
    const entries = (await readBundle(tree, bundle, width)).slice(first - bundle * TILE_WIDTH);
    for (const [i, entryBytes] of entries.entries()) {
      const bytes = Buffer.from(entryBytes.buffer, entryBytes.byteOffset, entryBytes.byteLength);
      // Canonical JSON spells a kind one way, and a string value cannot hold it unescaped:
      // only the entries that may be registry entries are decoded (most of a log is publishes).
      if (bytes.indexOf(SNAPSHOT_KIND) < 0 && bytes.indexOf(DATABASE_KIND) < 0) continue;
      const [entry] = decodeLogEntries(first + i, [entryBytes]);
      if (entry.kind === "snapshot") snapshots.push(snapshotRecord(first + i, entry));
      if (entry.kind === "database") databases.push({ index: first + i, blob: entry.blob.sha256 });
    }
  }
  return { snapshots, databases };
}

/**
 * Adds to `into` every blob reachable from `roots` to `depth` levels
 * (root → shards → documents is 2), skipping what `skip` or `into` holds
 * already (its subtree was walked); a missing file ends its branch.
 */
async function reach(
  tree: TreeFiles,
  roots: Iterable<string>,
  depth: number,
  into: Set<string>,
  skip: ReadonlySet<string> = new Set(),
): Promise<void> {
  for (const hex of roots) {
    if (into.has(hex) || skip.has(hex)) continue;
    into.add(hex);
    if (depth === 0) continue;
    const bytes = await tree.read(blobPath(hex));
    if (bytes) await reach(tree, listedHashes(bytes), depth - 1, into, skip);
  }
}

/** The partial tiles and bundle a reader of a checkpoint of `size` fetches. */
function partialsOf(size: number): string[] {
  const paths = edgeTiles(size)
    .filter((t) => t.width < TILE_WIDTH)
    .map(tilePath);
  if (size % TILE_WIDTH !== 0)
    paths.push(bundlePath(Math.floor(size / TILE_WIDTH), size % TILE_WIDTH));
  return paths;
}

/** Every partial tile or bundle in the tree whose full tile exists. */
async function* supersededPartials(tree: TreeFiles, dir = "tile"): AsyncGenerator<string> {
  for await (const { name, isDirectory } of tree.list(dir)) {
    if (!isDirectory) continue;
    const path = `${dir}/${name}`;
    if (!name.endsWith(".p")) {
      yield* supersededPartials(tree, path);
      continue;
    }
    if (!(await tree.stat(path.slice(0, -2)))) continue;
    for await (const width of tree.list(path)) yield `${path}/${width.name}`;
  }
}

function noTotals(): Record<GarbageKind, KindTotals> {
  const zero = () => ({ files: 0, bytes: 0 });
  return {
    snapshot: zero(),
    database: zero(),
    partial: zero(),
    orphan: zero(),
    temporary: zero(),
  };
}

/** What a run found: the retained snapshots, what they reach, and every file that may be garbage. */
interface Marked {
  readonly size: number;
  readonly retained: SnapshotRecord[];
  readonly database: { index: number; blob: string } | undefined;
  /** Blobs a retained checkpoint reaches. */
  readonly marked: Set<string>;
  /** Partial tiles and bundles a retained checkpoint needs. */
  readonly needed: Set<string>;
  readonly candidates: Map<string, GarbageKind>;
}

/** Scans the log from where the last run stopped, retains, marks, and lists the candidates. */
async function mark(
  options: GcOptions,
  state: GcState | undefined,
  start: number,
): Promise<Marked> {
  const { tree } = options;
  const size = await treeSize(tree);
  const fresh = state && state.scanned <= size ? state : undefined;
  const scanned = await scan(tree, fresh?.scanned ?? 0, size);
  const records = [...(fresh?.retained ?? []), ...scanned.snapshots];
  const retained = retainedSnapshots(records, start, options.retainFor ?? DEFAULT_RETAIN_FOR_MS);
  const kept = new Set(retained);
  const databases = [...(fresh?.database ? [fresh.database] : []), ...scanned.databases];
  const database = databases.at(-1);

  const marked = new Set<string>();
  await reach(
    tree,
    retained.flatMap((r) => [r.root, ...r.indexes]),
    2,
    marked,
  );
  if (database) marked.add(database.blob);
  const needed = new Set([size, ...retained.map((r) => r.index + 1)].flatMap(partialsOf));

  const candidates = new Map<string, GarbageKind>();
  const unreachable = new Set<string>();
  await reach(
    tree,
    records.filter((r) => !kept.has(r)).flatMap((r) => [r.root, ...r.indexes]),
    2,
    unreachable,
    marked,
  );
  for (const hex of unreachable) candidates.set(blobPath(hex), "snapshot");
  for (const db of databases)
    if (!marked.has(db.blob)) candidates.set(blobPath(db.blob), "database");
  for await (const path of supersededPartials(tree))
    if (!needed.has(path)) candidates.set(path, "partial");
  for await (const { name, isDirectory } of tree.list(".tmp"))
    if (!isDirectory) candidates.set(`.tmp/${name}`, "temporary");
  for (const hex of options.orphans ?? []) candidates.set(blobPath(hex), "orphan");
  return { size, retained, database, marked, needed, candidates };
}

/** The files still unreachable, each with when a run first found it so (now, for a new one). */
function pendingAfter(
  options: GcOptions,
  found: Marked,
  previous: readonly PendingFile[],
  start: number,
) {
  const isLive = (file: { path: string; kind: GarbageKind }) => {
    const hex = file.path.startsWith("blob/sha256/") ? file.path.slice(12) : undefined;
    if (hex !== undefined && found.marked.has(hex)) return true;
    if (file.kind === "orphan" && hex !== undefined) return options.isNamed?.(hex) ?? true;
    return file.kind === "partial" && found.needed.has(file.path);
  };
  const since = new Map(previous.map((p) => [p.path, p]));
  for (const [path, kind] of found.candidates)
    if (!since.has(path)) since.set(path, { path, kind, since: start });
  return [...since.values()].filter((p) => !isLive(p));
}

/** Deletes (or in a dry run, counts) each pending file whose grace has passed; returns what is left. */
async function sweep(
  options: GcOptions,
  pending: readonly PendingFile[],
  start: number,
  freed: Record<GarbageKind, KindTotals>,
): Promise<PendingFile[]> {
  const grace = options.grace ?? DEFAULT_GRACE_MS;
  const left: PendingFile[] = [];
  for (const file of pending) {
    const due = file.since <= start - grace;
    const age =
      file.kind === "orphan"
        ? (options.orphanGrace ?? DEFAULT_ORPHAN_GRACE_MS)
        : file.kind === "temporary"
          ? TEMPORARY_GRACE_MS
          : grace;
    const bytes = due
      ? await sweepOne(options.tree, file.path, start - age, options.dryRun)
      : undefined;
    if (bytes !== undefined) {
      freed[file.kind].files++;
      freed[file.kind].bytes += bytes;
      if (!options.dryRun) continue;
    }
    if (options.dryRun || (await options.tree.stat(file.path))) left.push(file);
  }
  return left;
}

/** One collection: scan, retain, mark, list candidates, then sweep what the grace allows. */
export async function collectGarbage(options: GcOptions): Promise<GcReport> {
  const now = options.now ?? Date.now;
  const start = now();
  const previous = await options.state.read();
  const found = await mark(options, previous, start);
  const pending = pendingAfter(
    options,
    found,
    previous.scanned <= found.size ? previous.pending : [],
    start,
  );
  const state: GcState = {
    v: 1,
    scanned: found.size,
    retained: found.retained,
    ...(found.database ? { database: found.database } : {}),
    pending,
  };
  // Recorded before anything is deleted: a run killed in the sweep leaves a state that names it all.
  if (!options.dryRun) await options.state.write(state);
  const markMs = now() - start;
  await options.afterMark?.();

  const sweepStart = now();
  const freed = noTotals();
  const left = await sweep(options, pending, start, freed);
  if (!options.dryRun) await options.state.write({ ...state, pending: left });
  return {
    size: found.size,
    retained: found.retained.map((r) => r.index + 1),
    marked: found.marked.size,
    freed,
    pending: left.length,
    markMs,
    sweepMs: now() - sweepStart,
    dryRun: options.dryRun === true,
  };
}

async function sweepOne(
  tree: TreeFiles,
  path: string,
  before: number,
  dryRun: boolean | undefined,
): Promise<number | undefined> {
  if (!dryRun) return tree.removeIfOlder(path, before);
  const found = await tree.stat(path);
  return found && found.mtimeMs < before ? found.size : undefined;
}
