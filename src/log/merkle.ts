/**
 * RFC 6962 Merkle tree hashes and proofs (RFC 9162 section 2.1 for the
 * verification algorithms), over any storage that can read stored hashes.
 *
 * A stored hash is the hash of a *complete* subtree: node (level, index)
 * covers the leaves [index * 2^level, (index + 1) * 2^level). Every proof is
 * split, as in Go's sumdb/tlog, into a planner that lists the stored hashes it
 * needs and a consumer that combines them, so storage is read once, in one
 * batch.
 *
 * Sizes and indexes are JavaScript numbers: exact up to 2^53 - 1, which is far
 * past any log we will sequence, and checked wherever they are parsed.
 */
import { LogError } from "./errors.ts";
import { EMPTY_ROOT, equalBytes, HASH_SIZE, type Hash, nodeHash } from "./hash.ts";

export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/**
 * Reads stored hashes in one batch. Implementations return one hash per
 * requested node, in order, and throw LogError "not-found" for a node they do
 * not hold. Hashes returned must already be authenticated (or be trusted).
 */
export interface HashReader {
  readHashes(nodes: readonly NodeId[]): Promise<Hash[]>;
}

/** A half-open leaf range [lo, hi) whose RFC 6962 subtree hash a proof needs. */
type Range = readonly [lo: number, hi: number];

function half(n: number): number {
  return Math.floor(n / 2);
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

/** The largest power of two strictly less than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function checkSize(size: number, what: string): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new LogError("out-of-range", `${what} ${size} is not a valid tree size`);
  }
}

/**
 * The complete subtrees that make up the leaf range [lo, hi), left to right,
 * largest first. For the ranges RFC 6962 recursion produces, lo is aligned to
 * the largest of them, so MTH(D[lo:hi]) is their right fold.
 */
export function completeSubtrees(lo: number, hi: number): NodeId[] {
  const nodes: NodeId[] = [];
  let start = lo;
  let remaining = hi - lo;
  while (remaining > 0) {
    let size = 1;
    let level = 0;
    while (size * 2 <= remaining) {
      size *= 2;
      level++;
    }
    nodes.push({ level, index: start / size });
    start += size;
    remaining -= size;
  }
  return nodes;
}

/** Combines complete subtree hashes, left to right, into their RFC 6962 root. */
export function foldSubtrees(hashes: readonly Hash[]): Hash {
  if (hashes.length === 0) return EMPTY_ROOT;
  let acc = hashes[hashes.length - 1];
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i], acc);
  return acc;
}

/** RFC 6962 PATH(index, D[0:size]) as the ranges whose hashes form it, leaf first. */
function inclusionRanges(index: number, size: number): Range[] {
  const ranges: Range[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      ranges.push([lo + k, hi]);
      hi = lo + k;
    } else {
      ranges.push([lo, lo + k]);
      lo += k;
    }
  }
  return ranges.reverse();
}

/** RFC 6962 PROOF(m, D[0:n]) as the ranges whose hashes form it, deepest first. */
function consistencyRanges(m: number, n: number): Range[] {
  const ranges: Range[] = [];
  let lo = 0;
  let hi = n;
  let rel = m;
  let complete = true;
  for (;;) {
    if (rel === hi - lo) {
      if (!complete) ranges.push([lo, hi]);
      break;
    }
    const k = splitPoint(hi - lo);
    if (rel <= k) {
      ranges.push([lo + k, hi]);
      hi = lo + k;
    } else {
      ranges.push([lo, lo + k]);
      rel -= k;
      lo += k;
      complete = false;
    }
  }
  return ranges.reverse();
}

/** Reads every range's complete subtrees in one batch and folds each. */
async function hashRanges(ranges: readonly Range[], reader: HashReader): Promise<Hash[]> {
  const plans = ranges.map(([lo, hi]) => completeSubtrees(lo, hi));
  const hashes = await reader.readHashes(plans.flat());
  const out: Hash[] = [];
  let at = 0;
  for (const plan of plans) {
    out.push(foldSubtrees(hashes.slice(at, at + plan.length)));
    at += plan.length;
  }
  return out;
}

/** The nodes TreeHash(size) reads, for callers that prefetch. */
export function treeHashNodes(size: number): NodeId[] {
  return completeSubtrees(0, size);
}

export async function treeHash(size: number, reader: HashReader): Promise<Hash> {
  checkSize(size, "tree size");
  if (size === 0) return EMPTY_ROOT;
  const [root] = await hashRanges([[0, size]], reader);
  return root;
}

export function inclusionProofNodes(index: number, size: number): NodeId[] {
  return inclusionRanges(index, size).flatMap(([lo, hi]) => completeSubtrees(lo, hi));
}

export async function proveInclusion(
  index: number,
  size: number,
  reader: HashReader,
): Promise<Hash[]> {
  checkSize(size, "tree size");
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new LogError("out-of-range", `leaf ${index} is not in a tree of size ${size}`);
  }
  return hashRanges(inclusionRanges(index, size), reader);
}

export function consistencyProofNodes(oldSize: number, newSize: number): NodeId[] {
  return consistencyRanges(oldSize, newSize).flatMap(([lo, hi]) => completeSubtrees(lo, hi));
}

export async function proveConsistency(
  oldSize: number,
  newSize: number,
  reader: HashReader,
): Promise<Hash[]> {
  checkSize(oldSize, "old size");
  checkSize(newSize, "new size");
  if (oldSize > newSize) {
    throw new LogError("out-of-range", `old size ${oldSize} is larger than new size ${newSize}`);
  }
  if (oldSize === 0 || oldSize === newSize) return [];
  return hashRanges(consistencyRanges(oldSize, newSize), reader);
}

function badProof(message: string): LogError {
  return new LogError("invalid-proof", message);
}

function checkProofHashes(proof: readonly Hash[]): void {
  for (const h of proof) {
    if (h.length !== HASH_SIZE) throw badProof(`proof hash of ${h.length} bytes, want 32`);
  }
}

/** RFC 9162 section 2.1.3.2. Throws LogError "invalid-proof" unless the proof holds. */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Hash,
  proof: readonly Hash[],
  root: Hash,
): void {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0) {
    throw badProof("index and size must be non-negative integers");
  }
  if (index >= size) throw badProof(`leaf ${index} is not in a tree of size ${size}`);
  if (leaf.length !== HASH_SIZE) throw badProof(`leaf hash of ${leaf.length} bytes, want 32`);
  checkProofHashes(proof);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw badProof("inclusion proof is too long");
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw badProof("inclusion proof is too short");
  if (!equalBytes(r, root)) throw badProof("inclusion proof does not lead to the root");
}

/** RFC 9162 section 2.1.4.2. Throws LogError "invalid-proof" unless the proof holds. */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Hash[],
  oldRoot: Hash,
  newRoot: Hash,
): void {
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize) || oldSize < 0) {
    throw badProof("sizes must be non-negative integers");
  }
  if (oldSize > newSize) throw badProof(`old size ${oldSize} is larger than new size ${newSize}`);
  // A tree of size zero commits to nothing, so nothing can be proven about it.
  if (oldSize === 0) throw badProof("consistency with an empty tree proves nothing");
  if (oldSize === newSize) {
    if (proof.length !== 0) throw badProof("equal sizes need an empty proof");
    if (!equalBytes(oldRoot, newRoot)) throw badProof("equal sizes but different roots");
    return;
  }
  if (proof.length === 0) throw badProof("empty consistency proof");
  checkProofHashes(proof);
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (sn === 0) throw badProof("consistency proof is too long");
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw badProof("consistency proof is too short");
  if (!equalBytes(fr, oldRoot)) throw badProof("consistency proof does not lead to the old root");
  if (!equalBytes(sr, newRoot)) throw badProof("consistency proof does not lead to the new root");
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && splitPoint(n * 2) === n;
}

/** A HashReader over leaf hashes held in memory; for tests and small tools. */
export class MemoryHashReader implements HashReader {
  readonly #leaves: readonly Hash[];

  constructor(leaves: readonly Hash[]) {
    this.#leaves = leaves;
  }

  async readHashes(nodes: readonly NodeId[]): Promise<Hash[]> {
    return nodes.map((n) => this.#hash(n.level, n.index));
  }

  #hash(level: number, index: number): Hash {
    const width = 2 ** level;
    if ((index + 1) * width > this.#leaves.length) {
      throw new LogError("not-found", `node ${level}/${index} is not complete`);
    }
    if (level === 0) return this.#leaves[index];
    return nodeHash(this.#hash(level - 1, 2 * index), this.#hash(level - 1, 2 * index + 1));
  }
}
