/**
 * Large and hostile tarballs against a real `cairn serve`: real npm
 * publishes a 30 MB incompressible package, a package over the configured
 * limit gets a 413 naming it, and a gzip bomb leaves the server answering
 * other requests while it is inflated and refused.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { describe, test } from "node:test";
import { registryFixture } from "../helpers/fixture.ts";
import { tempDir } from "../helpers/log.ts";
import { runNpm } from "../helpers/npm-client.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { signUp } from "../helpers/registry-client.ts";
import { startServe } from "../helpers/serve.ts";
import { gzipBomb } from "../helpers/tar.ts";

async function writePackage(dir: string, name: string, bytes: number): Promise<string> {
  const pkg = join(dir, name);
  await mkdir(pkg);
  await writeFile(join(pkg, "package.json"), JSON.stringify({ name, version: "1.0.0" }));
  await writeFile(join(pkg, "blob.bin"), randomBytes(bytes));
  return pkg;
}

/** Sends `body` as a publish; resolves with the status, and calls `sent` once the body is written. */
function putStreamed(url: URL, token: string, body: string, sent: () => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: "PUT",
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        authorization: `Bearer ${token}`,
      },
    });
    req.on("finish", sent);
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("publish size and gzip bombs", () => {
  test("real npm publishes a 30 MB incompressible package; over the limit, a 413 names it", async (t) => {
    await using fx = await registryFixture();
    const npmrc = await fx.npmrcFor("alice");
    const pkg = await writePackage(fx.dir.path, "big-cairn", 30 * 1024 * 1024);
    const started = performance.now();
    const published = await runNpm(["publish"], pkg, npmrc, fx.cache);
    t.diagnostic(`npm publish of 30 MiB: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(published.code, 0, published.stderr);
    const view = await runNpm(
      ["view", "big-cairn", "dist.unpackedSize"],
      fx.dir.path,
      npmrc,
      fx.cache,
    );
    assert.equal(view.code, 0, view.stderr);

    await using small = await registryFixture(["--max-tarball-bytes", String(1024 * 1024)]);
    const smallRc = await small.npmrcFor("alice");
    const over = await writePackage(small.dir.path, "over-cairn", 2 * 1024 * 1024);
    const refused = await runNpm(["publish"], over, smallRc, small.cache);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /413/);
    assert.match(refused.stderr, /limit of 1048576 bytes/);
  });

  test("while a gzip bomb is inflated and refused, the checkpoint is served", async (t) => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    await mkdir(data);
    // Caps raised so that the bomb is inflated up to 400 MiB before it is refused.
    const caps = { maxCompressionRatio: 100_000, maxUnpackedBytes: 400 * 1024 * 1024 };
    await writeFile(join(data, "config.json"), JSON.stringify(caps));
    const server = await startServe(["--data", data, "--no-durable"]);
    try {
      const token = await signUp(server.url, "alice", "pw-alice");
      const bomb = gzipBomb("bomb", "1.0.0", 480);
      const body = JSON.stringify(publishBody({ name: "bomb", version: "1.0.0" }, bomb));
      let answered = false;
      let sentAt = 0;
      const latencies: number[] = [];
      let polling: Promise<void> | undefined;
      const status = await putStreamed(new URL("bomb", server.url), token, body, () => {
        // Once the bomb is sent, read the checkpoint again and again until the bomb is answered.
        sentAt = performance.now();
        polling = (async () => {
          while (!answered) {
            const start = performance.now();
            const res = await fetch(new URL("-/cairn/checkpoint", server.url));
            await res.arrayBuffer();
            if (!answered) latencies.push(performance.now() - start);
          }
        })();
      });
      answered = true;
      const bombTime = performance.now() - sentAt;
      await polling;
      const slowest = Math.max(...latencies);
      t.diagnostic(
        `${latencies.length} checkpoint reads during the bomb (${bombTime.toFixed(0)} ms); slowest ${slowest.toFixed(0)} ms`,
      );
      assert.equal(status, 413);
      // A server that inflates on its event loop holds one read for nearly all of the bomb's
      // time (2.8 s of 2.8 s before the fix); one that inflates on the thread pool, a sliver.
      assert.ok(latencies.length >= 3, `${latencies.length} reads before the bomb was answered`);
      assert.ok(slowest < bombTime / 2, `a read waited ${slowest} ms of the bomb's ${bombTime} ms`);
    } finally {
      await server.stop();
    }
  });
});
