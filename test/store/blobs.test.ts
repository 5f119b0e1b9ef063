import assert from "node:assert/strict";
import { readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { BlobStore, sha256Hex } from "../../src/store/blobs.ts";
import { tempDir } from "../helpers/log.ts";

describe("blob store", () => {
  test("put is content-addressed, idempotent and served at blob/sha256/<hex>", async () => {
    await using dir = await tempDir();
    const store = await BlobStore.open(dir.path, { durable: false });
    const data = Buffer.from("hello blob");
    const [a, b] = await Promise.all([store.put(data), store.put(data)]);
    assert.deepEqual(a, b);
    assert.equal(a.sha256, sha256Hex(data));
    assert.deepEqual(await readFile(join(dir.path, BlobStore.treePath(a.sha256))), data);
    assert.deepEqual(Buffer.from((await store.get(a.sha256)) as Uint8Array), data);
    assert.equal(await store.get("0".repeat(64)), undefined);
    await assert.rejects(store.get("../../etc/passwd"), /not a sha256/);
    // The synchronous read answers the same.
    assert.deepEqual(Buffer.from(store.getSync(a.sha256) as Uint8Array), data);
    assert.equal(store.getSync("0".repeat(64)), undefined);
    assert.throws(() => store.getSync("../../etc/passwd"), /not a sha256/);
  });

  test("a damaged blob is never returned, and a put repairs it", async () => {
    await using dir = await tempDir();
    const store = await BlobStore.open(dir.path, { durable: true });
    const data = Buffer.from("precious bytes");
    const { sha256 } = await store.put(data);
    await writeFile(join(dir.path, BlobStore.treePath(sha256)), "damaged");
    assert.equal(await store.get(sha256), undefined);
    assert.equal(store.getSync(sha256), undefined);
    await store.put(data);
    assert.deepEqual(Buffer.from((await store.get(sha256)) as Uint8Array), data);
  });

  test("putMissedSync writes in place of a damaged copy, leaves no temporary file, and is tracked", async () => {
    await using dir = await tempDir();
    const store = await BlobStore.open(dir.path, { durable: false });
    const data = Buffer.from("a document the reader just fetched");
    const tracker = store.trackPuts();
    const stored = await store.putMissedSync(data);
    assert.deepEqual(stored, { sha256: sha256Hex(data), size: data.length });
    assert.equal(tracker.has(stored.sha256), true);
    await writeFile(join(dir.path, BlobStore.treePath(stored.sha256)), "damaged");
    assert.equal(store.getSync(stored.sha256), undefined);
    await store.putMissedSync(data);
    assert.deepEqual(Buffer.from(store.getSync(stored.sha256) as Uint8Array), data);
    assert.deepEqual(await readdir(join(dir.path, ".tmp")), []);
  });

  test("putFile moves a file in under its hash, consuming it, and repairs a damaged copy", async () => {
    await using dir = await tempDir();
    const store = await BlobStore.open(dir.path, { durable: true });
    const data = Buffer.alloc(3 << 20, "large ");
    const first = store.tempPath();
    await writeFile(first, data);
    const stored = await store.putFile(first);
    assert.deepEqual(stored, { sha256: sha256Hex(data), size: data.length });
    await assert.rejects(stat(first), { code: "ENOENT" });
    assert.equal(await store.has(stored.sha256), true);

    await writeFile(join(dir.path, BlobStore.treePath(stored.sha256)), "damaged");
    assert.equal(await store.has(stored.sha256), false);
    const again = store.tempPath();
    await writeFile(again, data);
    await store.putFile(again);
    assert.equal(await store.has(stored.sha256), true);
    assert.deepEqual(await readdir(join(dir.path, ".tmp")), []);
  });

  test("a put of a held blob refreshes its mtime, so an age-based sweep keeps it", async () => {
    await using dir = await tempDir();
    const store = await BlobStore.open(dir.path, { durable: false });
    const { sha256 } = await store.put(Buffer.from("old news"));
    const path = join(dir.path, BlobStore.treePath(sha256));
    const old = new Date(Date.now() - 86_400_000);
    await utimes(path, old, old);
    const sweepStart = Date.now() - 1000;
    await store.put(Buffer.from("old news"));
    assert.equal(await store.removeIfOlder(sha256, sweepStart), undefined);
    assert.equal(await store.has(sha256), true);
    // Through putFile too.
    await utimes(path, old, old);
    const file = store.tempPath();
    await writeFile(file, "old news");
    await store.putFile(file);
    assert.ok((await stat(path)).mtimeMs >= sweepStart);
  });

  test("a sweep skips what was put since its mark, and a put racing a deletion writes the blob again", async () => {
    await using dir = await tempDir();
    const store = await BlobStore.open(dir.path, { durable: false });
    const data = Buffer.from("contested");
    const { sha256 } = await store.put(data);
    const tracker = store.trackPuts();
    await store.put(data);
    assert.equal(await store.removeIfOlder(sha256, Number.POSITIVE_INFINITY, tracker), undefined);
    tracker.stop();
    // A deletion started, then a put of the same bytes before it finishes: the put wins.
    const removal = store.removeIfOlder(sha256, Number.POSITIVE_INFINITY);
    const put = store.put(data);
    assert.equal(await removal, data.length);
    await put;
    assert.deepEqual(Buffer.from((await store.get(sha256)) as Uint8Array), data);
  });
});
