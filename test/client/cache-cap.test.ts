/**
 * The proxy's blob cache under `--cache-max`: the least recently used blobs
 * go once the cap is passed, and a later read fetches and verifies them again.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startProxy } from "../../src/proxy/server.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";

async function cachedBytes(dir: string): Promise<number> {
  const blobs = join(dir, "cache", "blob", "sha256");
  let total = 0;
  for (const name of await readdir(blobs)) total += (await stat(join(blobs, name))).size;
  return total;
}

describe("proxy cache cap", () => {
  test("evicts the least recently used blobs past the cap; an evicted tarball is fetched and verified again", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    // Incompressible files: each tarball is about 16 KiB.
    for (let i = 0; i < 6; i++)
      await origin.publish(`big${i}`, "1.0.0", {}, [
        { name: "package/blob.bin", data: randomBytes(16 * 1024) },
      ]);
    const cap = 48 * 1024;
    const proxy = await startProxy({
      host: "127.0.0.1",
      port: 0,
      dataDir: dir.path,
      origin: origin.url,
      verifier: origin.key.verifier,
      useMirrorList: false,
      cacheMaxBytes: cap,
    });
    try {
      const tarball = async (i: number) => {
        const res = await fetch(new URL(`big${i}/-/big${i}-1.0.0.tgz`, proxy.url));
        assert.equal(res.status, 200);
        const bytes = Buffer.from(await res.arrayBuffer());
        await proxy.reader.idle();
        return bytes;
      };
      const first = await tarball(0);
      for (let i = 1; i < 6; i++) {
        await tarball(i);
        assert.ok((await cachedBytes(dir.path)) <= cap, `over the cap after ${i + 1} tarballs`);
      }
      const requests = () => proxy.reader.client.pool.traffic().requests;
      // The newest is still cached: no request.
      let before = requests();
      await tarball(5);
      assert.equal(requests(), before);
      // The oldest was evicted: fetched again, and the same verified bytes.
      before = requests();
      const again = await tarball(0);
      assert.ok(requests() > before, "fetched again");
      assert.equal(sha256Hex(again), sha256Hex(first));
    } finally {
      await proxy.close();
    }
  });
});
