/**
 * `cairn peer --seed-popular n` on a machine that installed nothing: it
 * fetches, verifies and keeps the most popular shareable versions (and
 * only those: not the unpopular, the opted-out or the unpublished), and
 * serves them at once.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { rawCid } from "../../src/store/cid.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import type { TestOrigin } from "../helpers/origin.ts";
import { loopbackPeer, type PeerProcess, startPeer } from "../helpers/peer-process.ts";
import { registryOfCases } from "../helpers/share-cases.ts";

let origin: TestOrigin;
let dir: Awaited<ReturnType<typeof tempDir>>;
let peer: PeerProcess | undefined;

before(async () => {
  origin = await registryOfCases();
  dir = await tempDir("cairn-seed-");
});
after(async () => {
  await peer?.stop();
  await origin?.[Symbol.asyncDispose]();
  await dir?.[Symbol.asyncDispose]();
});

test("a peer seeds the popular versions it does not hold, and serves them", async () => {
  const home = `${dir.path}/home`;
  peer = await startPeer([...loopbackPeer(origin), "--seed-popular", "10"], home);
  assert.equal(peer.blobs, 0, "nothing installed, nothing shared yet");
  const [, seeded] = await peer.waitForStderr(/seeded (\d+) popular versions/);
  // hot@1.0.0 is the one popular version that may be shared (secret@1.0.0 opted out, gone@1.1.0 unpublished).
  assert.equal(seeded, "1");
  const status = JSON.parse(
    (await cairn(["peer", "status", "--json"], { env: { CAIRN_HOME: home } })).stdout,
  ).status;
  assert.deepEqual(status.versions, [
    { name: "hot", version: "1.0.0", share: true, reason: "popular" },
  ]);
  assert.equal(status.seeded, 1);
  const artifact = origin.registry.state.table("npm").version("hot", "1.0.0")?.entry.artifact;
  assert.ok(artifact);
  const res = await fetch(`${peer.url}ipfs/${rawCid(artifact.sha256)}?format=raw`);
  assert.equal(res.status, 200);
  assert.equal(Buffer.from(await res.arrayBuffer()).length, artifact.size);
  assert.equal(await peer.stop(), 0);
});
