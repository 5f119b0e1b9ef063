/** `cairn sign` and `cairn sign --rotate` on a stopped registry's data directory. */
import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { dataPaths } from "../../src/origin/data-paths.ts";
import { loadOrCreateKey } from "../../src/origin/keys.ts";
import { cairn } from "../helpers/cli.ts";
import { treeEntries } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

test("cairn import signs what it imports; cairn sign --rotate expires the key and signs everything again", async () => {
  await using dir = await tempDir();
  const data = join(dir.path, "data");
  for (const version of ["1.0.0", "1.1.0"])
    await writeFile(
      join(dir.path, `signed-${version}.tgz`),
      rawTgz([packageJson("signed", version)]),
    );
  const imported = await cairn(["import", dir.path, "--user", "alice", "--data", data]);
  assert.equal(imported.code, 0, imported.stderr);
  // The registry key is the origin's alone, as the log key is.
  assert.equal((await stat(dataPaths(data).registryKey)).mode & 0o777, 0o600);

  const listed = await cairn(["sign", "--data", data]);
  assert.equal(listed.code, 0, listed.stderr);
  const [first] = listed.stdout.trim().split("\n");
  assert.match(first, /^SHA256:[A-Za-z0-9+/]{43} signing$/);

  const rotated = await cairn(["sign", "--rotate", "--data", data]);
  assert.equal(rotated.code, 0, rotated.stderr);
  const lines = rotated.stdout.trim().split("\n");
  assert.match(lines[0], /^retired the registry key to /);
  assert.match(
    lines[1],
    new RegExp(`^${first.split(" ")[0].replaceAll("+", "\\+")} expired \\d{4}-`),
  );
  assert.match(lines[2], /^SHA256:[A-Za-z0-9+/]{43} signing$/);

  const key = await loadOrCreateKey(dataPaths(data).key);
  const entries = await treeEntries(dataPaths(data).tree, key.verifier);
  assert.deepEqual(
    entries.filter((e) => e.kind === "registry-keys").map((e) => e.keys.length),
    [1, 2],
  );
  // Each version signed once by each key.
  assert.equal(entries.filter((e) => e.kind === "signature").length, 4);
});
