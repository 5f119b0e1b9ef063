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
import { sha256Hex } from "../util/sha256.ts";
import { tap } from "../util/streams.ts";
import { checkEntry, EntryError, type SnapshotEntry } from "./entries.ts";
import { documentKey, encodeDocument } from "./package-document.ts";
import { searchDocumentOf } from "./search-documents.ts";
import { keyPrefix } from "./snapshot.ts";
import { CORE_SCHEMA, CORE_TABLES, RegistryState, STATE_SCHEMA, type VersionRow } from "./state.ts";

export class DatabaseFileError extends Error {
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
    out.exec(CORE_SCHEMA);
    out.exec(`PRAGMA user_version = ${STATE_SCHEMA}`);
    out.prepare("ATTACH DATABASE ? AS source").run(statePath);
    out.exec("BEGIN");
    for (const table of CORE_TABLES) {
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
  try {
    await pipeline(
      createReadStream(path, { highWaterMark: 1 << 20 }),
      createZstdDecompress(),
      tap((chunk: Buffer) => {
        size += chunk.length;
        if (size > rawSize)
          throw new DatabaseFileError(
            `the database is larger than the ${rawSize} bytes its entry says`,
          );
      }),
      createWriteStream(outPath),
    );
    if (size !== rawSize)
      throw new DatabaseFileError(`the database is ${size} bytes, its entry says ${rawSize}`);
  } catch (err) {
    await rm(outPath, { force: true });
    // Local failures (a full disk) are not the blob's fault; zstd's errors are.
    if (!String((err as NodeJS.ErrnoException).code).startsWith("ZSTD_")) throw err;
    throw new DatabaseFileError(
      `the database blob does not decompress: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

function schemaOf(db: DatabaseSync): string[] {
  const rows = db
    .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
    .all() as { type: string; name: string; tbl_name: string; sql: string | null }[];
  return rows.map((r) => JSON.stringify(r));
}

/** Checks the raw file's structure before anything reads its rows. */
function checkStructure(path: string, logSize: number): void {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const check = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
    if (check.length !== 1 || check[0].quick_check !== "ok")
      throw new DatabaseFileError("the database file is damaged");
    const version = (db.prepare("PRAGMA user_version").get() as { user_version: number })
      .user_version;
    if (version !== STATE_SCHEMA)
      throw new DatabaseFileError(`database schema ${version}, expected ${STATE_SCHEMA}`);
    const expected = new DatabaseSync(":memory:");
    expected.exec(CORE_SCHEMA);
    const same = JSON.stringify(schemaOf(db)) === JSON.stringify(schemaOf(expected));
    expected.close();
    if (!same) throw new DatabaseFileError("the database holds tables or triggers it should not");
    const meta = db.prepare("SELECT key, value FROM meta").all() as {
      key: string;
      value: string;
    }[];
    if (meta.length !== 1 || meta[0].key !== "log_size" || meta[0].value !== String(logSize))
      throw new DatabaseFileError(`the database does not say it reflects log size ${logSize}`);
    for (const table of ["versions", "dist_tags", "owners"]) {
      const orphan = db
        .prepare(`SELECT name FROM ${table} WHERE name NOT IN (SELECT name FROM packages) LIMIT 1`)
        .get() as { name: string } | undefined;
      if (orphan)
        throw new DatabaseFileError(`${table} has rows for unknown package ${orphan.name}`);
    }
  } finally {
    db.close();
  }
}

/** A package's version rows, each of which must hold the publish entry its columns describe. */
function checkedVersions(state: RegistryState, name: string): VersionRow[] {
  let rows: VersionRow[];
  try {
    rows = state.versions(name);
  } catch (err) {
    throw new DatabaseFileError(
      `${name}: a version's entry is not JSON: ${(err as Error).message}`,
    );
  }
  for (const row of rows) {
    let entry: ReturnType<typeof checkEntry>;
    try {
      entry = checkEntry(row.entry);
    } catch (err) {
      throw new DatabaseFileError(`${row.name}@${row.version}: ${(err as Error).message}`);
    }
    if (
      entry.kind !== "publish" ||
      entry.name !== row.name ||
      entry.version !== row.version ||
      entry.time !== row.time
    )
      throw new DatabaseFileError(`${row.name}@${row.version}: the row and its entry disagree`);
  }
  return rows;
}

/**
 * Turns the downloaded database at `path` into a checked state: the
 * snapshot entry `snapshot` (at log index `logSize - 1`) must describe it.
 * On any mismatch the file is deleted and a DatabaseFileError thrown.
 */
export function adoptDatabaseFile(
  path: string,
  logSize: number,
  snapshot: SnapshotEntry,
): RegistryState {
  checkStructure(path, logSize);
  const state = RegistryState.open(path);
  try {
    const names = state.packageNames();
    state.db.exec("BEGIN IMMEDIATE");
    try {
      const insert = state.db.prepare(
        "INSERT INTO documents (key, prefix, sha256) VALUES (?, ?, ?)",
      );
      // One pass: each package's versions are read, checked and rendered once.
      for (const name of names) {
        const doc = state.document(name, checkedVersions(state, name));
        if (!doc) continue;
        const key = documentKey(doc);
        insert.run(key, keyPrefix(key), sha256Hex(encodeDocument(doc)));
        const search = searchDocumentOf(doc);
        if (search) state.search.put(search);
      }
      state.db
        .prepare("INSERT INTO meta (key, value) VALUES ('packages', ?)")
        .run(String(names.length));
      state.db.exec("COMMIT");
    } catch (err) {
      state.db.exec("ROLLBACK");
      throw err;
    }
    const batch = state.begin(logSize);
    try {
      batch.adopt(snapshot, logSize - 1);
    } catch (err) {
      throw new DatabaseFileError(`the database does not match the log: ${(err as Error).message}`);
    }
    batch.commit();
    return state;
  } catch (err) {
    state.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
    if (err instanceof EntryError) throw new DatabaseFileError(err.message);
    throw err;
  }
}
