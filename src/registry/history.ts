/**
 * The local index's history, for exact diffs offline, in tables of the
 * state database that this module owns: every entry applied since the
 * index began, and each package's document as it was then (its state
 * before the first change after that). A package's document at any
 * later log size is a fold of its entries onto that first document, so two
 * sizes (or the snapshot ids that name them) can be compared exactly.
 */
import { rulesOf } from "./ecosystem.ts";
import { isPackageEntry, type PackageEntry } from "./entries.ts";
import { foldEntry, type PackageDocument } from "./package-document.ts";
import { packageKey, type RegistryState, splitDocumentKey } from "./state.ts";
import type { Touched } from "./state-batch.ts";
import type { LogEntry } from "./void-entries.ts";

const HISTORY_SCHEMA = `
CREATE TABLE IF NOT EXISTS history_entries (
  log_index INTEGER PRIMARY KEY,
  key TEXT,
  entry TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS history_entries_key ON history_entries (key, log_index);
CREATE TABLE IF NOT EXISTS history_base (key TEXT PRIMARY KEY, document TEXT) STRICT;
`;

/** Starts the history at the state's current size, if it has none yet. */
export function startHistory(state: RegistryState): void {
  state.db.exec(HISTORY_SCHEMA);
  state.db
    .prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('history_from', ?)")
    .run(String(state.logSize));
}

/** The log size the history starts at. */
export function historyStart(state: RegistryState): number {
  return Number(state.meta("history_from") ?? state.logSize);
}

/** A commit hook recording `entries` (from log index `first`) and the documents they change first. */
export function recordHistory(state: RegistryState, first: number, entries: readonly LogEntry[]) {
  return (changes: ReadonlyMap<string, Touched>): void => {
    const insert = state.sql(
      "INSERT INTO history_entries (log_index, key, entry) VALUES (?, ?, ?)",
    );
    entries.forEach((entry, i) => {
      // A void entry changed nothing: the history has nothing to fold.
      if (entry.kind === "void") return;
      insert.run(
        first + i,
        isPackageEntry(entry) ? packageKey(state.ecosystems, entry) : null,
        JSON.stringify(entry),
      );
    });
    const base = state.sql("INSERT OR IGNORE INTO history_base (key, document) VALUES (?, ?)");
    for (const [key, { before }] of changes)
      base.run(key, before === undefined ? null : JSON.stringify(before));
  };
}

/** Whether the state keeps a history (a client's index does; a server's state need not). */
function hasHistory(state: RegistryState): boolean {
  return (
    state
      .sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'history_entries'")
      .get() !== undefined
  );
}

/** The log size a snapshot id names (the size after its snapshot entry), or undefined. */
export function sizeOfSnapshot(state: RegistryState, id: string): number | undefined {
  const row = hasHistory(state)
    ? (state
        .sql(
          "SELECT log_index FROM history_entries WHERE key IS NULL AND json_extract(entry, '$.kind') = 'snapshot' AND json_extract(entry, '$.root.sha256') = ?",
        )
        .get(id) as { log_index: number } | undefined)
    : undefined;
  if (row) return row.log_index + 1;
  const latest = state.snapshot;
  return latest?.id === id ? latest.index + 1 : undefined;
}

/** The package's document after the entries [0, size), for a size the history covers. */
function documentAt(state: RegistryState, key: string, size: number): PackageDocument | undefined {
  const base = state.sql("SELECT document FROM history_base WHERE key = ?").get(key) as
    | { document: string | null }
    | undefined;
  if (!base) {
    // Unchanged since the history began.
    const { ecosystem, name } = splitDocumentKey(key);
    return state.table(ecosystem).document(name);
  }
  let doc = base.document === null ? undefined : (JSON.parse(base.document) as PackageDocument);
  const rows = state
    .sql(
      "SELECT log_index, entry FROM history_entries WHERE key = ? AND log_index < ? ORDER BY log_index",
    )
    .all(key, size) as { log_index: number; entry: string }[];
  for (const row of rows) {
    const entry = JSON.parse(row.entry) as PackageEntry;
    doc = foldEntry(doc, entry, row.log_index, rulesOf(state.ecosystems, entry.ecosystem));
  }
  return doc;
}

export interface PackageDiff {
  readonly ecosystem: string;
  readonly name: string;
  /** The package did not exist before. */
  readonly created: boolean;
  /** The whole package was unpublished between the two states. */
  readonly takenDown: boolean;
  readonly added: readonly string[];
  /** Versions unpublished (yanked) between the two states. */
  readonly unpublished: readonly string[];
  readonly deprecated: readonly { version: string; message: string }[];
  readonly undeprecated: readonly string[];
  readonly retagged: readonly { tag: string; from?: string; to?: string }[];
  readonly ownersAdded: readonly string[];
  readonly ownersRemoved: readonly string[];
  /** Versions yanked between the two states; present only when some were (npm never yanks). */
  readonly yanked?: readonly string[];
  /** Versions whose yank was undone between the two states; present only when some were. */
  readonly unyanked?: readonly string[];
}

function compare(a: PackageDocument | undefined, b: PackageDocument): PackageDiff {
  const before = a?.versions ?? {};
  const added: string[] = [];
  const unpublished: string[] = [];
  const deprecated: { version: string; message: string }[] = [];
  const undeprecated: string[] = [];
  const yanked: string[] = [];
  const unyanked: string[] = [];
  for (const [version, now] of Object.entries(b.versions)) {
    const then = before[version];
    if (now.yanked !== undefined && then?.yanked === undefined) yanked.push(version);
    if (now.yanked === undefined && then !== undefined && then.yanked !== undefined)
      unyanked.push(version);
    if (!then) added.push(version);
    if (now.unpublished !== undefined && then?.unpublished === undefined) unpublished.push(version);
    if (now.deprecated !== then?.deprecated) {
      if (now.deprecated !== undefined) deprecated.push({ version, message: now.deprecated });
      else undeprecated.push(version);
    }
  }
  const tags = new Set([...Object.keys(a?.distTags ?? {}), ...Object.keys(b.distTags)]);
  const retagged = [...tags]
    .sort()
    .filter((tag) => a?.distTags[tag] !== b.distTags[tag])
    .map((tag) => ({ tag, from: a?.distTags[tag], to: b.distTags[tag] }));
  const ownersBefore = new Set(a?.owners ?? []);
  const ownersAfter = new Set(b.owners);
  return {
    ecosystem: b.ecosystem,
    name: b.name,
    created: a === undefined,
    takenDown: b.unpublished !== undefined && a?.unpublished === undefined,
    added,
    unpublished,
    deprecated,
    undeprecated,
    retagged,
    ownersAdded: b.owners.filter((o) => !ownersBefore.has(o)),
    ownersRemoved: (a?.owners ?? []).filter((o) => !ownersAfter.has(o)),
    ...(yanked.length > 0 ? { yanked } : {}),
    ...(unyanked.length > 0 ? { unyanked } : {}),
  };
}

/** Every package change between log sizes `from` and `to`, exactly, by snapshot key. */
export function diffSizes(state: RegistryState, from: number, to: number): PackageDiff[] {
  const start = historyStart(state);
  for (const size of [from, to])
    if (size < start || size > state.logSize)
      throw new Error(
        `log size ${size} is outside what this index holds (${start} to ${state.logSize}); it began at ${start}`,
      );
  if (from > to) throw new Error(`the first state (${from}) must not be after the second (${to})`);
  const keys = state
    .sql(
      "SELECT DISTINCT key FROM history_entries WHERE key IS NOT NULL AND log_index >= ? AND log_index < ? ORDER BY key",
    )
    .all(from, to) as { key: string }[];
  const diffs: PackageDiff[] = [];
  for (const { key } of keys) {
    const b = documentAt(state, key, to);
    if (!b) continue;
    const diff = compare(documentAt(state, key, from), b);
    const empty =
      !diff.created &&
      !diff.takenDown &&
      [diff.added, diff.unpublished, diff.deprecated, diff.undeprecated, diff.retagged].every(
        (list) => list.length === 0,
      ) &&
      diff.ownersAdded.length + diff.ownersRemoved.length === 0 &&
      diff.yanked === undefined &&
      diff.unyanked === undefined;
    if (!empty) diffs.push(diff);
  }
  return diffs;
}
