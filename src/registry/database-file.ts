/**
 * SQLite snapshots: the state's core tables (packages, versions, dist-tags,
 * owners, meta) as one SQLite file, zstd-compressed, named in the log by a
 * `database` entry. A new client starts from one instead of replaying the
 * whole log.
 *
 * The file is untrusted until checked: its schema must be exactly ours (no
 * triggers, views or extra tables), every row must belong to a package, and
 * the package documents rendered from the rows must hash to the snapshot
 * entry that ends the log prefix it reflects. The derived tables (document
 * and shard hashes, search) are then recomputed, never taken from the file.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { pipeline } from "node:stream/promises";
import { createZstdCompress, createZstdDecompress, constants as zlibConstants } from "node:zlib";
import { CodedError } from "../util/coded-error.ts";
import { sha256Hex } from "../util/sha256.ts";
import { tap } from "../util/streams.ts";
import { writeCurrentVersion } from "./current-versions.ts";
import { allDependentCounts, currentDependencies, insertDependent } from "./dependents.ts";
import { checkEntryWith, type Ecosystems, rulesOf } from "./ecosystem.ts";
import {
  checkVersionEntry,
  EntryError,
  type PopularityEntry,
  publishedAt,
  type RegistryKeysEntry,
  type SnapshotEntry,
  type VersionEntry,
} from "./entries.ts";
import { documentKey, encodeDocument } from "./package-document.ts";
import { searchDocumentOf, setSearchDependents } from "./search-documents.ts";
import { keyPrefix } from "./snapshot.ts";
import {
  CORE_SCHEMA,
  CORE_SCHEMA_V2,
  CORE_TABLES,
  DATABASE_FILE_SCHEMA,
  DATABASE_FILE_TABLES,
  DATABASE_SCHEMA,
  type PackageTable,
  RegistryState,
  rowName,
  STATE_SCHEMA,
  V2_ECOSYSTEM,
  type VersionRow,
} from "./state.ts";
import { writeTakedowns } from "./withheld.ts";

export type DatabaseFileErrorCode =
  /** The blob is not zstd, or does not decompress to the size its entry names. */
  | "bad-blob"
  /** Not a SQLite file, or one that fails SQLite's integrity check. */
  | "damaged"
  /** A schema other than exactly Cairn's: another version, extra tables, triggers, views or indexes. */
  | "schema"
  /** The file does not say it reflects the log size its entry names. */
  | "log-size"
  /** A row that belongs to no package, or does not hold the entry its columns describe. */
  | "bad-row"
  /** The rows do not give the state the log's snapshot entry commits to. */
  | "mismatch";

export class DatabaseFileError extends CodedError<DatabaseFileErrorCode> {
  override name = "DatabaseFileError";
}

/** Meta keys a copy carries; the rest is recomputed by whoever opens it. */
const COPIED_META = ["log_size"];

/**
 * Copies the core tables of the state database at `statePath` into a new
 * SQLite file at `outPath`, in one read transaction, so the copy is the
 * state after one batch. Returns the log size it reflects.
 */
export function copyCoreTables(statePath: string, outPath: string): number {
  const out = new DatabaseSync(outPath);
  try {
    out.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;");
    out.exec(DATABASE_FILE_SCHEMA);
    out.exec(`PRAGMA user_version = ${DATABASE_SCHEMA}`);
    out.prepare("ATTACH DATABASE ? AS source").run(statePath);
    out.exec("BEGIN");
    for (const table of DATABASE_FILE_TABLES) {
      const where =
        table === "meta" ? ` WHERE key IN (${COPIED_META.map((k) => `'${k}'`).join(",")})` : "";
      out.exec(`INSERT INTO main.${table} SELECT * FROM source.${table}${where}`);
    }
    out.exec("COMMIT");
    out.exec("DETACH DATABASE source");
    const row = out.prepare("SELECT value FROM meta WHERE key = 'log_size'").get() as
      | { value: string }
      | undefined;
    return Number(row?.value ?? 0);
  } finally {
    out.close();
  }
}

/**
 * Compresses the database file at `path` into `outPath`, streaming: a
 * registry's copy is gigabytes. Returns the SHA-256 and size of what it
 * wrote.
 */
export async function compressDatabaseFile(
  path: string,
  outPath: string,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  await pipeline(
    createReadStream(path, { highWaterMark: 1 << 20 }),
    createZstdCompress({ params: { [zlibConstants.ZSTD_c_compressionLevel]: 12 } }),
    tap((chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    }),
    createWriteStream(outPath),
  );
  return { sha256: hash.digest("hex"), size };
}

/**
 * Decompresses a published database from `path` into `outPath`,
 * streaming, refusing more or fewer than the `rawSize` bytes its entry
 * names. On failure `outPath` is removed.
 */
export async function decompressDatabaseFile(
  path: string,
  outPath: string,
  rawSize: number,
): Promise<void> {
  let size = 0;
  const out = createWriteStream(outPath);
  try {
    await pipeline(
      createReadStream(path, { highWaterMark: 1 << 20 }),
      createZstdDecompress(),
      tap((chunk: Buffer) => {
        size += chunk.length;
        if (size > rawSize)
          throw new DatabaseFileError(
            "bad-blob",
            `the database is larger than the ${rawSize} bytes its entry says`,
          );
      }),
      out,
    );
    if (size !== rawSize)
      throw new DatabaseFileError(
        "bad-blob",
        `the database is ${size} bytes, its entry says ${rawSize}`,
      );
  } catch (err) {
    // A pipeline that fails early may still be opening the file: remove it only once it is closed.
    if (!out.closed) await new Promise<void>((resolve) => out.once("close", () => resolve()));
    await rm(outPath, { force: true });
    if (err instanceof DatabaseFileError || isLocalFailure(err)) throw err;
    // What is left is the decompressor's verdict on the blob (bad magic, cut off, corrupt).
    throw new DatabaseFileError(
      "bad-blob",
      `the database blob does not decompress: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** SQLite result codes that say the machine failed, not the file: FULL, IOERR, NOMEM, CANTOPEN. */
const LOCAL_SQLITE_ERRORS = new Set([13, 10, 7, 14]);

/**
 * A failure of this machine (a full disk, an I/O error), which is not the
 * downloaded file's fault and must not be reported as if it were.
 */
function isLocalFailure(err: unknown): boolean {
  const e = err as { syscall?: unknown; errcode?: unknown } | undefined;
  if (typeof e?.syscall === "string") return true;
  return typeof e?.errcode === "number" && LOCAL_SQLITE_ERRORS.has(e.errcode & 0xff);
}

function schemaOf(db: DatabaseSync): string[] {
  const rows = db
    .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
    .all() as { type: string; name: string; tbl_name: string; sql: string | null }[];
  return rows.map((r) => JSON.stringify(r));
}

/** The core schema of each database schema a file may have: older files stay adoptable. */
const CORE_SCHEMAS: ReadonlyMap<number, string> = new Map([
  [2, CORE_SCHEMA_V2],
  [3, CORE_SCHEMA],
  [DATABASE_SCHEMA, DATABASE_FILE_SCHEMA],
]);

/**
 * Checks the raw file's structure before anything reads its rows; returns
 * its database schema.
 */
function checkStructure(path: string, logSize: number): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    // integrity_check, not quick_check: only it checks that each index holds exactly its
    // table's rows. An index that disagrees with its table answers indexed queries otherwise
    // than the reads that rendered the checked documents.
    const check = db.prepare("PRAGMA integrity_check(1)").all() as { integrity_check: string }[];
    if (check.length !== 1 || check[0].integrity_check !== "ok")
      throw new DatabaseFileError("damaged", "the database file is damaged");
    const version = (db.prepare("PRAGMA user_version").get() as { user_version: number })
      .user_version;
    const schema = CORE_SCHEMAS.get(version);
    if (schema === undefined)
      throw new DatabaseFileError(
        "schema",
        `database schema ${version}, expected ${[...CORE_SCHEMAS.keys()].join(" or ")}`,
      );
    const expected = new DatabaseSync(":memory:");
    expected.exec(schema);
    const same = JSON.stringify(schemaOf(db)) === JSON.stringify(schemaOf(expected));
    expected.close();
    if (!same)
      throw new DatabaseFileError(
        "schema",
        "the database holds tables, triggers, views or indexes it should not",
      );
    const meta = db.prepare("SELECT key, value FROM meta").all() as {
      key: string;
      value: string;
    }[];
    if (meta.length !== 1 || meta[0].key !== "log_size" || meta[0].value !== String(logSize))
      throw new DatabaseFileError(
        "log-size",
        `the database does not say it reflects log size ${logSize}`,
      );
    const sameKey =
      version === 2 ? "p.name = t.name" : "p.ecosystem = t.ecosystem AND p.name = t.name";
    const tables =
      version >= 4
        ? ["versions", "dist_tags", "owners", "takedowns"]
        : ["versions", "dist_tags", "owners"];
    for (const table of tables) {
      const orphan = db
        .prepare(
          `SELECT t.name AS name FROM ${table} t
            WHERE NOT EXISTS (SELECT 1 FROM packages p WHERE ${sameKey}) LIMIT 1`,
        )
        .get() as { name: string } | undefined;
      if (orphan)
        throw new DatabaseFileError(
          "bad-row",
          `${table} has rows for unknown package ${orphan.name}`,
        );
    }
    // One spelling per state: a published name equal to its key name is not stored twice.
    const spelled =
      version !== 2 &&
      (db.prepare("SELECT name FROM packages WHERE spelling = name LIMIT 1").get() as
        | { name: string }
        | undefined);
    if (spelled)
      throw new DatabaseFileError("bad-row", `${spelled.name}: a spelling equal to its name`);
    // A takedown of a version the file does not hold would show in no document, only in lists.
    const stray =
      version >= 4 &&
      (db
        .prepare(
          `SELECT t.name AS name, t.version AS version FROM takedowns t WHERE t.version <> ''
             AND NOT EXISTS (SELECT 1 FROM versions v
               WHERE v.ecosystem = t.ecosystem AND v.name = t.name AND v.version = t.version)
           LIMIT 1`,
        )
        .get() as { name: string; version: string } | undefined);
    if (stray)
      throw new DatabaseFileError(
        "bad-row",
        `takedowns has a row for unknown version ${stray.name}@${stray.version}`,
      );
    return version;
  } finally {
    db.close();
  }
}

/**
 * Rewrites a DATABASE_SCHEMA 2 file's core tables as today's, in place and
 * in one transaction: every row was npm's. The snapshot entry checks the
 * result as it checks any file.
 */
export function migrateV2(path: string): void {
  const db = new DatabaseSync(path);
  try {
    // A file that fails half way is deleted whole: no journal is worth its writes.
    db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;");
    db.exec("BEGIN");
    for (const table of CORE_TABLES)
      if (table !== "meta") db.exec(`ALTER TABLE ${table} RENAME TO v2_${table}`);
    db.exec(CORE_SCHEMA);
    const e = `'${V2_ECOSYSTEM}'`;
    // In each new primary key's order, so every insert appends to its index.
    db.exec(`
      INSERT INTO packages (ecosystem, name, spelling, created, modified, updated, unpublished)
        SELECT ${e}, name, NULL, created, modified, updated, unpublished FROM v2_packages ORDER BY name;
      INSERT INTO versions
          (ecosystem, name, version, log_index, time, entry, deprecated, unpublished, yanked)
        SELECT ${e}, name, version, log_index, time, entry, deprecated, unpublished, NULL
          FROM v2_versions ORDER BY name, version;
      INSERT INTO dist_tags (ecosystem, name, tag, version)
        SELECT ${e}, name, tag, version FROM v2_dist_tags ORDER BY name, tag;
      INSERT INTO owners (ecosystem, name, user)
        SELECT ${e}, name, user FROM v2_owners ORDER BY name, user;
    `);
    for (const table of CORE_TABLES) if (table !== "meta") db.exec(`DROP TABLE v2_${table}`);
    db.exec(`PRAGMA user_version = ${DATABASE_SCHEMA}`);
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

/** A package's version rows, each of which must hold the publish entry its columns describe. */
function checkedVersions(ecosystems: Ecosystems, table: PackageTable, name: string): VersionRow[] {
  let rows: VersionRow[];
  try {
    rows = table.versions(name);
  } catch (err) {
    throw new DatabaseFileError(
      "bad-row",
      `${name}: a version's entry is not JSON: ${(err as Error).message}`,
    );
  }
  for (const row of rows) {
    let entry: VersionEntry;
    try {
      entry = checkVersionEntry(row.entry, (e) => checkEntryWith(ecosystems, e, "read"));
    } catch (err) {
      throw new DatabaseFileError(
        "bad-row",
        `${row.name}@${row.version}: ${(err as Error).message}`,
      );
    }
    if (
      entry.ecosystem !== table.ecosystem ||
      rowName(ecosystems, entry) !== row.name ||
      entry.version !== row.version ||
      publishedAt(entry) !== row.time
    )
      throw new DatabaseFileError(
        "bad-row",
        `${row.name}@${row.version}: the row and its entry disagree`,
      );
  }
  return rows;
}

/**
 * Turns the downloaded database at `path` into a checked state: the
 * snapshot entry `snapshot` (at log index `logSize - 1`) must describe it;
 * `popularity` is the entry it names as the newest popularity entry, if any.
 * On any mismatch the file is deleted and a DatabaseFileError thrown.
 */
export function adoptDatabaseFile(
  path: string,
  ecosystems: Ecosystems,
  logSize: number,
  snapshot: SnapshotEntry,
  popularity?: PopularityEntry,
  registryKeys?: RegistryKeysEntry,
): RegistryState {
  let state: RegistryState | undefined;
  try {
    if (checkStructure(path, logSize) === 2) migrateV2(path);
    // Its core tables checked, the file becomes this copy's state: derived tables follow.
    const file = new DatabaseSync(path);
    file.exec(`PRAGMA user_version = ${STATE_SCHEMA}`);
    file.close();
    state = RegistryState.open(path, { ecosystems });
    deriveTables(state);
    const batch = state.begin(logSize);
    try {
      batch.adopt(snapshot, logSize - 1, popularity, registryKeys);
    } catch (err) {
      throw new DatabaseFileError(
        "mismatch",
        `the database does not match the log: ${(err as Error).message}`,
        { cause: err },
      );
    }
    batch.commit();
    return state;
  } catch (err) {
    state?.close();
    for (const suffix of ["", "-wal", "-shm", "-journal"])
      rmSync(`${path}${suffix}`, { force: true });
    throw asDatabaseFileError(err);
  }
}

/** Recomputes the document hashes, index views' rows, search index and dependents from the checked rows, in one transaction. */
function deriveTables(state: RegistryState): void {
  const packages = state.packageKeys();
  state.db.exec("BEGIN IMMEDIATE");
  try {
    const insert = state.db.prepare("INSERT INTO documents (key, prefix, sha256) VALUES (?, ?, ?)");
    const insertIndexRow = state.db.prepare(
      "INSERT INTO index_rows (ecosystem, key, prefix, name, sha256) VALUES (?, ?, ?, ?, ?)",
    );
    // One pass: each package's versions are read, checked and rendered once.
    for (const { ecosystem, name } of packages) {
      const table = state.table(ecosystem);
      const doc = table.document(name, checkedVersions(state.ecosystems, table, name));
      if (!doc) continue;
      const rules = rulesOf(state.ecosystems, doc.ecosystem);
      const key = documentKey(doc, rules);
      if (rules.keyName(doc.name) !== name)
        throw new DatabaseFileError("bad-row", `${key}: its spelling names another package`);
      insert.run(key, keyPrefix(key), sha256Hex(encodeDocument(doc)));
      // The withheld set, from the takedowns the document carries.
      writeTakedowns(state.sql, name, undefined, doc);
      const indexFile = rules.nativeIndex?.indexFile(doc);
      if (indexFile) {
        const indexKey = rules.keyName(doc.name);
        insertIndexRow.run(
          ecosystem,
          indexKey,
          keyPrefix(indexKey),
          doc.name,
          sha256Hex(indexFile),
        );
      }
      const search = searchDocumentOf(doc, 0, rules);
      if (search) table.search.put(search, name);
      writeCurrentVersion(state.sql, ecosystem, name, rules.current(doc));
      for (const dependency of currentDependencies(rules, doc))
        insertDependent(state.sql, ecosystem, dependency, doc.name);
    }
    // Counted whole only now: each package with dependents gets its count, once.
    for (const { ecosystem, dependency, n } of allDependentCounts(state.sql))
      setSearchDependents(state.table(ecosystem).search, dependency, n);
    state.db
      .prepare("INSERT INTO meta (key, value) VALUES ('packages', ?)")
      .run(String(packages.length));
    state.db.exec("COMMIT");
  } catch (err) {
    state.db.exec("ROLLBACK");
    throw err;
  }
}

/**
 * Whatever goes wrong while reading an untrusted file is the file's fault
 * (it is damaged, or its rows cannot be rendered), except a failure of this
 * machine, which is passed on as it is.
 */
function asDatabaseFileError(err: unknown): unknown {
  if (err instanceof DatabaseFileError || isLocalFailure(err)) return err;
  const message = (err as Error)?.message ?? String(err);
  if (err instanceof EntryError) return new DatabaseFileError("bad-row", message, { cause: err });
  const sqlite = (err as { code?: unknown })?.code === "ERR_SQLITE_ERROR";
  return new DatabaseFileError(
    sqlite ? "damaged" : "bad-row",
    sqlite ? `the database file is damaged: ${message}` : `a row cannot be read: ${message}`,
    { cause: err },
  );
}
