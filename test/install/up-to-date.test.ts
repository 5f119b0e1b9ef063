/**
 * The no-op check: the command line read as commander reads it (options
 * that only say where bytes come from do not count; anything it cannot
 * vouch for means "not a no-op"), and the stamp against the files it names.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { readProject } from "../../src/install/project.ts";
import {
  makeStamp,
  shapeKey,
  shapeOfArgs,
  upToDate,
  writeStamp,
} from "../../src/install/up-to-date.ts";
import { tempDir } from "../helpers/log.ts";

const plain = { frozen: false, omit: [], layout: "hoisted", ignoreScripts: false };

test("source options are read past; shaping ones in either form give one key", () => {
  const key = (args: string[], command = "install") => {
    const shape = shapeOfArgs(command, args);
    return shape && shapeKey(shape);
  };
  assert.equal(
    key([
      "--origin",
      "http://o/",
      "--key",
      "k",
      "--mirror",
      "http://a/",
      "http://b/",
      "--no-mirror-list",
    ]),
    shapeKey(plain),
  );
  assert.equal(key(["--omit", "dev", "optional"]), key(["--omit=optional", "--omit=dev"]));
  assert.equal(key(["--production"]), key(["--omit", "dev"]));
  assert.equal(key(["--layout", "isolated"]), shapeKey({ ...plain, layout: "isolated" }));
  assert.notEqual(key([], "ci"), key([]));
  // Packages to add, and options this reading does not know, are never a no-op.
  assert.equal(key(["express"]), undefined);
  assert.equal(
    key(["--mirror", "http://a/", "express"]),
    shapeKey(plain),
    "a variadic option takes it",
  );
  assert.equal(key(["--force"]), undefined);
  assert.equal(key(["-D", "x"]), undefined);
});

test("a stamp holds while its files and folders do, and not a moment longer", async () => {
  await using dir = await tempDir("cairn-stamp-");
  const project = dir.path;
  await writeFile(join(project, "package.json"), '{"dependencies":{"a":"1"}}');
  await writeFile(join(project, "package-lock.json"), "{}");
  await mkdir(join(project, "node_modules", "a"), { recursive: true });
  const key = shapeKey(plain);
  await writeStamp(
    project,
    await makeStamp(project, ["package.json", "package-lock.json"], key, ["node_modules/a"]),
  );
  assert.equal(await upToDate(project, key), true);
  assert.equal(await upToDate(project, shapeKey({ ...plain, omit: ["dev"] })), false);
  await writeFile(join(project, "package-lock.json"), "{ }");
  assert.equal(await upToDate(project, key), false);
  await writeFile(join(project, "package-lock.json"), "{}");
  await rm(join(project, "node_modules", "a"), { recursive: true });
  assert.equal(await upToDate(project, key), false);
});

test("an input written well before its stamp is taken by its stat; any later write is caught", async () => {
  await using dir = await tempDir("cairn-stamp-");
  const project = dir.path;
  const lockfile = join(project, "package-lock.json");
  await writeFile(join(project, "package.json"), '{"dependencies":{"a":"1"}}');
  await writeFile(lockfile, '{"a":1}');
  await mkdir(join(project, "node_modules", "a"), { recursive: true });
  const key = shapeKey(plain);
  const stamp = await makeStamp(project, ["package.json", "package-lock.json"], key, [
    "node_modules/a",
  ]);
  await writeStamp(project, stamp);
  // The stamp as if written a minute after its inputs: outside the racy window, stat decides.
  const stampPath = join(project, "node_modules", ".cairn-install.json");
  const later = new Date(Date.now() + 60_000);
  await utimes(stampPath, later, later);
  assert.equal(await upToDate(project, key), true);
  // Not even hashed: a stamp with a wrong hash but the right stat still holds.
  const inputs = { ...stamp.inputs, "package-lock.json": "0".repeat(64) };
  await writeFile(stampPath, JSON.stringify({ ...stamp, inputs }));
  await utimes(stampPath, later, later);
  assert.equal(await upToDate(project, key), true);
  // A stat the stamp did not record (garbled): the bytes are hashed, and still match.
  const garbled = { ...stamp, seen: { "package.json": [0, 0, 0, 0], "package-lock.json": "x" } };
  await writeFile(stampPath, JSON.stringify(garbled));
  await utimes(stampPath, later, later);
  assert.equal(await upToDate(project, key), true);
  // Same size, mtime put back: only the ctime (and the bytes) tell this write.
  await writeStamp(project, stamp);
  await utimes(stampPath, later, later);
  const { atime, mtime } = await stat(lockfile);
  await writeFile(lockfile, '{"a":2}');
  await utimes(lockfile, atime, mtime);
  assert.equal((await readFile(lockfile, "utf8")).length, '{"a":1}'.length);
  assert.equal(await upToDate(project, key), false);
});

test("a new workspace folder that a glob matches makes the stamp stale", async () => {
  await using dir = await tempDir("cairn-stamp-");
  const project = dir.path;
  await writeFile(join(project, "package.json"), '{"workspaces":["packages/*"]}');
  await mkdir(join(project, "packages", "a"), { recursive: true });
  await writeFile(join(project, "packages", "a", "package.json"), '{"name":"a"}');
  await mkdir(join(project, "node_modules"));
  const { workspaces, searched } = await readProject(project);
  const inputs = ["package.json", ...workspaces.map((w) => `${w.location}/package.json`)];
  const key = shapeKey(plain);
  await writeStamp(project, await makeStamp(project, inputs, key, [], searched));
  assert.equal(await upToDate(project, key), true);
  await mkdir(join(project, "packages", "b"));
  await writeFile(join(project, "packages", "b", "package.json"), '{"name":"b"}');
  assert.equal(await upToDate(project, key), false);
});
