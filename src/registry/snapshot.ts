/**
 * The snapshot map: the state of the whole registry as sorted
 * `(ecosystem/name, SHA-256 of the package document)` rows, split into
 * shards by the leading bits of SHA-256(ecosystem/name), with a root file
 * listing the shard hashes. The SHA-256 of the root is the snapshot id, so
 * two states are equal exactly when their ids are, and a client holding the
 * root can check one package with one shard.
 *
 *   shard:  "npm/left-pad 3b1f…\nnpm/react 9ac0…\n"    (sorted by key, bytewise)
 *   root:   "cairn-snapshot/v1\nshards 4\n<hex>\n<hex>\n<hex>\n<hex>\n"
 *
 * The shard count is a power of two, so a shard is a prefix of the hash.
 */
import { createHash } from "node:crypto";
import { sha256Hex } from "../util/sha256.ts";

export const SNAPSHOT_HEADER = "cairn-snapshot/v1";
export const MAX_SHARDS = 1 << 16;
/** A shard lists about 512 packages at the default count; a single shard of npm is a few tens of MB. */
export const MAX_SHARD_BYTES = 64 << 20;

export interface SnapshotRow {
  /** `ecosystem/name`, e.g. `npm/@scope/pkg`. */
  readonly key: string;
  /** Lowercase hex SHA-256 of the package document. */
  readonly document: string;
}

export interface Snapshot {
  readonly shards: readonly Uint8Array[];
  readonly root: Uint8Array;
  /** Hex SHA-256 of the root. */
  readonly id: string;
}

export function isShardCount(count: number): boolean {
  return (
    Number.isInteger(count) && count >= 1 && count <= MAX_SHARDS && (count & (count - 1)) === 0
  );
}

export function checkShardCount(count: number): void {
  if (!isShardCount(count))
    throw new Error(`the shard count must be a power of two from 1 to ${MAX_SHARDS}, not ${count}`);
}

/** The top 32 bits of SHA-256(key): the shard of any power-of-two count is a prefix of it. */
export function keyPrefix(key: string): number {
  return createHash("sha256").update(key).digest().readUInt32BE(0);
}

/** The keys' prefixes of shard `shard` of `count`: [lo, hi). */
export function shardRange(shard: number, count: number): [number, number] {
  const width = 2 ** 32 / count;
  return [shard * width, (shard + 1) * width];
}

/** The shard a key prefix belongs to: its top log2(count) bits. */
export function shardOfPrefix(prefix: number, count: number): number {
  return Math.floor(prefix / (2 ** 32 / count));
}

/** The shard a key belongs to: the top log2(count) bits of SHA-256(key). */
export function shardOf(key: string, count: number): number {
  checkShardCount(count);
  return shardOfPrefix(keyPrefix(key), count);
}

const encoder = new TextEncoder();

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** One shard's bytes: its rows sorted by key, one line each. */
export function encodeShard(rows: readonly SnapshotRow[]): Uint8Array {
  // Bytewise order; each key is encoded once, not once per comparison.
  const sorted = rows
    .map((row) => ({ row, bytes: Buffer.from(row.key) }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ row }) => row);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].key === sorted[i - 1].key)
      throw new Error(`${sorted[i].key} is in the snapshot twice`);
  }
  return encoder.encode(sorted.map((r) => `${r.key} ${r.document}\n`).join(""));
}

export function encodeRoot(shardHashes: readonly string[]): Uint8Array {
  checkShardCount(shardHashes.length);
  return encoder.encode(
    `${SNAPSHOT_HEADER}\nshards ${shardHashes.length}\n${shardHashes.join("\n")}\n`,
  );
}

/** The snapshot of a whole state, from every package's row. */
export function buildSnapshot(rows: Iterable<SnapshotRow>, shardCount: number): Snapshot {
  checkShardCount(shardCount);
  const byShard: SnapshotRow[][] = Array.from({ length: shardCount }, () => []);
  for (const row of rows) byShard[shardOf(row.key, shardCount)].push(row);
  const shards = byShard.map(encodeShard);
  const root = encodeRoot(shards.map(sha256Hex));
  return { shards, root, id: sha256Hex(root) };
}

/** Parses a root file strictly; returns its shard hashes. */
export function parseRoot(root: Uint8Array): string[] {
  const text = new TextDecoder("utf-8", { fatal: true }).decode(root);
  const lines = text.split("\n");
  if (lines.pop() !== "" || lines[0] !== SNAPSHOT_HEADER) throw new Error("not a snapshot root");
  const count = Number(/^shards ([1-9][0-9]*)$/.exec(lines[1] ?? "")?.[1]);
  checkShardCount(count);
  const hashes = lines.slice(2);
  if (hashes.length !== count || hashes.some((h) => !/^[0-9a-f]{64}$/.test(h)))
    throw new Error(`a snapshot root with ${count} shards must list ${count} SHA-256 hashes`);
  return hashes;
}

/** Parses a shard strictly: sorted, unique keys, each with a document hash. */
export function parseShard(shard: Uint8Array): SnapshotRow[] {
  const text = new TextDecoder("utf-8", { fatal: true }).decode(shard);
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.pop() !== "") throw new Error("a snapshot shard must end in a newline");
  const rows = lines.map((line) => {
    const m = /^(\S+) ([0-9a-f]{64})$/.exec(line);
    if (!m) throw new Error(`malformed snapshot shard line ${JSON.stringify(line)}`);
    return { key: m[1], document: m[2] };
  });
  for (let i = 1; i < rows.length; i++) {
    if (compareKeys(rows[i - 1].key, rows[i].key) >= 0)
      throw new Error("snapshot shard keys are not sorted and unique");
  }
  return rows;
}
