/**
 * The peer server over a real share set: a share store holding the
 * tarball of each case of the policy and an install store holding some
 * versions. It serves the latest and the popular, and answers the one
 * "not here" (byte for byte) for a non-latest unpopular version, an
 * opted-out package, an unpublished version, a block held by nobody, and
 * any path that is not a block; a tarball kept later is served once the
 * set is computed again.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startPeerServer } from "../../src/peer/server.ts";
import { ShareStore } from "../../src/peer/share-store.ts";
import { type Shared, Sharing } from "../../src/peer/sharing.ts";
import { rawCid } from "../../src/store/cid.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { tempDir } from "../helpers/log.ts";
import type { TestOrigin } from "../helpers/origin.ts";
import { rawExchange } from "../helpers/raw-exchange.ts";
import { registryOfCases, storeOfCases } from "../helpers/share-cases.ts";

function tarballOf(origin: TestOrigin, spec: string) {
  const [name, version] = spec.split("@");
  const entry = origin.registry.state.table("npm").version(name, version)?.entry;
  assert.ok(entry?.artifact, spec);
  return { name, version, artifact: entry.artifact };
}

async function keep(origin: TestOrigin, share: ShareStore, spec: string): Promise<string> {
  const { name, version, artifact } = tarballOf(origin, spec);
  const bytes = await origin.registry.blobs.get(artifact.sha256);
  assert.ok(bytes);
  await share.keep(name, version, artifact, bytes);
  return artifact.sha256;
}

describe("the peer server", () => {
  test("serves only the share set and answers one not-here otherwise", async () => {
    await using origin = await registryOfCases();
    await using dir = await tempDir();
    const { store, held } = await storeOfCases(origin, `${dir.path}/store`, [
      "plain@1.0.0",
      "plain@1.1.0",
    ]);
    const share = await ShareStore.open(`${dir.path}/share`);
    const tarballs = new Map<string, string>();
    for (const spec of ["plain@1.0.0", "plain@1.1.0", "hot@1.0.0", "secret@1.1.0"])
      tarballs.set(spec, await keep(origin, share, spec));
    const state = origin.registry.state;
    const sharing = new Sharing({
      view: {
        checkpointSize: () => state.logSize,
        document: async (name) => state.table("npm").document(name),
        popularity: async () => state.popularity?.entry,
        blob: async (ref) => {
          const bytes = await origin.registry.blobs.get(ref.sha256);
          assert.ok(bytes);
          return bytes;
        },
      },
      store,
      share,
    });
    assert.equal(await sharing.refresh(), true);
    assert.equal(await sharing.refresh(), false, "nothing changed: not computed again");
    const shared: Shared = sharing.current;
    const reasons = Object.fromEntries(
      shared.set.versions.map((v) => [`${v.name}@${v.version}`, v.decision.reason]),
    );
    assert.deepEqual(reasons, {
      "hot@1.0.0": "popular",
      "plain@1.0.0": "unpopular",
      "plain@1.1.0": "latest",
      "secret@1.1.0": "opted-out",
    });
    const server = await startPeerServer({
      host: "127.0.0.1",
      port: 0,
      blocks: () => sharing.blocks(),
    });
    try {
      const get = (cid: string) => fetch(`http://127.0.0.1:${server.port}/ipfs/${cid}?format=raw`);
      for (const spec of ["plain@1.1.0", "hot@1.0.0"]) {
        const res = await get(rawCid(tarballs.get(spec) ?? ""));
        assert.equal(res.status, 200, spec);
        assert.equal(sha256Hex(Buffer.from(await res.arrayBuffer())), tarballs.get(spec));
      }
      // A file of the latest version, from the install store.
      const file = await get(rawCid(held.get("plain@1.1.0")?.packageJson ?? ""));
      assert.equal(file.status, 200);
      await file.arrayBuffer();
      const targets = [
        `/ipfs/${rawCid(tarballs.get("plain@1.0.0") ?? "")}?format=raw`,
        `/ipfs/${rawCid(tarballs.get("secret@1.1.0") ?? "")}?format=raw`,
        `/ipfs/${rawCid(held.get("plain@1.0.0")?.index ?? "")}`,
        `/ipfs/${rawCid(sha256Hex("held by nobody"))}?format=raw`,
        `/ipfs/${rawCid(tarballs.get("plain@1.1.0") ?? "")}/package.json`,
        "/-/cairn/checkpoint",
        "/plain",
        "/",
      ];
      for (const method of ["GET", "HEAD"]) {
        const answers = [];
        for (const target of targets) answers.push(await rawExchange(server.port, method, target));
        assert.match(answers[0], /^HTTP\/1\.1 404 /);
        for (const [i, answer] of answers.entries()) assert.equal(answer, answers[0], targets[i]);
      }
      // A tarball kept after the set was made is served once it is made again.
      const later = await keep(origin, share, "hot@2.0.0");
      assert.equal((await get(rawCid(later))).status, 404);
      assert.equal(await sharing.refresh(), true);
      const res = await get(rawCid(later));
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      assert.ok((server.served.get("127.0.0.1")?.bytes ?? 0) > 0);
    } finally {
      await server.close();
    }
  });
});
