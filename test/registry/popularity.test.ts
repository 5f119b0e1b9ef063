import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { zstdCompressSync } from "node:zlib";
import { canonicalJsonBytes } from "../../src/registry/canonical-json.ts";
import {
  blobsNamedBy,
  decodeEntry,
  type Entry,
  EntryError,
  encodeEntry,
  type PopularityEntry,
} from "../../src/registry/entries.ts";
import {
  CountMinSketch,
  defaultThreshold,
  popularityKey,
  popularityThreshold,
  sketchColumns,
} from "../../src/registry/popularity.ts";

const isCode = (code: string) => (err: unknown) => err instanceof EntryError && err.code === code;

describe("popularity sketch", () => {
  test("fixed keys land in fixed cells (computed independently with Python's hashlib)", () => {
    assert.equal(popularityKey("npm", "left-pad", "1.3.0"), "npm/left-pad@1.3.0");
    assert.deepEqual(sketchColumns("npm/left-pad@1.3.0", 4, 65536), [49890, 10261, 8068, 46420]);
    assert.deepEqual(
      sketchColumns("npm/@scope/pkg@1.0.0-beta.1", 4, 65536),
      [20975, 1954, 27274, 51775],
    );
    const sketch = new CountMinSketch();
    sketch.add("npm/left-pad@1.3.0", 3);
    const raw = Buffer.from(sketch.raw());
    assert.equal(raw.length, 4 * 65536 * 4);
    // Row-major, uint32 little-endian: row 1, column 10261 holds 3.
    assert.equal(raw.readUInt32LE((65536 + 10261) * 4), 3);
    assert.equal(raw.readUInt32LE((3 * 65536 + 46420) * 4), 3);
    assert.equal(
      raw.reduce((sum, b) => sum + b, 0),
      4 * 3,
    );
  });

  test("estimates never under-count; sketches of two windows merge to their sum", () => {
    const a = new CountMinSketch(4, 256);
    const b = new CountMinSketch(4, 256);
    const truth = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const key = popularityKey("npm", `pkg-${i % 300}`, "1.0.0");
      (i % 2 ? a : b).add(key);
      truth.set(key, (truth.get(key) ?? 0) + 1);
    }
    for (const [key, count] of truth) {
      assert.ok(a.estimate(key) + b.estimate(key) >= count, key);
    }
    a.merge(b);
    assert.equal(a.total, 2000);
    for (const [key, count] of truth) assert.ok(a.estimate(key) >= count, key);
    assert.equal(a.estimate("npm/never@1.0.0") <= 2000, true);
    assert.throws(() => a.merge(new CountMinSketch(4, 128)), isCode("bad-sketch"));
  });

  test("encodes to zstd and decodes back; hostile blobs are refused with bad-sketch", () => {
    const sketch = new CountMinSketch();
    sketch.add("npm/left-pad@1.3.0", 250);
    const blob = sketch.encode();
    assert.ok(blob.length < 4096, `${blob.length} bytes`);
    const back = CountMinSketch.decode(blob, 4, 65536);
    assert.equal(back.estimate("npm/left-pad@1.3.0"), 250);
    assert.equal(back.total, 250);
    for (const [bytes, depth, width] of [
      [Buffer.from("not zstd at all"), 4, 65536],
      [blob, 4, 32768],
      [blob, 8, 65536],
      [zstdCompressSync(Buffer.alloc(4 * 65536 * 4 + 4)), 4, 65536],
      [zstdCompressSync(Buffer.alloc(64 << 20)), 4, 65536],
      [blob.subarray(0, blob.length - 3), 4, 65536],
      [blob, 0, 65536],
      [blob, 4, 2 ** 21],
    ] as const) {
      assert.throws(() => CountMinSketch.decode(bytes, depth, width), isCode("bad-sketch"));
    }
  });

  test("thresholds: max(100, ceil(1e-4 total)); a peer may raise the published one, never lower it", () => {
    assert.equal(defaultThreshold(0), 100);
    assert.equal(defaultThreshold(1_000_000), 100);
    assert.equal(defaultThreshold(1_000_001), 101);
    assert.equal(popularityThreshold(150), 150);
    assert.equal(popularityThreshold(150, 50), 150);
    assert.equal(popularityThreshold(150, 400), 400);
  });
});

const popularity: PopularityEntry = {
  v: 1,
  kind: "popularity",
  time: "2026-11-21T06:00:00.000Z",
  size: 12,
  window: { from: "2026-11-14T06:00:00.000Z", to: "2026-11-21T06:00:00.000Z" },
  sketch: { sha256: "e".repeat(64), size: 2113 },
  depth: 4,
  width: 65536,
  total: 5120,
  threshold: 100,
};

describe("popularity entries", () => {
  test("encode canonically, decode back, and name their sketch for mirrors to copy", () => {
    const bytes = encodeEntry(popularity);
    assert.equal(
      new TextDecoder().decode(bytes),
      `{"depth":4,"kind":"popularity","size":12,"sketch":{"sha256":"${"e".repeat(64)}","size":2113},` +
        `"threshold":100,"time":"2026-11-21T06:00:00.000Z","total":5120,"v":1,"width":65536,` +
        `"window":{"from":"2026-11-14T06:00:00.000Z","to":"2026-11-21T06:00:00.000Z"}}`,
    );
    assert.deepEqual(decodeEntry(bytes), popularity);
    assert.deepEqual(
      blobsNamedBy(popularity).map((b) => b.ref),
      [popularity.sketch],
    );
  });

  test("malformed popularity entries are refused", () => {
    const { threshold: _, ...noThreshold } = popularity;
    for (const wrong of [
      noThreshold,
      { ...popularity, extra: 1 },
      { ...popularity, depth: 0 },
      { ...popularity, depth: 17 },
      { ...popularity, width: 2 ** 21 },
      { ...popularity, threshold: 0 },
      { ...popularity, total: -1 },
      { ...popularity, total: 1.5 },
      { ...popularity, sketch: { sha256: "x", size: 1 } },
      { ...popularity, window: { from: popularity.window.to, to: popularity.window.from } },
      { ...popularity, window: { from: popularity.window.from } },
      { ...popularity, window: { ...popularity.window, at: popularity.time } },
      { ...popularity, name: "left-pad" },
    ]) {
      assert.throws(() => decodeEntry(canonicalJsonBytes(wrong)), isCode("bad-field"));
      assert.throws(() => encodeEntry(wrong as Entry), isCode("bad-field"));
    }
  });
});
