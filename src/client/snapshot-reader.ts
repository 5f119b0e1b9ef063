/**
 * Sparse verification: one package's document, proven against a verified
 * checkpoint without reading the log. The last entry under every checkpoint
 * is a snapshot entry; its bundle is checked against the tiles up to the
 * signed root. The entry names the root file by SHA-256, the root names the
 * shard by SHA-256, the shard names the document by SHA-256. So a reader
 * that fetches one bundle, the root, one shard and the document (a few tens
 * of KB at npm scale) holds exactly what the origin signed: a stale,
 * altered or trimmed file anywhere on the way does not hash to its name and
 * is refused like any bad blob. The shard also proves absence: a name it
 * does not list is not in the registry.
 *
 * Everything below the head is content-addressed, so parsed shards and
 * documents are kept by hash and stay valid across checkpoints.
 */
import { LRUCache } from "lru-cache";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import { rulesOf } from "../registry/ecosystem.ts";
import {
  decodeEntry,
  type Entry,
  type PopularityEntry,
  type RegistryKeysEntry,
  type SnapshotEntry,
} from "../registry/entries.ts";
import {
  decodeDocument,
  MAX_DOCUMENT_BYTES,
  type PackageDocument,
} from "../registry/package-document.ts";
import { checkKeySetChange } from "../registry/registry-keys.ts";
import {
  MAX_SHARD_BYTES,
  parseRoot,
  parseShard,
  type ShardPlace,
  shardOf,
} from "../registry/snapshot.ts";
import { CodedError } from "../util/coded-error.ts";
import { NoSourceError } from "./errors.ts";
import type { LogClient } from "./log-client.ts";

/** The snapshot a checkpoint commits to, verified. */
export interface VerifiedSnapshot {
  /** The checkpoint size it was read under. */
  readonly size: number;
  /** The last entry under the checkpoint; undefined for an empty log. */
  readonly entry: SnapshotEntry | undefined;
  /** Shard hashes from the root file. */
  readonly shards: readonly string[];
}

/** Fetches a blob named by SHA-256 (of at most `maxBytes`), verified, from a cache or a source. */
export type HashedBlobLoader = (sha256: string, maxBytes: number) => Promise<Uint8Array>;

/**
 * Where the snapshot entry last read is kept, verified, beside the stored
 * checkpoint: when no source answers (a LAN cut off from the registry),
 * the snapshot of the stored checkpoint is still known, and the files it
 * names are content-addressed (a cache has them or they are refused).
 */
export interface SnapshotHeadStore {
  /** The entry's bytes as read under a checkpoint of `size`; undefined if another size's is kept. */
  load(size: number): Promise<Uint8Array | undefined>;
  save(size: number, entry: Uint8Array): Promise<void>;
}

export type SnapshotReadErrorCode =
  /** No checkpoint has been verified yet, so there is no snapshot to read. */
  | "no-checkpoint"
  /** The last entry under the checkpoint is not the snapshot of the entries before it. */
  | "not-a-snapshot"
  /** The root file lists another number of shards than its snapshot entry. */
  | "shard-count"
  /** A shard lists another package's document under a name. */
  | "wrong-document"
  /** The entry a snapshot names as the newest popularity entry is not one. */
  | "not-popularity"
  /** The entry a snapshot names as the newest registry key set is not one, or not a valid one. */
  | "not-registry-keys";

/** A snapshot whose files do not hold together; a file that does not parse is its own domain's error. */
export class SnapshotReadError extends CodedError<SnapshotReadErrorCode> {
  override name = "SnapshotReadError";
}

/** No source had the file: each answered that it does not hold it (or did not answer). */
function isMissingEverywhere(err: unknown): boolean {
  return (
    err instanceof NoSourceError &&
    err.errors.length > 0 &&
    err.errors.every((e) => e.code === "unavailable")
  );
}

export class SnapshotReader {
  readonly #client: LogClient;
  readonly #load: HashedBlobLoader;
  #head: { size: number; snapshot: Promise<VerifiedSnapshot> } | undefined;
  /** Parsed shards by hash: key → document hash. */
  readonly #shards = new LRUCache<string, Promise<ReadonlyMap<string, string>>>({ max: 256 });
  readonly #documents = new LRUCache<string, Promise<PackageDocument>>({ max: 2048 });

  readonly #heads: SnapshotHeadStore | undefined;

  constructor(client: LogClient, load?: HashedBlobLoader, heads?: SnapshotHeadStore) {
    this.#client = client;
    this.#load = load ?? ((sha256, maxBytes) => client.blobByHash(sha256, maxBytes));
    this.#heads = heads;
  }

  /** The snapshot of the client's current checkpoint (read once per checkpoint). */
  head(): Promise<VerifiedSnapshot> {
    const size = this.#client.checkpoint?.size;
    if (size === undefined)
      return Promise.reject(new SnapshotReadError("no-checkpoint", "no verified checkpoint yet"));
    if (this.#head?.size !== size) {
      const snapshot = this.#readHead(size);
      const head = { size, snapshot };
      this.#head = head;
      snapshot.catch(() => {
        if (this.#head === head) this.#head = undefined;
      });
    }
    return this.#head.snapshot;
  }

  /**
   * The newest popularity entry under the current checkpoint (the one its
   * snapshot names), read from the verified log; undefined if there is none.
   */
  async popularity(): Promise<PopularityEntry | undefined> {
    const head = await this.head();
    const index = head.entry?.popularity;
    if (index === undefined) return undefined;
    const entry = await this.#entryAt(index);
    if (entry?.kind !== "popularity")
      throw new SnapshotReadError(
        "not-popularity",
        `the snapshot names entry ${index} as its popularity entry, which is not one`,
      );
    return entry;
  }

  /**
   * The newest registry key set under the current checkpoint (the entry its
   * snapshot names): one entry and its inclusion proof; undefined if there is none.
   */
  async registryKeys(): Promise<RegistryKeysEntry | undefined> {
    const head = await this.head();
    const index = head.entry?.keys;
    if (index === undefined) return undefined;
    const entry = await this.#entryAt(index);
    if (entry?.kind !== "registry-keys")
      throw new SnapshotReadError(
        "not-registry-keys",
        `the snapshot names entry ${index} as its registry keys, which is not a key set`,
      );
    try {
      // Each key as replay checks it; the chain of earlier sets is a full reader's to check.
      checkKeySetChange(entry, undefined);
    } catch (err) {
      throw new SnapshotReadError("not-registry-keys", (err as Error).message, { cause: err });
    }
    return entry;
  }

  /** Entry `index`, read from the verified log. */
  async #entryAt(index: number): Promise<Entry | undefined> {
    let bytes: Uint8Array | undefined;
    for await (const { entries } of this.#client.entries(index, index + 1)) bytes = entries[0];
    return bytes && decodeEntry(bytes);
  }

  /**
   * The hash the snapshot lists for the package's document; undefined if it
   * lists none. `name` in any spelling the ecosystem counts as the same
   * (a crate's `-`/`_` and case).
   */
  documentHash(ecosystem: string, name: string): Promise<string | undefined> {
    return this.#refreshingOnMissing(() => this.#documentHash(ecosystem, name));
  }

  async #documentHash(ecosystem: string, name: string): Promise<string | undefined> {
    const head = await this.head();
    if (head.entry === undefined) return undefined;
    const key = `${ecosystem}/${rulesOf(ECOSYSTEMS, ecosystem).keyName(name)}`;
    const place = { shard: shardOf(key, head.shards.length), count: head.shards.length };
    const shard = await this.#shard(head.shards[place.shard], place);
    return shard.get(key);
  }

  /** The package's document as the snapshot commits to it; undefined if the registry has no such package. */
  document(ecosystem: string, name: string): Promise<PackageDocument | undefined> {
    return this.#refreshingOnMissing(async () => {
      const hash = await this.#documentHash(ecosystem, name);
      return hash === undefined ? undefined : this.documentByHash(ecosystem, name, hash);
    });
  }

  /**
   * Runs `read`; if a file of the snapshot is found nowhere (garbage
   * collection removed the files of a checkpoint it no longer retains),
   * fetches the newest checkpoint and, if it moved, reads once more.
   */
  async #refreshingOnMissing<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (!isMissingEverywhere(err)) throw err;
      const size = this.#client.checkpoint?.size;
      const fresh = await this.#client.refresh({ mirrorCheck: "background" });
      if (fresh.size === size) throw err;
      return read();
    }
  }

  /**
   * Every package name of one ecosystem the snapshot lists (as keyed),
   * shard by shard: reads every shard (a few MiB at npm's scale), so only
   * for a caller that needs the whole registry's names (a peer choosing
   * popular versions to seed).
   */
  async *names(ecosystem: string): AsyncGenerator<string> {
    const head = await this.head();
    const count = head.shards.length;
    const prefix = `${ecosystem}/`;
    for (const [shard, hash] of head.shards.entries())
      for (const key of (await this.#shard(hash, { shard, count })).keys())
        if (key.startsWith(prefix)) yield key.slice(prefix.length);
  }

  /** A document by the hash a shard lists for `name`: refused unless it is that package's. */
  documentByHash(ecosystem: string, name: string, hash: string): Promise<PackageDocument> {
    return this.#cached(this.#documents, hash, async () => {
      const doc = decodeDocument(await this.#load(hash, MAX_DOCUMENT_BYTES), ECOSYSTEMS);
      const { keyName } = rulesOf(ECOSYSTEMS, ecosystem);
      if (doc.ecosystem !== ecosystem || keyName(doc.name) !== keyName(name))
        throw new SnapshotReadError(
          "wrong-document",
          `the snapshot lists the document of ${doc.ecosystem} ${doc.name} for ${ecosystem} ${name}`,
        );
      return doc;
    });
  }

  async #readHead(size: number): Promise<VerifiedSnapshot> {
    if (size === 0) return { size, entry: undefined, shards: [] };
    let bytes: Uint8Array | undefined;
    try {
      for await (const { entries } of this.#client.entries(size - 1, size)) bytes = entries[0];
    } catch (err) {
      bytes = await this.#heads?.load(size).catch(() => undefined);
      if (!bytes) throw err;
    }
    const entry = bytes && decodeEntry(bytes);
    if (bytes && entry?.kind === "snapshot") await this.#heads?.save(size, bytes).catch(() => {});
    if (entry?.kind !== "snapshot" || entry.size !== size - 1)
      throw new SnapshotReadError(
        "not-a-snapshot",
        `entry ${size - 1}, the last under the checkpoint, is not the snapshot of the entries before it`,
      );
    const root = await this.#load(entry.root.sha256, entry.root.size);
    const shards = parseRoot(root);
    if (shards.length !== entry.shards)
      throw new SnapshotReadError(
        "shard-count",
        `snapshot root lists ${shards.length} shards, its entry ${entry.shards}`,
      );
    return { size, entry, shards };
  }

  /** A shard's rows; a shard is only ever at one place, as its keys are (or nowhere, when empty). */
  #shard(hash: string, place: ShardPlace): Promise<ReadonlyMap<string, string>> {
    return this.#cached(this.#shards, hash, async () => {
      const rows = parseShard(await this.#load(hash, MAX_SHARD_BYTES), place);
      return new Map(rows.map((row) => [row.key, row.document]));
    });
  }

  /** One load per hash at a time; a failed load is forgotten so the next read retries. */
  #cached<T extends object>(
    cache: LRUCache<string, Promise<T>>,
    hash: string,
    load: () => Promise<T>,
  ): Promise<T> {
    let value = cache.get(hash);
    if (!value) {
      value = load();
      cache.set(hash, value);
      value.catch(() => cache.delete(hash));
    }
    return value;
  }
}
