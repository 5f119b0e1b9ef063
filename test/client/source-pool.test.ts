import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SourceError } from "../../src/client/errors.ts";
import { SourcePool } from "../../src/client/source-pool.ts";

const ORIGIN = "http://origin.test/";
const MIRROR = "http://mirror.test/";

function pool(): SourcePool {
  const p = new SourcePool(ORIGIN, { hardPenaltyMs: 60_000, softPenaltyMs: 60_000 });
  p.setMirrors([MIRROR]);
  return p;
}

describe("source pool", () => {
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
});
