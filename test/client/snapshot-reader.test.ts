/**
 * Sparse verification: reading one package document through the snapshot a
 * checkpoint commits to, and the proxy that reads the registry this way.
 * The tampering suite (test/e2e/tampering.test.ts) covers mirrors that lie
 * about the snapshot's files; here: what is read, what it costs, absence,
 * a moving head, and documents and logs that do not hold together.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LogClient } from "../../src/client/log-client.ts";
import { SnapshotReadError, SnapshotReader } from "../../src/client/snapshot-reader.ts";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { startProxy } from "../../src/proxy/server.ts";
import { canonicalJsonBytes } from "../../src/registry/canonical-json.ts";
import { encodeEntry } from "../../src/registry/entries.ts";
import { decodeDocument, encodeDocument } from "../../src/registry/package-document.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { publishEntry } from "../helpers/entries.ts";
import { openTestLog, tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { serveDirectory } from "../helpers/static-server.ts";

interface Packument {
  versions: Record<string, unknown>;
  "dist-tags": Record<string, string>;
}

/** A client of `origin` alone (no mirror list), holding its current checkpoint. */
async function refreshedClient(origin: TestOrigin, stateDir: string): Promise<LogClient> {
  const client = await LogClient.open({
    origin: origin.url,
    verifier: origin.key.verifier,
    stateDir,
    useMirrorList: false,
  });
  await client.refresh();
  return client;
}

describe("sparse verification", () => {
  test("a document is read with one bundle, the root, one shard and the document", async () => {
    await using origin = await startTestOrigin();
    await using state = await tempDir();
    for (let i = 0; i < 40; i++) await origin.publish(`p${i}`, "1.0.0");
    await origin.publish("p3", "1.1.0", { dependencies: { p1: "^1.0.0" } });
    const client = await refreshedClient(origin, state.path);
    const reader = new SnapshotReader(client);
    const before = client.pool.traffic();
    const doc = await reader.document("npm", "p3");
    assert.deepEqual(doc, origin.registry.state.table("npm").document("p3"));
    assert.deepEqual(Object.keys(doc?.versions ?? {}), ["1.0.0", "1.1.0"]);
    const traffic = client.pool.traffic();
    // A tile, the last bundle, the root, the shard and the document; nothing else of the 82 entries.
    assert.equal(traffic.requests - before.requests, 5);

    // The shard proves absence; a second package in the same shard costs only its document.
    assert.equal(await reader.document("npm", "not-published"), undefined);
    assert.deepEqual(
      await reader.document("npm", "p7"),
      origin.registry.state.table("npm").document("p7"),
    );
    assert.equal(client.pool.traffic().requests - traffic.requests, 1);

    // A new checkpoint moves the head: the new version is there after a refresh.
    await origin.publish("p3", "2.0.0");
    assert.deepEqual(Object.keys((await reader.document("npm", "p3"))?.versions ?? {}), [
      "1.0.0",
      "1.1.0",
    ]);
    await client.refresh();
    assert.deepEqual(Object.keys((await reader.document("npm", "p3"))?.versions ?? {}), [
      "1.0.0",
      "1.1.0",
      "2.0.0",
    ]);
    const head = await reader.head();
    assert.equal(head.entry?.size, (client.checkpoint?.size ?? 0) - 1);
    assert.equal(head.entry?.packages, 40);
  });

  test("the newest popularity entry is found through the snapshot that names it", async () => {
    await using origin = await startTestOrigin({ settings: { popularityInterval: 3600 } });
    await using state = await tempDir();
    await origin.publish("a", "1.0.0");
    const client = await refreshedClient(origin, state.path);
    const reader = new SnapshotReader(client);
    assert.equal(await reader.popularity(), undefined);
    const published = await origin.publishPopularity();
    assert.ok(published);
    await origin.publish("b", "1.0.0");
    await client.refresh();
    assert.deepEqual(await reader.popularity(), published.entry);
    assert.equal((await reader.head()).entry?.popularity, published.index);
  });

  test("a sparse proxy serves packuments from the snapshot, 404 for an unknown name, and no search", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    await origin.publish("left", "1.0.0", { description: "pads on the left" });
    await origin.publish("@scope/right", "2.0.0");
    const proxy = await startProxy({
      host: "127.0.0.1",
      port: 0,
      dataDir: dir.path,
      origin: origin.url,
      verifier: origin.key.verifier,
      useMirrorList: false,
    });
    try {
      assert.equal(proxy.reader.state, undefined, "no log replayed");
      for (const name of ["left", "@scope%2fright"]) {
        const served = (await (await fetch(new URL(name, proxy.url))).json()) as Packument;
        const own = (await (await fetch(new URL(name, origin.url))).json()) as Packument;
        assert.deepEqual(
          Object.keys(served.versions),
          Object.keys(own.versions),
          `${name}: the same versions`,
        );
        assert.deepEqual(served["dist-tags"], own["dist-tags"]);
      }
      const missing = await fetch(new URL("nothing-here", proxy.url));
      assert.equal(missing.status, 404);
      const search = await fetch(new URL("-/v1/search?text=pads", proxy.url));
      assert.equal(search.status, 501);
      assert.match(
        ((await search.json()) as { error: string }).error,
        /search needs the whole registry/,
      );
    } finally {
      await proxy.close();
    }
  });

  test("a sparse proxy reading ahead holds a package's dependencies, with their manifests, before npm asks", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    await origin.publish("c", "1.0.0");
    await origin.publish("b", "1.0.0", { dependencies: { c: "^1.0.0" } });
    await origin.publish("b", "1.1.0", { dependencies: { c: "^1.0.0" } });
    await origin.publish("a", "1.0.0", { dependencies: { b: "^1.0.0", absent: "1" } });
    await origin.publish("unrelated", "1.0.0");
    const proxy = await startProxy({
      host: "127.0.0.1",
      port: 0,
      dataDir: dir.path,
      origin: origin.url,
      verifier: origin.key.verifier,
      useMirrorList: false,
      readAhead: "manifests",
    });
    try {
      const get = (name: string) => fetch(new URL(name, proxy.url));
      assert.equal((await get("a")).status, 200);
      await proxy.reader.idle();
      const before = proxy.reader.client.pool.traffic().requests;
      // b (both versions' manifests) and c, two levels down, were read ahead: no source is asked now.
      for (const name of ["b", "c"]) {
        const doc = (await (await get(name)).json()) as Packument;
        assert.ok(Object.keys(doc.versions).length > 0, name);
      }
      assert.equal(proxy.reader.client.pool.traffic().requests, before);
      // Nothing a depends on leads to unrelated: reading it costs a request.
      assert.equal((await get("unrelated")).status, 200);
      assert.ok(proxy.reader.client.pool.traffic().requests > before);
    } finally {
      await proxy.close();
    }
  });

  test("a document must be canonical, well-formed and the one its name asks for", async () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    state.apply(0, [publishEntry("a", "1.0.0", { tag: "latest" })]);
    const doc = state.table("npm").document("a");
    assert.ok(doc);
    const bytes = encodeDocument(doc);
    assert.deepEqual(decodeDocument(bytes, ECOSYSTEMS), doc);
    const spaced = new TextEncoder().encode(JSON.stringify(doc, null, 1));
    assert.throws(() => decodeDocument(spaced, ECOSYSTEMS), /canonical form/);
    const { versions: _, ...noVersions } = doc;
    assert.throws(() => decodeDocument(canonicalJsonBytes(noVersions), ECOSYSTEMS), /versions/);
    const badVersion = { ...doc, versions: { "1.0.0": { index: 0 } } };
    assert.throws(() => decodeDocument(canonicalJsonBytes(badVersion), ECOSYSTEMS));
    assert.throws(() => decodeDocument(new Uint8Array([0xff]), ECOSYSTEMS), /UTF-8 JSON/);
  });

  test("a log whose last entry is not a snapshot is refused", async () => {
    await using dir = await tempDir();
    // Served as a Cairn server serves its tree, under /-/cairn/.
    const treeDir = join(dir.path, "-", "cairn");
    const { storage, appender, key } = await openTestLog(treeDir);
    await appender.append([encodeEntry(publishEntry("a", "1.0.0", { tag: "latest" }))]);
    await storage.close();
    await using server = await serveDirectory(dir.path);
    const client = await LogClient.open({
      origin: server.url,
      verifier: key.verifier,
      stateDir: join(dir.path, "state"),
      useMirrorList: false,
    });
    await client.refresh();
    await assert.rejects(
      new SnapshotReader(client).document("npm", "a"),
      (err: unknown) => err instanceof SnapshotReadError && err.code === "not-a-snapshot",
    );
  });
});
