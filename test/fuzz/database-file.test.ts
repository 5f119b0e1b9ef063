/**
 * Fuzzing SQLite snapshots: a database file (of today's schema, or of
 * schema 2, migrated on adoption) with flipped bytes, extra schema, rows
 * that lie, or a zstd blob that is not what its entry claims
 * is refused with a coded DatabaseFileError and leaves no file behind; a
 * file that is adopted holds exactly the honest rows.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { canonicalJson } from "../../src/registry/canonical-json.ts";
import {
  adoptDatabaseFile,
  compressDatabaseFile,
  copyCoreTables,
  DatabaseFileError,
  decompressDatabaseFile,
} from "../../src/registry/database-file.ts";
import type { SnapshotEntry } from "../../src/registry/entries.ts";
import { CORE_TABLES, type RegistryState } from "../../src/registry/state.ts";
import { fixtureExpected, fixtureLastSnapshot, V2_DATABASE } from "../helpers/fixture-log.ts";
import { tempDir } from "../helpers/log.ts";
import { buildState } from "../helpers/state.ts";
import { assertCoded, fuzzRuns, mutateBytes, mutations, timed, timedAsync } from "./fuzz.ts";

/**
 * Every row of the core tables, in a fixed order: what an adopted file must
 * hold. A version's entry is compared as JSON: its spelling is not part of
 * the state (the state writes it with JSON.stringify, not canonically).
 */
function dump(path: string): string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return JSON.stringify(
      CORE_TABLES.filter((t) => t !== "meta").map((t) =>
        db
          .prepare(`SELECT * FROM ${t} ORDER BY 1, 2, 3`)
          .all()
          .map((row) =>
            typeof row.entry === "string"
              ? { ...row, entry: canonicalJson(JSON.parse(row.entry)) }
              : row,
          ),
      ),
    );
  } finally {
    db.close();
  }
}

const LEFTOVERS = ["", "-wal", "-shm", "-journal"];

/** Adopts `path`: either refused with a coded error and nothing left, or exactly the honest rows. */
function adoptOrRefuse(path: string, logSize: number, snapshot: SnapshotEntry, honest: string) {
  let state: RegistryState;
  try {
    state = timed(() => adoptDatabaseFile(path, ECOSYSTEMS, logSize, snapshot));
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assertCoded(err, DatabaseFileError);
    for (const suffix of LEFTOVERS)
      assert.ok(!existsSync(`${path}${suffix}`), `${path}${suffix} left behind`);
    return;
  }
  try {
    assert.equal(state.snapshot?.id, snapshot.root.sha256);
  } finally {
    state.close();
  }
  const held = dump(path);
  if (held !== honest) {
    const at = [...held].findIndex((c, i) => c !== honest[i]);
    assert.fail(
      `an adopted file holds rows the log does not, from: ${held.slice(Math.max(0, at - 80), at + 80)}`,
    );
  }
}

/** Schema and rows a hostile publisher of a snapshot might add or change. */
const SQL_MUTATIONS = [
  "CREATE TABLE extra (x)",
  "CREATE VIEW v AS SELECT * FROM packages",
  "CREATE TRIGGER t AFTER INSERT ON documents BEGIN DELETE FROM packages; END",
  "CREATE INDEX i ON versions (time)",
  "CREATE TABLE sqlite_stat1 (tbl, idx, stat)",
  "ANALYZE",
  "PRAGMA user_version = 1",
  "PRAGMA journal_mode = WAL",
  "INSERT INTO meta (key, value) VALUES ('snapshot', '{}')",
  "UPDATE meta SET value = '05' WHERE key = 'log_size'",
  "UPDATE meta SET value = '5 ' WHERE key = 'log_size'",
  "DELETE FROM packages WHERE name = 'c'",
  "DELETE FROM dist_tags WHERE name = 'c'",
  "DELETE FROM owners",
  "INSERT INTO owners (ecosystem, name, user) VALUES ('npm', 'a', 'mallory')",
  "INSERT INTO dist_tags (ecosystem, name, tag, version) VALUES ('npm', 'a', 'next', '1.0.0')",
  "INSERT INTO dist_tags (ecosystem, name, tag, version) VALUES ('npm', 'a', 'beta', '9.9.9')",
  "UPDATE packages SET created = '2000-01-01T00:00:00.000Z'",
  "UPDATE packages SET modified = 'yesterday'",
  "UPDATE packages SET updated = updated + 1",
  "UPDATE packages SET unpublished = '2026-01-01T00:00:00.000Z' WHERE name = 'c'",
  "UPDATE versions SET log_index = log_index + 1 WHERE name = 'c'",
  "UPDATE versions SET log_index = -1",
  "UPDATE versions SET deprecated = '' WHERE name = 'a'",
  "UPDATE versions SET unpublished = '2026-01-01T00:00:00.000Z' WHERE version = '1.1.0'",
  "UPDATE versions SET version = '1.1.0-0' WHERE version = '1.1.0'",
  "UPDATE versions SET entry = json_set(entry, '$.resolution.dependencies', json('{\"x\":\"1\"}')) WHERE name = 'c'",
  "UPDATE versions SET entry = json_set(entry, '$.extra', 1) WHERE name = 'c'",
  "UPDATE versions SET entry = json_set(entry, '$.name', 'a') WHERE name = 'c'",
  "UPDATE versions SET entry = ' ' || entry WHERE name = 'c'",
  "UPDATE versions SET entry = '[' || entry || ']' WHERE name = 'c'",
  "UPDATE versions SET entry = '\"x\"' WHERE name = 'c'",
  "UPDATE versions SET entry = 'null' WHERE name = 'c'",
  "UPDATE versions SET entry = '{\"__proto__\":{}}' WHERE name = 'c'",
  "UPDATE versions SET entry = replace(entry, '\"', '\"' || char(65279)) WHERE name = 'c'",
  "UPDATE versions SET entry = '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[' WHERE name = 'c'",
  `UPDATE versions SET entry = '${"[".repeat(20000)}' WHERE name = 'c'`,
  // Valid JSON nested deeper than any recursive check can follow.
  `UPDATE versions SET entry = replace(entry, '"resolution":{}', '"resolution":{"dependencies":${"[".repeat(100000)}${"]".repeat(100000)}}') WHERE name = 'c'`,
  `UPDATE versions SET entry = replace(entry, '"resolution":{}', '"resolution":{"dependencies":{"a":${'{"a":'.repeat(50000)}1${"}".repeat(50000)}}}') WHERE name = 'c'`,
  "UPDATE versions SET time = ' ' || time WHERE name = 'c'",
  "UPDATE versions SET name = 'C' WHERE name = 'c'",
  "UPDATE packages SET name = 'C' WHERE name = 'c'",
  "INSERT INTO packages (ecosystem, name, created, modified, updated) VALUES ('npm', 'ghost', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1)",
  "INSERT INTO versions SELECT ecosystem, name, '9.9.9', log_index, time, entry, deprecated, unpublished, yanked FROM versions WHERE name = 'c'",
  // The same rows under another ecosystem, or spelled otherwise.
  "UPDATE packages SET ecosystem = 'cargo' WHERE name = 'c'",
  "UPDATE versions SET ecosystem = 'cargo' WHERE name = 'c'",
  "UPDATE dist_tags SET ecosystem = 'cargo' WHERE name = 'c'",
  "UPDATE owners SET ecosystem = 'cargo' WHERE name = 'c'",
  "INSERT INTO packages SELECT 'cargo', name, spelling, created, modified, updated, unpublished FROM packages WHERE name = 'c'",
  "INSERT INTO versions SELECT 'cargo', name, version, log_index, time, entry, deprecated, unpublished, yanked FROM versions WHERE name = 'c'",
  "UPDATE packages SET spelling = 'C' WHERE name = 'c'",
  "UPDATE packages SET spelling = name WHERE name = 'c'",
  "UPDATE versions SET yanked = '2026-01-01T00:00:00.000Z' WHERE name = 'c'",
];

describe("fuzzing SQLite snapshots", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let pristine: string;
  let snapshot: SnapshotEntry;
  let honest: string;
  let rawSize: number;
  let zst: Uint8Array;
  let n = 0;
  const next = () => join(dir.path, `try-${n++}.sqlite`);

  before(async () => {
    dir = await tempDir();
    const statePath = join(dir.path, "state.sqlite");
    const built = buildState(statePath);
    built.state.close();
    snapshot = built.snapshot;
    pristine = join(dir.path, "pristine.sqlite");
    copyCoreTables(statePath, pristine);
    honest = dump(pristine);
    rawSize = (await readFile(pristine)).length;
    await compressDatabaseFile(pristine, join(dir.path, "pristine.sqlite.zst"));
    zst = await readFile(join(dir.path, "pristine.sqlite.zst"));
  });
  after(() => dir[Symbol.asyncDispose]());

  test("the honest file is adopted", async () => {
    const path = next();
    await copyFile(pristine, path);
    adoptOrRefuse(path, 5, snapshot, honest);
    assert.ok(existsSync(path));
  });

  test("a schema-2 file with mutated bytes is refused with a coded error, or migrates to the honest rows", async () => {
    const v2 = next();
    await decompressDatabaseFile(V2_DATABASE.blob, v2, V2_DATABASE.size);
    const raw = await readFile(v2);
    const last = await fixtureLastSnapshot();
    const { size } = await fixtureExpected();
    const honestPath = next();
    await writeFile(honestPath, raw);
    adoptDatabaseFile(honestPath, ECOSYSTEMS, size, last).close();
    const honestRows = dump(honestPath);
    await fc.assert(
      fc.asyncProperty(mutations, async (ms) => {
        const path = next();
        await writeFile(path, mutateBytes(raw, ms));
        adoptOrRefuse(path, size, last, honestRows);
      }),
      fuzzRuns(100, 0.05),
    );
  });

  test("a file with mutated bytes is refused with a coded error, or holds the honest rows", async () => {
    const raw = await readFile(pristine);
    await fc.assert(
      fc.asyncProperty(mutations, async (ms) => {
        const path = next();
        await writeFile(path, mutateBytes(raw, ms));
        adoptOrRefuse(path, 5, snapshot, honest);
      }),
      fuzzRuns(100, 0.05),
    );
  });

  test("a file with extra schema or lying rows is refused with a coded error, or holds the honest rows", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...SQL_MUTATIONS), { minLength: 1, maxLength: 3 }),
        async (statements) => {
          const path = next();
          await copyFile(pristine, path);
          const db = new DatabaseSync(path);
          for (const sql of statements) {
            try {
              db.exec(sql);
            } catch {
              // A statement the previous ones made impossible: the file is what it is.
            }
          }
          db.close();
          adoptOrRefuse(path, 5, snapshot, honest);
        },
      ),
      fuzzRuns(100, 0.05),
    );
  });

  test("a zstd blob that is not what its entry claims is refused with a coded error and no file", async () => {
    await fc.assert(
      fc.asyncProperty(mutations, fc.integer({ min: -2, max: 2 }), async (ms, skew) => {
        const blob = join(dir.path, `blob-${n}.zst`);
        const out = next();
        await writeFile(blob, mutateBytes(zst, ms));
        try {
          await timedAsync(() => decompressDatabaseFile(blob, out, rawSize + skew));
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          assertCoded(err, DatabaseFileError);
          for (const suffix of LEFTOVERS) assert.ok(!existsSync(`${out}${suffix}`));
          return;
        }
        adoptOrRefuse(out, 5, snapshot, honest);
      }),
      fuzzRuns(100, 0.05),
    );
  });
});
