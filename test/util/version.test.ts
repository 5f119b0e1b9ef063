import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { CAIRN_VERSION } from "../../src/util/version.ts";

test("CAIRN_VERSION is package.json's version", async () => {
  const pkg = JSON.parse(
    await readFile(join(import.meta.dirname, "..", "..", "package.json"), "utf8"),
  );
  assert.equal(CAIRN_VERSION, pkg.version);
});
