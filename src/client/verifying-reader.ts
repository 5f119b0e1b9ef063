/**
 * The registry as a verifying proxy sees it, and the PackageReader behind
 * `cairn proxy`. Two ways to hold it:
 * - sparse (the default): each package's document is read through the
 *   snapshot the verified checkpoint commits to (SnapshotReader): the last
 *   entry's bundle, the root, one shard, the document. Nothing is read
 *   that no request asked for, so a proxy of a registry of millions of
 *   entries answers its first install in a few round trips.
 * - full: a RegistryState built from every log entry the LogClient
 *   verified, which also answers search.
 * Blobs come from whichever source has them, checked against the log (or
 * the hash that names them) before use, and kept in a content-addressed
 * cache.
 *
 * The state follows the origin's checkpoint: when a read finds the last
 * check older than `refreshMs`, the client fetches the checkpoint in the
 * background, proves it extends the held one, and applies the new entries;
 * the read is served from the verified state meanwhile, so a slow origin
 * never holds up an install. If the origin cannot be reached, reads go on
 * from the verified state until it is older than `maxStaleMs`; after that
 * they fail rather than serve a frozen view.
 *
 * In full mode, the manifests of new entries are fetched in the background
 * after each update (npm asks for full packuments, which hold every
 * version's manifest); otherwise blobs are fetched when asked for. A blob is
 * fetched once however many requests want it at the same time.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { LRUCache } from "lru-cache";
import pLimit from "p-limit";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import { registryDependencies } from "../npm/rules/dependencies.ts";
import { boundArtifact, verifyIntegrity } from "../registry/blob-check.ts";
import { rulesOf } from "../registry/ecosystem.ts";
import type { BlobRef, RegistryKeysEntry, VersionEntry } from "../registry/entries.ts";
import { type PackageDocument, versionEntryOf } from "../registry/package-document.ts";
import { type PackageReader, stateReads } from "../registry/package-reader.ts";
import type { SearchIndex } from "../registry/search.ts";
import { RegistryState, type VersionRow, versionRowOf } from "../registry/state.ts";
import { decodeLogEntries } from "../registry/void-entries.ts";
import { BlobStore } from "../store/blobs.ts";
import { replaceFile } from "../util/durable-file.ts";
import { CacheCap } from "./cache-cap.ts";
import { LogClient, type LogClientOptions } from "./log-client.ts";
import { type SnapshotHeadStore, SnapshotReader } from "./snapshot-reader.ts";

/** Past this many new versions in one update (a first sync of a big registry), manifests are fetched on demand only. */
const MAX_PREFETCH = 20_000;
const PREFETCH_CONCURRENCY = 8;
/** Packages read ahead at once (sparse mode). */
const READ_AHEAD_CONCURRENCY = 8;
/** Names read ahead per reader, at most: past that, reads wait for their requests. */
const MAX_READ_AHEAD = 100_000;
/** Versions of one package whose manifests are read ahead: the newest; older ones wait for a request. */
const MAX_MANIFESTS_AHEAD = 64;

export interface VerifyingReaderOptions extends Omit<LogClientOptions, "stateDir"> {
  /** Holds the stored checkpoint, the derived state and the blob cache. */
  readonly dataDir: string;
  /** Minimum milliseconds between checkpoint checks (default 5 s). */
  readonly refreshMs?: number;
  /** How long reads may go on from a state the origin could not confirm (default 1 h). */
  readonly maxStaleMs?: number;
  /** Replay the whole log into a local state (and answer search) instead of reading package by package. */
  readonly full?: boolean;
  /**
   * Sparse mode: when a package is read, read the packages its latest
   * version depends on in the background (and theirs in turn), since a
   * client asks for them next: `documents` only (an installer), or with
   * every live version's manifest too (a proxy serving npm's full
   * packuments). Off by default.
   */
  readonly readAhead?: "documents" | "manifests";
  /** The most bytes the blob cache holds; past it the least recently used blobs go (src/client/cache-cap.ts). */
  readonly cacheMaxBytes?: number;
  /** Keep verified tarballs in the blob cache (default true); an installer keeps them in its own store, and then none are looked for there. */
  readonly cacheTarballs?: boolean;
  /** Told of every verified document read (a sharing proxy learns what peers may be asked for). */
  readonly onDocument?: (doc: PackageDocument) => void;
  /** Told of every verified tarball read, from the cache or a source (a sharing proxy keeps it), before it is returned. */
  readonly onTarball?: (entry: VersionEntry, bytes: Uint8Array) => Promise<void>;
  /**
   * Read and write the blob cache synchronously: for a command that reads
   * hundreds of small documents in a row (an install); never for a server,
   * whose event loop would wait on every read.
   */
  readonly syncCacheReads?: boolean;
}

/** The snapshot entry last verified, in a file of the reader's own: `{"size":n,"entry":"<base64>"}`. */
function fileHeadStore(path: string): SnapshotHeadStore {
  return {
    load: async (size) => {
      const kept = JSON.parse(await readFile(path, "utf8")) as { size?: unknown; entry?: unknown };
      return kept.size === size && typeof kept.entry === "string"
        ? Buffer.from(kept.entry, "base64")
        : undefined;
    },
    save: (size, entry) =>
      replaceFile(
        path,
        Buffer.from(JSON.stringify({ size, entry: Buffer.from(entry).toString("base64") })),
        false,
      ),
  };
}

/** A blob to fetch: by the hash and size an entry names, or by a hash alone with a bound. */
type BlobRequest = { sha256: string; size: number } | { sha256: string; maxBytes: number };

export class VerifyingReader implements PackageReader {
  readonly client: LogClient;
  /** The replayed log, in full mode. */
  readonly state: RegistryState | undefined;
  /** Package by package through the snapshot, in sparse mode. */
  readonly snapshots: SnapshotReader | undefined;
  /** Package reads from whichever of the two this reader holds. */
  readonly #reads: Pick<
    PackageReader,
    "revision" | "document" | "version" | "search" | "registryKeys"
  >;
  readonly #cache: BlobStore;
  readonly #cap: CacheCap | undefined;
  readonly #options: VerifyingReaderOptions;
  #lastRefresh = 0;
  #lastSuccess = 0;
  #updating: Promise<void> | undefined;
  readonly #fetching = new Map<string, Promise<Uint8Array>>();
  /** Background work (cache writes, manifest prefetch) that close waits for. */
  readonly #background = new Set<Promise<unknown>>();
  readonly #readAheadLimit = pLimit(READ_AHEAD_CONCURRENCY);
  /** Manifests fetched ahead at once, over every package read ahead. */
  readonly #manifestLimit = pLimit(READ_AHEAD_CONCURRENCY);
  /** Names read, or queued to be read, ahead (the most recent ones: an old name may be read again). */
  readonly #readAhead = new LRUCache<string, true>({ max: MAX_READ_AHEAD });
  #closed = false;

  private constructor(
    options: VerifyingReaderOptions,
    client: LogClient,
    state: RegistryState | undefined,
    cache: BlobStore,
    cap: CacheCap | undefined,
  ) {
    this.#options = options;
    this.client = client;
    this.state = state;
    this.#cache = cache;
    this.#cap = cap;
    if (state) {
      this.#reads = stateReads(state);
      return;
    }
    const snapshots = new SnapshotReader(
      client,
      (sha256, maxBytes) => this.#blob({ sha256, maxBytes }),
      fileHeadStore(join(options.dataDir, "snapshot-head.json")),
    );
    this.snapshots = snapshots;
    this.#reads = {
      revision: (name) => snapshots.documentHash("npm", name),
      document: async (name) => {
        const doc = await snapshots.document("npm", name);
        if (doc && options.readAhead) this.#readAheadFrom(doc, options.readAhead);
        return doc;
      },
      version: async (name, version) => {
        const pkg = await snapshots.document("npm", name);
        const doc = pkg?.versions[version];
        return pkg && doc && versionRowOf(pkg, version, doc);
      },
      registryKeys: () => snapshots.registryKeys(),
    };
  }

  /** The verified blobs kept so far (tarballs, manifests), each re-checked on read. */
  get cache(): BlobStore {
    return this.#cache;
  }

  static async open(options: VerifyingReaderOptions): Promise<VerifyingReader> {
    const client = await LogClient.open({ ...options, stateDir: options.dataDir });
    const cacheDir = join(options.dataDir, "cache");
    const cache = await BlobStore.open(cacheDir, { durable: false });
    const cap =
      options.cacheMaxBytes === undefined
        ? undefined
        : await CacheCap.open(cache, cacheDir, options.cacheMaxBytes);
    if (!options.full) return new VerifyingReader(options, client, undefined, cache, cap);
    const state = RegistryState.open(join(options.dataDir, "state.sqlite"), {
      ecosystems: ECOSYSTEMS,
    });
    if (state.logSize > (client.checkpoint?.size ?? 0)) {
      state.close();
      throw new Error(
        `the proxy's state in ${options.dataDir} is ahead of its verified checkpoint: remove state.sqlite`,
      );
    }
    return new VerifyingReader(options, client, state, cache, cap);
  }

  /** Resolves once no background work (reading ahead, cache writes, prefetch) is left. */
  async idle(): Promise<void> {
    while (this.#background.size > 0) await Promise.all(this.#background);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#readAheadLimit.clearQueue();
    this.#manifestLimit.clearQueue();
    await this.#updating?.catch(() => undefined);
    await Promise.all(this.#background);
    this.state?.close();
  }

  revision(name: string): Promise<string | undefined> {
    return this.#reads.revision(name);
  }

  registryKeys(): Promise<RegistryKeysEntry | undefined> {
    return this.#reads.registryKeys();
  }

  async document(name: string): Promise<PackageDocument | undefined> {
    const doc = await this.#reads.document(name);
    if (doc) this.#options.onDocument?.(doc);
    return doc;
  }

  /**
   * A package of any ecosystem by name (in any spelling the ecosystem counts
   * as the same), verified as npm's are: through the snapshot, or from the
   * replayed state.
   */
  async documentOf(ecosystem: string, name: string): Promise<PackageDocument | undefined> {
    if (this.state)
      return this.state.table(ecosystem).document(rulesOf(ECOSYSTEMS, ecosystem).keyName(name));
    return this.snapshots?.document(ecosystem, name);
  }

  /** A token that changes whenever the package's document does (of any ecosystem); undefined if there is no such package. */
  async revisionOf(ecosystem: string, name: string): Promise<string | undefined> {
    const key = rulesOf(ECOSYSTEMS, ecosystem).keyName(name);
    if (!this.state) return this.snapshots?.documentHash(ecosystem, key);
    const pkg = this.state.table(ecosystem).getPackage(key);
    return pkg && String(pkg.updated);
  }

  /**
   * Reads ahead, a few at a time and each name once, the documents that
   * `dependencies` names for `doc`, and theirs in turn: for ecosystems whose
   * clients ask for a package's dependencies next (cargo). Only when the
   * reader reads ahead and reads through the snapshot; failures are left
   * for the request.
   */
  readAheadOf(
    ecosystem: string,
    doc: PackageDocument,
    dependencies: (doc: PackageDocument) => readonly string[],
  ): void {
    if (!this.#options.readAhead || this.state) return;
    const rules = rulesOf(ECOSYSTEMS, ecosystem);
    for (const name of dependencies(doc)) {
      const key = `${ecosystem}:${rules.keyName(name)}`;
      if (this.#closed || this.#readAhead.has(key)) continue;
      this.#readAhead.set(key, true);
      this.#track(
        this.#readAheadLimit(async () => {
          if (this.#closed) return;
          const dep = await this.documentOf(ecosystem, name);
          if (dep) this.readAheadOf(ecosystem, dep, dependencies);
        }).catch(() => undefined),
      );
    }
  }

  async version(name: string, version: string): Promise<VersionRow | undefined> {
    // The document read first, so the hook learns of it before the version's tarball is asked for.
    if (this.#options.onDocument) await this.document(name);
    return this.#reads.version(name, version);
  }

  get search(): SearchIndex | undefined {
    return this.#reads.search;
  }

  async beforeRead(): Promise<void> {
    // Before any success, or past the witness policy's maximum age (the held state may hide a
    // freeze), every read waits for a fresh checkpoint, however recent the last attempt: one
    // that failed must not let the next reads through. Concurrent reads share one update.
    if (this.#lastSuccess === 0 || !this.client.isFresh()) return this.update();
    if (Date.now() - this.#lastRefresh < (this.#options.refreshMs ?? 5000)) return;
    // Serve the verified state now; the update lands for the next reads.
    this.#track(this.update().catch((err: unknown) => process.emitWarning((err as Error).message)));
  }

  /**
   * Fetches and verifies the origin's checkpoint, then reads its snapshot
   * (sparse) or applies every new entry (full); shared by concurrent callers.
   */
  update(): Promise<void> {
    this.#updating ??= this.#update().finally(() => {
      this.#updating = undefined;
    });
    return this.#updating;
  }

  async #update(): Promise<void> {
    this.#lastRefresh = Date.now();
    try {
      // The first refresh waits for the mirror health check so reads start from healthy mirrors.
      const cp = await this.client.refresh({
        mirrorCheck: this.#lastSuccess === 0 ? "wait" : "background",
      });
      if (this.state) await this.#apply(this.state, cp.size);
      else await this.snapshots?.head();
      this.#lastSuccess = Date.now();
    } catch (err) {
      const staleFor = Date.now() - this.#lastSuccess;
      if (
        this.#lastSuccess === 0 ||
        staleFor > (this.#options.maxStaleMs ?? 3_600_000) ||
        !this.client.isFresh()
      )
        throw err;
      process.emitWarning(
        `serving the state verified ${Math.round(staleFor / 1000)} s ago: ${(err as Error).message}`,
      );
    }
  }

  async #apply(state: RegistryState, size: number): Promise<void> {
    const published: VersionEntry[] = [];
    for await (const { first, entries } of this.client.entries(state.logSize, size)) {
      const decoded = decodeLogEntries(first, entries);
      state.apply(first, decoded);
      for (const e of decoded) if (e.kind === "publish" || e.kind === "import") published.push(e);
    }
    this.#prefetchManifests(published);
  }

  async manifest(entry: VersionEntry): Promise<Uint8Array> {
    return this.#blob(entry.manifest);
  }

  async tarball(entry: VersionEntry): Promise<Uint8Array> {
    const artifact = boundArtifact(entry);
    const keep = this.#options.cacheTarballs !== false;
    // A reader that keeps no tarballs has none to look for (a miss costs an exception per tarball).
    const bytes = await this.#blob(artifact, (data) => verifyIntegrity(artifact, data), keep, keep);
    await this.#options.onTarball?.(entry, bytes);
    return bytes;
  }

  /** A blob the log names by hash and size (a version's file index, one of its files), checked; not cached. */
  blob(ref: BlobRef): Promise<Uint8Array> {
    return this.#blob(ref, undefined, false);
  }

  /** A file rebuilt from its per-file delta against a file the caller holds, checked against `target`. */
  blobFromDelta(
    base: { sha256: string; bytes: Uint8Array },
    target: BlobRef,
  ): Promise<{ data: Uint8Array; deltaBytes: number }> {
    return this.client.blobFromDelta(base, target);
  }

  /**
   * From the cache (which re-checks the SHA-256 on read), else from a
   * source, verified; one fetch per blob at a time, cached off the answer's path.
   */
  async #blob(
    ref: BlobRequest,
    check?: (data: Uint8Array) => void,
    keep = true,
    look = true,
  ): Promise<Uint8Array> {
    const cached = !look
      ? undefined
      : this.#options.syncCacheReads
        ? this.#cache.getSync(ref.sha256)
        : await this.#cache.get(ref.sha256);
    if (cached) {
      check?.(cached);
      this.#cap?.used(ref.sha256);
      return cached;
    }
    let fetching = this.#fetching.get(ref.sha256);
    if (!fetching) {
      const fetch =
        "size" in ref
          ? this.client.blob(ref, check)
          : this.client.blobByHash(ref.sha256, ref.maxBytes);
      fetching = fetch.finally(() => this.#fetching.delete(ref.sha256));
      this.#fetching.set(ref.sha256, fetching);
      const store = async (data: Uint8Array) => {
        const stored = this.#options.syncCacheReads
          ? await this.#cache.putMissedSync(data)
          : await this.#cache.put(data);
        await this.#cap?.stored(stored.sha256, stored.size);
      };
      if (keep) this.#track(fetching.then(store).catch(() => undefined));
    }
    return fetching;
  }

  /**
   * Reads the dependencies of `doc`'s latest version ahead (each name once),
   * a few at a time; each one read reads its own ahead, so a request warms
   * the closure of latest versions. Failures are left for the request.
   */
  #readAheadFrom(doc: PackageDocument, depth: "documents" | "manifests"): void {
    const latest = doc.distTags.latest;
    const version = latest === undefined ? undefined : doc.versions[latest];
    if (!version) return;
    for (const { name } of registryDependencies(version.resolution)) {
      if (this.#closed || this.#readAhead.has(name)) continue;
      this.#readAhead.set(name, true);
      this.#track(
        this.#readAheadLimit(async () => {
          if (this.#closed) return;
          const dep = await this.#reads.document(name);
          if (!dep || depth === "documents") return;
          const live = Object.entries(dep.versions).filter(([, v]) => v.unpublished === undefined);
          // Newest by log index: the versions an install most likely picks.
          live.sort(([, a], [, b]) => b.index - a.index);
          for (const [v, d] of live.slice(0, MAX_MANIFESTS_AHEAD))
            this.#track(
              this.#manifestLimit(() => this.manifest(versionEntryOf(dep, v, d))).catch(
                () => undefined,
              ),
            );
        }).catch(() => undefined),
      );
    }
  }

  /** Fetches manifests a few at a time, after the update that named them. */
  #prefetchManifests(entries: readonly VersionEntry[]): void {
    if (entries.length === 0 || entries.length > MAX_PREFETCH) return;
    const queue = [...entries];
    const worker = async () => {
      for (let e = queue.shift(); e; e = queue.shift())
        await this.manifest(e).catch(() => undefined);
    };
    this.#track(Promise.all(Array.from({ length: PREFETCH_CONCURRENCY }, worker)));
  }

  #track(work: Promise<unknown>): void {
    this.#background.add(work);
    work.finally(() => this.#background.delete(work));
  }
}
