import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setImmediate } from "node:timers/promises";
import { SourceError } from "../../src/client/errors.ts";
import { GatewaySource } from "../../src/client/gateway-source.ts";
import { PEER_REQUESTS_IN_FLIGHT, SourcePool } from "../../src/client/source-pool.ts";
import type { HttpSource } from "../../src/log/index.ts";

const ORIGIN = "http://origin.test/";
const MIRROR = "http://mirror.test/";

function pool(): SourcePool {
  const p = new SourcePool(ORIGIN, { hardPenaltyMs: 60_000, softPenaltyMs: 60_000 });
  p.setMirrors([MIRROR]);
  return p;
}

describe("source pool", () => {
  test("a file every source may lack (a delta): a source without it is counted, not told", async () => {
    const told: string[] = [];
    const p = new SourcePool(ORIGIN, { onProblem: (err) => told.push(err.code) });
    p.setMirrors([MIRROR]);
    const absent = async (source: { url: string }): Promise<never> => {
      throw new SourceError(source.url, "unavailable", "answered 404");
    };
    await assert.rejects(p.first("delta", "blob", absent, undefined, { optional: true }));
    assert.deepEqual(told, []);
    assert.equal(p.stats().get(MIRROR)?.failures, 1);
    // Wrong bytes are told even then, and a file that must exist is told missing.
    const wrong = async (source: { url: string }): Promise<never> => {
      throw new SourceError(source.url, "blob", "does not match its SHA-256");
    };
    await assert.rejects(p.first("delta", "blob", wrong, undefined, { optional: true }));
    // (The mirror is set aside for its wrong bytes by then: only the origin is asked.)
    await assert.rejects(p.first("blob", "blob", absent));
    assert.deepEqual(told, ["blob", "blob", "unavailable"]);
  });

  test("a mirror that did not answer is set aside until a health check finds it well", () => {
    const p = pool();
    p.report(new SourceError(MIRROR, "timeout", "no answer"));
    assert.ok(p.isBenched(MIRROR));
    assert.deepEqual(
      p.candidates().map((s) => s.url),
      [ORIGIN],
    );
    p.clear(MIRROR);
    assert.ok(!p.isBenched(MIRROR));
  });

  test("a mirror that served wrong bytes stays aside after a good health check", () => {
    const p = pool();
    p.report(new SourceError(MIRROR, "blob", "does not match its SHA-256"));
    p.clear(MIRROR);
    assert.ok(p.isBenched(MIRROR));
    assert.deepEqual(
      p.candidates().map((s) => s.url),
      [ORIGIN],
    );
  });

  test("not answering later does not shorten the penalty for wrong bytes", () => {
    const p = new SourcePool(ORIGIN, { hardPenaltyMs: 60_000, softPenaltyMs: 0 });
    p.setMirrors([MIRROR]);
    p.report(new SourceError(MIRROR, "tile", "does not lead to the root"));
    p.report(new SourceError(MIRROR, "timeout", "no answer"));
    assert.ok(p.isBenched(MIRROR));
  });

  test("blobs go to peers first, then mirrors and web seeds, the origin last; gateways only for what they can serve", () => {
    const p = pool();
    p.setGateways(["http://seed.test/"]);
    p.setGateways(["http://peer-a.test", "http://peer-b.test/"], "peer", (ref) => ref.size !== 7);
    const small = { sha256: "ab".repeat(32), size: 100 };
    const order = p.blobCandidates(small).map((s) => s.url);
    assert.deepEqual(order.slice(0, 2).sort(), ["http://peer-a.test", "http://peer-b.test"]);
    assert.deepEqual(order.slice(2, 4).sort(), [MIRROR, "http://seed.test"]);
    assert.equal(p.blobCandidates(small).at(-1)?.url, ORIGIN);
    // What the peers' filter refuses goes to the others only.
    assert.deepEqual(
      p
        .blobCandidates({ ...small, size: 7 })
        .map((s) => s.url)
        .slice(0, 2)
        .sort(),
      [MIRROR, "http://seed.test"],
    );
    // Over one chunk and no root CID known: no gateway can serve it.
    assert.deepEqual(
      p.blobCandidates({ ...small, size: 2 << 20 }).map((s) => s.url),
      [MIRROR, ORIGIN],
    );
    // A gateway that served a wrong block is set aside; one that lacks a block is not.
    p.report(new SourceError("http://peer-a.test", "block", "wrong block"));
    p.report(new SourceError("http://peer-b.test", "unavailable", "404"));
    assert.deepEqual(
      p
        .blobCandidates(small)
        .map((s) => s.url)
        .slice(0, 1),
      ["http://peer-b.test"],
    );
    // Replacing one tier leaves the other.
    p.setGateways([], "peer");
    assert.deepEqual(
      p.gateways.map((g) => g.url),
      ["http://seed.test"],
    );
  });
});

describe("peers' turns", () => {
  test("a peer gets at most its share of requests at once, and the least busy peer is asked first", async () => {
    let active = 0;
    let most = 0;
    const waiting: (() => void)[] = [];
    const http = {
      read: async (): Promise<Uint8Array> => {
        active++;
        most = Math.max(most, active);
        await new Promise<void>((resolve) => waiting.push(resolve));
        active--;
        return new Uint8Array(100);
      },
    } as unknown as HttpSource;
    const peer = new GatewaySource("http://peer.test", http, { requests: 0, bytes: 0 }, 4);
    const ref = { sha256: "ab".repeat(32), size: 100 };
    const fetches = Array.from({ length: 10 }, () => peer.blob(ref));
    await setImmediate();
    assert.equal(active, PEER_REQUESTS_IN_FLIGHT);
    assert.equal(peer.busy, 10);
    while (waiting.length > 0) {
      waiting.shift()?.();
      await setImmediate();
    }
    await Promise.all(fetches);
    assert.equal(most, PEER_REQUESTS_IN_FLIGHT);
    assert.equal(peer.busy, 0);

    // In a pool, the busier of two peers comes second (nothing listens there: the request fails at once).
    const p = pool();
    p.setGateways(["http://127.0.0.1:9/idle", "http://127.0.0.1:9/busy"], "peer");
    const busy = p.gateways.find((g) => g.url === "http://127.0.0.1:9/busy");
    assert.ok(busy);
    const stuck = busy.blob(ref).catch(() => undefined);
    for (let i = 0; i < 5; i++)
      assert.deepEqual(
        p
          .blobCandidates(ref)
          .slice(0, 2)
          .map((s) => s.url),
        ["http://127.0.0.1:9/idle", "http://127.0.0.1:9/busy"],
      );
    void stuck;
  });
});
