/**
 * Reads an ecosystem's native index view (src/registry/index-view.ts) under
 * a verified snapshot entry: the entry names the meta file by SHA-256, the
 * meta file names the shards, a shard names each package's index file. So
 * with one checkpoint a reader lists every package, gets a consistent set
 * of index files (each exactly the bytes the snapshot names, from any
 * host or cache) and diffs two states shard by shard. Every file is
 * fetched by hash from hosts it does not trust and checked here; a file
 * that does not hash to its name, or does not parse, is refused with the
 * step it failed at.
 */
import type { Ecosystem } from "../registry/ecosystem.ts";
import type { BlobRef, SnapshotEntry } from "../registry/entries.ts";
import {
  EMPTY_SHARD_HASH,
  type IndexRow,
  indexShardOf,
  MAX_INDEX_FILE_BYTES,
  parseIndexMeta,
  parseIndexShard,
} from "../registry/index-view.ts";
import { MAX_SHARD_BYTES } from "../registry/snapshot.ts";
import { CodedError } from "../util/coded-error.ts";
import { sha256Hex } from "../util/sha256.ts";

export type IndexReadErrorCode =
  /** The meta file is not the one the snapshot entry names, or does not parse. */
  | "meta"
  /** A shard is not the one the meta file names, does not parse, or lists a package out of place. */
  | "shard"
  /** An index file is not the one its shard names. */
  | "file";

/** A view whose files do not hold together, named by the step that failed. */
export class IndexReadError extends CodedError<IndexReadErrorCode> {
  override name = "IndexReadError";
}

/** Fetches a blob by SHA-256 from any host (unverified: the reader checks it). */
export type BlobFetcher = (sha256: string, maxBytes: number) => Promise<Uint8Array>;

/** A package whose index file differs between two states; undefined where it has none. */
export interface IndexChange {
  readonly name: string;
  readonly before: string | undefined;
  readonly after: string | undefined;
}

export class IndexViewReader {
  readonly #ref: BlobRef | undefined;
  readonly #rules: Ecosystem;
  readonly #fetch: BlobFetcher;
  #meta: Promise<readonly string[]> | undefined;
  readonly #shards = new Map<string, Promise<IndexRow[]>>();

  /** The view of `rules`' ecosystem under `entry`, a snapshot entry read under a verified checkpoint. */
  constructor(entry: SnapshotEntry, rules: Ecosystem, fetch: BlobFetcher) {
    this.#ref = entry.indexes?.[rules.id];
    this.#rules = rules;
    this.#fetch = fetch;
  }

  /** The index id: the SHA-256 of the meta file; undefined when the ecosystem has no package. */
  get id(): string | undefined {
    return this.#ref?.sha256;
  }

  /** The shard hashes the meta file lists (none when the snapshot names no view). */
  shardHashes(): Promise<readonly string[]> {
    this.#meta ??= this.#readMeta();
    return this.#meta;
  }

  /** Every package with its index file's hash, shard by shard. */
  async *rows(): AsyncGenerator<IndexRow> {
    const hashes = await this.shardHashes();
    for (let shard = 0; shard < hashes.length; shard++) yield* await this.shardRows(shard);
  }

  /** The rows of shard `shard` of the meta file's. */
  async shardRows(shard: number): Promise<IndexRow[]> {
    const hashes = await this.shardHashes();
    return this.#shard(hashes[shard], shard, hashes);
  }

  /** A package's row, by any spelling of its name; undefined if the snapshot has no index file for it. */
  async row(name: string): Promise<IndexRow | undefined> {
    const hashes = await this.shardHashes();
    if (hashes.length === 0) return undefined;
    const key = this.#rules.keyName(name);
    const shard = indexShardOf(key, hashes.length);
    return (await this.#shard(hashes[shard], shard, hashes)).find((row) => row.key === key);
  }

  /** A package's index file, exactly the bytes the snapshot names; undefined if it has none. */
  async indexFile(name: string): Promise<Uint8Array | undefined> {
    const row = await this.row(name);
    if (!row) return undefined;
    return this.#checked("file", row.file, MAX_INDEX_FILE_BYTES, `the index file of ${row.name}`);
  }

  async #readMeta(): Promise<readonly string[]> {
    const ref = this.#ref;
    if (!ref) return [];
    const bytes = await this.#checked("meta", ref.sha256, ref.size, "the index meta file");
    try {
      const meta = parseIndexMeta(bytes);
      if (meta.ecosystem !== this.#rules.id)
        throw new IndexReadError("meta", `the meta file is ${meta.ecosystem}'s index`);
      return meta.shards;
    } catch (err) {
      if (err instanceof IndexReadError) throw err;
      throw new IndexReadError("meta", (err as Error).message, { cause: err });
    }
  }

  #shard(hash: string, shard: number, hashes: readonly string[]): Promise<IndexRow[]> {
    if (hash === EMPTY_SHARD_HASH) return Promise.resolve([]);
    let rows = this.#shards.get(hash);
    if (!rows) {
      rows = (async () => {
        const bytes = await this.#checked("shard", hash, MAX_SHARD_BYTES, `index shard ${shard}`);
        try {
          return parseIndexShard(bytes, this.#rules.keyName, { shard, count: hashes.length });
        } catch (err) {
          throw new IndexReadError("shard", (err as Error).message, { cause: err });
        }
      })();
      this.#shards.set(hash, rows);
      rows.catch(() => this.#shards.delete(hash));
    }
    return rows;
  }

  /** A blob fetched and checked against its name (and, for the meta file, its size). */
  async #checked(
    step: IndexReadErrorCode,
    sha256: string,
    maxBytes: number,
    what: string,
  ): Promise<Uint8Array> {
    const bytes = await this.#fetch(sha256, maxBytes);
    if (bytes.length > maxBytes || sha256Hex(bytes) !== sha256)
      throw new IndexReadError(step, `${what} does not hash to ${sha256}`);
    return bytes;
  }
}

/**
 * The packages whose index files differ between two views, sorted by key:
 * only the shards whose hashes differ are read (every shard when the two
 * states have different shard counts).
 */
export async function diffIndexViews(
  before: IndexViewReader,
  after: IndexViewReader,
): Promise<IndexChange[]> {
  const [a, b] = await Promise.all([before.shardHashes(), after.shardHashes()]);
  const changed = new Map<string, { name: string; before?: string; after?: string }>();
  const note = (row: IndexRow, side: "before" | "after") => {
    const change = changed.get(row.key) ?? { name: row.name };
    change[side] = row.file;
    if (side === "after") change.name = row.name;
    changed.set(row.key, change);
  };
  if (a.length === b.length) {
    for (let shard = 0; shard < a.length; shard++) {
      if (a[shard] === b[shard]) continue;
      for (const row of await before.shardRows(shard)) note(row, "before");
      for (const row of await after.shardRows(shard)) note(row, "after");
    }
  } else {
    for await (const row of before.rows()) note(row, "before");
    for await (const row of after.rows()) note(row, "after");
  }
  return [...changed]
    .filter(([, c]) => c.before !== c.after)
    .sort(([x], [y]) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    .map(([, c]) => ({ name: c.name, before: c.before, after: c.after }));
}
