import assert from "node:assert/strict";
import { copyFile, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import {
  adoptDatabaseFile,
  compressDatabaseFile,
  copyCoreTables,
  DatabaseFileError,
  decompressDatabaseFile,
} from "../../src/registry/database-file.ts";
import { encodeDocument } from "../../src/registry/package-document.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { snapshotEntry } from "../../src/registry/state-batch.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { publishEntry } from "../helpers/entries.ts";
import { fixtureExpected, fixtureLastSnapshot, V2_DATABASE } from "../helpers/fixture-log.ts";
import { tempDir } from "../helpers/log.ts";
import { buildState, WITH_TOY } from "../helpers/state.ts";

describe("SQLite snapshots", () => {
  test("a copy round-trips through zstd and is adopted, with search and snapshot recomputed", async () => {
    await using dir = await tempDir();
    const { state, snapshot } = buildState(join(dir.path, "state.sqlite"));
    const copy = join(dir.path, "copy.sqlite");
    assert.equal(copyCoreTables(join(dir.path, "state.sqlite"), copy), 5);
    const raw = await readFile(copy);
    const zst = join(dir.path, "copy.sqlite.zst");
    await compressDatabaseFile(copy, zst);
    assert.ok((await stat(zst)).size < raw.length);
    const back = join(dir.path, "back.sqlite");
    await decompressDatabaseFile(zst, back, raw.length);
    assert.deepEqual(await readFile(back), raw);
    // A size other than the entry's, or bytes that are not zstd, leave no file behind.
    for (const [rawSize, input] of [
      [raw.length - 1, zst],
      [raw.length + 1, zst],
      [raw.length, copy],
    ] as const) {
      const out = join(dir.path, "refused.sqlite");
      await assert.rejects(decompressDatabaseFile(input, out, rawSize), DatabaseFileError);
      await assert.rejects(stat(out), { code: "ENOENT" });
    }
    const adopted = adoptDatabaseFile(back, ECOSYSTEMS, 5, snapshot);
    assert.equal(adopted.snapshot?.id, state.snapshot?.id);
    assert.deepEqual(adopted.table("npm").document("@s/b"), state.table("npm").document("@s/b"));
    assert.equal(adopted.table("npm").search.search("@s/b", 0, 10).total, 1);
    // It carries on like any state: the next entries apply and are checked.
    adopted.apply(5, [publishEntry("d", "1.0.0")]);
    assert.equal(adopted.logSize, 6);
    adopted.close();
    state.close();
  });

  test("an altered row, an orphan row, an extra trigger or a wrong size is refused", async () => {
    await using dir = await tempDir();
    const { state, snapshot } = buildState(join(dir.path, "state.sqlite"));
    state.close();
    const pristine = join(dir.path, "pristine.sqlite");
    copyCoreTables(join(dir.path, "state.sqlite"), pristine);
    const tampered: [string, string, RegExp][] = [
      ["hidden version", "DELETE FROM versions WHERE version = '1.1.0'", /does not match the log/],
      ["retagged", "UPDATE dist_tags SET version = '1.0.0' WHERE name = 'a'", /does not match/],
      [
        "deprecated",
        "UPDATE versions SET deprecated = 'x' WHERE name = 'c'",
        /does not match the log/,
      ],
      [
        "orphan",
        "INSERT INTO owners (ecosystem, name, user) VALUES ('npm', 'ghost', 'mallory')",
        /unknown package ghost/,
      ],
      [
        "trigger",
        "CREATE TRIGGER t AFTER INSERT ON meta BEGIN DELETE FROM packages; END",
        /tables, triggers/,
      ],
      [
        "row and entry disagree",
        "UPDATE versions SET time = '2020-01-01T00:00:00.000Z'",
        /disagree/,
      ],
      ["size", "UPDATE meta SET value = '4' WHERE key = 'log_size'", /log size 5/],
      ["entry not JSON", "UPDATE versions SET entry = '{' WHERE name = 'c'", /not JSON/],
      [
        "entry of another kind",
        `UPDATE versions SET entry = json_set(entry, '$.kind', 'dist-tag') WHERE name = 'c'`,
        /c@0.1.0/,
      ],
      // Rows of the same name in a second ecosystem, whose entries say npm.
      [
        "copied to another ecosystem",
        `INSERT INTO packages SELECT 'toy', name, spelling, created, modified, updated, unpublished FROM packages WHERE name = 'c';
         INSERT INTO versions SELECT 'toy', name, version, log_index, time, entry, deprecated, unpublished, yanked FROM versions WHERE name = 'c';`,
        /disagree/,
      ],
      [
        "owners in another ecosystem",
        "UPDATE owners SET ecosystem = 'toy' WHERE name = 'c'",
        /unknown package c/,
      ],
      ["spelled", "UPDATE packages SET spelling = 'C' WHERE name = 'c'", /another package/],
      ["spelled as itself", "UPDATE packages SET spelling = name WHERE name = 'c'", /spelling/],
      [
        "yanked",
        "UPDATE versions SET yanked = '2026-01-01T00:00:00.000Z' WHERE name = 'c'",
        /does not match the log/,
      ],
    ];
    for (const [what, sql, message] of tampered) {
      const path = join(dir.path, `${what}.sqlite`);
      await copyFile(pristine, path);
      const db = new DatabaseSync(path);
      db.exec(sql);
      db.close();
      assert.throws(
        () => adoptDatabaseFile(path, ECOSYSTEMS, 5, snapshot),
        (err: unknown) => err instanceof DatabaseFileError && message.test(err.message),
        what,
      );
    }
  });

  test("an index that tells another story than its table is refused as damaged (quick_check passes it)", async () => {
    await using dir = await tempDir();
    const { state, snapshot } = buildState(join(dir.path, "state.sqlite"));
    state.close();
    const honest = join(dir.path, "honest.sqlite");
    copyCoreTables(join(dir.path, "state.sqlite"), honest);
    // The same file with a's tag renamed: same layout, one key of the same length changed.
    const lying = join(dir.path, "lying.sqlite");
    await copyFile(honest, lying);
    const db = new DatabaseSync(lying);
    db.exec("UPDATE dist_tags SET tag = 'legacy' WHERE name = 'a'");
    const { rootpage } = db
      .prepare("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_dist_tags_1'")
      .get() as { rootpage: number };
    const { page_size: pageSize } = db.prepare("PRAGMA page_size").get() as { page_size: number };
    db.close();
    // The honest table with the lying file's index: rendering reads the table, an indexed query the lie.
    const bytes = await readFile(honest);
    (await readFile(lying)).copy(
      bytes,
      (rootpage - 1) * pageSize,
      (rootpage - 1) * pageSize,
      rootpage * pageSize,
    );
    const path = join(dir.path, "spliced.sqlite");
    await writeFile(path, bytes);
    assert.throws(
      () => adoptDatabaseFile(path, ECOSYSTEMS, 5, snapshot),
      (err: unknown) => err instanceof DatabaseFileError && err.code === "damaged",
    );
    await assert.rejects(stat(path), { code: "ENOENT" });
  });

  test("a file that is not SQLite, or a truncated blob, gets a coded error and leaves nothing (fuzzer finds)", async () => {
    await using dir = await tempDir();
    const { state, snapshot } = buildState(join(dir.path, "state.sqlite"));
    state.close();
    const path = join(dir.path, "not.sqlite");
    await writeFile(path, "0SQLite format 3\0");
    assert.throws(
      () => adoptDatabaseFile(path, ECOSYSTEMS, 5, snapshot),
      (err: unknown) => err instanceof DatabaseFileError && err.code === "damaged",
    );
    await assert.rejects(stat(path), { code: "ENOENT" });
    const extra = join(dir.path, "extra.sqlite");
    copyCoreTables(join(dir.path, "state.sqlite"), extra);
    const db = new DatabaseSync(extra);
    db.exec("CREATE TABLE extra (x)");
    db.close();
    assert.throws(
      () => adoptDatabaseFile(extra, ECOSYSTEMS, 5, snapshot),
      (err: unknown) => err instanceof DatabaseFileError && err.code === "schema",
    );
    await assert.rejects(stat(extra), { code: "ENOENT" });
    const zst = join(dir.path, "empty.zst");
    await writeFile(zst, "");
    const out = join(dir.path, "out.sqlite");
    await assert.rejects(
      decompressDatabaseFile(zst, out, 100),
      (err: unknown) => err instanceof DatabaseFileError && err.code === "bad-blob",
    );
    await assert.rejects(stat(out), { code: "ENOENT" });
  });
});

describe("SQLite snapshots of every schema", () => {
  test("a schema-2 file is migrated in place, adopted, and equals the state a replay of its log gives", async () => {
    await using dir = await tempDir();
    const expected = await fixtureExpected();
    const last = await fixtureLastSnapshot();
    const path = join(dir.path, "v2.sqlite");
    await decompressDatabaseFile(V2_DATABASE.blob, path, V2_DATABASE.size);
    const file = new DatabaseSync(path, { readOnly: true });
    assert.equal(file.prepare("PRAGMA user_version").get()?.user_version, 2);
    file.close();
    const adopted = adoptDatabaseFile(path, ECOSYSTEMS, expected.size, last);
    try {
      assert.equal(adopted.snapshot?.id, expected.finalId);
      for (const [key, hash] of Object.entries(expected.documents)) {
        assert.equal(adopted.documentHash(key), hash, key);
        const doc = adopted.table("npm").document(key.slice("npm/".length));
        assert.equal(doc && sha256Hex(encodeDocument(doc)), hash, key);
      }
      assert.deepEqual(adopted.table("npm").listPackages(), expected.listPackages);
      const [first] = adopted.table("npm").listPackages();
      assert.equal(adopted.table("npm").search.search(first.name, 0, 10).hits[0]?.name, first.name);
    } finally {
      adopted.close();
    }
    // Migrated, it is today's schema: copied again, the copy is a schema-3 file that adopts.
    const copy = join(dir.path, "v3.sqlite");
    copyCoreTables(path, copy);
    const again = adoptDatabaseFile(copy, ECOSYSTEMS, expected.size, last);
    assert.equal(again.snapshot?.id, expected.finalId);
    again.close();
  });

  test("a schema-3 file with the same name in two ecosystems is adopted whole", async () => {
    await using dir = await tempDir();
    const statePath = join(dir.path, "state.sqlite");
    const state = RegistryState.open(statePath, { ecosystems: WITH_TOY });
    const batch = state.begin(0);
    batch.add(publishEntry("a", "1.0.0", { tag: "latest" }));
    batch.add({ ...publishEntry("a", "2.0.0", { tag: "latest" }), ecosystem: "toy" } as never);
    const snapshot = snapshotEntry(batch.snapshot(2), 2);
    batch.add(snapshot);
    batch.commit();
    state.close();
    const copy = join(dir.path, "copy.sqlite");
    copyCoreTables(statePath, copy);
    const adopted = adoptDatabaseFile(copy, WITH_TOY, 3, snapshot);
    assert.equal(adopted.snapshot?.id, snapshot.root.sha256);
    assert.deepEqual(Object.keys(adopted.table("toy").document("a")?.versions ?? {}), ["2.0.0"]);
    assert.deepEqual(Object.keys(adopted.table("npm").document("a")?.versions ?? {}), ["1.0.0"]);
    adopted.close();
  });

  test("a schema-2 file that lies is refused like any other", async () => {
    await using dir = await tempDir();
    const { state, snapshot } = buildState(join(dir.path, "state.sqlite"));
    state.close();
    const path = join(dir.path, "v2.sqlite");
    await decompressDatabaseFile(V2_DATABASE.blob, path, V2_DATABASE.size);
    // The fixture's file reflects its own log, not this one.
    const db = new DatabaseSync(path);
    db.exec("UPDATE meta SET value = '5' WHERE key = 'log_size'");
    db.close();
    assert.throws(
      () => adoptDatabaseFile(path, ECOSYSTEMS, 5, snapshot),
      (err: unknown) => err instanceof DatabaseFileError && err.code === "mismatch",
    );
    await assert.rejects(stat(path), { code: "ENOENT" });
  });
});
