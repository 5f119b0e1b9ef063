/**
 * An ecosystem's native index as an atomic, signed view (cargo#10928): for
 * an ecosystem whose clients read one index file per package (cargo's
 * sparse index), the snapshot also lists every package with the SHA-256 of
 * its index file, in shards under a meta file whose SHA-256 is the index
 * id. The snapshot entry names the meta file, so a checkpoint signs it; the
 * meta file, shards and index files are blobs named by their SHA-256 (the
 * cache-busting copies: a name that can only ever have one content).
 *
 *   shard:  "serde 3b1f…\nserde_json 9ac0…\n"   (sorted by key name, bytewise)
 *   meta:   "cairn-index/v1\necosystem cargo\nshards 2\n<hex>\n<hex>\n"
 *
 * A row is the published name (the index path follows from it, the other
 * way round loses case and `-`/`_`); its shard is the top log2(N) bits of
 * SHA-256 of its key name (the ecosystem's canonical spelling), so a reader
 * finds the one shard that lists a package however its name is spelled,
 * and that shard proves absence too. The shard count follows the number of
 * packages the view lists (viewShardCount), not the snapshot's, so an
 * ecosystem with few packages beside many of another has few shards.
 */
import { CodedError } from "../util/coded-error.ts";
import { sha256Hex } from "../util/sha256.ts";
import { isShardCount, keyPrefix, MAX_SHARDS, shardOfPrefix } from "./snapshot.ts";

export const INDEX_HEADER = "cairn-index/v1";
/** The hash of an empty shard: a shard no package falls into. */
export const EMPTY_SHARD_HASH = sha256Hex(new Uint8Array());
/** Packages a view shard aims at: a shard of a few tens of KB, a meta file of 65 bytes a shard. */
export const VIEW_ROWS_PER_SHARD = 512;

/**
 * A view's shard count, a function of how many packages it lists (so every
 * copy of the state builds the same view): the smallest power of two that
 * keeps shards at about VIEW_ROWS_PER_SHARD. At 160,000 crates, 512 shards
 * of about 312, near the count (about 440) that makes a meta file and one
 * shard, what each new state costs a follower, smallest.
 */
export function viewShardCount(rows: number): number {
  let count = 1;
  while (count < MAX_SHARDS && rows > count * VIEW_ROWS_PER_SHARD) count *= 2;
  return count;
}

/** The largest index file a reader fetches (crates.io's largest are a few MB). */
export const MAX_INDEX_FILE_BYTES = 64 << 20;

export type IndexViewErrorCode =
  /** A meta file that is not exactly what encodeIndexMeta writes. */
  | "malformed-meta"
  /** A shard that is not exactly what encodeIndexShard writes (sorted, unique, one row a line). */
  | "malformed-shard"
  /** A shard that lists a package whose key puts it in another shard. */
  | "misplaced-row";

export class IndexViewError extends CodedError<IndexViewErrorCode> {
  override name = "IndexViewError";
}

export interface IndexRow {
  /** The ecosystem's key name: one row per package however it is spelled (`serde_json`). */
  readonly key: string;
  /** The published name, as the index file and the index path spell it (`serde-json`). */
  readonly name: string;
  /** Lowercase hex SHA-256 of the package's index file. */
  readonly file: string;
}

export interface IndexView {
  readonly ecosystem: string;
  readonly shards: readonly Uint8Array[];
  readonly meta: Uint8Array;
  /** Hex SHA-256 of the meta file: the index id. */
  readonly id: string;
}

const encoder = new TextEncoder();

/** The shard of a row key, of `count`. */
export function indexShardOf(key: string, count: number): number {
  return shardOfPrefix(keyPrefix(key), count);
}

/** One shard's bytes: its rows sorted by key, one `<name> <file hash>` line each. */
export function encodeIndexShard(rows: Iterable<IndexRow>): Uint8Array {
  const sorted = [...rows]
    .map((row) => ({ row, bytes: Buffer.from(row.key) }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ row }) => `${row.name} ${row.file}\n`);
  return encoder.encode(sorted.join(""));
}

export function encodeIndexMeta(ecosystem: string, shardHashes: readonly string[]): Uint8Array {
  if (!isShardCount(shardHashes.length))
    throw new IndexViewError("malformed-meta", `an index of ${shardHashes.length} shards`);
  return encoder.encode(
    `${INDEX_HEADER}\necosystem ${ecosystem}\nshards ${shardHashes.length}\n${shardHashes.join("\n")}\n`,
  );
}

/** The view of a whole ecosystem, from every package's row. */
export function buildIndexView(
  ecosystem: string,
  rows: Iterable<IndexRow>,
  count: number,
): IndexView {
  const byShard: IndexRow[][] = Array.from({ length: count }, () => []);
  for (const row of rows) byShard[indexShardOf(row.key, count)].push(row);
  const shards = byShard.map(encodeIndexShard);
  const meta = encodeIndexMeta(ecosystem, shards.map(sha256Hex));
  return { ecosystem, shards, meta, id: sha256Hex(meta) };
}

function decodeText(bytes: Uint8Array, code: IndexViewErrorCode, what: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    throw new IndexViewError(code, `${what} is not UTF-8`, { cause: err });
  }
}

const HASH_RE = /^[0-9a-f]{64}$/;

/** Parses a meta file strictly: exactly what encodeIndexMeta writes. */
export function parseIndexMeta(meta: Uint8Array): { ecosystem: string; shards: string[] } {
  const bad = (why: string) => new IndexViewError("malformed-meta", `index meta: ${why}`);
  const lines = decodeText(meta, "malformed-meta", "an index meta file").split("\n");
  if (lines.pop() !== "" || lines[0] !== INDEX_HEADER)
    throw bad(`it must start with ${INDEX_HEADER} and end in a newline`);
  const ecosystem = /^ecosystem ([a-z][a-z0-9-]{0,15})$/.exec(lines[1] ?? "")?.[1];
  if (ecosystem === undefined) throw bad("the second line must be ecosystem <id>");
  const countText = /^shards ([1-9][0-9]{0,5})$/.exec(lines[2] ?? "")?.[1];
  const count = Number(countText);
  if (countText === undefined || !isShardCount(count))
    throw bad(`the third line must be shards <a power of two from 1 to ${MAX_SHARDS}>`);
  const shards = lines.slice(3);
  if (shards.length !== count || shards.some((h) => !HASH_RE.test(h)))
    throw bad(`a meta file of ${count} shards must list ${count} SHA-256 hashes`);
  return { ecosystem, shards };
}

const ROW_RE = /^(\S+) ([0-9a-f]{64})$/;

/**
 * Parses a shard strictly: sorted, unique keys, each row in shard `shard`
 * of `count` (`keyName` is the ecosystem's canonical spelling).
 */
export function parseIndexShard(
  shard: Uint8Array,
  keyName: (name: string) => string,
  place: { readonly shard: number; readonly count: number },
): IndexRow[] {
  const bad = (why: string) => new IndexViewError("malformed-shard", `index shard: ${why}`);
  const text = decodeText(shard, "malformed-shard", "an index shard");
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.pop() !== "") throw bad("it must end in a newline");
  let previous: Buffer | undefined;
  return lines.map((line) => {
    const m = ROW_RE.exec(line);
    if (!m) throw bad(`malformed line ${JSON.stringify(line.slice(0, 200))}`);
    const key = keyName(m[1]);
    const bytes = Buffer.from(key);
    if (previous && Buffer.compare(previous, bytes) >= 0)
      throw bad("rows are not sorted and unique");
    if (indexShardOf(key, place.count) !== place.shard)
      throw new IndexViewError(
        "misplaced-row",
        `index shard ${place.shard} of ${place.count} lists ${m[1]}, which belongs in another`,
      );
    previous = bytes;
    return { key, name: m[1], file: m[2] };
  });
}
