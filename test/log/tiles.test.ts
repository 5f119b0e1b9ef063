import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  bundlePath,
  encodeBundle,
  isLogError,
  MAX_ENTRY_SIZE,
  parseBundle,
  parseTilePath,
  tilePath,
  tilesOfTree,
} from "../../src/log/index.ts";
import { tileHashes } from "../../src/log/tiles.ts";

describe("tile paths (C2SP tlog-tiles)", () => {
  test("the spec's examples", () => {
    assert.equal(tilePath({ level: 0, index: 1234067, width: 256 }), "tile/0/x001/x234/067");
    assert.equal(tilePath({ level: 1, index: 0, width: 17 }), "tile/1/000.p/17");
    assert.equal(tilePath({ level: 2, index: 1000, width: 256 }), "tile/2/x001/000");
    assert.equal(bundlePath(1234067, 256), "tile/entries/x001/x234/067");
    assert.equal(bundlePath(5, 3), "tile/entries/005.p/3");
  });

  test("parse inverts format", () => {
    for (const index of [0, 1, 999, 1000, 1234067, 2 ** 40]) {
      for (const width of [1, 17, 255, 256]) {
        const tile = { level: 3, index, width };
        assert.deepEqual(parseTilePath(tilePath(tile)), { kind: "tile", tile });
        assert.deepEqual(parseTilePath(bundlePath(index, width)), {
          kind: "entries",
          index,
          width,
        });
      }
    }
  });

  test("non-canonical and malformed paths are rejected", () => {
    for (const path of [
      "tile/0/1234067",
      "tile/0/x01/234",
      "tile/0/x000/234",
      "tile/0/x000/001",
      "tile/0/000.p/256",
      "tile/0/000.p/0",
      "tile/0/000.p/007",
      "tile/0/000.p/300",
      "tile/00/000",
      "tile/64/000",
      "tile/-1/000",
      "tile/entries/000.p/256",
      "tile/0/000/",
      "/tile/0/000",
      "tile/0/00",
      "tile/0/0000",
      "tile/data/000",
      "tile/0/../000",
    ]) {
      assert.throws(
        () => parseTilePath(path),
        (e) => isLogError(e, "malformed-tile"),
        path,
      );
    }
  });
});

describe("tiles of a tree", () => {
  test("a tree of 70,000 entries, as in the spec", () => {
    const tiles = [...tilesOfTree(70_000)];
    const full0 = tiles.filter((t) => t.level === 0 && t.width === 256).length;
    assert.equal(full0, 273);
    assert.deepEqual(
      tiles.filter((t) => t.width !== 256 || t.level > 0),
      [
        { level: 0, index: 273, width: 112 },
        { level: 1, index: 0, width: 256 },
        { level: 1, index: 1, width: 17 },
        { level: 2, index: 0, width: 1 },
      ],
    );
  });

  test("a tree of 256 entries: one full tile and a level-1 tile of width 1", () => {
    assert.deepEqual([...tilesOfTree(256)].map(tilePath), ["tile/0/000", "tile/1/000.p/1"]);
    assert.deepEqual([...tilesOfTree(0)], []);
  });

  test("tile data must be exactly width * 32 bytes", () => {
    const tile = { level: 0, index: 0, width: 3 };
    assert.equal(tileHashes(tile, new Uint8Array(96)).length, 3);
    for (const length of [0, 95, 97, 64, 8192]) {
      assert.throws(
        () => tileHashes(tile, new Uint8Array(length)),
        (e) => isLogError(e, "malformed-tile"),
      );
    }
  });
});

describe("entry bundles", () => {
  const entries = [
    Buffer.from("a"),
    Buffer.alloc(0),
    Buffer.from("hello world"),
    Buffer.alloc(300, 7),
  ];

  test("round trip with uint16 big-endian length prefixes", () => {
    const bundle = encodeBundle(entries);
    assert.deepEqual([...bundle.subarray(0, 3)], [0, 1, 0x61]);
    assert.deepEqual([...bundle.subarray(3, 5)], [0, 0]);
    assert.deepEqual(
      parseBundle(bundle, entries.length).map((e) => Buffer.from(e).toString("hex")),
      entries.map((e) => e.toString("hex")),
    );
  });

  test("truncated, padded or miscounted bundles are rejected", () => {
    const bundle = encodeBundle(entries);
    const bad = (data: Uint8Array, count: number) =>
      assert.throws(
        () => parseBundle(data, count),
        (e) => isLogError(e, "malformed-tile"),
      );
    bad(bundle.subarray(0, bundle.length - 1), entries.length);
    bad(bundle.subarray(0, 1), 1);
    bad(Buffer.concat([bundle, Buffer.of(0)]), entries.length);
    bad(Buffer.concat([bundle, Buffer.of(0, 0)]), entries.length);
    bad(bundle, entries.length - 1);
    bad(bundle, entries.length + 1);
    bad(new Uint8Array(0), 1);
  });

  test("entries over 65,535 bytes are refused", () => {
    assert.equal(
      parseBundle(encodeBundle([Buffer.alloc(MAX_ENTRY_SIZE)]), 1)[0].length,
      MAX_ENTRY_SIZE,
    );
    assert.throws(
      () => encodeBundle([Buffer.alloc(MAX_ENTRY_SIZE + 1)]),
      (e) => isLogError(e, "entry-too-large") && /65535/.test(e.message),
    );
  });
});
