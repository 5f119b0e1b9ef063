/**
 * The origin's write path and derived state, without HTTP: the log, the blob
 * store, the SQLite state and the sequencer that joins them.
 *
 * On open, the state catches up with the log (entries a crash left
 * unapplied are replayed from the entry bundles), so the log stays the
 * source of truth. A publish stores its blobs first (content-addressed,
 * harmless if orphaned), then goes through the sequencer, which checks it
 * against the state and the rest of its batch, appends, applies, and only
 * then answers.
 *
 * It is also the PackageReader the npm read API serves from: manifests and
 * tarballs come back checked against the entries that name them.
 */
import { createHash, randomBytes } from "node:crypto";
import { rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import { recordOrphans } from "../gc/orphans.ts";
import { Appender, DirectorySource, FsLogStorage } from "../log/index.ts";
import { storeUnixfsNodes, tarballDag, withUnixfsRoot } from "../registry/artifact-dag.ts";
import type { JsonValue } from "../registry/canonical-json.ts";
import { compressDatabaseFile } from "../registry/database-file.ts";
import { encodeEntryWith, rulesOf } from "../registry/ecosystem.ts";
import {
  type ArtifactEntry,
  type BlobRef,
  type DatabaseEntry,
  type Entry,
  encodeEntry,
  isPackageEntry,
  type KeyEntry,
  type OwnerEntry,
  type PackageEntry,
  type PopularityEntry,
  type PublishEntry,
  type TakedownEntry,
  uplinkOfActor,
} from "../registry/entries.ts";
import { foldEntry, type PackageDocument } from "../registry/package-document.ts";
import { replayInto } from "../registry/replay.ts";
import { MAX_SHARDS } from "../registry/snapshot.ts";
import { DATABASE_SCHEMA, packageKey, RegistryState, rowName } from "../registry/state.ts";
import { type StateBatch, snapshotBlobs, snapshotEntry } from "../registry/state-batch.ts";
import {
  filesOfVersion,
  recordVersionFiles,
  takedownsOf,
  withheldBlobsOf,
  withheldFileHashes,
  withheldHashes,
  withholdingOf,
} from "../registry/withheld.ts";
import { BlobStore } from "../store/blobs.ts";
import { CodedError } from "../util/coded-error.ts";
import { sha256Hex } from "../util/sha256.ts";
import { siblingModule } from "../util/sibling-module.ts";
import { dataPaths } from "./data-paths.ts";
import type { OriginKey } from "./keys.ts";
import { writeKeysFile } from "./keys-file.ts";
import type { PopularityWindow } from "./popularity.ts";
import { SignatureQueue } from "./registry-signatures.ts";
import type { RegistrySigner } from "./registry-signer.ts";
import { type SequencedEntry, Sequencer } from "./sequencer.ts";
import { WithheldFiles } from "./withheld-files.ts";

export interface PublishedDatabase {
  readonly index: number;
  readonly entry: DatabaseEntry;
}

export interface PublishedPopularity {
  readonly index: number;
  readonly entry: PopularityEntry;
}

/** Runs copyCoreTables in a worker thread; resolves with the log size the copy reflects. */
function exportDatabase(statePath: string, outPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(siblingModule(import.meta.url, "database-export-worker"), {
      workerData: { statePath, outPath },
    });
    worker.once("message", (size: number) => resolve(size));
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the database export stopped with code ${code}`));
    });
  });
}

export type RegistryErrorCode = "forbidden" | "conflict" | "not-found" | "invalid" | "purged";

/** A change an owner asks for on an existing package. */
export type PackageChange =
  | { readonly kind: "deprecate"; readonly version: string; readonly message: string }
  | { readonly kind: "unpublish"; readonly version: string }
  | { readonly kind: "yank"; readonly version: string; readonly yanked: boolean }
  | { readonly kind: "owner"; readonly user: string; readonly action: "add" | "rm" };

export class RegistryError extends CodedError<RegistryErrorCode> {
  override name = "RegistryError";
}

export interface RegistryOptions {
  readonly dataDir: string;
  readonly key: OriginKey;
  readonly durable: boolean;
  readonly maxBatch?: number;
  /** Discard the derived database and rebuild it from the log alone. */
  readonly rebuild?: boolean;
  /** Shards of the snapshot map; by default enough that a shard lists about 512 packages. */
  readonly snapshotShards?: number;
  /** The npm registry key: every version the origin binds is signed in the batch that binds it. */
  readonly registrySigner?: RegistrySigner;
  /** Adds witnesses' cosignatures to each new checkpoint (AppenderOptions.cosign). */
  readonly cosign?: (checkpoint: Uint8Array) => Promise<Uint8Array>;
}

/** A takedown or restore to record, by a moderator or an uplink. */
export interface TakedownRequest {
  readonly kind: "takedown" | "restore";
  readonly actor: string;
  readonly ecosystem: string;
  readonly name: string;
  /** Absent: the whole package. */
  readonly version?: string;
  readonly reason: string;
  /** A takedown: delete the bytes rather than keep them aside for a restore. */
  readonly purge?: boolean;
  /** A restore of a version whose bytes were purged: the bytes to put back, checked against its entry. */
  readonly bytes?: RestoredBytes;
}

/**
 * The bytes of a purged version, offered by whoever still holds them: its
 * tarball, and its manifest and file index (and files) when those were
 * purged too. Each must be the blob the version's entry names.
 */
export interface RestoredBytes {
  readonly tarball?: Uint8Array;
  readonly manifest?: Uint8Array;
  readonly files?: VersionFiles;
}

/** Packages per shard the automatic shard count aims at (a shard of tens of KB). */
const PACKAGES_PER_SHARD = 512;

/** The smallest power of two that keeps shards at about PACKAGES_PER_SHARD packages. */
export function autoShardCount(packages: number): number {
  let count = 1;
  while (count < MAX_SHARDS && packages > count * PACKAGES_PER_SHARD) count *= 2;
  return count;
}

/**
 * A version's file index and the files it lists, as the ecosystem's frontend
 * computes them from the artifact: stored as blobs beside the
 * tarball, and the index named by the entry's `files`.
 */
export interface VersionFiles {
  /** The index's canonical bytes. */
  readonly index: Uint8Array;
  /** Each listed file's raw bytes (stored by their SHA-256; repeats are stored once). */
  readonly contents: readonly Uint8Array[];
}

/**
 * A version to publish, as an ecosystem's frontend (src/npm, src/cargo)
 * projects it from what its client sent: the registry stores the bytes and
 * appends the entry, checked by that ecosystem's rules.
 */
export interface PublishRequest {
  readonly actor: string;
  /** The ecosystem's id ("npm", "cargo"). */
  readonly ecosystem: string;
  readonly name: string;
  readonly version: string;
  /** The dist-tag to point at this version, if the ecosystem has them. */
  readonly tag?: string;
  /** The artifact's bytes: an npm tarball, a `.crate`. */
  readonly artifact: Uint8Array;
  /** The artifact's sha256 (hex) if the caller hashed it already, as a publish body is decoded. */
  readonly sha256?: string;
  /** The ecosystem's own hashes of the artifact beside its SHA-256 (npm's SHA-512 and SHA-1). */
  readonly artifactHashes?: { readonly sha512?: string; readonly sha1?: string };
  /** The version's metadata as stored, the entry's `manifest` blob. */
  readonly metadata: Uint8Array;
  /** What resolving needs, in the ecosystem's shape. */
  readonly resolution: Record<string, JsonValue>;
  readonly description?: string;
  readonly keywords?: readonly string[];
  /** false: the package opted out of LAN sharing. */
  readonly share?: false;
  /** The version's file index and files; without them the entry names no `files`. */
  readonly files?: VersionFiles;
}

export class Registry {
  readonly appender: Appender;
  readonly blobs: BlobStore;
  readonly state: RegistryState;
  readonly #storage: FsLogStorage;
  readonly #sequencer: Sequencer<Entry>;
  readonly #shardCount: number | undefined;
  readonly #dataDir: string;
  readonly #durable: boolean;
  #publishingDatabase: Promise<PublishedDatabase | undefined> | undefined;
  /** The batch the sequencer is filling: each accepted entry is folded in before it is appended. */
  #staged: StateBatch | undefined;
  /** The batch appended and awaiting its commit to the state. */
  #appended: StateBatch | undefined;
  /** Blobs that entries waiting to be sequenced name, still being written. */
  readonly #namedBlobs = new Set<Promise<unknown>>();
  readonly #durableListeners: ((entries: readonly Entry[]) => void)[] = [];
  /** The bytes of taken-down versions, out of the served tree. */
  readonly withheldFiles: WithheldFiles;
  readonly #signatures: SignatureQueue | undefined;

  private constructor(
    storage: FsLogStorage,
    appender: Appender,
    blobs: BlobStore,
    state: RegistryState,
    options: RegistryOptions,
  ) {
    this.#storage = storage;
    this.appender = appender;
    this.blobs = blobs;
    this.state = state;
    this.#shardCount = options.snapshotShards;
    this.#dataDir = options.dataDir;
    this.#durable = options.durable !== false;
    const paths = dataPaths(options.dataDir);
    this.withheldFiles = new WithheldFiles(paths.tree, paths.withheld);
    this.#signatures = options.registrySigner && new SignatureQueue(options.registrySigner);
    this.#sequencer = new Sequencer<Entry>(
      {
        checker: () => {
          const pending = new PendingChanges();
          const batch = this.state.begin(this.appender.size);
          this.#staged = batch;
          this.#signatures?.clear();
          return {
            check: (entry) => this.#check(entry, pending),
            // Folding is the last check: an entry whose fold throws is refused alone,
            // and one that folds is known to apply before it is appended.
            accept: (entry) => {
              batch.add(entry);
              pending.add(entry);
              this.#signatures?.add(entry);
            },
          };
        },
        encode: (entry) => encodeEntryWith(entry, ECOSYSTEMS),
        append: (encoded) => this.#append(this.#staged as StateBatch, encoded),
        apply: (sequenced) => {
          const batch = this.#appended;
          this.#appended = undefined;
          batch?.commit();
          const entries = sequenced.map((s) => s.value);
          for (const listener of this.#durableListeners) listener(entries);
        },
      },
      { maxBatch: options.maxBatch ?? 1024 },
    );
  }

  /**
   * Appends a batch whose entries are folded into `batch` already and,
   * after it, the `snapshot` entry committing to the state it leaves: the
   * snapshot's blobs (documents, changed shards, root) are stored first, so
   * the checkpoint never names a missing file.
   */
  async #append(batch: StateBatch, encoded: readonly Uint8Array[]) {
    // Signed in the batch that binds them, so an acknowledged version is already signed.
    const signatures = this.#signatures?.entries(batch.registryKeys?.entry, batch.size) ?? [];
    for (const signature of signatures) batch.add(signature);
    const signed = signatures.map((signature) => encodeEntryWith(signature, ECOSYSTEMS));
    const shards = this.#shardCount ?? autoShardCount(Number(this.state.meta("packages") ?? 0));
    const built = batch.snapshot(shards);
    // Written beside the tiles and bundle, in one round of fsyncs; the checkpoint waits for
    // them, and for the blobs entries submitted so far name.
    const blobs = Promise.all([this.blobs.putMany(snapshotBlobs(built)), ...this.#namedBlobs]);
    blobs.catch(() => {});
    const snapshot = snapshotEntry(built, batch.size, {
      database: batch.latestDatabase,
      popularity: batch.latestPopularity,
      keys: batch.registryKeys?.index,
    });
    batch.add(snapshot);
    const appended = await this.appender.append(
      [...encoded, ...signed, encodeEntry(snapshot)],
      blobs,
    );
    this.#appended = batch;
    return appended;
  }

  /** Ends the log with a snapshot entry if it does not (a log written before snapshots existed). */
  async #closeWithSnapshot(): Promise<void> {
    const size = this.appender.size;
    if (size === 0 || this.state.snapshot?.index === size - 1) return;
    await this.#append(this.state.begin(size), []);
    this.#appended?.commit();
    this.#appended = undefined;
  }

  static async open(options: RegistryOptions): Promise<Registry> {
    const treeDir = join(options.dataDir, "tree");
    const storage = await FsLogStorage.open(treeDir, { durable: options.durable });
    try {
      const { key } = options;
      const appender = await Appender.open(storage, {
        origin: key.origin,
        signer: key.signer,
        verifier: key.verifier,
        cosigners: key.cosigners,
        cosign: options.cosign,
      });
      const blobs = await BlobStore.open(treeDir, { durable: options.durable });
      const statePath = join(options.dataDir, "state.sqlite");
      // Only now, holding the log's lock, is it safe to drop the database of a registry that might be running.
      if (options.rebuild) {
        for (const suffix of ["", "-wal", "-shm"])
          await rm(`${statePath}${suffix}`, { force: true });
      }
      const state = RegistryState.open(statePath, { ecosystems: ECOSYSTEMS });
      await replayInto(state, new DirectorySource(treeDir), appender.size);
      const registry = new Registry(storage, appender, blobs, state, options);
      await registry.#closeWithSnapshot();
      await writeKeysFile(treeDir, state.keyChain, options.durable !== false);
      await registry.#reconcileWithheld();
      await registry.#signEverything();
      return registry;
    } catch (err) {
      await storage.close();
      throw err;
    }
  }

  /**
   * Puts the signer's key in the log's key set (expiring the one it
   * replaces) and signs every version it has not signed: a registry started
   * on a log from before signatures, or after `cairn sign --rotate`.
   */
  async #signEverything(): Promise<void> {
    if (!this.#signatures) return;
    const { keys, signatures } = this.#signatures.backlog(this.state, this.appender.size);
    if (keys) await this.#sequencer.submit(keys);
    await Promise.all(signatures.map((entry) => this.#sequencer.submit(entry)));
  }

  async close(): Promise<void> {
    await this.#publishingDatabase;
    await this.#sequencer.close();
    this.state.close();
    await this.#storage.close();
  }

  /**
   * Calls `listener` with each batch's entries once they are durable and
   * applied to the state, before their writers hear back: it runs inside
   * the sequencer, so it may only queue work.
   */
  onDurable(listener: (entries: readonly Entry[]) => void): void {
    this.#durableListeners.push(listener);
  }

  /**
   * Sequences an entry built elsewhere (a bulk import whose blobs are
   * stored, or not needed); it is checked like any other write.
   */
  submit(entry: PackageEntry): Promise<SequencedEntry<Entry>> {
    this.#check(entry, NO_CHANGES);
    return this.#sequencer.submit(entry);
  }

  /**
   * Publishes the state as a SQLite snapshot: copies it (off the main
   * thread, in one read transaction), compresses it, stores it as a blob
   * and appends a `database` entry naming it. Skipped when the newest one
   * is already current. Concurrent callers share one run.
   */
  publishDatabase(): Promise<PublishedDatabase | undefined> {
    this.#publishingDatabase ??= this.#publishDatabase().finally(() => {
      this.#publishingDatabase = undefined;
    });
    return this.#publishingDatabase;
  }

  async #publishDatabase(): Promise<PublishedDatabase | undefined> {
    const newest = this.state.database;
    // Nothing but that database entry and its snapshot were appended since.
    if (newest !== undefined && newest.index === this.appender.size - 2) return undefined;
    const tmp = join(this.#dataDir, `.database-${randomBytes(6).toString("hex")}.sqlite`);
    try {
      const size = await exportDatabase(join(this.#dataDir, "state.sqlite"), tmp);
      const rawSize = (await stat(tmp)).size;
      const compressed = this.blobs.tempPath();
      const written = await compressDatabaseFile(tmp, compressed).catch(async (err) => {
        await rm(compressed, { force: true });
        throw err;
      });
      const blob = await this.blobs.putFile(compressed, written);
      const entry: DatabaseEntry = {
        v: 1,
        kind: "database",
        time: new Date().toISOString(),
        size,
        blob,
        rawSize,
        schema: DATABASE_SCHEMA,
      };
      const { index } = await this.#sequencer.submit(entry);
      return { index, entry };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Appends a `key` entry carrying a rotation note, and publishes the chain's `keys` file. */
  async appendKeyEntry(sequence: number, note: string): Promise<number> {
    const entry: KeyEntry = {
      v: 1,
      kind: "key",
      time: new Date().toISOString(),
      size: this.appender.size,
      sequence,
      note,
    };
    const { index } = await this.#sequencer.submit(entry);
    await writeKeysFile(join(this.#dataDir, "tree"), this.state.keyChain, this.#durable);
    return index;
  }

  /**
   * Stores a window's popularity sketch and appends the `popularity` entry
   * naming it, describing the log as it is now.
   */
  async publishPopularity(window: PopularityWindow): Promise<PublishedPopularity> {
    const sketch = await this.blobs.put(window.sketch.encode());
    const entry: PopularityEntry = {
      v: 1,
      kind: "popularity",
      time: new Date().toISOString(),
      size: this.appender.size,
      window: { from: window.from, to: window.to },
      sketch: { sha256: sketch.sha256, size: sketch.size },
      depth: window.sketch.depth,
      width: window.sketch.width,
      total: window.sketch.total,
      threshold: window.threshold,
    };
    const { index } = await this.#sequencer.submit(entry);
    return { index, entry };
  }

  /**
   * Checks the publish entry (its exact schema, its size), then stores the
   * tarball and manifest, then sequences the entry: a publish refused
   * before storing leaves no blob behind; one the sequencer refuses lists
   * what it stored in the orphan journal, for garbage collection.
   */
  async publish(req: PublishRequest): Promise<SequencedEntry<Entry>> {
    this.#checkPublish(req.actor, req.ecosystem, req.name, req.version, NO_CHANGES);
    // Hashed here only if the caller did not hash it as it read it.
    const artifact = { sha256: req.sha256 ?? sha256Hex(req.artifact), size: req.artifact.length };
    const manifestBlob = { sha256: sha256Hex(req.metadata), size: req.metadata.length };
    const files = req.files && { sha256: sha256Hex(req.files.index), size: req.files.index.length };
    const dag = await tarballDag(req.artifact);
    const entry: PublishEntry = {
      v: 1,
      kind: "publish",
      ecosystem: req.ecosystem,
      name: req.name,
      version: req.version,
      ...(req.tag ? { tag: req.tag } : {}),
      time: new Date().toISOString(),
      actor: req.actor,
      artifact: withUnixfsRoot({ ...artifact, ...req.artifactHashes }, dag),
      manifest: manifestBlob,
      ...(files ? { files } : {}),
      resolution: req.resolution,
      ...(req.description !== undefined ? { description: req.description } : {}),
      ...(req.keywords !== undefined ? { keywords: req.keywords } : {}),
      ...(req.share === false ? { share: false } : {}),
    };
    encodeEntryWith(entry, ECOSYSTEMS);
    // Only a publish whose entry is valid stores anything; the tarball is written with its hash known.
    const path = this.blobs.tempPath();
    await writeFile(path, req.artifact).catch(async (err: unknown) => {
      await rm(path, { force: true });
      throw err;
    });
    try {
      await this.blobs.putFile(path, artifact);
      await this.blobs.put(req.metadata);
      await storeUnixfsNodes(dag, this.blobs);
      if (req.files) await this.storeVersionFiles(req.files);
      const sequenced = await this.#sequencer.submit(entry);
      if (req.files) this.recordVersionFiles(entry, req.files);
      return sequenced;
    } catch (err) {
      // What it stored stays unnamed (unless another entry names the same bytes): garbage collection's to judge.
      const stored = [artifact, manifestBlob, ...(files ? [files] : [])];
      await recordOrphans(
        this.#dataDir,
        stored.map((blob) => blob.sha256),
      );
      throw err;
    }
  }

  /** Adds a version's files to the reverse index a takedown reads (src/registry/withheld.ts). */
  recordVersionFiles(
    version: { readonly ecosystem: string; readonly name: string; readonly version: string },
    files: VersionFiles,
  ): void {
    const hashes = files.contents.map((bytes) => sha256Hex(bytes));
    const rowKey = rowName(ECOSYSTEMS, version);
    recordVersionFiles(this.state.sql, version.ecosystem, rowKey, version.version, hashes);
  }

  /**
   * Stores a version's files and then its index, whose ref it returns. The
   * files come from a tarball stored durably already: not synced, so no
   * fsync per file. The index last: one held means every file it lists was written.
   */
  async storeVersionFiles(files: VersionFiles): Promise<BlobRef> {
    await this.blobs.putMany(files.contents, { derived: true });
    await this.blobs.put(files.index);
    return { sha256: sha256Hex(files.index), size: files.index.length };
  }

  /** Sets (or with `version` null, removes) a dist-tag; only owners may. The frontend checks the tag name (npm: src/npm/rules/dist-tag-name.ts). */
  setDistTag(
    actor: string,
    ecosystem: string,
    name: string,
    tag: string,
    version: string | null,
  ): Promise<SequencedEntry<Entry>> {
    const entry: Entry = { ...this.#base(actor, ecosystem, name), kind: "dist-tag", tag, version };
    this.#check(entry, NO_CHANGES);
    encodeEntryWith(entry, ECOSYSTEMS);
    return this.#sequencer.submit(entry);
  }

  /**
   * Records changes an owner asks for (deprecations, unpublishes, owner
   * changes) as log entries; resolves once all are durable.
   */
  async change(
    actor: string,
    ecosystem: string,
    name: string,
    changes: readonly PackageChange[],
  ): Promise<void> {
    // Also when nothing changes: a no-op write by a non-owner is refused, not acknowledged.
    this.#checkOwner(actor, ecosystem, name);
    const entries: Entry[] = changes.map((c) => ({ ...this.#base(actor, ecosystem, name), ...c }));
    // Each change is checked after the ones before it: [add bob, rm alice] hands a package over.
    const pending = new PendingChanges();
    for (const entry of entries) {
      this.#check(entry, pending);
      encodeEntryWith(entry, ECOSYSTEMS);
      pending.add(entry);
    }
    await Promise.all(entries.map((e) => this.#sequencer.submit(e)));
  }

  /** Unpublishes a whole package; its name@versions stay taken forever. */
  /**
   * Appends what an uplink says about one package (imports, then the
   * deprecations, tag moves and removals that follow from them), after
   * storing the imported versions' manifests. Each entry is checked against
   * the state as the entries before it leave it; all are submitted at once,
   * so they share a batch up to its size. Resolves once all are durable.
   */
  async importFromUplink(entries: readonly PackageEntry[], manifests: readonly Uint8Array[]) {
    const pending = new PendingChanges();
    for (const entry of entries) {
      this.#checkUplinkEntry(entry, pending);
      pending.add(entry);
    }
    // Written while the entries wait for their batch; the batch's checkpoint waits for them.
    const written = this.blobs.putMany(manifests);
    this.#namedBlobs.add(written);
    const settled = written.then(
      () => this.#namedBlobs.delete(written),
      () => this.#namedBlobs.delete(written),
    );
    try {
      const sequenced = await Promise.all(entries.map((e) => this.#sequencer.submit(e)));
      // An upstream withdrawal (or its return) moves bytes out of the served tree (or back).
      if (entries.some((e) => e.kind === "takedown" || e.kind === "restore"))
        await this.#reconcileWithheld();
      return sequenced;
    } catch (err) {
      await recordOrphans(this.#dataDir, manifests.map(sha256Hex));
      throw err;
    } finally {
      await settled;
    }
  }

  /**
   * Stores an imported version's tarball, the file at `path`, whose bytes
   * the caller has checked against the imported integrity and hashed; then
   * `bindArtifact` appends the `artifact` entry naming it.
   */
  async storeArtifact(entry: ArtifactEntry, path: string): Promise<void> {
    this.#checkUplinkEntry(entry, NO_CHANGES);
    await this.blobs.putFile(path, entry.artifact);
  }

  bindArtifact(entry: ArtifactEntry): Promise<SequencedEntry<Entry>> {
    this.#checkUplinkEntry(entry, NO_CHANGES);
    return this.#sequencer.submit(entry);
  }

  /** An uplink may change only packages it imported, and never one published here. */
  #checkUplinkEntry(entry: PackageEntry, pending: PendingChanges): void {
    const uplink = uplinkOfActor(entry.actor);
    if (uplink === undefined)
      throw new RegistryError("forbidden", `${entry.actor} is not an uplink`);
    const source = this.state.table(entry.ecosystem).source(rowName(ECOSYSTEMS, entry));
    const owner = source === undefined ? pending.importedFrom(entry) : source.uplink;
    const local = source !== undefined && source.uplink === undefined;
    if (local || pending.firstPublisher(entry) !== undefined)
      throw new RegistryError(
        "conflict",
        `${entry.name} is published here; no uplink may change it`,
      );
    if (owner !== uplink && (entry.kind !== "import" || owner !== undefined))
      throw new RegistryError("forbidden", `${entry.name} was not imported from uplink ${uplink}`);
  }

  /**
   * Appends a takedown or restore and, once it is durable, moves the
   * version's bytes out of the served tree (or back). Until they move, the
   * withheld set in the state already answers 451 for them; a crash in
   * between is finished by `reconcile` at the next open. A restore of bytes
   * that were purged is refused before anything is appended.
   */
  async takedown(request: TakedownRequest): Promise<SequencedEntry<Entry>> {
    const { kind, actor, ecosystem, name, reason } = request;
    const entry: TakedownEntry = {
      ...this.#base(actor, ecosystem, name),
      kind,
      ...(request.version !== undefined ? { version: request.version } : {}),
      reason,
    };
    encodeEntryWith(entry, ECOSYSTEMS);
    this.#check(entry, NO_CHANGES);
    const before = this.state.table(ecosystem).document(rowName(ECOSYSTEMS, entry));
    // Which blobs change side: computed against the document before and after the fold.
    const after =
      before && foldEntry(before, entry, this.appender.size, rulesOf(ECOSYSTEMS, ecosystem));
    const moved = before && after ? withheldBlobsOf(before, after) : { withheld: [], released: [] };
    const purged = await this.withheldFiles.missing(moved.released);
    // Put back before the entry: until it is durable the state still answers 451 for them.
    const putBack = purged.length > 0 ? await this.#putBackPurged(request, before, purged) : [];
    const sequenced = await this.#sequencer.submit(entry).catch(async (err: unknown) => {
      await this.withheldFiles.withhold(putBack, false);
      throw err;
    });
    // The state may have moved on since: take its word for what is withheld now.
    const still = new Set(withheldHashes(this.state.sql));
    const rowKey = rowName(ECOSYSTEMS, entry);
    const files = Object.keys(after?.versions ?? {})
      .filter((v) => request.version === undefined || v === request.version)
      .flatMap((v) => filesOfVersion(this.state.sql, ecosystem, rowKey, v));
    const isWithheld = (hex: string) => withholdingOf(this.state.sql, hex) !== undefined;
    await this.withheldFiles.withhold(
      [...moved.withheld.filter((hex) => still.has(hex)), ...files.filter(isWithheld)],
      request.purge === true,
    );
    await this.withheldFiles.release([
      ...moved.released.filter((hex) => !still.has(hex)),
      ...files.filter((hex) => !isWithheld(hex)),
    ]);
    return sequenced;
  }

  /**
   * Checks the bytes a restore offers for the purged blobs of one version
   * against its entry (sha256 and size, sha512, the UnixFS root) and stores
   * them; refuses, having stored nothing, unless every purged blob is
   * among them. Returns the hashes stored.
   */
  async #putBackPurged(
    request: TakedownRequest,
    doc: PackageDocument | undefined,
    purged: readonly string[],
  ): Promise<string[]> {
    const what = `${request.name}${request.version ? `@${request.version}` : ""}`;
    const version = request.version === undefined ? undefined : doc?.versions[request.version];
    const bytes = request.bytes ?? {};
    const mismatch = (part: string) =>
      new RegistryError("invalid", `the ${part} given is not the one the log names for ${what}`);
    const named = (given: Uint8Array | undefined, ref: BlobRef | undefined, part: string) => {
      if (given === undefined) return false;
      if (ref === undefined || given.length !== ref.size || sha256Hex(given) !== ref.sha256)
        throw mismatch(part);
      return true;
    };
    const { tarball, manifest, files } = bytes;
    const artifact = version?.artifact;
    const dag = tarball && (await tarballDag(tarball));
    if (named(tarball, artifact, "tarball") && tarball && artifact) {
      const sha512 = createHash("sha512").update(tarball).digest("base64");
      if (artifact.sha512 !== undefined && artifact.sha512 !== sha512) throw mismatch("tarball");
      if (artifact.unixfs !== undefined && artifact.unixfs !== dag?.root)
        throw mismatch("tarball's UnixFS root");
    }
    named(manifest, version?.manifest, "manifest");
    named(files?.index, version?.files, "file index");
    const offered = new Set(
      [tarball, manifest, files?.index].flatMap((b) => (b ? [sha256Hex(b)] : [])),
    );
    const lacking = purged.filter((hex) => !offered.has(hex));
    if (version === undefined || lacking.length > 0)
      throw new RegistryError(
        "purged",
        `the bytes of ${what} were purged (${lacking.length} blobs not given): give its tarball` +
          `${version?.files ? ", file index" : ""} and manifest to restore them`,
      );
    if (tarball && artifact && purged.includes(artifact.sha256)) {
      const path = this.blobs.tempPath();
      await writeFile(path, tarball);
      await this.blobs.putFile(path, { sha256: artifact.sha256, size: artifact.size });
      await storeUnixfsNodes(dag, this.blobs);
    }
    if (manifest && purged.includes(sha256Hex(manifest))) await this.blobs.put(manifest);
    if (files && purged.includes(sha256Hex(files.index))) await this.storeVersionFiles(files);
    return [...offered].filter((hex) => purged.includes(hex));
  }

  async unpublishPackage(actor: string, ecosystem: string, name: string): Promise<void> {
    const entry: Entry = { ...this.#base(actor, ecosystem, name), kind: "unpublish" };
    this.#check(entry, NO_CHANGES);
    await this.#sequencer.submit(entry);
  }

  /** Moves files to match the withheld set: after a crash, or after entries that change it. */
  async #reconcileWithheld(): Promise<void> {
    const withheld = new Set([
      ...withheldHashes(this.state.sql),
      ...withheldFileHashes(this.state.sql),
    ]);
    await this.withheldFiles.reconcile((hex) => withheld.has(hex), withheld);
  }

  #checkModeration(entry: TakedownEntry): void {
    const doc = this.state.table(entry.ecosystem).document(rowName(ECOSYSTEMS, entry));
    if (doc === undefined) throw new RegistryError("not-found", `${entry.name} is not published`);
    if (entry.version !== undefined && !Object.hasOwn(doc.versions, entry.version))
      throw new RegistryError("not-found", `${entry.name}@${entry.version} is not published`);
    try {
      foldEntry(doc, entry, this.appender.size, rulesOf(ECOSYSTEMS, entry.ecosystem));
    } catch (err) {
      throw new RegistryError("conflict", (err as Error).message, { cause: err });
    }
  }

  #base(actor: string, ecosystem: string, name: string) {
    return { v: 1, ecosystem, name, time: new Date().toISOString(), actor } as const;
  }

  #check(entry: Entry, pending: PendingChanges): void {
    // The origin's own signatures: their fold checks them.
    if (!isPackageEntry(entry) || entry.kind === "signature") return;
    if (uplinkOfActor(entry.actor) !== undefined) {
      this.#checkUplinkEntry(entry, pending);
      return;
    }
    if (entry.kind === "publish") {
      this.#checkPublish(entry.actor, entry.ecosystem, entry.name, entry.version, pending);
      return;
    }
    // Moderators are checked by whoever asks (the API, the admin command); the fold says whether it applies.
    if (entry.kind === "takedown" || entry.kind === "restore") {
      this.#checkModeration(entry);
      return;
    }
    const { ecosystem, name } = entry;
    this.#checkOwner(entry.actor, ecosystem, name);
    // Owners as they will be once the entries accepted earlier in this batch apply.
    const owners = new Set(this.state.table(ecosystem).owners(rowName(ECOSYSTEMS, entry)));
    for (const e of pending.ownerChanges(entry)) {
      if (e.action === "add") owners.add(e.user);
      else owners.delete(e.user);
    }
    switch (entry.kind) {
      case "deprecate":
      case "unpublish":
      case "yank":
        if (entry.version !== undefined && !this.#live(ecosystem, name, entry.version)) {
          throw new RegistryError("not-found", `${entry.name}@${entry.version} is not published`);
        }
        return;
      case "owner":
        if (entry.action === "add" && owners.has(entry.user)) {
          throw new RegistryError("conflict", `${entry.user} already owns ${entry.name}`);
        }
        if (entry.action === "rm" && !owners.has(entry.user)) {
          throw new RegistryError("not-found", `${entry.user} does not own ${entry.name}`);
        }
        if (entry.action === "rm" && owners.size === 1) {
          throw new RegistryError("invalid", `${entry.user} is the last owner of ${entry.name}`);
        }
        return;
    }
    if (entry.kind === "dist-tag") {
      if (entry.version === null && entry.tag === "latest") {
        throw new RegistryError("invalid", "the latest tag cannot be removed, only moved");
      }
      if (entry.version !== null && !this.#live(ecosystem, name, entry.version)) {
        throw new RegistryError("not-found", `${entry.name}@${entry.version} is not published`);
      }
    }
  }

  #live(ecosystem: string, name: string, version: string): boolean {
    const row = this.state
      .table(ecosystem)
      .version(rowName(ECOSYSTEMS, { ecosystem, name }), version);
    return row !== undefined && row.unpublished === null;
  }

  /** Throws "not-found" for a package that is not live, "forbidden" unless `actor` owns it. */
  assertOwner(actor: string, ecosystem: string, name: string): void {
    this.#checkOwner(actor, ecosystem, name);
  }

  #checkOwner(actor: string, ecosystem: string, name: string): void {
    const table = this.state.table(ecosystem);
    const key = rowName(ECOSYSTEMS, { ecosystem, name });
    const pkg = table.getPackage(key);
    if (!pkg || pkg.unpublished !== null)
      throw new RegistryError("not-found", `package ${name} not found`);
    if (!table.owners(key).includes(actor)) {
      throw new RegistryError("forbidden", `${actor} is not an owner of ${name}`);
    }
  }

  /**
   * Throws what `publish` would for `actor` publishing `name@version` as the
   * state stands: for a frontend to refuse before it does costly work.
   */
  assertMayPublish(actor: string, ecosystem: string, name: string, version: string): void {
    this.#checkPublish(actor, ecosystem, name, version, NO_CHANGES);
  }

  #checkPublish(
    actor: string,
    ecosystem: string,
    name: string,
    version: string,
    pending: PendingChanges,
  ): void {
    const table = this.state.table(ecosystem);
    const ref = { ecosystem, name };
    const key = rowName(ECOSYSTEMS, ref);
    const uplink = table.source(key)?.uplink ?? pending.importedFrom(ref);
    if (uplink !== undefined)
      throw new RegistryError(
        "conflict",
        `${name} is imported from uplink ${uplink}: publish under another name or a local scope`,
      );
    const down = takedownsOf(this.state.sql, ecosystem, key).get("");
    if (down)
      throw new RegistryError(
        "forbidden",
        `${name} was taken down: ${down.reason} (log entry ${down.index}); nothing may be published under it`,
      );
    const owners = table.owners(key);
    const pendingOwner = pending.firstPublisher(ref);
    const effectiveOwners = owners.length > 0 ? owners : pendingOwner ? [pendingOwner] : [];
    if (effectiveOwners.length > 0 && !effectiveOwners.includes(actor)) {
      throw new RegistryError(
        "forbidden",
        `${actor} may not publish ${name}: its owners are ${effectiveOwners.join(", ")}`,
      );
    }
    const taken = table.hasVersion(key, version) || pending.isPublished(ref, version);
    if (taken) {
      throw new RegistryError(
        "conflict",
        `${name}@${version} was already published; a version can never be published again`,
      );
    }
  }
}

/** A package of some ecosystem, as an entry names it. */
interface PackageRef {
  readonly ecosystem: string;
  readonly name: string;
}

/**
 * What the entries accepted so far in a batch will change, indexed (by
 * document key) for the checks of the entries after them (a scan of the
 * batch per check would be quadratic in the batch size).
 */
class PendingChanges {
  readonly #firstPublisher = new Map<string, string>();
  readonly #published = new Map<string, Set<string>>();
  readonly #ownerChanges = new Map<string, OwnerEntry[]>();
  readonly #importedFrom = new Map<string, string>();

  add(entry: Entry): void {
    if (!isPackageEntry(entry)) return;
    const key = packageKey(ECOSYSTEMS, entry);
    if (entry.kind === "import" && !this.#importedFrom.has(key))
      this.#importedFrom.set(key, entry.uplink);
    if (entry.kind === "publish") {
      if (!this.#firstPublisher.has(key)) this.#firstPublisher.set(key, entry.actor);
      const versions = this.#published.get(key) ?? new Set();
      versions.add(entry.version);
      this.#published.set(key, versions);
    } else if (entry.kind === "owner") {
      this.#ownerChanges.set(key, [...this.ownerChanges(entry), entry]);
    }
  }

  /** The uplink a package not yet in the state is imported from in this batch. */
  importedFrom(ref: PackageRef): string | undefined {
    return this.#importedFrom.get(packageKey(ECOSYSTEMS, ref));
  }

  /** Who published the package first in this batch: its owner, if the state has none. */
  firstPublisher(ref: PackageRef): string | undefined {
    return this.#firstPublisher.get(packageKey(ECOSYSTEMS, ref));
  }

  isPublished(ref: PackageRef, version: string): boolean {
    return this.#published.get(packageKey(ECOSYSTEMS, ref))?.has(version) ?? false;
  }

  ownerChanges(ref: PackageRef): readonly OwnerEntry[] {
    return this.#ownerChanges.get(packageKey(ECOSYSTEMS, ref)) ?? [];
  }
}

/** The checks of a write outside any batch: against the state alone. */
const NO_CHANGES = new PendingChanges();
