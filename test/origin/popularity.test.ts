/**
 * The origin counts downloads per version and publishes them as a signed
 * popularity sketch; the opt-out of LAN sharing travels from package.json
 * to the log entry and the package document; mirrors copy the sketch and
 * replay keeps the newest popularity entry.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Mirror } from "../../src/mirror/mirror.ts";
import { CountMinSketch, popularityKey } from "../../src/registry/popularity.ts";
import { madeCrateBody } from "../helpers/crate-body.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { signUp } from "../helpers/registry-client.ts";

/** A mirror of `origin` in `dataDir`, synced once. */
async function syncedMirror(origin: TestOrigin, dataDir: string): Promise<Mirror> {
  const mirror = await Mirror.open({
    from: origin.url,
    verifier: origin.key.verifier,
    dataDir,
    durable: false,
  });
  await mirror.sync();
  return mirror;
}

describe("popularity at the origin", () => {
  test("tarball and file-index downloads are counted per version and published as a sketch", async () => {
    await using origin = await startTestOrigin({
      settings: { popularityInterval: 3600, popularityWindow: 2, popularityThreshold: 3 },
    });
    await origin.publish("hot", "1.0.0");
    await origin.publish("cold", "1.0.0");
    const hot = origin.registry.state.table("npm").version("hot", "1.0.0")?.entry;
    assert.ok(hot?.artifact && hot.files);
    const get = async (path: string, method = "GET") => {
      const res = await fetch(new URL(path, origin.url), { method });
      await res.arrayBuffer();
      assert.equal(res.status, 200, path);
    };
    for (let i = 0; i < 2; i++) await get("hot/-/hot-1.0.0.tgz");
    await get(`-/cairn/blob/sha256/${hot.artifact.sha256}`);
    await get(`-/cairn/blob/sha256/${hot.files.sha256}`);
    // Neither a HEAD, nor a manifest, nor a packument is a download.
    await get(`-/cairn/blob/sha256/${hot.files.sha256}`, "HEAD");
    await get(`-/cairn/blob/sha256/${hot.manifest.sha256}`);
    await get("cold");

    const first = await origin.publishPopularity();
    assert.ok(first);
    assert.deepEqual(origin.registry.state.popularity, { index: first.index, entry: first.entry });
    const { entry } = first;
    assert.equal(entry.total, 4);
    assert.equal(entry.threshold, 3);
    assert.deepEqual([entry.depth, entry.width], [4, 65536]);
    const blob = await origin.registry.blobs.get(entry.sketch.sha256);
    assert.ok(blob);
    const sketch = CountMinSketch.decode(blob, entry.depth, entry.width);
    assert.equal(sketch.estimate(popularityKey("npm", "hot", "1.0.0")), 4);
    assert.equal(sketch.estimate(popularityKey("npm", "cold", "1.0.0")), 0);

    // The window is two intervals: a download counts in two sketches, then drops out.
    await get("cold/-/cold-1.0.0.tgz");
    const second = await origin.publishPopularity();
    assert.ok(second);
    assert.equal(second.entry.total, 5);
    assert.equal(second.entry.window.from, entry.window.from);
    const third = await origin.publishPopularity();
    assert.ok(third);
    assert.equal(third.entry.total, 1);
    assert.equal(third.entry.window.from, entry.window.to);

    // A mirror copies the sketch like any named blob, and its replay keeps the newest entry.
    await using dir = await tempDir();
    const mirror = await syncedMirror(origin, dir.path);
    try {
      assert.deepEqual(mirror.state.popularity, origin.registry.state.popularity);
      for (const published of [first, second, third])
        assert.ok(await mirror.blobs.has(published.entry.sketch.sha256));
    } finally {
      await mirror.close();
    }
  });

  test("a .crate download counts for the crate, never for an npm package of the same name", async () => {
    await using origin = await startTestOrigin({
      settings: { popularityInterval: 3600, popularityWindow: 1, popularityThreshold: 1 },
    });
    const alice = await signUp(origin.url, "alice", "alice's long password");
    await origin.publish("twin", "1.0.0");
    const put = await fetch(new URL("api/v1/crates/new", origin.url), {
      method: "PUT",
      headers: { authorization: alice },
      body: new Uint8Array(madeCrateBody({ name: "twin", version: "1.0.0" })),
    });
    assert.equal(put.status, 200);
    const crate = origin.registry.state.table("cargo").version("twin", "1.0.0")?.entry;
    assert.ok(crate?.artifact);
    // cargo's `dl` is this path: the .crate as a blob of the static tree.
    const res = await fetch(new URL(`-/cairn/blob/sha256/${crate.artifact.sha256}`, origin.url));
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    const published = await origin.publishPopularity();
    assert.ok(published);
    const blob = await origin.registry.blobs.get(published.entry.sketch.sha256);
    assert.ok(blob);
    const sketch = CountMinSketch.decode(blob, published.entry.depth, published.entry.width);
    assert.equal(sketch.estimate(popularityKey("cargo", "twin", "1.0.0")), 1);
    assert.equal(sketch.estimate(popularityKey("npm", "twin", "1.0.0")), 0);
  });

  test("with counting off nothing is published", async () => {
    await using origin = await startTestOrigin();
    assert.equal(await origin.publishPopularity(), undefined);
    assert.equal(origin.registry.state.popularity, undefined);
  });
});

describe("the share opt-out at the origin", () => {
  test('"cairn": {"share": false} in package.json is logged and reaches the package document', async () => {
    await using origin = await startTestOrigin();
    await origin.publish("private-ish", "1.0.0", { cairn: { share: false } });
    await origin.publish("private-ish", "1.1.0");
    await origin.publish("open", "1.0.0", { cairn: { share: true } });
    const state = origin.registry.state;
    assert.equal(state.table("npm").version("private-ish", "1.0.0")?.entry.share, false);
    assert.equal(
      Object.hasOwn(state.table("npm").version("private-ish", "1.1.0")?.entry ?? {}, "share"),
      false,
    );
    assert.equal(
      Object.hasOwn(state.table("npm").version("open", "1.0.0")?.entry ?? {}, "share"),
      false,
    );
    const doc = state.table("npm").document("private-ish");
    assert.equal(doc?.versions["1.0.0"].share, false);
    // Every copy derives the same document, which the signed snapshot lists by hash.
    await using dir = await tempDir();
    const mirror = await syncedMirror(origin, dir.path);
    try {
      assert.deepEqual(mirror.state.table("npm").document("private-ish"), doc);
    } finally {
      await mirror.close();
    }
  });
});
