/**
 * A batch of entries folded into the state in memory, then written in one
 * transaction. Package entries change package documents (`foldEntry`);
 * a snapshot entry is checked against the snapshot of the documents as
 * they stand at that point, so every copy of the state proves itself
 * against the origin's signed snapshots as it goes.
 *
 * The origin computes a batch's snapshot before the batch is in the log
 * (`snapshot()`), writes its blobs, appends, and only then commits.
 */
import { sha256Hex } from "../util/sha256.ts";
import { writeCurrentVersion } from "./current-versions.ts";
import { dependentCount, updateDependents } from "./dependents.ts";
import { type Ecosystem, rulesOf } from "./ecosystem.ts";
import {
  type BlobRef,
  type Entry,
  EntryError,
  isPackageEntry,
  type KeyEntry,
  type PackageEntry,
  type PopularityEntry,
  publishedAt,
  type RegistryKeysEntry,
  type SnapshotEntry,
} from "./entries.ts";
import {
  EMPTY_SHARD_HASH,
  encodeIndexMeta,
  encodeIndexShard,
  type IndexRow,
  viewShardCount,
} from "./index-view.ts";
import { checkKeyEntry, type LoggedKey } from "./key-chain-log.ts";
import {
  documentKey,
  encodeDocument,
  foldEntry,
  type PackageDocument,
  versionEntryOf,
} from "./package-document.ts";
import { checkKeySetChange, checkSignature, signedIntegrity } from "./registry-keys.ts";
import { searchDocumentOf, setSearchDependents } from "./search-documents.ts";
import { encodeRoot, encodeShard, keyPrefix, shardOfPrefix, shardRange } from "./snapshot.ts";
import {
  type DatabasePointer,
  type PopularityPointer,
  type RegistryKeysPointer,
  type RegistryState,
  rowName,
  type SnapshotPointer,
  versionColumn,
  yankedOf,
} from "./state.ts";
import { cannotApply, type LogEntry, notVoid, voidedEntries } from "./void-entries.ts";
import { writeTakedowns } from "./withheld.ts";

export class SnapshotMismatchError extends Error {
  override name = "SnapshotMismatchError";
  readonly index: number;
  constructor(index: number, message: string) {
    super(`entry ${index}: ${message}`);
    this.index = index;
  }
}

/** A snapshot of the state, with the blobs that name it. */
export interface BuiltSnapshot {
  readonly id: string;
  readonly root: Uint8Array;
  readonly shardCount: number;
  readonly packages: number;
  /** The shards recomputed for it (the others are unchanged). */
  readonly shards: ReadonlyMap<number, Uint8Array>;
  /** Hex SHA-256 of every shard, in order. */
  readonly shardHashes: readonly string[];
  /** Encoded documents of the packages the batch changed. */
  readonly documents: readonly Uint8Array[];
  /** The native index views (index-view.ts), by ecosystem, each at its own shard count. */
  readonly indexes: ReadonlyMap<string, BuiltIndex>;
}

/** One ecosystem's index view as the snapshot leaves it. */
export interface BuiltIndex {
  /** Hex SHA-256 of the meta file: the index id. */
  readonly id: string;
  readonly meta: Uint8Array;
  /** The shards recomputed for it (the others are unchanged). */
  readonly shards: ReadonlyMap<number, Uint8Array>;
  readonly shardHashes: readonly string[];
  /** Index files of the packages the batch changed. */
  readonly files: readonly Uint8Array[];
  /** No package has an index file: the snapshot entry names no view. */
  readonly empty: boolean;
}

/** The views a snapshot entry names: each ecosystem's with at least one package in it. */
function namedIndexes(built: BuiltSnapshot): Record<string, BlobRef> | undefined {
  const named: Record<string, BlobRef> = {};
  for (const [ecosystem, view] of built.indexes)
    if (!view.empty) named[ecosystem] = { sha256: view.id, size: view.meta.length };
  return Object.keys(named).length > 0 ? named : undefined;
}

/** Every blob a snapshot's readers fetch by hash: documents, shards, root, and each view's files, shards and meta. */
export function snapshotBlobs(built: BuiltSnapshot): Uint8Array[] {
  const blobs = [...built.documents, ...built.shards.values(), built.root];
  for (const view of built.indexes.values())
    if (!view.empty) blobs.push(...view.files, ...view.shards.values(), view.meta);
  return blobs;
}

export interface Touched {
  readonly before: PackageDocument | undefined;
  readonly after: PackageDocument;
}

/** The snapshot entry naming `built`, the state after entries [0, size). */
export function snapshotEntry(
  built: BuiltSnapshot,
  size: number,
  options: { database?: number; popularity?: number; keys?: number; time?: string } = {},
): SnapshotEntry {
  const indexes = namedIndexes(built);
  return {
    v: 1,
    kind: "snapshot",
    time: options.time ?? new Date().toISOString(),
    size,
    root: { sha256: built.id, size: built.root.length },
    shards: built.shardCount,
    packages: built.packages,
    ...(options.database !== undefined ? { database: options.database } : {}),
    ...(options.popularity !== undefined ? { popularity: options.popularity } : {}),
    ...(options.keys !== undefined ? { keys: options.keys } : {}),
    ...(indexes ? { indexes } : {}),
  };
}

/** A document encoded, with its row in the snapshot map. */
interface EncodedDocument {
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly key: string;
  readonly prefix: number;
}

/** A batch's shards for one count: the rows of those it loaded, the bytes of those it rebuilt, every shard's hash. */
interface ShardCache {
  readonly count: number;
  readonly rows: Map<number, Map<string, string>>;
  readonly bytes: Map<number, Uint8Array>;
  readonly hashes: string[];
}

/** A view's shards for one count, as ShardCache: rows by key name. */
interface ViewCache {
  readonly count: number;
  readonly rows: Map<number, Map<string, IndexRow>>;
  readonly bytes: Map<number, Uint8Array>;
  readonly hashes: string[];
}

export class StateBatch {
  readonly #state: RegistryState;
  /** By snapshot key: the same name in two ecosystems is two packages. */
  readonly #touched = new Map<string, Touched>();
  readonly #encoded = new WeakMap<PackageDocument, EncodedDocument>();
  /** A document's index file and view row; null when it has none. */
  readonly #indexFiles = new WeakMap<
    PackageDocument,
    { bytes: Uint8Array; row: IndexRow; prefix: number } | null
  >();
  /** Each view's shards as built so far in this batch. */
  readonly #views = new Map<string, ViewCache>();
  /** Each view's stored row count, once read. */
  readonly #viewRowCounts = new Map<string, number>();
  #size: number;
  #snapshot: SnapshotPointer | undefined;
  #database: DatabasePointer | undefined;
  #popularity: PopularityPointer | undefined;
  #registryKeys: RegistryKeysPointer | undefined;
  #storedKeys: { readonly pointer: RegistryKeysPointer | undefined } | undefined;
  #built: BuiltSnapshot | undefined;
  /** The key rotations so far, once this batch adds one. */
  #keys: LoggedKey[] | undefined;
  /** Shards as built so far in this batch, for one shard count. */
  #shards: ShardCache | undefined;
  /** Packages changed since the shards were last built. */
  readonly #stale = new Set<string>();
  /** The snapshot the last entry added proved, if the last entry was a snapshot. */
  #ending: BuiltSnapshot | undefined;
  /** Index of a void entry not yet followed by a snapshot entry (see void-entries.ts). */
  #voidSince: number | undefined;
  #foldError: EntryError | undefined;
  #committed = false;

  constructor(state: RegistryState, first: number) {
    this.#state = state;
    this.#size = first;
    const pending = state.meta("void_since");
    this.#voidSince = pending === undefined ? undefined : Number(pending);
  }

  #addKey(entry: KeyEntry, index: number): void {
    const chain = this.#keys ?? this.#state.keyChain;
    checkKeyEntry(chain, entry, index);
    this.#keys = [...chain, { index, entry }];
  }

  /** Log index of the newest database entry, if any. */
  get latestDatabase(): number | undefined {
    return this.#database?.index ?? this.#state.database?.index;
  }

  /** Log index of the newest popularity entry, if any. */
  get latestPopularity(): number | undefined {
    return this.#popularity?.index ?? this.#state.popularity?.index;
  }

  /** The newest registry-keys entry, if any: the key set signatures are checked against. */
  get registryKeys(): RegistryKeysPointer | undefined {
    // Read from the state once per batch: every signature in it is checked against it.
    if (this.#storedKeys === undefined) this.#storedKeys = { pointer: this.#state.registryKeys };
    return this.#registryKeys ?? this.#storedKeys.pointer;
  }

  /** Log size after the entries added so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Folds one new entry in; a snapshot entry must match the state it
   * describes. Throws a `cannot-apply` EntryError, leaving the batch as it
   * was, if the entry cannot be applied.
   */
  add(entry: Entry): void {
    if (this.#committed) throw new Error("the batch is already committed");
    const index = this.#size;
    if (isPackageEntry(entry)) {
      const after = this.#fold(entry, index);
      if (after === undefined) throw this.#foldError;
    } else if (entry.kind === "snapshot") {
      if (this.#voidSince === undefined) this.#checkSnapshot(entry, index, true);
      // The snapshot that closed a void entry's batch counted it in: see void-entries.ts.
      else this.#voidSince = undefined;
    } else {
      if (entry.size > index)
        throw new SnapshotMismatchError(index, `${entry.kind} entry names log size ${entry.size}`);
      if (entry.kind === "database") this.#database = { index };
      else if (entry.kind === "popularity") this.#popularity = { index, entry };
      else if (entry.kind === "key") this.#addKey(entry, index);
      else {
        // One key set, for the ecosystem whose entries carry registry signatures.
        if (!this.#state.ecosystems.get(entry.ecosystem)?.kinds.has("signature"))
          throw new EntryError("cannot-apply", `${entry.ecosystem} has no registry signatures`);
        checkKeySetChange(entry, this.registryKeys?.entry);
        this.#registryKeys = { index, entry };
      }
    }
    this.#size++;
  }

  /**
   * Folds one entry read from a log: like `add`, except that an entry
   * listed in CAIRN_VOID_ENTRIES that cannot be applied is void, and one
   * that cannot be applied otherwise is an error naming the way out.
   */
  replay(entry: LogEntry): void {
    const index = this.#size;
    const listed = voidedEntries().has(index);
    if (entry.kind === "void") {
      this.#voidSince = index;
      this.#size++;
      return;
    }
    if (listed && isPackageEntry(entry) && this.#fold(entry, index) === undefined) {
      this.#voidSince = index;
      this.#size++;
      return;
    }
    if (listed) throw notVoid(index);
    try {
      this.add(entry);
    } catch (err) {
      if (err instanceof EntryError && err.code === "cannot-apply") throw cannotApply(index, err);
      throw err;
    }
  }

  /** The document after `entry`, recorded as the package's; undefined (and #foldError set) if it cannot apply. */
  #fold(entry: PackageEntry, index: number): PackageDocument | undefined {
    const rules = this.#state.ecosystems.get(entry.ecosystem);
    // One package per key: every spelling its ecosystem folds together finds the same document.
    const name = rowName(this.#state.ecosystems, entry);
    const key = `${entry.ecosystem}/${name}`;
    const touched = this.#touched.get(key);
    const before = touched ? touched.before : this.#state.table(entry.ecosystem).document(name);
    let after: PackageDocument;
    try {
      // The batch owns the versions object an earlier fold of this batch made.
      const owned = touched !== undefined && touched.after.versions !== before?.versions;
      // No rules for the entry's ecosystem: rulesOf says it cannot apply.
      const by = rules ?? rulesOf(this.#state.ecosystems, entry.ecosystem);
      if (entry.kind === "signature") {
        const current = touched ? touched.after : before;
        const signed = current && Object.hasOwn(current.versions, entry.version);
        const artifact = signed ? current.versions[entry.version].artifact : undefined;
        checkSignature(entry, signedIntegrity(artifact), this.registryKeys?.entry);
      }
      after = foldEntry(touched ? touched.after : before, entry, index, by, owned);
    } catch (err) {
      this.#foldError = new EntryError(
        "cannot-apply",
        `entry ${index}: ${(err as Error).message}`,
        {
          cause: err,
          index,
        },
      );
      return undefined;
    }
    this.#touched.set(key, { before, after });
    this.#stale.add(key);
    this.#built = undefined;
    this.#ending = undefined;
    return after;
  }

  /**
   * Takes `entry`, the snapshot entry at log index `index` (the last entry
   * the state reflects), as this state's latest after checking that it
   * matches the state: how a copy of the state made elsewhere proves itself.
   */
  adopt(
    entry: SnapshotEntry,
    index: number,
    popularity?: PopularityEntry,
    registryKeys?: RegistryKeysEntry,
  ): void {
    this.#checkSnapshot(entry, index, false);
    if (entry.keys !== undefined) {
      if (registryKeys?.kind !== "registry-keys" || registryKeys.size > entry.keys)
        throw new SnapshotMismatchError(
          index,
          `snapshot names registry-keys entry ${entry.keys}, which was not given`,
        );
      this.#registryKeys = { index: entry.keys, entry: registryKeys };
    }
    if (entry.database !== undefined) this.#database = { index: entry.database };
    if (entry.popularity !== undefined) {
      // The entry the snapshot names, read from the same verified log by the caller.
      if (popularity?.kind !== "popularity" || popularity.size > entry.popularity)
        throw new SnapshotMismatchError(
          index,
          `snapshot names popularity entry ${entry.popularity}, which was not given`,
        );
      this.#popularity = { index: entry.popularity, entry: popularity };
    }
  }

  #checkSnapshot(entry: SnapshotEntry, index: number, inLog: boolean): void {
    if (entry.size !== index)
      throw new SnapshotMismatchError(index, `snapshot says log size ${entry.size}`);
    const built = this.snapshot(entry.shards);
    if (built.id !== entry.root.sha256 || built.root.length !== entry.root.size)
      throw new SnapshotMismatchError(
        index,
        `snapshot root ${entry.root.sha256} does not match the state, whose root is ${built.id}`,
      );
    if (inLog && entry.database !== this.latestDatabase)
      throw new SnapshotMismatchError(
        index,
        `snapshot names database entry ${entry.database}, the newest is ${this.latestDatabase}`,
      );
    if (inLog && entry.popularity !== this.latestPopularity)
      throw new SnapshotMismatchError(
        index,
        `snapshot names popularity entry ${entry.popularity}, the newest is ${this.latestPopularity}`,
      );
    if (inLog && entry.keys !== this.registryKeys?.index)
      throw new SnapshotMismatchError(
        index,
        `snapshot names registry-keys entry ${entry.keys}, the newest is ${this.registryKeys?.index}`,
      );
    if (built.packages !== entry.packages)
      throw new SnapshotMismatchError(
        index,
        `snapshot counts ${entry.packages} packages, the state has ${built.packages}`,
      );
    const named = entry.indexes ?? {};
    const views = namedIndexes(built) ?? {};
    const ecosystems = new Set([...Object.keys(named), ...Object.keys(views)]);
    for (const id of ecosystems) {
      if (named[id]?.sha256 === views[id]?.sha256 && named[id]?.size === views[id]?.size) continue;
      throw new SnapshotMismatchError(
        index,
        `snapshot names ${id} index view ${named[id]?.sha256 ?? "none"}, the state's is ${views[id]?.sha256 ?? "none"}`,
      );
    }
    this.#snapshot = { index, id: built.id, shards: entry.shards, packages: entry.packages };
    this.#ending = built;
  }

  /** A document's bytes and its row in the snapshot map, computed once per document object. */
  #document(doc: PackageDocument): EncodedDocument {
    let encoded = this.#encoded.get(doc);
    if (!encoded) {
      const bytes = encodeDocument(doc);
      const key = documentKey(doc, rulesOf(this.#state.ecosystems, doc.ecosystem));
      encoded = { bytes, sha256: sha256Hex(bytes), key, prefix: keyPrefix(key) };
      this.#encoded.set(doc, encoded);
    }
    return encoded;
  }

  /**
   * If the batch ends with a snapshot entry, the snapshot it proved: its
   * root, the shards the batch changed and the documents of the packages it
   * changed, byte for byte the blobs the origin stored.
   */
  endingSnapshot(): BuiltSnapshot | undefined {
    return this.#ending;
  }

  /** Each package the batch changed, its document before the batch and after it so far. */
  touchedDocuments(): Iterable<Touched> {
    return this.#touched.values();
  }

  /**
   * The snapshot of the state after the entries added so far, split into
   * `shardCount` shards. Within a batch the shards are kept as they are
   * built, so each call re-encodes only the shards whose packages changed
   * since the previous one: a bundle of many small batches (a client
   * replaying the log) costs what its changes cost, not a rebuild of every
   * shard touched so far for each snapshot entry.
   */
  snapshot(shardCount: number): BuiltSnapshot {
    if (this.#built?.shardCount === shardCount) return this.#built;
    let cache = this.#shards;
    let stale: Iterable<string> = this.#stale;
    const dirty = new Set<number>();
    if (cache?.count !== shardCount) {
      const storedCount = Number(this.#state.meta("shard_count") ?? 0);
      const hashes: string[] = [];
      if (storedCount === shardCount) {
        const rows = this.#state
          .sql("SELECT shard, sha256 FROM shard_hashes ORDER BY shard")
          .all() as { shard: number; sha256: string }[];
        for (const row of rows) hashes[row.shard] = row.sha256;
      } else {
        for (let s = 0; s < shardCount; s++) dirty.add(s);
      }
      cache = { count: shardCount, rows: new Map(), bytes: new Map(), hashes };
      this.#shards = cache;
      stale = this.#touched.keys();
    }
    const staleKeys = [...stale];
    for (const touchedKey of staleKeys) {
      const { key, prefix, sha256 } = this.#document(
        (this.#touched.get(touchedKey) as Touched).after,
      );
      const shard = shardOfPrefix(prefix, shardCount);
      this.#shardRows(cache, shard).set(key, sha256);
      dirty.add(shard);
    }
    for (const shard of dirty) {
      const rows = this.#shardRows(cache, shard);
      const bytes = encodeShard([...rows].map(([key, document]) => ({ key, document })));
      cache.bytes.set(shard, bytes);
      cache.hashes[shard] = sha256Hex(bytes);
    }
    this.#stale.clear();
    const indexes = new Map<string, BuiltIndex>();
    for (const rules of this.#state.ecosystems.values()) {
      if (!rules.nativeIndex) continue;
      const view = this.#view(rules, staleKeys);
      if (view) indexes.set(rules.id, view);
    }
    const root = encodeRoot(cache.hashes);
    this.#built = {
      id: sha256Hex(root),
      root,
      shardCount,
      packages: this.#packageCount(),
      // Copies: later calls in the batch go on changing the cache.
      shards: new Map(cache.bytes),
      shardHashes: [...cache.hashes],
      documents: [...this.#touched.values()].map(({ after }) => this.#document(after).bytes),
      indexes,
    };
    return this.#built;
  }

  /** A document's index file and its row in its ecosystem's view; undefined if it has none. */
  #indexFile(doc: PackageDocument, rules: Ecosystem) {
    let file = this.#indexFiles.get(doc);
    if (file === undefined) {
      const bytes = rules.nativeIndex?.indexFile(doc);
      const key = rules.keyName(doc.name);
      file = bytes
        ? { bytes, row: { key, name: doc.name, file: sha256Hex(bytes) }, prefix: keyPrefix(key) }
        : null;
      this.#indexFiles.set(doc, file);
    }
    return file ?? undefined;
  }

  /**
   * One ecosystem's view after the batch, kept like the snapshot's shards:
   * only the shards of packages changed since the last call are re-encoded,
   * unless the view's shard count (a function of its rows) changes.
   * Undefined when the ecosystem has no package in the state or the batch.
   */
  #view(rules: Ecosystem, stale: readonly string[]): BuiltIndex | undefined {
    const { id } = rules;
    let rows = this.#storedViewRows(id);
    let touches = false;
    for (const { before, after } of this.#touched.values()) {
      if (after.ecosystem !== id) continue;
      touches = true;
      if (this.#indexFile(after, rules)) rows++;
      // Whether it was listed before the batch: a row lookup, not a second render of its file.
      if (before && this.#listedBefore(id, rules.keyName(before.name))) rows--;
    }
    if (!touches && rows === 0) return undefined;
    const count = viewShardCount(rows);
    let cache = this.#views.get(id);
    let changed: Iterable<string> = stale;
    const dirty = new Set<number>();
    if (cache?.count !== count) {
      const hashes = new Array<string>(count).fill(EMPTY_SHARD_HASH);
      if (Number(this.#state.meta(`index_shards:${id}`) ?? 0) === count) {
        const stored = this.#state
          .sql("SELECT shard, sha256 FROM index_shard_hashes WHERE ecosystem = ?")
          .all(id) as { shard: number; sha256: string }[];
        for (const row of stored) hashes[row.shard] = row.sha256;
      } else {
        for (let s = 0; s < count; s++) dirty.add(s);
      }
      cache = { count, rows: new Map(), bytes: new Map(), hashes };
      this.#views.set(id, cache);
      changed = this.#touched.keys();
    }
    for (const touchedKey of changed) {
      const { after } = this.#touched.get(touchedKey) as Touched;
      if (after.ecosystem !== id) continue;
      const key = rules.keyName(after.name);
      const shard = shardOfPrefix(keyPrefix(key), count);
      const shardRows = this.#viewRows(rules, cache, shard);
      const file = this.#indexFile(after, rules);
      if (file) shardRows.set(key, file.row);
      else shardRows.delete(key);
      dirty.add(shard);
    }
    for (const shard of dirty) {
      const bytes = encodeIndexShard(this.#viewRows(rules, cache, shard).values());
      cache.bytes.set(shard, bytes);
      cache.hashes[shard] = sha256Hex(bytes);
    }
    const meta = encodeIndexMeta(id, cache.hashes);
    const files: Uint8Array[] = [];
    for (const { after } of this.#touched.values()) {
      const file = after.ecosystem === id ? this.#indexFile(after, rules) : undefined;
      if (file) files.push(file.bytes);
    }
    return {
      id: sha256Hex(meta),
      meta,
      shards: new Map(cache.bytes),
      shardHashes: [...cache.hashes],
      files,
      empty: rows === 0,
    };
  }

  /** Whether the stored view (the state before the batch) lists the package. */
  #listedBefore(ecosystem: string, key: string): boolean {
    return (
      this.#state
        .sql("SELECT 1 FROM index_rows WHERE ecosystem = ? AND key = ?")
        .get(ecosystem, key) !== undefined
    );
  }

  /** How many packages of the ecosystem the stored view lists (read once a batch). */
  #storedViewRows(ecosystem: string): number {
    let rows = this.#viewRowCounts.get(ecosystem);
    if (rows === undefined) {
      const row = this.#state
        .sql("SELECT count(*) AS n FROM index_rows WHERE ecosystem = ?")
        .get(ecosystem) as { n: number };
      rows = row.n;
      this.#viewRowCounts.set(ecosystem, rows);
    }
    return rows;
  }

  /** A view shard's rows as the batch leaves them: stored rows, then every package the batch changed in it. */
  #viewRows(rules: Ecosystem, cache: ViewCache, shard: number) {
    let rows = cache.rows.get(shard);
    if (rows) return rows;
    const [lo, hi] = shardRange(shard, cache.count);
    const stored = this.#state
      .sql(
        "SELECT key, name, sha256 FROM index_rows WHERE ecosystem = ? AND prefix >= ? AND prefix < ?",
      )
      .all(rules.id, lo, hi) as { key: string; name: string; sha256: string }[];
    rows = new Map(stored.map((r) => [r.key, { key: r.key, name: r.name, file: r.sha256 }]));
    for (const { after } of this.#touched.values()) {
      if (after.ecosystem !== rules.id) continue;
      const key = rules.keyName(after.name);
      const prefix = keyPrefix(key);
      if (prefix < lo || prefix >= hi) continue;
      const file = this.#indexFile(after, rules);
      if (file) rows.set(key, file.row);
      else rows.delete(key);
    }
    cache.rows.set(shard, rows);
    return rows;
  }

  /** A shard's rows as the batch leaves them: stored rows, then every package the batch changed in it. */
  #shardRows(cache: ShardCache, shard: number): Map<string, string> {
    let rows = cache.rows.get(shard);
    if (rows) return rows;
    const [lo, hi] = shardRange(shard, cache.count);
    const stored = this.#state
      .sql("SELECT key, sha256 FROM documents WHERE prefix >= ? AND prefix < ?")
      .all(lo, hi) as { key: string; sha256: string }[];
    rows = new Map(stored.map((r) => [r.key, r.sha256]));
    for (const { after } of this.#touched.values()) {
      const { key, prefix, sha256 } = this.#document(after);
      if (prefix >= lo && prefix < hi) rows.set(key, sha256);
    }
    cache.rows.set(shard, rows);
    return rows;
  }

  /** How many packages the state holds after the batch. */
  #packageCount(): number {
    let added = 0;
    for (const { before } of this.#touched.values()) if (before === undefined) added++;
    return Number(this.#state.meta("packages") ?? 0) + added;
  }

  /**
   * Writes the batch in one transaction; `alongside` writes more in the same
   * transaction, told each changed package's document before and after,
   * by snapshot key. Returns the snapshot keys (`npm/left-pad`) of the
   * packages it changed.
   */
  commit(alongside?: (changes: ReadonlyMap<string, Touched>) => void): Set<string> {
    if (this.#committed) throw new Error("the batch is already committed");
    this.#committed = true;
    const state = this.#state;
    const sql = state.sql;
    const setMeta = (key: string, value: string) =>
      sql(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ).run(key, value);
    const storedCount = Number(state.meta("shard_count") ?? 0);
    const shardCount = this.#snapshot?.shards ?? storedCount;
    // Keep the stored shard hashes those of the documents as committed.
    const built =
      shardCount > 0 && (this.#touched.size > 0 || shardCount !== storedCount)
        ? this.snapshot(shardCount)
        : undefined;
    state.db.exec("BEGIN IMMEDIATE");
    try {
      for (const { before, after } of this.#touched.values()) {
        this.#writeDocument(before, after);
        writeTakedowns(sql, rowName(state.ecosystems, after), before, after);
        const { key, prefix, sha256 } = this.#document(after);
        sql(
          "INSERT INTO documents (key, prefix, sha256) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET sha256 = excluded.sha256",
        ).run(key, prefix, sha256);
        // Either order within the batch gives the same ranks: a document put
        // reads its current count of dependents, and a count that changes
        // after is folded into the dependency's document.
        const { search } = state.table(after.ecosystem);
        const rowKey = rowName(state.ecosystems, after);
        const rules = rulesOf(state.ecosystems, after.ecosystem);
        const found = searchDocumentOf(after, dependentCount(sql, after.ecosystem, rowKey), rules);
        if (found) search.put(found, rowKey);
        else search.remove(rowKey);
        writeCurrentVersion(sql, after.ecosystem, rowKey, rules.current(after));
        for (const dependency of updateDependents(sql, rules, before, after))
          setSearchDependents(search, dependency, dependentCount(sql, after.ecosystem, dependency));
        if (rules.nativeIndex) this.#writeIndexRow(rules, after);
      }
      if (built) {
        if (built.shards.size === built.shardCount) sql("DELETE FROM shard_hashes").run();
        for (const shard of built.shards.keys())
          sql(
            "INSERT INTO shard_hashes (shard, sha256) VALUES (?, ?) ON CONFLICT (shard) DO UPDATE SET sha256 = excluded.sha256",
          ).run(shard, built.shardHashes[shard]);
        for (const [ecosystem, view] of built.indexes) {
          if (view.shards.size === view.shardHashes.length)
            sql("DELETE FROM index_shard_hashes WHERE ecosystem = ?").run(ecosystem);
          setMeta(`index_shards:${ecosystem}`, String(view.shardHashes.length));
          // Only non-empty shards are stored: a missing one is empty.
          for (const shard of view.shards.keys()) {
            const hash = view.shardHashes[shard];
            if (hash === EMPTY_SHARD_HASH)
              sql("DELETE FROM index_shard_hashes WHERE ecosystem = ? AND shard = ?").run(
                ecosystem,
                shard,
              );
            else
              sql(
                "INSERT INTO index_shard_hashes (ecosystem, shard, sha256) VALUES (?, ?, ?) ON CONFLICT (ecosystem, shard) DO UPDATE SET sha256 = excluded.sha256",
              ).run(ecosystem, shard, hash);
          }
        }
        setMeta("shard_count", String(shardCount));
        setMeta("packages", String(built.packages));
      } else if (this.#touched.size > 0) {
        setMeta("packages", String(this.#packageCount()));
      }
      if (this.#snapshot) setMeta("snapshot", JSON.stringify(this.#snapshot));
      if (this.#database) setMeta("database", JSON.stringify(this.#database));
      if (this.#popularity) setMeta("popularity", JSON.stringify(this.#popularity));
      if (this.#keys) setMeta("key_chain", JSON.stringify(this.#keys));
      if (this.#registryKeys) setMeta("registry_keys", JSON.stringify(this.#registryKeys));
      if (this.#voidSince !== undefined) setMeta("void_since", String(this.#voidSince));
      else sql("DELETE FROM meta WHERE key = 'void_since'").run();
      setMeta("log_size", String(this.#size));
      alongside?.(this.#touched);
      state.db.exec("COMMIT");
    } catch (err) {
      state.db.exec("ROLLBACK");
      throw err;
    }
    return new Set(this.#touched.keys());
  }

  /** Stores a package's row in its ecosystem's index view, or removes it when it has no index file. */
  #writeIndexRow(rules: Ecosystem, doc: PackageDocument): void {
    const file = this.#indexFile(doc, rules);
    const key = rules.keyName(doc.name);
    if (!file) {
      this.#state.sql("DELETE FROM index_rows WHERE ecosystem = ? AND key = ?").run(rules.id, key);
      return;
    }
    this.#state
      .sql(
        `INSERT INTO index_rows (ecosystem, key, prefix, name, sha256) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (ecosystem, key) DO UPDATE SET name = excluded.name, sha256 = excluded.sha256`,
      )
      .run(rules.id, key, file.prefix, file.row.name, file.row.file);
  }

  /** Stores a document as rows, writing only the versions that changed. */
  #writeDocument(before: PackageDocument | undefined, after: PackageDocument): void {
    const sql = this.#state.sql;
    const { ecosystem } = after;
    const name = rowName(this.#state.ecosystems, after);
    sql(
      `INSERT INTO packages (ecosystem, name, spelling, created, modified, updated, unpublished)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (ecosystem, name) DO UPDATE SET modified = excluded.modified,
         updated = excluded.updated, unpublished = excluded.unpublished`,
    ).run(
      ecosystem,
      name,
      after.name === name ? null : after.name,
      after.created,
      after.modified,
      after.updated,
      after.unpublished ?? null,
    );
    for (const [version, doc] of Object.entries(after.versions)) {
      if (before?.versions[version] === doc) continue;
      // An imported version's entry changes when its artifact is bound, or its upstream corrects it.
      const entry = versionEntryOf(after, version, doc);
      sql(
        `INSERT INTO versions
           (ecosystem, name, version, log_index, time, entry, deprecated, unpublished, yanked)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (ecosystem, name, version) DO UPDATE SET log_index = excluded.log_index,
           time = excluded.time, entry = excluded.entry, deprecated = excluded.deprecated,
           unpublished = excluded.unpublished, yanked = excluded.yanked`,
      ).run(
        ecosystem,
        name,
        version,
        doc.index,
        publishedAt(entry),
        versionColumn(entry, doc),
        doc.deprecated ?? null,
        doc.unpublished ?? null,
        yankedOf(doc),
      );
    }
    if (before?.distTags !== after.distTags) {
      sql("DELETE FROM dist_tags WHERE ecosystem = ? AND name = ?").run(ecosystem, name);
      for (const [tag, version] of Object.entries(after.distTags))
        sql("INSERT INTO dist_tags (ecosystem, name, tag, version) VALUES (?, ?, ?, ?)").run(
          ecosystem,
          name,
          tag,
          version,
        );
    }
    if (before?.owners !== after.owners) {
      sql("DELETE FROM owners WHERE ecosystem = ? AND name = ?").run(ecosystem, name);
      for (const user of after.owners)
        sql("INSERT INTO owners (ecosystem, name, user) VALUES (?, ?, ?)").run(
          ecosystem,
          name,
          user,
        );
    }
  }
}
