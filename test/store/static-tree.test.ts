/**
 * Serving the static tree: canonical paths only, and entry bundles and
 * uncompressed blobs gzipped for clients that accept it, byte for byte the
 * same once inflated. Through the origin, so the headers are what a client
 * (and a CDN, which must vary on Accept-Encoding) sees.
 */

import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { bundlePath } from "../../src/log/index.ts";
import { boundArtifact } from "../../src/registry/blob-check.ts";
import { acceptsGzip, readTreeFile } from "../../src/store/static-tree.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";

/** A raw GET: node:http does not inflate, so the bytes and headers are the wire's. */
function rawGet(url: string, acceptEncoding?: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
    (resolve, reject) => {
      const req = request(url, {
        headers: acceptEncoding ? { "accept-encoding": acceptEncoding } : {},
      });
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    },
  );
}

describe("static tree", () => {
  test("Accept-Encoding: gzip unless refused with q=0", () => {
    assert.equal(acceptsGzip("gzip, deflate, br"), true);
    assert.equal(acceptsGzip("br;q=1.0, gzip;q=0.8"), true);
    assert.equal(acceptsGzip("*"), true);
    assert.equal(acceptsGzip("gzip;q=0"), false);
    assert.equal(acceptsGzip("identity"), false);
    assert.equal(acceptsGzip(undefined), false);
  });

  test("a delta is served only at its canonical name, immutable; any other spelling is not a tree file", async () => {
    await using dir = await tempDir();
    const a = "a".repeat(64);
    const b = "b".repeat(64);
    const paths = [
      `delta/sha256/${a}/${b}`,
      `delta/sha256/${a.toUpperCase()}/${b}`,
      `delta/sha256/${a}/${b}.tmp`,
      `delta/sha256/${a.slice(1)}/${b}`,
      `delta/sha1/${a}/${b}`,
      `delta/sha256/./${a}/${b}`,
    ];
    for (const path of paths) {
      await mkdir(dirname(join(dir.path, path)), { recursive: true });
      await writeFile(join(dir.path, path), "zstd frame");
    }
    const served = await readTreeFile(dir.path, paths[0]);
    assert.equal(served.status, 200);
    assert.equal(served.headers["cache-control"], "public, max-age=31536000, immutable");
    // Besides the files written: a folder of the tree, and a path below a delta.
    for (const path of [...paths.slice(1), `delta/sha256/${a}`, `delta/sha256/${a}/${b}/x`]) {
      const refused = await readTreeFile(dir.path, path);
      assert.equal(refused.status, 404, path);
      assert.equal(JSON.parse(String(refused.body)).code, "not-found", path);
    }
    const absent = await readTreeFile(dir.path, `delta/sha256/${b}/${a}`);
    assert.equal(absent.status, 404);
    assert.equal(JSON.parse(String(absent.body)).code, "not-found");
  });

  test("bundles and JSON blobs go gzipped to clients that accept it; tarballs and tiles as they are", async () => {
    await using origin = await startTestOrigin();
    for (let i = 0; i < 20; i++)
      await origin.publish(`pkg-${i}`, "1.0.0", { description: "x".repeat(100) });
    const size = origin.registry.appender.size;
    const tree = new URL("-/cairn/", origin.url);
    const bundle = new URL(bundlePath(0, size), tree).href;
    const plain = await rawGet(bundle);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.equal(plain.headers.vary, "accept-encoding");
    const gz = await rawGet(bundle, "gzip, deflate");
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.ok(gz.body.length < plain.body.length / 2, `${gz.body.length} of ${plain.body.length}`);
    assert.deepEqual(gunzipSync(gz.body), plain.body);

    const [row] = origin.registry.state.table("npm").versions("pkg-0");
    const tarball = await rawGet(
      new URL(`blob/sha256/${boundArtifact(row.entry).sha256}`, tree).href,
      "gzip",
    );
    assert.equal(tarball.headers["content-encoding"], undefined, "a tarball is gzip already");
    const doc = origin.registry.state.documentHash("npm/pkg-0") ?? "";
    const document = await rawGet(new URL(`blob/sha256/${doc}`, tree).href, "gzip");
    assert.equal(document.headers["content-encoding"], "gzip");
    const checkpoint = await rawGet(new URL("checkpoint", tree).href, "gzip");
    assert.equal(checkpoint.headers["content-encoding"], undefined);
  });

  test("a blob of many MiB is streamed whole, with its length, and not recompressed", async () => {
    await using origin = await startTestOrigin();
    // Text compresses well, so gzip would be chosen were it read whole.
    const big = Buffer.alloc(9 << 20, "cairn ");
    const { sha256 } = await origin.registry.blobs.put(big);
    const url = new URL(`-/cairn/blob/sha256/${sha256}`, origin.url).href;
    const served = await rawGet(url, "gzip");
    assert.equal(served.status, 200);
    assert.equal(served.headers["content-length"], String(big.length));
    assert.equal(served.headers["content-encoding"], undefined);
    assert.ok(served.body.equals(big));
  });
});
