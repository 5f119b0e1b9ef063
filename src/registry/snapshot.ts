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
import { CodedError } from "../util/coded-error.ts";
import { sha256Hex } from "../util/sha256.ts";

export const SNAPSHOT_HEADER = "cairn-snapshot/v1";
export const MAX_SHARDS = 1 << 16;
/** A shard lists about 512 packages at the default count; a single shard of npm is a few tens of MB. */
export const MAX_SHARD_BYTES = 64 << 20;

export type SnapshotErrorCode =
  /** A root file that is not exactly what encodeRoot writes. */
  | "malformed-root"
  /** A shard that is not exactly what encodeShard writes (sorted, unique, one row a line). */
  | "malformed-shard"
  /** A shard count that is not a power of two from 1 to MAX_SHARDS. */
  | "shard-count"
  /** The same key twice in the rows of one snapshot. */
  | "duplicate-key"
  /** A shard that lists a key whose hash puts it in another shard. */
  | "misplaced-key";

export class SnapshotError extends CodedError<SnapshotErrorCode> {
  override name = "SnapshotError";
}

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
    throw new SnapshotError(
      "shard-count",
      `the shard count must be a power of two from 1 to ${MAX_SHARDS}, not ${count}`,
    );
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

/** One shard's bytes: its rows sorted by key, one line each. */
export function encodeShard(rows: readonly SnapshotRow[]): Uint8Array {
  // Bytewise order; each key is encoded once, not once per comparison.
  const sorted = rows
    .map((row) => ({ row, bytes: Buffer.from(row.key) }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ row }) => row);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].key === sorted[i - 1].key)
      throw new SnapshotError("duplicate-key", `${sorted[i].key} is in the snapshot twice`);
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

/**
 * Decodes a root or shard as UTF-8, refusing invalid sequences and a byte
 * order mark (which a lenient decoder would drop, giving two spellings of
 * one file).
 */
function decodeText(bytes: Uint8Array, code: SnapshotErrorCode, what: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    throw new SnapshotError(code, `${what} is not UTF-8`, { cause: err });
  }
}

const SHARD_HASH_RE = /^[0-9a-f]{64}$/;

/** Parses a root file strictly: exactly what encodeRoot writes. Returns its shard hashes. */
export function parseRoot(root: Uint8Array): string[] {
  const bad = (why: string) => new SnapshotError("malformed-root", `snapshot root: ${why}`);
  const text = decodeText(root, "malformed-root", "a snapshot root");
  const lines = text.split("\n");
  if (lines.pop() !== "" || lines[0] !== SNAPSHOT_HEADER)
    throw bad(`it must start with ${SNAPSHOT_HEADER} and end in a newline`);
  const countText = /^shards ([1-9][0-9]{0,5})$/.exec(lines[1] ?? "")?.[1];
  const count = Number(countText);
  if (countText === undefined || !isShardCount(count))
    throw bad(`the second line must be shards <a power of two from 1 to ${MAX_SHARDS}>`);
  const hashes = lines.slice(2);
  if (hashes.length !== count || hashes.some((h) => !SHARD_HASH_RE.test(h)))
    throw bad(`a root of ${count} shards must list ${count} SHA-256 hashes`);
  return hashes;
}

const SHARD_LINE_RE = /^(\S+) ([0-9a-f]{64})$/;

/** Which shard of how many a shard's bytes were listed as, in its root. */
export interface ShardPlace {
  readonly shard: number;
  readonly count: number;
}

/**
 * Parses a shard strictly: exactly what encodeShard writes (sorted, unique
 * keys, each with a document hash); given its place in the root, also that
 * every key belongs there, as buildSnapshot puts it.
 */
export function parseShard(shard: Uint8Array, place?: ShardPlace): SnapshotRow[] {
  const bad = (why: string) => new SnapshotError("malformed-shard", `snapshot shard: ${why}`);
  const text = decodeText(shard, "malformed-shard", "a snapshot shard");
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.pop() !== "") throw bad("it must end in a newline");
  let previous: Buffer | undefined;
  return lines.map((line) => {
    const m = SHARD_LINE_RE.exec(line);
    if (!m) throw bad(`malformed line ${JSON.stringify(line.slice(0, 200))}`);
    const key = Buffer.from(m[1]);
    if (previous && Buffer.compare(previous, key) >= 0) throw bad("keys are not sorted and unique");
    if (place && shardOf(m[1], place.count) !== place.shard)
      throw new SnapshotError(
        "misplaced-key",
        `snapshot shard ${place.shard} of ${place.count} lists ${m[1]}, which belongs in another`,
      );
    previous = key;
    return { key: m[1], document: m[2] };
  });
}
