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
import { publishEntry } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { buildState } from "../helpers/state.ts";

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
    assert.deepEqual(adopted.document("@s/b"), state.document("@s/b"));
    assert.equal(adopted.search.search("@s/b", 0, 10).total, 1);
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
        "INSERT INTO owners (name, user) VALUES ('ghost', 'mallory')",
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
