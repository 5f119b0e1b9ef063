/** checkTree: each damaged file is named once, judged by a file already authenticated. */
import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { checkTree, DirectorySource, openCheckpoint } from "../../src/log/index.ts";
import { buildLog, tempDir } from "../helpers/log.ts";

/** Three tile levels: 257 full level-0 tiles, a full level-1 tile, edges at every level. */
const SIZE = 256 * 256 + 300;

describe("checkTree", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let key: Awaited<ReturnType<typeof buildLog>>["key"];
  before(async () => {
    dir = await tempDir();
    ({ key } = await buildLog(dir.path, SIZE, 4096));
  });
  after(() => dir[Symbol.asyncDispose]());

  async function check(recent?: number) {
    const cp = openCheckpoint(await readFile(join(dir.path, "checkpoint")), [key.verifier]);
    return checkTree(new DirectorySource(dir.path), cp.size, cp.root, { recent });
  }

  async function damaged(path: string, damage: (data: Buffer) => Buffer | undefined) {
    const file = join(dir.path, path);
    const good = await readFile(file);
    const bad = damage(Buffer.from(good));
    if (bad) await writeFile(file, bad);
    else await rm(file);
    try {
      return await check();
    } finally {
      await writeFile(file, good);
    }
  }

  const flip = (at: number) => (data: Buffer) => {
    data[at] ^= 1;
    return data;
  };

  test("a whole tree has no damage, and every tile and bundle is read", async () => {
    const all = await check();
    assert.deepEqual(all.damage, []);
    assert.equal(all.bundles, Math.ceil(SIZE / 256));
    const recent = await check(2);
    assert.deepEqual(recent.damage, []);
    assert.equal(recent.bundles, 2);
  });

  test("a full tile whose parent is full too is named alone, not its children", async () => {
    const result = await damaged("tile/1/000", flip(100));
    assert.deepEqual(
      result.damage.map((d) => d.path),
      ["tile/1/000"],
    );
  });

  test("a level-0 tile, a bundle, a missing bundle, an edge tile", async () => {
    assert.deepEqual(
      (await damaged("tile/0/256", flip(5))).damage.map((d) => d.path),
      ["tile/0/256"],
    );
    assert.deepEqual(
      (await damaged("tile/entries/007", flip(30))).damage.map((d) => d.path),
      ["tile/entries/007"],
    );
    const missing = await damaged("tile/entries/008", () => undefined);
    assert.deepEqual(missing.damage, [{ path: "tile/entries/008", problem: "missing" }]);
    const edge = await damaged("tile/2/000.p/1", flip(0));
    assert.ok(
      edge.damage.some((d) => d.path === "tile/2/000.p/1"),
      JSON.stringify(edge.damage),
    );
  });
});
