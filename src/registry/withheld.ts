/**
 * Takedowns as the state keeps them, and the withheld set: the blobs no
 * copy of the registry serves because the version naming them is taken
 * down (takedown.ts). Both are a pure function of the log prefix, kept as
 * package documents change (state-batch.ts), so the origin, every mirror
 * and every full client compute the same set from the log alone and none
 * has to trust another's 451.
 *
 * A taken-down version withholds the blobs its entry names: its tarball,
 * its manifest (which carries the readme) and its file index. A restore
 * removes its rows, and the blobs are served (and copied) again. Its
 * per-file blobs are withheld when no live version lists them, found at
 * read time from the reverse index `file_versions`, so a restore or a new
 * publish listing the file undoes it with no bookkeeping.
 *
 * `takedowns` holds one row per mark in force: `version` is "" for a
 * whole-package takedown (no version is empty), which also marks each
 * version it covered.
 */
import type { StatementSync } from "node:sqlite";
import type { BlobRef } from "./entries.ts";
import type { PackageDocument, VersionDocument } from "./package-document.ts";
import { TakedownError, type TakenDown } from "./takedown.ts";

/** The takedowns in force: part of a published SQLite snapshot (DATABASE_SCHEMA 4), as documents need them. */
export const TAKEDOWNS_SCHEMA = `
CREATE TABLE IF NOT EXISTS takedowns (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  actor TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  reason TEXT NOT NULL,
  time TEXT NOT NULL,
  PRIMARY KEY (ecosystem, name, version)
) STRICT, WITHOUT ROWID;
`;

/**
 * The reverse index of file indexes: which versions list each file (by its
 * SHA-256, as 32 bytes). Recorded wherever a version's file index is made
 * or checked against its tarball (the origin at publish, a mirror at
 * sync), so it is a function of the log and the blobs its entries name.
 */
const FILE_VERSIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS file_versions (
  sha256 BLOB NOT NULL,
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  PRIMARY KEY (sha256, ecosystem, name, version)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS file_versions_by_version ON file_versions (ecosystem, name, version);
`;

/** The withheld set, derived from the takedowns and the versions by whoever holds the state. */
export const WITHHELD_SCHEMA = `${TAKEDOWNS_SCHEMA}${FILE_VERSIONS_SCHEMA}
CREATE TABLE IF NOT EXISTS withheld (
  sha256 TEXT PRIMARY KEY,
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  actor TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  reason TEXT NOT NULL,
  time TEXT NOT NULL
) STRICT, WITHOUT ROWID;
`;

type Sql = (sql: string) => StatementSync;

/** Why a blob is withheld: the version it belongs to and the takedown in force. */
export interface Withholding extends TakenDown {
  readonly ecosystem: string;
  /** The published name. */
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

/** A takedown in force, as the public list shows it ("" version: the whole package). */
export interface TakedownRow extends TakenDown {
  readonly ecosystem: string;
  readonly name: string;
  readonly version: string;
}

/** The blobs a version's document names that a takedown withholds. */
export function blobsOfVersion(doc: VersionDocument): BlobRef[] {
  const refs: BlobRef[] = [doc.manifest];
  if (doc.artifact) refs.push(doc.artifact);
  if (doc.files) refs.push(doc.files);
  return refs;
}

/** The versions whose takedown mark differs between `before` and `after`, with the mark now. */
function* changedMarks(before: PackageDocument | undefined, after: PackageDocument) {
  for (const [version, doc] of Object.entries(after.versions)) {
    const mark = doc.takenDown;
    if (before?.versions[version]?.takenDown !== mark) yield { version, doc, mark };
  }
}

/** The blobs a change from `before` to `after` newly withholds, and those it releases. */
export function withheldBlobsOf(
  before: PackageDocument | undefined,
  after: PackageDocument,
): { withheld: string[]; released: string[] } {
  const withheld: string[] = [];
  const released: string[] = [];
  for (const { doc, mark } of changedMarks(before, after))
    for (const ref of blobsOfVersion(doc)) (mark ? withheld : released).push(ref.sha256);
  return { withheld, released };
}

/**
 * Brings the takedown rows and the withheld set of one package from
 * `before` to `after` (`rowKey` is the name its rows are keyed by).
 */
export function writeTakedowns(
  sql: Sql,
  rowKey: string,
  before: PackageDocument | undefined,
  after: PackageDocument,
): void {
  const { ecosystem } = after;
  const setMark = (version: string, mark: TakenDown | undefined) => {
    if (mark === undefined)
      sql("DELETE FROM takedowns WHERE ecosystem = ? AND name = ? AND version = ?").run(
        ecosystem,
        rowKey,
        version,
      );
    else
      sql(
        `INSERT INTO takedowns (ecosystem, name, version, actor, log_index, reason, time)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (ecosystem, name, version) DO UPDATE SET actor = excluded.actor,
           log_index = excluded.log_index, reason = excluded.reason, time = excluded.time`,
      ).run(ecosystem, rowKey, version, mark.actor, mark.index, mark.reason, mark.time);
  };
  if (before?.takenDown !== after.takenDown) setMark("", after.takenDown);
  for (const { version, doc, mark } of changedMarks(before, after)) {
    setMark(version, mark);
    for (const ref of blobsOfVersion(doc)) {
      if (mark === undefined) sql("DELETE FROM withheld WHERE sha256 = ?").run(ref.sha256);
      else
        sql(
          `INSERT INTO withheld (sha256, ecosystem, name, version, actor, log_index, reason, time)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET actor = excluded.actor,
             log_index = excluded.log_index, reason = excluded.reason, time = excluded.time`,
        ).run(
          ref.sha256,
          ecosystem,
          after.name,
          version,
          mark.actor,
          mark.index,
          mark.reason,
          mark.time,
        );
    }
  }
}

/**
 * Why the blob `sha256` is withheld, or undefined when it is not: a blob a
 * taken-down version names, or a file only taken-down versions list.
 */
export function withholdingOf(sql: Sql, sha256: string): Withholding | undefined {
  const row = sql(
    `SELECT sha256, ecosystem, name, version, actor, log_index AS "index", reason, time
     FROM withheld WHERE sha256 = ?`,
  ).get(sha256) as Withholding | undefined;
  return row === undefined ? withheldFileOf(sql, sha256) : { ...row };
}

/** A live version (not unpublished, not taken down) that lists the file `f.sha256`. */
const LISTED_LIVE = `EXISTS (SELECT 1 FROM file_versions g
  JOIN versions v ON v.ecosystem = g.ecosystem AND v.name = g.name AND v.version = g.version
  WHERE g.sha256 = f.sha256 AND v.unpublished IS NULL
    AND NOT EXISTS (SELECT 1 FROM takedowns u
      WHERE u.ecosystem = g.ecosystem AND u.name = g.name AND u.version = g.version))`;

/** Why the file is withheld: listed by a taken-down version and by no live one. */
function withheldFileOf(sql: Sql, sha256: string): Withholding | undefined {
  if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  const row = sql(
    `SELECT t.ecosystem, t.name, t.version, t.actor, t.log_index AS "index", t.reason, t.time
     FROM file_versions f JOIN takedowns t
       ON t.ecosystem = f.ecosystem AND t.name = f.name AND t.version = f.version
     WHERE f.sha256 = ? AND NOT ${LISTED_LIVE}
     ORDER BY t.log_index LIMIT 1`,
  ).get(Buffer.from(sha256, "hex")) as Omit<Withholding, "sha256"> | undefined;
  return row === undefined ? undefined : { ...row, sha256 };
}

/** Every file withheld that way: listed by taken-down versions only. */
export function withheldFileHashes(sql: Sql): string[] {
  const rows = sql(
    `SELECT DISTINCT f.sha256 FROM takedowns t JOIN file_versions f
       ON f.ecosystem = t.ecosystem AND f.name = t.name AND f.version = t.version
     WHERE NOT ${LISTED_LIVE}`,
  ).all() as { sha256: Uint8Array }[];
  return rows.map((r) => Buffer.from(r.sha256).toString("hex"));
}

/** Versions whose entry names a file index the reverse index has no rows for (recorded before it existed). */
export function versionsLackingFiles(
  sql: Sql,
): { ecosystem: string; name: string; version: string; files: string }[] {
  return sql(
    `SELECT v.ecosystem, v.name, v.version, json_extract(v.entry, '$.files.sha256') AS files
     FROM versions v WHERE json_extract(v.entry, '$.files.sha256') IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM file_versions f
         WHERE f.ecosystem = v.ecosystem AND f.name = v.name AND f.version = v.version)`,
  ).all() as { ecosystem: string; name: string; version: string; files: string }[];
}

/** Records the files a version's index lists (`rowKey`: the name its rows are keyed by). */
export function recordVersionFiles(
  sql: Sql,
  ecosystem: string,
  rowKey: string,
  version: string,
  files: Iterable<string>,
): void {
  const insert = sql(
    "INSERT OR IGNORE INTO file_versions (sha256, ecosystem, name, version) VALUES (?, ?, ?, ?)",
  );
  for (const sha256 of new Set(files))
    insert.run(Buffer.from(sha256, "hex"), ecosystem, rowKey, version);
}

/** The files a version's index lists, as recorded. */
export function filesOfVersion(
  sql: Sql,
  ecosystem: string,
  rowKey: string,
  version: string,
): string[] {
  const rows = sql(
    "SELECT sha256 FROM file_versions WHERE ecosystem = ? AND name = ? AND version = ?",
  ).all(ecosystem, rowKey, version) as { sha256: Uint8Array }[];
  return rows.map((r) => Buffer.from(r.sha256).toString("hex"));
}

/** Every withheld blob's hash. */
export function withheldHashes(sql: Sql): string[] {
  return (sql("SELECT sha256 FROM withheld ORDER BY sha256").all() as { sha256: string }[]).map(
    (r) => r.sha256,
  );
}

/** The takedown marks of one package's versions ("" for the package), by version. */
export function takedownsOf(sql: Sql, ecosystem: string, rowKey: string): Map<string, TakenDown> {
  const rows = sql(
    `SELECT version, actor, log_index AS "index", reason, time FROM takedowns
     WHERE ecosystem = ? AND name = ?`,
  ).all(ecosystem, rowKey) as unknown as (TakenDown & { version: string })[];
  return new Map(
    rows.map(({ version, actor, index, reason, time }) => [
      version,
      { actor, index, reason, time },
    ]),
  );
}

/** Every takedown in force, newest first: the public list. */
export function takedownList(sql: Sql, limit = 1000): TakedownRow[] {
  return (
    sql(
      `SELECT ecosystem, name, version, actor, log_index AS "index", reason, time FROM takedowns
       ORDER BY log_index DESC, version LIMIT ?`,
    ).all(limit) as unknown as TakedownRow[]
  ).map((r) => ({ ...r }));
}

/** A version a batch restored: its blobs are to be copied again. */
export interface RestoredVersion {
  readonly name: string;
  readonly version: string;
  readonly doc: VersionDocument;
}

/** The withheld set as it will be once a batch of changed documents commits. */
export interface PendingWithheld {
  /** Why the blob is withheld after the batch, or undefined when it is not. */
  withholding(sha256: string): Withholding | undefined;
  /** Blobs the batch newly withholds. */
  readonly withheld: readonly string[];
  /** Versions the batch newly takes down: their files may be withheld once it commits. */
  readonly takenDown: readonly RestoredVersion[];
  readonly restored: readonly RestoredVersion[];
}

/**
 * The withheld set after a batch that changed the documents `changes`
 * (before and after each), on top of the committed set in `sql`: what a
 * mirror must not fetch, and must answer 451 for, before the batch's
 * checkpoint is served.
 */
export function pendingWithheld(
  sql: Sql,
  changes: Iterable<{
    readonly before: PackageDocument | undefined;
    readonly after: PackageDocument;
  }>,
): PendingWithheld {
  const down = new Map<string, Withholding>();
  const up = new Set<string>();
  const withheld: string[] = [];
  const takenDown: RestoredVersion[] = [];
  const restored: RestoredVersion[] = [];
  for (const { before, after } of changes) {
    for (const [version, doc] of Object.entries(after.versions)) {
      const mark = doc.takenDown;
      for (const { sha256 } of blobsOfVersion(doc)) {
        if (mark)
          down.set(sha256, {
            ...mark,
            ecosystem: after.ecosystem,
            name: after.name,
            version,
            sha256,
          });
        else up.add(sha256);
      }
    }
    for (const { version, doc, mark } of changedMarks(before, after)) {
      if (mark) {
        withheld.push(...blobsOfVersion(doc).map((ref) => ref.sha256));
        takenDown.push({ name: after.name, version, doc });
      } else restored.push({ name: after.name, version, doc });
    }
  }
  return {
    withholding: (sha256) =>
      down.get(sha256) ?? (up.has(sha256) ? undefined : withholdingOf(sql, sha256)),
    withheld,
    takenDown,
    restored,
  };
}

/** Refuses a read of a withheld blob with its takedown's public record (a 451 on every server). */
export function refuseWithheld(withholding: Withholding | undefined): void {
  if (withholding) throw new TakedownError(withholding.name, withholding.version, withholding);
}

/**
 * Refuses a gateway block that belongs to withheld bytes: a whole withheld
 * blob, or a leaf or node of large blobs (`owners`) that are all withheld.
 * A leaf a live tarball shares is still served: it is that tarball's too.
 */
export function refuseWithheldBlock(
  withholding: (sha256: string) => Withholding | undefined,
  sha256: string,
  owners: readonly string[],
): void {
  refuseWithheld(withholding(sha256));
  const marks = owners.map(withholding);
  if (marks.length > 0 && marks.every((mark) => mark !== undefined)) refuseWithheld(marks[0]);
}
