/**
 * The no-op check against a real project folder: a stamp written after an
 * install says "up to date" until package.json, the lockfile, the options
 * or a top-level folder it names changes.
 */
import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { makeStamp, upToDate, writeStamp } from "../../src/install/up-to-date.ts";
import { tempDir } from "../helpers/log.ts";

const OPTIONS = "install omit= layout=hoisted";

async function installedProject(path: string): Promise<void> {
  await mkdir(join(path, "node_modules", "a"), { recursive: true });
  await mkdir(join(path, "node_modules", "@s", "b"), { recursive: true });
  await writeFile(join(path, "package.json"), '{"dependencies":{"a":"1.0.0"}}\n');
  await writeFile(join(path, "package-lock.json"), '{"lockfileVersion":3}\n');
  const stamp = await makeStamp(path, ["package.json", "package-lock.json"], OPTIONS, [
    "node_modules/a",
    "node_modules/@s/b",
  ]);
  await writeStamp(path, stamp);
}

test("a project is up to date until an input, the options or a folder changes", async () => {
  await using dir = await tempDir();
  await installedProject(dir.path);
  assert.equal(await upToDate(dir.path, OPTIONS), true);
  assert.equal(await upToDate(dir.path, `${OPTIONS} ignore-scripts`), false);

  await writeFile(join(dir.path, "package.json"), '{"dependencies":{"a":"2.0.0"}}\n');
  assert.equal(await upToDate(dir.path, OPTIONS), false);

  await installedProject(dir.path);
  await writeFile(join(dir.path, "package-lock.json"), "{}\n");
  assert.equal(await upToDate(dir.path, OPTIONS), false);

  await installedProject(dir.path);
  await rm(join(dir.path, "node_modules", "@s", "b"), { recursive: true });
  assert.equal(await upToDate(dir.path, OPTIONS), false);

  await installedProject(dir.path);
  await rm(join(dir.path, "node_modules", "a"), { recursive: true });
  await writeFile(join(dir.path, "node_modules", "a"), "a file, not a folder\n");
  assert.equal(await upToDate(dir.path, OPTIONS), false);
});

test("a lockfile that appeared since the install is a change", async () => {
  await using dir = await tempDir();
  await mkdir(join(dir.path, "node_modules"), { recursive: true });
  await writeFile(join(dir.path, "package.json"), "{}\n");
  await writeStamp(
    dir.path,
    await makeStamp(dir.path, ["package.json", "package-lock.json"], OPTIONS, []),
  );
  assert.equal(await upToDate(dir.path, OPTIONS), true);
  await writeFile(join(dir.path, "package-lock.json"), '{"lockfileVersion":3}\n');
  assert.equal(await upToDate(dir.path, OPTIONS), false);
});
