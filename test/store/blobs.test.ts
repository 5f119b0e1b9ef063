import assert from "node:assert/strict";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
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
});
