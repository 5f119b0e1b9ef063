import assert from "node:assert/strict";
import { readdir, readFile, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, test } from "node:test";
import { DirectorySource, verifyLog } from "../../src/log/index.ts";
import { Mirror, type SyncResult } from "../../src/mirror/mirror.ts";
import { startMirror } from "../../src/mirror/server.ts";
import { tempDir } from "../helpers/log.ts";
import { startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { startTestOrigin } from "../helpers/origin.ts";

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .filter((p) => !p.startsWith(".tmp"))
    .sort();
}

describe("mirror", () => {
  test("copies the whole tree, verified, then only what is new", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    for (let i = 0; i < 300; i++) await origin.publish(`pkg-${i}`, "1.0.0");
    const mirror = await Mirror.open({
      from: origin.url,
      verifier: origin.key.verifier,
      dataDir: dir.path,
      durable: false,
    });
    try {
      const first = await mirror.sync();
      assert.equal(first.fromSize, 0);
      // Each publish is its own batch: the publish, its registry signature (after the key set, in
      // the first batch), the snapshot entry.
      assert.equal(first.toSize, 901);
      // Tarballs, manifests and file indexes are fetched; the snapshot's blobs are made from the
      // verified state, and each version's files from its tarball.
      assert.equal(first.blobs, 900);
      await verifyLog(new DirectorySource(mirror.treeDir), [origin.key.verifier]);
      // Every file of the copy is the origin's, byte for byte.
      for (const path of await filesUnder(mirror.treeDir)) {
        const ours = await readFile(join(mirror.treeDir, path));
        const theirs = await readFile(join(origin.treeDir, path));
        assert.ok(ours.equals(theirs), path);
      }
      assert.equal(mirror.state.table("npm").versions("pkg-299")[0].version, "1.0.0");

      for (let i = 0; i < 10; i++) await origin.publish(`pkg-${i}`, "1.0.1");
      const second = await mirror.sync();
      assert.equal(second.toSize - second.fromSize, 30);
      assert.equal(second.blobs, 30);
      // The partial bundle and tiles are fetched again whole (tlog-tiles has no smaller unit).
      assert.ok(
        second.bytes < first.bytes / 4,
        `${second.bytes} of ${first.bytes} bytes for 10 entries`,
      );
      await verifyLog(new DirectorySource(mirror.treeDir), [origin.key.verifier]);
      assert.deepEqual(mirror.state.table("npm").distTags("pkg-3"), { latest: "1.0.1" });

      const idle = await mirror.sync();
      assert.equal(idle.toSize, idle.fromSize);
      assert.equal(idle.blobs, 0);
    } finally {
      mirror.close();
    }
  });
  test("a mirror whose client state is lost still proves new checkpoints extend the tree it holds", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    for (const name of ["a", "b", "c"]) await origin.publish(name, "1.0.0");
    const options = {
      from: origin.url,
      verifier: origin.key.verifier,
      dataDir: dir.path,
      durable: false,
    };
    const first = await Mirror.open(options);
    await first.sync();
    first.close();
    await rm(join(dir.path, "checkpoints"), { recursive: true });

    // Another log signed with the same key, served as if it were the upstream.
    await using forked = await startTestOrigin({ keyFile: join(origin.dataDir, "key") });
    for (const name of ["x", "y", "z", "w"]) await forked.publish(name, "1.0.0");
    const second = await Mirror.open({ ...options, from: forked.url });
    try {
      assert.equal(second.client.checkpoint?.size, 10);
      await assert.rejects(second.sync(), /consistency check failed/);
      assert.equal(second.checkpoint?.size, 10);
    } finally {
      second.close();
    }
  });
});

describe("mirror server", () => {
  test("without a copy yet, its npm API reads upstream through the signed snapshot; then its own copy", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    await origin.publish("left", "1.0.0");
    await origin.publish("left", "1.1.0");
    await origin.publish("right", "2.0.0", { dependencies: { left: "^1.0.0" } });
    // Upstream withholds tarballs, so the first sync cannot finish; every other file is honest.
    await using upstream = await startMaliciousMirror({
      treeDir: origin.treeDir,
      attack: "drop-tarball",
    });
    const syncs: (SyncResult | Error)[] = [];
    const running = await startMirror({
      from: upstream.url,
      verifier: origin.key.verifier,
      dataDir: dir.path,
      durable: false,
      host: "127.0.0.1",
      port: 0,
      intervalMs: 0,
      onSync: (r) => syncs.push(r),
    });
    try {
      await running.firstSync;
      assert.ok(syncs[0] instanceof Error, "the first sync failed");
      assert.equal(running.mirror.checkpoint, undefined);
      const packument = async () => {
        const res = await fetch(new URL("left", running.url), {
          headers: { accept: "application/vnd.npm.install-v1+json" },
        });
        assert.equal(res.status, 200);
        return (await res.json()) as { versions: Record<string, unknown> };
      };
      const sparse = await packument();
      assert.deepEqual(Object.keys(sparse.versions), ["1.0.0", "1.1.0"]);
      assert.equal((await fetch(new URL("nothing", running.url))).status, 404);
      assert.equal((await fetch(new URL("-/cairn/checkpoint", running.url))).status, 404);

      upstream.attack = "honest";
      const synced = await running.sync();
      assert.equal(synced.toSize, origin.registry.appender.size);
      assert.deepEqual(await packument(), sparse, "its own copy answers the same");
      const tarball = await fetch(new URL("right/-/right-2.0.0.tgz", running.url));
      assert.equal(tarball.status, 200);
    } finally {
      await running.close();
    }
  });
});
