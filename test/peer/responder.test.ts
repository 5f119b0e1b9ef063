/**
 * A peer's answers over a real server: a block it does not hold, one it
 * holds but may not share, and one of an opted-out package get the same
 * bytes (status, headers, body; only Date may differ), without the handler
 * behind the gate reading anything; and the limits answer 429 with
 * Retry-After for requests, distinct blocks, concurrency, and meter the
 * upload, on an injected clock.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import Fastify from "fastify";
import { storedIndexes } from "../../src/install/store-maintenance.ts";
import { mountPeerHandler } from "../../src/peer/http.ts";
import { type PeerLimitOptions, PeerLimits } from "../../src/peer/limits.ts";
import { shareSet } from "../../src/peer/policy.ts";
import {
  cidTextOf,
  notHere,
  type PeerHandler,
  type PeerRequest,
  type PeerResponse,
  shareGate,
} from "../../src/peer/response.ts";
import { cidOf, DAG_PB_CODEC, parseCid, RAW_CODEC, rawCid } from "../../src/store/cid.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { tempDir } from "../helpers/log.ts";
import { rawExchange } from "../helpers/raw-exchange.ts";
import { policyOf, registryOfCases, storeOfCases } from "../helpers/share-cases.ts";

describe("a peer's uniform not-here", () => {
  test("not held, held but not shareable, and opted out answer byte for byte alike, reading nothing", async () => {
    await using origin = await registryOfCases();
    await using dir = await tempDir();
    const { store, held } = await storeOfCases(origin, dir.path, [
      "plain@1.0.0",
      "plain@1.1.0",
      "secret@1.1.0",
    ]);
    const { blobs } = await shareSet(store, await policyOf(origin));
    // Behind the gate, a handler that would serve any file the store holds, counting its reads.
    const onDisk = new Map<string, string>();
    for (const index of await storedIndexes(store))
      for (const file of index.files.values()) onDisk.set(file.sha256, store.filePath(file));
    let reads = 0;
    const naive: PeerHandler = async (request): Promise<PeerResponse> => {
      const text = cidTextOf(request.url) ?? "";
      const address = parseCid(text);
      const path = address && onDisk.get(address.sha256);
      const rest = request.url.split("?", 1)[0].slice(`/ipfs/${text}`.length);
      if (!path || rest !== "")
        return {
          status: 404,
          headers: { "content-type": "application/json" },
          body: Buffer.from("{}"),
        };
      reads++;
      const body = await readFile(path);
      return {
        status: 200,
        headers: {
          "content-type": "application/vnd.ipld.raw",
          "content-length": String(body.length),
        },
        ...(request.method === "HEAD" ? {} : { body }),
      };
    };
    const gated = shareGate((a) => a.codec === RAW_CODEC && blobs.has(a.sha256), naive);
    const app = Fastify();
    mountPeerHandler(app, gated);
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const port = (app.server.address() as { port: number }).port;
      const shareable = held.get("plain@1.1.0")?.packageJson ?? "";
      const unshareable = held.get("plain@1.0.0")?.packageJson ?? "";
      const optedOut = held.get("secret@1.1.0")?.packageJson ?? "";
      assert.ok(onDisk.has(unshareable) && onDisk.has(optedOut) && blobs.has(shareable));
      const targets = [
        `/ipfs/${rawCid(sha256Hex("held by nobody"))}`,
        `/ipfs/${rawCid(unshareable)}`,
        `/ipfs/${rawCid(optedOut)}?format=raw`,
        `/ipfs/${cidOf(unshareable, DAG_PB_CODEC)}`,
        "/-/cairn/checkpoint",
        "/ipfs/",
      ];
      for (const method of ["GET", "HEAD"]) {
        const answers = await Promise.all(targets.map((t) => rawExchange(port, method, t)));
        assert.match(answers[0], /^HTTP\/1\.1 404 /);
        for (const [i, answer] of answers.entries()) assert.equal(answer, answers[0], targets[i]);
        // The handler's own 404 (a path inside a shareable block) becomes the same answer.
        assert.equal(await rawExchange(port, method, `/ipfs/${rawCid(shareable)}/x`), answers[0]);
      }
      assert.equal(reads, 0);
      const hit = await fetch(`http://127.0.0.1:${port}/ipfs/${rawCid(shareable)}`);
      assert.equal(hit.status, 200);
      assert.equal(sha256Hex(Buffer.from(await hit.arrayBuffer())), shareable);
      assert.equal(reads, 1);
    } finally {
      await app.close();
    }
  });
});

const CID_A = rawCid(sha256Hex("a"));
const CID_B = rawCid(sha256Hex("b"));

function request(url: string, ip = "10.0.0.1", method = "GET"): PeerRequest {
  return { method, url, headers: {}, ip };
}

/** Limits on a clock the test moves; sleeping moves it too, and is added up. */
function clockedLimits(options: PeerLimitOptions) {
  const clock = { now: 1_000_000, slept: 0 };
  const limits = new PeerLimits({
    ...options,
    now: () => clock.now,
    sleep: async (ms) => {
      clock.slept += ms;
      clock.now += ms;
    },
  });
  return { clock, limits };
}

const ok: PeerHandler = async (r) =>
  r.url.includes(CID_A) ? { status: 200, headers: {}, body: Buffer.from("a") } : notHere(r.method);

async function drain(response: PeerResponse): Promise<number> {
  let bytes = 0;
  for await (const chunk of (response.body ?? []) as AsyncIterable<Buffer>) bytes += chunk.length;
  return bytes;
}

describe("a peer's limits", () => {
  test("every request spends a token, hit or miss; per address (an IPv6 /64 is one)", async () => {
    const { clock, limits } = clockedLimits({ requestsPerSecond: 1, burst: 3 });
    const handler = limits.wrap(ok);
    for (const url of [`/ipfs/${CID_A}`, `/ipfs/${CID_B}`, "/nothing"])
      await drain(await handler(request(url)));
    const refused = await handler(request(`/ipfs/${CID_A}`));
    assert.equal(refused.status, 429);
    assert.equal(refused.headers["retry-after"], "1");
    assert.equal((await handler(request(`/ipfs/${CID_A}`, "10.0.0.2"))).status, 200);
    clock.now += 1000;
    assert.equal((await handler(request(`/ipfs/${CID_A}`))).status, 200);
    const v6 = limits.wrap(ok);
    for (let i = 0; i < 3; i++) await v6(request(`/ipfs/${CID_B}`, `2001:db8::${i + 1}`));
    assert.equal((await v6(request(`/ipfs/${CID_B}`, "2001:db8::ff"))).status, 429);
  });

  test("an address may ask for so many distinct blocks a minute; asking again is free", async () => {
    const { clock, limits } = clockedLimits({ blocksPerMinute: 2 });
    const handler = limits.wrap(ok);
    const cids = ["one", "two", "three"].map((s) => rawCid(sha256Hex(s)));
    assert.equal((await handler(request(`/ipfs/${cids[0]}`))).status, 404);
    assert.equal((await handler(request(`/ipfs/${cids[1]}?format=car`))).status, 404);
    assert.equal((await handler(request(`/ipfs/${cids[0]}`))).status, 404);
    clock.now += 20_000;
    const refused = await handler(request(`/ipfs/${cids[2]}`));
    assert.equal(refused.status, 429);
    assert.equal(refused.headers["retry-after"], "40");
    clock.now += 40_000;
    assert.equal((await handler(request(`/ipfs/${cids[2]}`))).status, 404);
  });

  test("responses in flight per address are capped; a slot frees when its body closes", async () => {
    const { limits } = clockedLimits({ concurrentPerAddress: 2 });
    const bodies: Readable[] = [];
    const handler = limits.wrap(async () => {
      const body = new Readable({ read() {} });
      bodies.push(body);
      return { status: 200, headers: {}, body };
    });
    const first = await handler(request(`/ipfs/${CID_A}`));
    const second = await handler(request(`/ipfs/${CID_B}`));
    const third = await handler(request(`/ipfs/${CID_A}`));
    assert.equal(third.status, 429);
    assert.equal(limits.active, 2);
    // Another address is not held up.
    assert.equal((await handler(request(`/ipfs/${CID_A}`, "10.0.0.9"))).status, 200);
    bodies[0].push("done");
    bodies[0].push(null);
    assert.equal(await drain(first), 4);
    assert.equal((await handler(request(`/ipfs/${CID_A}`))).status, 200);
    (second.body as Readable).destroy();
    await new Promise((resolve) => (second.body as Readable).once("close", resolve));
    assert.equal(limits.active, 2);
  });

  test("all uploads together are metered to the byte rate", async () => {
    const { clock, limits } = clockedLimits({ uploadBytesPerSecond: 1 << 20 });
    const handler = limits.wrap(async () => ({
      status: 200,
      headers: {},
      body: Readable.from([Buffer.alloc(3 << 20)]),
    }));
    // One second's worth goes at once; the other two MiB wait two seconds.
    assert.equal(await drain(await handler(request(`/ipfs/${CID_A}`))), 3 << 20);
    assert.equal(clock.slept, 2000);
    const both = await Promise.all([
      handler(request(`/ipfs/${CID_A}`, "10.0.0.2")),
      handler(request(`/ipfs/${CID_B}`, "10.0.0.3")),
    ]);
    assert.deepEqual(await Promise.all(both.map(drain)), [3 << 20, 3 << 20]);
    assert.equal(limits.budget.sent, 9 << 20);
    assert.ok(clock.slept >= 8000, `${clock.slept} ms`);
  });

  test("over a real server: 429 with Retry-After, the same bytes for a hit and a miss", async () => {
    const limits = new PeerLimits({ requestsPerSecond: 0.1, burst: 2 });
    const app = Fastify();
    mountPeerHandler(app, limits.wrap(ok));
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const port = (app.server.address() as { port: number }).port;
      await rawExchange(port, "GET", `/ipfs/${CID_A}`);
      await rawExchange(port, "GET", `/ipfs/${CID_B}`);
      const afterHit = await rawExchange(port, "GET", `/ipfs/${CID_A}`);
      const afterMiss = await rawExchange(port, "GET", `/ipfs/${CID_B}`);
      assert.match(afterHit, /^HTTP\/1\.1 429 [\s\S]*retry-after: 10\r\n/);
      assert.equal(afterMiss, afterHit);
    } finally {
      await app.close();
    }
  });
});
