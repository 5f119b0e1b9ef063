/** Durable writes: every file whole at its path, and nothing left behind when one fails. */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { placeHashNamedFiles, writeFilesDurably } from "../../src/util/durable-file.ts";
import { tempDir } from "../helpers/log.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

test("writeFilesDurably writes every file and syncs the directories named", async () => {
  await using dir = await tempDir("cairn-durable-");
  const files = ["a", "b", "c"].map((n) => ({ path: join(dir.path, n), data: bytes(n.repeat(3)) }));
  await writeFilesDurably(files, true, [dir.path]);
  for (const file of files)
    assert.equal(await readFile(file.path, "utf8"), file.path.slice(-1).repeat(3));
});

test("writeFilesDurably reports a file it cannot write, after the others settle", async () => {
  await using dir = await tempDir("cairn-durable-");
  const files = [
    { path: join(dir.path, "ok"), data: bytes("ok") },
    { path: join(dir.path, "missing-dir", "no"), data: bytes("no") },
  ];
  await assert.rejects(writeFilesDurably(files, true, [dir.path]), { code: "ENOENT" });
  assert.equal(await readFile(files[0].path, "utf8"), "ok");
});

test("placeHashNamedFiles renames each file into place and leaves no temporary file when one fails", async () => {
  await using dir = await tempDir("cairn-durable-");
  const good = {
    target: join(dir.path, "good"),
    tmp: join(dir.path, "good.tmp"),
    data: bytes("g"),
  };
  const bad = {
    target: join(dir.path, "missing-dir", "bad"),
    tmp: join(dir.path, "bad.tmp"),
    data: bytes("b"),
  };
  await placeHashNamedFiles([good], true, [dir.path]);
  assert.equal(await readFile(good.target, "utf8"), "g");
  await assert.rejects(placeHashNamedFiles([bad], true, [dir.path]), { code: "ENOENT" });
  assert.deepEqual(await readdir(dir.path), ["good"]);
});
