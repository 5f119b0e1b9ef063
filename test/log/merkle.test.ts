import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  EMPTY_ROOT,
  isLogError,
  leafHash,
  MemoryHashReader,
  nodeHash,
  proveConsistency,
  proveInclusion,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from "../../src/log/index.ts";

function leaves(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
}

/** Straight from RFC 6962 section 2.1: MTH by recursive split. */
function referenceRoot(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return EMPTY_ROOT;
  if (hashes.length === 1) return hashes[0];
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return nodeHash(referenceRoot(hashes.slice(0, k)), referenceRoot(hashes.slice(k)));
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[Math.floor(bit / 8) % copy.length] ^= 1 << (bit % 8);
  return copy;
}

describe("RFC 6962 tree hash", () => {
  test("the empty tree hashes to SHA-256 of nothing", async () => {
    assert.equal(
      hex(await treeHash(0, new MemoryHashReader([]))),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });

  test("matches the recursive definition for every size up to 70", async () => {
    const all = leaves(70);
    for (let n = 1; n <= 70; n++) {
      const reader = new MemoryHashReader(all.slice(0, n));
      assert.equal(
        hex(await treeHash(n, reader)),
        hex(referenceRoot(all.slice(0, n))),
        `size ${n}`,
      );
    }
  });
});

describe("proofs (property)", () => {
  const all = leaves(3000);
  const reader = new MemoryHashReader(all);

  test("inclusion proofs verify and any flipped bit is rejected", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3000 }),
        fc.nat(),
        fc.nat(),
        async (size, i, bit) => {
          const index = i % size;
          const root = await treeHash(size, reader);
          const proof = await proveInclusion(index, size, reader);
          verifyInclusion(index, size, all[index], proof, root);
          const reject = (fn: () => void) =>
            assert.throws(fn, (e) => isLogError(e, "invalid-proof"));
          reject(() => verifyInclusion(index, size, flipBit(all[index], bit), proof, root));
          reject(() => verifyInclusion(index, size, all[index], proof, flipBit(root, bit)));
          if (proof.length > 0) {
            const p = bit % proof.length;
            const bad = proof.map((h, j) => (j === p ? flipBit(h, bit >> 3) : h));
            reject(() => verifyInclusion(index, size, all[index], bad, root));
            reject(() => verifyInclusion(index, size, all[index], proof.slice(1), root));
          }
          reject(() => verifyInclusion(index, size, all[index], [...proof, root], root));
          if (size > 1)
            reject(() => verifyInclusion((index + 1) % size, size, all[index], proof, root));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("consistency proofs verify and any flipped bit is rejected", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.nat(),
        async (a, b, bit) => {
          const [m, n] = a <= b ? [a, b] : [b, a];
          const oldRoot = await treeHash(m, reader);
          const newRoot = await treeHash(n, reader);
          const proof = await proveConsistency(m, n, reader);
          verifyConsistency(m, n, proof, oldRoot, newRoot);
          const reject = (fn: () => void) =>
            assert.throws(fn, (e) => isLogError(e, "invalid-proof"));
          if (m === n) {
            reject(() => verifyConsistency(m, n, proof, oldRoot, flipBit(newRoot, bit)));
            return;
          }
          reject(() => verifyConsistency(m, n, proof, flipBit(oldRoot, bit), newRoot));
          reject(() => verifyConsistency(m, n, proof, oldRoot, flipBit(newRoot, bit)));
          const p = bit % proof.length;
          reject(() =>
            verifyConsistency(
              m,
              n,
              proof.map((h, j) => (j === p ? flipBit(h, bit >> 3) : h)),
              oldRoot,
              newRoot,
            ),
          );
          reject(() => verifyConsistency(m, n, proof.slice(0, -1), oldRoot, newRoot));
          reject(() => verifyConsistency(m, n, proof, newRoot, oldRoot));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("proofs outside the tree are refused", async () => {
    await assert.rejects(proveInclusion(5, 5, reader), (e) => isLogError(e, "out-of-range"));
    await assert.rejects(proveConsistency(6, 5, reader), (e) => isLogError(e, "out-of-range"));
    await assert.rejects(treeHash(-1, reader), (e) => isLogError(e, "out-of-range"));
    await assert.rejects(treeHash(3001, reader), (e) => isLogError(e, "not-found"));
  });
});
