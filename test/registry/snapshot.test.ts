import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  buildSnapshot,
  encodeShard,
  parseRoot,
  parseShard,
  SnapshotError,
  shardOf,
} from "../../src/registry/snapshot.ts";

const doc = (n: number) => createHash("sha256").update(String(n)).digest("hex");
const rows = (names: string[]) =>
  names.map((name, i) => ({ key: `npm/${name}`, document: doc(i) }));

describe("snapshot map", () => {
  test("one shard holds every row, sorted; the id is the hash of the root", () => {
    const snap = buildSnapshot(rows(["react", "@types/node", "left-pad"]), 1);
    const text = new TextDecoder().decode(snap.shards[0]);
    assert.deepEqual(
      text.split("\n").map((l) => l.split(" ")[0]),
      ["npm/@types/node", "npm/left-pad", "npm/react", ""],
    );
    const shardHash = createHash("sha256").update(snap.shards[0]).digest("hex");
    assert.equal(
      new TextDecoder().decode(snap.root),
      `cairn-snapshot/v1\nshards 1\n${shardHash}\n`,
    );
    assert.equal(snap.id, createHash("sha256").update(snap.root).digest("hex"));
  });

  test("the id depends on the state, not on the order rows come in", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { minLength: 1, maxLength: 40 }),
        fc.constantFrom(1, 2, 16),
        (names, shards) => {
          const a = buildSnapshot(rows(names), shards);
          const reversed = rows(names).reverse();
          assert.equal(buildSnapshot(reversed, shards).id, a.id);
          const changed = rows(names).map((r, i) => (i === 0 ? { ...r, document: doc(999) } : r));
          assert.notEqual(buildSnapshot(changed, shards).id, a.id);
          // Each key is found in the shard its hash names, and nowhere else.
          for (const r of rows(names)) {
            const home = shardOf(r.key, shards);
            snapshotShards(a).forEach((shard, i) => {
              assert.equal(
                shard.some((row) => row.key === r.key),
                i === home,
              );
            });
          }
          assert.equal(parseRoot(a.root).length, shards);
        },
      ),
    );
  });

  test("roots and shards parse strictly", () => {
    const snap = buildSnapshot(rows(["a", "b"]), 2);
    const enc = new TextEncoder();
    assert.throws(() => parseRoot(enc.encode("cairn-snapshot/v1\nshards 3\n")));
    assert.throws(() => parseRoot(snap.root.subarray(0, snap.root.length - 1)));
    assert.throws(() => parseShard(enc.encode(`npm/b ${doc(1)}\nnpm/a ${doc(0)}\n`)));
    assert.throws(() => parseShard(enc.encode(`npm/a ${doc(0)}`)));
    assert.throws(() => encodeShard([...rows(["a"]), ...rows(["a"])]));
    assert.throws(() => buildSnapshot([], 3));
    assert.deepEqual(parseShard(enc.encode("")), []);
  });
});

describe("snapshot parsing (fuzzer counterexamples)", () => {
  const enc = new TextEncoder();
  const code = (c: string) => (err: unknown) => err instanceof SnapshotError && err.code === c;
  const snap = buildSnapshot(rows(["a", "b"]), 1);

  test("a byte order mark is refused, not dropped: a root or shard has one spelling", () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    assert.throws(() => parseRoot(Buffer.concat([bom, snap.root])), code("malformed-root"));
    assert.throws(() => parseShard(Buffer.concat([bom, snap.shards[0]])), code("malformed-shard"));
  });

  test("bytes that are not UTF-8 get the domain's coded error, not a TypeError", () => {
    const loneSurrogate = Buffer.from([0xed, 0xa0, 0x80, 0x0a]);
    assert.throws(() => parseRoot(loneSurrogate), code("malformed-root"));
    assert.throws(
      () => parseShard(Buffer.concat([loneSurrogate, snap.shards[0]])),
      code("malformed-shard"),
    );
  });

  test("a shard that lists a key of another shard is refused where its place is known", () => {
    const two = buildSnapshot(rows(["a", "b", "c", "d", "e", "f"]), 2);
    const [first, second] = two.shards.map((shard) => parseShard(shard));
    assert.ok(first.length > 0 && second.length > 0);
    // Shard 1's bytes offered as shard 0: each row is well formed, but none belongs there.
    assert.deepEqual(parseShard(two.shards[1], { shard: 1, count: 2 }), second);
    assert.throws(() => parseShard(two.shards[1], { shard: 0, count: 2 }), code("misplaced-key"));
    // One foreign row among rightful ones.
    const mixed = encodeShard([...first, second[0]]);
    assert.throws(() => parseShard(mixed, { shard: 0, count: 2 }), code("misplaced-key"));
    assert.deepEqual(parseShard(enc.encode(""), { shard: 1, count: 2 }), []);
  });

  test("every refusal is coded", () => {
    assert.throws(
      () => parseRoot(enc.encode("cairn-snapshot/v1cairn-snapshot/v1\n")),
      code("malformed-root"),
    );
    assert.throws(
      () => parseRoot(enc.encode("cairn-snapshot/v1\nshards 01\n")),
      code("malformed-root"),
    );
    assert.throws(
      () => parseRoot(enc.encode("cairn-snapshot/v1\nshards 3\n")),
      code("malformed-root"),
    );
    assert.throws(
      () => parseShard(enc.encode(`npm/b ${doc(1)}\nnpm/a ${doc(0)}\n`)),
      code("malformed-shard"),
    );
    assert.throws(() => parseShard(enc.encode(`npm/a ${doc(0)}`)), code("malformed-shard"));
    assert.throws(() => encodeShard([...rows(["a"]), ...rows(["a"])]), code("duplicate-key"));
    assert.throws(() => buildSnapshot([], 3), code("shard-count"));
  });
});

function snapshotShards(snap: { shards: readonly Uint8Array[] }) {
  return snap.shards.map((shard) => parseShard(shard));
}
