/**
 * Blobs fetched from IPFS trustless gateways (web seeds) through the
 * client's source pool, against a real origin on loopback whose own
 * gateway stands as the honest one: a small blob as a raw block, a chunked
 * one as a CAR of its DAG by the root CID the caller knows. Gateways that
 * lie (a flipped byte, another block under a CID, a CAR cut short, a block
 * over 2 MiB) are refused, named, set aside, and the blob still comes,
 * right, from the origin. A proxy fetching a tarball through a gateway.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { CID } from "multiformats/cid";
import type { SourceError } from "../../src/client/errors.ts";
import type { GatewayBlobRef } from "../../src/client/gateway-source.ts";
import { LogClient } from "../../src/client/log-client.ts";
import { Mirror } from "../../src/mirror/mirror.ts";
import { startProxy } from "../../src/proxy/server.ts";
import { rawCid } from "../../src/store/cid.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { keystreamBytes } from "../helpers/keystream.ts";
import { tempDir } from "../helpers/log.ts";
import { type GatewayLie, type LyingGateway, startLyingGateway } from "../helpers/lying-gateway.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { recordLarge } from "../helpers/unixfs-dag.ts";

const MiB = 1 << 20;

const small = keystreamBytes("small", 300_000);
const big = Buffer.concat([
  keystreamBytes("a", MiB),
  keystreamBytes("b", MiB),
  Buffer.from("tail"),
]);

let origin: TestOrigin;
let root: CID;

before(async () => {
  origin = await startTestOrigin();
  // The origin holds each blob whole, as the log names it; its gateway serves the big one's DAG.
  await origin.registry.blobs.put(small);
  ({ root } = await recordLarge(origin, big));
});
after(() => origin[Symbol.asyncDispose]());

const smallRef = (): GatewayBlobRef => ({ sha256: sha256Hex(small), size: small.length });
const bigRef = (unixfs = true): GatewayBlobRef => ({
  sha256: sha256Hex(big),
  size: big.length,
  ...(unixfs ? { unixfs: root.toString() } : {}),
});

interface Run {
  readonly gateway: LyingGateway;
  readonly client: LogClient;
  readonly problems: SourceError[];
}

/** Runs `body` with a client of the origin whose one gateway answers as `how` says. */
async function withGateway(how: GatewayLie, body: (run: Run) => Promise<void>): Promise<void> {
  const gateway = await startLyingGateway(origin.url, how);
  await using dir = await tempDir("cairn-gw-client-");
  const problems: SourceError[] = [];
  const client = await LogClient.open({
    origin: origin.url,
    verifier: origin.key.verifier,
    stateDir: dir.path,
    useMirrorList: false,
    gateways: [gateway.url],
    onProblem: (err) => problems.push(err),
  });
  try {
    await body({ gateway, client, problems });
  } finally {
    await gateway.close();
  }
}

describe("fetching blobs from a trustless gateway", () => {
  test("a small blob comes from the gateway as its raw block, counted there", () =>
    withGateway("none", async ({ gateway, client, problems }) => {
      assert.deepEqual(Buffer.from(await client.blob(smallRef())), small);
      assert.deepEqual(problems, []);
      const stats = client.pool.stats().get(gateway.url);
      assert.deepEqual(stats, { requests: 1, bytes: small.length, failures: 0 });
      assert.equal(client.pool.stats().get(origin.url)?.requests ?? 0, 0);
    }));

  test("a chunked blob comes as a CAR of its DAG, verified and rebuilt", () =>
    withGateway("none", async ({ gateway, client, problems }) => {
      assert.deepEqual(Buffer.from(await client.blob(bigRef())), big);
      assert.deepEqual(problems, []);
      const stats = client.pool.stats().get(gateway.url);
      assert.equal(stats?.requests, 1);
      assert.ok((stats?.bytes ?? 0) > big.length);
      assert.equal(client.pool.stats().get(origin.url)?.requests ?? 0, 0);
    }));

  test("without a root CID (or with one no DAG root can have) a large blob is not asked of gateways", () =>
    withGateway("none", async ({ gateway, client, problems }) => {
      assert.deepEqual(Buffer.from(await client.blob(bigRef(false))), big);
      for (const unixfs of ["not-a-cid", rawCid(sha256Hex(big))])
        assert.deepEqual(Buffer.from(await client.blob({ ...bigRef(false), unixfs })), big);
      assert.equal(gateway.requests, 0);
      assert.equal(client.pool.stats().get(origin.url)?.requests, 3);
      assert.deepEqual(problems, []);
    }));

  test("a gateway that lacks a blob is not set aside: the origin serves it, and the gateway is asked again", () =>
    withGateway("not-found", async ({ gateway, client, problems }) => {
      assert.deepEqual(Buffer.from(await client.blob(smallRef())), small);
      assert.deepEqual(
        problems.map((p) => [p.source, p.code, p.hard]),
        [[gateway.url, "unavailable", false]],
      );
      assert.equal(client.pool.isBenched(gateway.url), false);
      await client.blob(smallRef());
      assert.equal(gateway.requests, 2);
    }));

  test("junk blocks the root does not reach are ignored", () =>
    withGateway("extra-block", async ({ client, problems }) => {
      assert.deepEqual(Buffer.from(await client.blob(bigRef())), big);
      assert.deepEqual(problems, []);
    }));
});

describe("a lying gateway", () => {
  const cases: [string, GatewayLie, () => GatewayBlobRef, string][] = [
    ["a flipped byte in a raw block", "flip-byte", smallRef, "blob"],
    ["a flipped byte in a CAR's block", "flip-byte", bigRef, "block"],
    ["another block under a block's CID", "wrong-block", bigRef, "block"],
    ["a CAR cut short", "truncate", bigRef, "truncated"],
    ["a block over 2 MiB", "oversized", bigRef, "size"],
  ];
  for (const [what, how, ref, check] of cases) {
    test(`${what}: refused, named, set aside; the blob comes right from the origin`, () =>
      withGateway(how, async ({ gateway, client, problems }) => {
        const wanted = ref();
        const data = Buffer.from(await client.blob(wanted));
        assert.equal(sha256Hex(data), wanted.sha256);
        assert.deepEqual(
          problems.map((p) => [p.source, p.code, p.hard]),
          [[gateway.url, check, true]],
        );
        assert.ok(problems[0].message.includes(gateway.url));
        assert.equal(client.pool.isBenched(gateway.url), true);
        // Set aside: the next blob does not ask it.
        const asked = gateway.requests;
        await client.blob(smallRef());
        assert.equal(gateway.requests, asked);
      }));
  }
});

test("a proxy serves a tarball it fetched through a gateway, and serves it on as a gateway itself", async () => {
  await origin.publish("gw-pkg", "1.0.0");
  const gateway = await startLyingGateway(origin.url, "none");
  const dir = await tempDir("cairn-gw-proxy-");
  await using _ = dir;
  const proxy = await startProxy({
    host: "127.0.0.1",
    port: 0,
    dataDir: dir.path,
    origin: origin.url,
    verifier: origin.key.verifier,
    useMirrorList: false,
    gateways: [gateway.url],
  });
  try {
    const res = await fetch(`${proxy.url}gw-pkg/-/gw-pkg-1.0.0.tgz`);
    assert.equal(res.status, 200);
    const tgz = Buffer.from(await res.arrayBuffer());
    const stats = proxy.reader.client.pool.stats().get(gateway.url);
    assert.equal(stats?.bytes, tgz.length, "the tarball came from the gateway");
    await proxy.reader.idle();
    const served = await fetch(`${proxy.url}ipfs/${rawCid(sha256Hex(tgz))}?format=raw`);
    assert.equal(served.status, 200);
    assert.deepEqual(Buffer.from(await served.arrayBuffer()), tgz);
  } finally {
    await proxy.close();
    await gateway.close();
  }
});

test("a mirror copies blobs through a gateway; one that lies is set aside and the copy is still whole", async () => {
  await origin.publish("gw-mirrored", "1.0.0");
  const tgz = Buffer.from(
    await (await fetch(`${origin.url}gw-mirrored/-/gw-mirrored-1.0.0.tgz`)).arrayBuffer(),
  );
  const syncThrough = async (how: GatewayLie) => {
    const gateway = await startLyingGateway(origin.url, how);
    await using dir = await tempDir("cairn-gw-mirror-");
    const problems: SourceError[] = [];
    const mirror = await Mirror.open({
      from: origin.url,
      verifier: origin.key.verifier,
      dataDir: dir.path,
      durable: false,
      gateways: [gateway.url],
      onProblem: (err) => problems.push(err),
    });
    try {
      await mirror.sync();
      // Held, and whole: the store checks a blob against its name on read.
      assert.deepEqual(Buffer.from((await mirror.blobs.get(sha256Hex(tgz))) ?? []), tgz);
      const pool = mirror.client.pool;
      return {
        problems,
        url: gateway.url,
        stats: pool.stats().get(gateway.url),
        benched: pool.isBenched(gateway.url),
      };
    } finally {
      mirror.close();
      await gateway.close();
    }
  };
  const honest = await syncThrough("none");
  assert.deepEqual(honest.problems, []);
  assert.ok((honest.stats?.bytes ?? 0) >= tgz.length, "the gateway served the blobs");
  const liar = await syncThrough("flip-byte");
  // Blobs are copied several at a time: each already asked of the liar fails, then it is set aside.
  assert.ok(liar.problems.length >= 1);
  // A raw block with a flipped byte is a wrong blob; a flipped byte in a CAR, a wrong block.
  for (const p of liar.problems) {
    assert.deepEqual([p.source, p.hard], [liar.url, true]);
    assert.ok(p.code === "blob" || p.code === "block", p.code);
  }
  assert.equal(liar.benched, true);
});
