/**
 * The pull-through cache: packages routed to an uplink are imported on
 * first request, refreshed in the background once older than the uplink's
 * max age, and their tarballs fetched on first request. Everything taken
 * from an uplink goes through the registry's log (see import-plan.ts for
 * what the entries say), so the origin serves imported packages from its
 * own state and blobs like local ones, and so does every mirror and proxy.
 *
 * A warm read never waits on an upstream: only a package never seen (or a
 * tarball never fetched) does. Concurrent requests for one package or one
 * tarball share one upstream exchange. When a refresh fails, the package
 * goes on being served from the log, marked stale until a refresh succeeds.
 */
import { rm } from "node:fs/promises";
import { LRUCache } from "lru-cache";
import pLimit from "p-limit";
import validateName from "validate-npm-package-name";
import { type DependencyRoot, registryDependencies } from "../npm/rules/dependencies.ts";
import type { Registry, VersionFiles } from "../origin/registry.ts";
import { storeUnixfsNodes, tarballDag, withUnixfsRoot } from "../registry/artifact-dag.ts";
import { BlobError } from "../registry/blob-check.ts";
import {
  type Artifact,
  type ArtifactEntry,
  type ImportedVersion,
  type PackageEntry,
  uplinkActor,
  type VersionEntry,
} from "../registry/entries.ts";
import type { PackageDocument } from "../registry/package-document.ts";
import type { PackageReader } from "../registry/package-reader.ts";
import { SingleFlight } from "../util/single-flight.ts";
import { type CachedPackument, fetchPackument, fetchTarball } from "./fetcher.ts";
import { isObject, planImport, planRemoval } from "./import-plan.ts";
import { MissingNames } from "./missing-names.ts";
import type { UplinkRoutes, UplinkSource } from "./routes.ts";
import { UpstreamError } from "./upstream-error.ts";

function sameClaim(a: ImportedVersion, b: ImportedVersion): boolean {
  return a.integrity.sha512 === b.integrity.sha512 && a.integrity.sha1 === b.integrity.sha1;
}

/** Where the importer reports what it skipped or could not refresh. */
export interface ImportLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** What the importer knows of an imported package's last exchange with its uplink (kept in memory). */
interface Freshness {
  /** When the uplink last answered for it (ms since the epoch). */
  readonly checkedAt: number;
  readonly validators?: CachedPackument;
  /** The last refresh failed: since when, and how. */
  readonly failure?: { readonly since: number; readonly code: string };
  /** Since when the uplink has answered 404 for it (a removal needs two such answers a max age apart). */
  readonly missingSince?: number;
}

export interface ImporterOptions {
  readonly log?: ImportLog;
  /** Milliseconds since the epoch; injectable so tests can age packuments without waiting. */
  readonly now?: () => number;
  /** Names the uplinks said they lack, remembered across restarts (in memory only without it). */
  readonly missing?: MissingNames;
  /**
   * A bound tarball's file index and files, by npm's rules (the npm layer's:
   * this one has no unpacker). With it, each `artifact` entry names its
   * version's files, so upgrades of imported packages fetch only what changed.
   */
  readonly versionFiles?: (tarball: Uint8Array, entry: ArtifactEntry) => Promise<VersionFiles>;
}

/** Packuments fetched at once: each may be large, and is held and parsed whole. */
const PACKUMENT_FETCHES = 32;
/** Packages read ahead at once: fewer than a client asks for, so its own requests go first. */
const READ_AHEAD_FETCHES = 4;
/** Names waiting to be read ahead, at most: past that, a deep tree waits for its clients. */
const MAX_READ_AHEAD = 10_000;
/** Imported packages whose exchange with the uplink is remembered. */
const MAX_FRESHNESS = 100_000;

export class UplinkImporter {
  readonly #registry: Registry;
  readonly #routes: UplinkRoutes;
  readonly #log: ImportLog | undefined;
  readonly #now: () => number;
  readonly #versionFiles: ImporterOptions["versionFiles"];
  readonly #freshness = new LRUCache<string, Freshness>({ max: MAX_FRESHNESS });
  readonly #missing: MissingNames;
  readonly #fetching = pLimit(PACKUMENT_FETCHES);
  /** Tarballs of `latest` fetched ahead of any request: a trickle, not to crowd what clients wait for. */
  readonly #prefetching = pLimit(2);
  /** Dependencies imported ahead of any request (see #readAhead), at most READ_AHEAD_FETCHES at once. */
  readonly #readAheadLimit = pLimit(READ_AHEAD_FETCHES);
  /** Names queued or being read ahead. */
  readonly #readingAhead = new Set<string>();
  readonly #packages = new SingleFlight<string, void>();
  readonly #tarballs = new SingleFlight<string, VersionEntry>();
  readonly #background = new Set<Promise<unknown>>();
  /** Tarballs stored and served whose `artifact` entries are being appended. */
  readonly #binding = new Map<
    string,
    { readonly artifact: Artifact; readonly done: Promise<void> }
  >();
  #closed = false;

  private constructor(
    registry: Registry,
    routes: UplinkRoutes,
    options: ImporterOptions,
    missing: MissingNames,
  ) {
    this.#registry = registry;
    this.#routes = routes;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#missing = missing;
    this.#versionFiles = options.versionFiles;
  }

  /** An importer; `missingFile` keeps the names uplinks lack across restarts. */
  static async open(
    registry: Registry,
    routes: UplinkRoutes,
    options: ImporterOptions & { readonly missingFile?: string } = {},
  ): Promise<UplinkImporter> {
    return new UplinkImporter(
      registry,
      routes,
      options,
      await MissingNames.open(options.missingFile),
    );
  }

  get routes(): UplinkRoutes {
    return this.#routes;
  }

  /**
   * Makes a package that routes to an uplink available: imports it if it
   * was never seen (waiting for the upstream), else starts a background
   * refresh if it is older than the uplink's max age. A package published
   * here is never looked up.
   */
  async ensure(name: string): Promise<void> {
    // Not a name npm could ever have had: no upstream is asked for it.
    if (!validateName(name).validForOldPackages) return;
    const { source, uplink } = this.#uplinkOf(name);
    if (!uplink) return;
    const now = this.#now();
    if (source !== undefined) {
      const known = this.#freshness.get(name);
      if (!known || now - known.checkedAt >= uplink.maxAgeMs)
        this.#inBackground(this.#packages.run(name, () => this.#refresh(name, uplink, false)));
      return;
    }
    const missingAt = this.#missing.since(name);
    if (missingAt !== undefined && now - missingAt < uplink.maxAgeMs) return;
    const refresh = this.#packages.run(name, () => this.#refresh(name, uplink, false, true));
    // Known to be missing: while the upstream is away, that answer stands (a 404, as before).
    if (missingAt !== undefined) await refresh.catch(() => undefined);
    // Never seen: the client waits for the upstream.
    else await refresh;
  }

  /**
   * Imports or refreshes a package now (following, tests); resolves when
   * its entries are durable. `corrections`: the upstream may change the
   * hashes it claims for versions whose tarballs were never fetched (only
   * after a tarball failed to match, so an upstream cannot churn the log).
   */
  refresh(name: string, corrections = false): Promise<void> {
    const { uplink } = this.#uplinkOf(name);
    if (!uplink) return Promise.resolve();
    return this.#packages.run(name, () => this.#refresh(name, uplink, corrections));
  }

  /**
   * Where a package comes from: the uplink it was imported from, else the
   * one its name routes to; none for a package published here.
   */
  #uplinkOf(name: string): { source?: { uplink?: string }; uplink?: UplinkSource } {
    const source = this.#registry.state.table("npm").source(name);
    if (source === undefined) return { uplink: this.#routes.route(name) };
    return {
      source,
      uplink: source.uplink === undefined ? undefined : this.#routes.uplink(source.uplink),
    };
  }

  /** Why a package's data may be out of date, for a response header; undefined when fresh. */
  staleness(name: string): string | undefined {
    const failure = this.#freshness.get(name)?.failure;
    if (!failure) return undefined;
    const uplink = this.#registry.state.table("npm").source(name)?.uplink ?? "";
    return `uplink ${uplink} ${failure.code} since ${new Date(failure.since).toISOString()}`;
  }

  /** `readAhead`: a first import reads the dependencies of its latest version ahead. */
  async #refresh(
    name: string,
    uplink: UplinkSource,
    corrections: boolean,
    readAhead = false,
  ): Promise<void> {
    const known = this.#freshness.get(name);
    const started = this.#now();
    const time = new Date(started).toISOString();
    try {
      const imported = this.#registry.state.table("npm").source(name) !== undefined;
      const result = await this.#fetching(() =>
        fetchPackument(uplink, name, imported ? known?.validators : undefined),
      ).catch((err: unknown) => {
        if (err instanceof UpstreamError && err.code === "not-found") return undefined;
        throw err;
      });
      if (this.#closed) return;
      // Read after the fetch: a tarball bound meanwhile is part of what the plan starts from.
      const doc = this.#registry.state.table("npm").document(name);
      if (result === undefined) {
        await this.#notFound(name, uplink, doc, known, started);
        return;
      }
      if (result.kind === "fresh") {
        if (!isObject(result.packument.versions))
          throw new UpstreamError(
            uplink,
            "bad-response",
            `the packument of ${name} has no versions`,
          );
        const plan = planImport(name, result.packument, doc, uplink.name, time, { corrections });
        for (const { version, reason } of plan.skipped)
          this.#log?.warn({ uplink: uplink.name, name, version }, `not imported: ${reason}`);
        if (plan.entries.length > 0)
          await this.#apply(uplink, name, plan.entries, plan.manifests, readAhead && !imported);
        // Nothing importable under a name never seen: answered like a missing one.
        if (this.#registry.state.table("npm").source(name) === undefined)
          this.#missing.set(name, started);
        else this.#missing.delete(name);
      }
      const validators =
        result.kind === "fresh"
          ? { etag: result.etag, lastModified: result.lastModified }
          : known?.validators;
      this.#freshness.set(name, { checkedAt: started, ...(validators ? { validators } : {}) });
    } catch (err) {
      // A package never seen is retried at its next request; a known one after its max age.
      if (this.#registry.state.table("npm").source(name) !== undefined) {
        const code = err instanceof UpstreamError ? err.code : "failed";
        this.#freshness.set(name, {
          ...known,
          checkedAt: started,
          failure: known?.failure ?? { since: started, code },
        });
        this.#log?.warn(
          { uplink: uplink.name, name, err: (err as Error).message },
          "refresh from uplink failed; serving the imported copy",
        );
      }
      throw err;
    }
  }

  /**
   * The uplink answered 404. For a name never imported, that is remembered.
   * An imported package is removed only when a second 404 comes at least a
   * max age after the first: one glitch (a CDN, a misrouted request) must
   * not withdraw a package from every copy. Meanwhile it is served stale.
   */
  async #notFound(
    name: string,
    uplink: UplinkSource,
    doc: PackageDocument | undefined,
    known: Freshness | undefined,
    started: number,
  ): Promise<void> {
    if (doc === undefined) {
      this.#missing.set(name, started);
      return;
    }
    const since = known?.missingSince ?? started;
    if (doc.unpublished !== undefined || started - since >= uplink.maxAgeMs) {
      const removal = planRemoval(doc, uplink.name, new Date(started).toISOString());
      if (removal.length > 0) await this.#apply(uplink, name, removal, []);
      this.#freshness.set(name, { checkedAt: started });
      return;
    }
    this.#freshness.set(name, {
      ...known,
      checkedAt: started,
      missingSince: since,
      failure: { since, code: "not-found" },
    });
  }

  /** Appends what the uplink changed, and says so in the origin's log; `readAhead`: see #readAhead. */
  async #apply(
    uplink: UplinkSource,
    name: string,
    entries: readonly PackageEntry[],
    manifests: readonly Uint8Array[],
    readAhead = false,
  ): Promise<void> {
    await this.#registry.importFromUplink(entries, manifests);
    const counts: Record<string, number> = {};
    for (const entry of entries) counts[entry.kind] = (counts[entry.kind] ?? 0) + 1;
    this.#log?.info({ uplink: uplink.name, name, entries: counts }, "imported from uplink");
    // The tarball `latest` names is fetched now, so that every copy can serve what it advertises.
    const latest = this.#registry.state.table("npm").distTags(name).latest;
    const entry =
      latest === undefined
        ? undefined
        : this.#registry.state.table("npm").version(name, latest)?.entry;
    if (entry?.kind === "import" && !entry.artifact)
      this.#inBackground(this.#prefetching(() => this.fetchArtifact(entry)));
    if (readAhead && entry?.kind === "import")
      this.#readAhead(registryDependencies(entry.resolution));
  }

  /**
   * Queues an import of each dependency never seen, in the background: a
   * client that installs a package asks for its dependencies next, and by
   * then they are imported (or on their way), so it does not wait for an
   * import at each level of its tree. Each import read ahead reads its own
   * dependencies ahead, so a request walks the closure of latest versions.
   */
  #readAhead(dependencies: readonly DependencyRoot[]): void {
    for (const { name } of dependencies) {
      if (this.#closed || this.#readingAhead.size >= MAX_READ_AHEAD) return;
      if (this.#readingAhead.has(name) || !validateName(name).validForOldPackages) continue;
      const { source, uplink } = this.#uplinkOf(name);
      if (!uplink?.readAhead || source !== undefined || this.#missing.since(name) !== undefined)
        continue;
      this.#readingAhead.add(name);
      const work = this.#readAheadLimit(async () => {
        // A client may have asked for it meanwhile: then this joins (or follows) its import.
        if (this.#closed || this.#registry.state.table("npm").source(name) !== undefined) return;
        await this.#packages.run(name, () => this.#refresh(name, uplink, false, true));
      });
      this.#inBackground(work.finally(() => this.#readingAhead.delete(name)));
    }
  }

  /**
   * Fetches an imported version's tarball from its uplink, checks it
   * against the imported integrity, stores it and appends the `artifact`
   * entry; resolves with the version's entry, its artifact bound.
   */
  fetchArtifact(entry: ImportedVersion): Promise<VersionEntry> {
    if (entry.artifact) return Promise.resolve(entry);
    return this.#tarballs.run(`${entry.name}@${entry.version}`, async () => {
      try {
        return await this.#bind(entry);
      } catch (err) {
        if (!(err instanceof UpstreamError && err.code === "integrity-mismatch")) throw err;
        // The packument may have been wrong rather than the tarball: if the upstream now
        // claims other hashes, the refresh imports them and the tarball is tried against them.
        await this.refresh(entry.name, true);
        const now = this.#registry.state.table("npm").version(entry.name, entry.version)?.entry;
        if (now?.kind !== "import" || sameClaim(now, entry)) throw err;
        return this.#bind(now);
      }
    });
  }

  async #bind(entry: ImportedVersion): Promise<VersionEntry> {
    const current = this.#registry.state.table("npm").version(entry.name, entry.version)?.entry;
    if (current?.artifact) return current;
    const key = `${entry.name}@${entry.version}`;
    const stored = this.#binding.get(key);
    if (stored) return { ...entry, artifact: stored.artifact };
    const uplink = this.#routes.uplink(entry.uplink);
    if (!uplink)
      throw new UpstreamError(
        { name: entry.uplink, url: "" },
        "bad-response",
        `${entry.name}@${entry.version} came from an uplink that is no longer configured`,
      );
    const bytes = await this.#registry.blobs.get(entry.manifest.sha256);
    if (!bytes)
      throw new BlobError("missing", `the manifest of ${entry.name}@${entry.version} is missing`);
    const manifest = JSON.parse(new TextDecoder().decode(bytes)) as {
      dist?: { tarball?: unknown };
    };
    const url = manifest.dist?.tarball;
    if (typeof url !== "string")
      throw new UpstreamError(
        uplink,
        "bad-response",
        `${entry.name}@${entry.version} names no tarball`,
      );
    const path = this.#registry.blobs.tempPath();
    try {
      const digests = await fetchTarball(uplink, url, entry.integrity, path);
      const artifact: ArtifactEntry = {
        v: 1,
        kind: "artifact",
        ecosystem: "npm",
        name: entry.name,
        version: entry.version,
        time: new Date(this.#now()).toISOString(),
        actor: uplinkActor(uplink.name),
        artifact: digests,
      };
      await this.#registry.storeArtifact(artifact, path);
      // The bytes are stored and match the logged integrity, which is all a client checks: it
      // has them now, and the entry binding them for every copy is appended meanwhile.
      const done = this.#withDerived(artifact)
        .then((bound) => this.#registry.bindArtifact(bound))
        .then(
          () => undefined,
          (err: unknown) =>
            this.#log?.warn({ name: key, err: (err as Error).message }, "binding a tarball failed"),
        )
        .finally(() => this.#binding.delete(key));
      this.#binding.set(key, { artifact: digests, done });
      return { ...entry, artifact: digests };
    } finally {
      await rm(path, { force: true });
    }
  }

  /**
   * The entry naming what the origin derives from its tarball, once stored:
   * the UnixFS root of a tarball over one chunk (its nodes stored) and the
   * version's files; without them when they cannot be had (the entry binds
   * the tarball all the same). Made after the client has its bytes, so no
   * request waits for it.
   */
  async #withDerived(entry: ArtifactEntry): Promise<ArtifactEntry> {
    let tarball: Uint8Array | undefined;
    let bound = entry;
    try {
      tarball = await this.#registry.blobs.get(entry.artifact.sha256);
      if (!tarball) return entry;
      const dag = await tarballDag(tarball);
      await storeUnixfsNodes(dag, this.#registry.blobs);
      bound = { ...entry, artifact: withUnixfsRoot(entry.artifact, dag) };
    } catch (err) {
      const name = `${entry.name}@${entry.version}`;
      this.#log?.warn({ name, err: (err as Error).message }, "no UnixFS root for a tarball");
      if (!tarball) return entry;
    }
    return this.#withFiles(bound, tarball);
  }

  async #withFiles(entry: ArtifactEntry, tarball: Uint8Array): Promise<ArtifactEntry> {
    if (!this.#versionFiles) return entry;
    try {
      const made = await this.#versionFiles(tarball, entry);
      const files = await this.#registry.storeVersionFiles(made);
      this.#registry.recordVersionFiles(entry, made);
      return { ...entry, files };
    } catch (err) {
      const name = `${entry.name}@${entry.version}`;
      this.#log?.warn({ name, err: (err as Error).message }, "no file index for a tarball");
      return entry;
    }
  }

  /** A reader that imports on first request and fetches tarballs as they are asked for. */
  reader(base: PackageReader): PackageReader {
    return {
      ...base,
      revision: async (name) => {
        await this.ensure(name);
        return base.revision(name);
      },
      document: async (name) => {
        await this.ensure(name);
        return base.document(name);
      },
      version: async (name, version) => {
        await this.ensure(name);
        return base.version(name, version);
      },
      tarball: async (entry) =>
        base.tarball(
          entry.kind === "import" && !entry.artifact ? await this.fetchArtifact(entry) : entry,
        ),
      staleness: (name) => this.staleness(name),
    };
  }

  #inBackground(work: Promise<unknown>): void {
    const tracked = work.catch(() => undefined).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  /** Resolves once every tarball served so far is bound in the log. */
  async settled(): Promise<void> {
    while (this.#binding.size > 0)
      await Promise.all([...this.#binding.values()].map((b) => b.done));
  }

  /** Resolves once no background refresh is running and every tarball is bound (tests wait on it). */
  async idle(): Promise<void> {
    while (this.#background.size > 0 || this.#binding.size > 0) {
      await Promise.all(this.#background);
      await this.settled();
    }
  }

  /** Stops importing; background refreshes in flight finish without writing. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.settled();
    await this.#missing.flush();
    await Promise.all(this.#background);
  }
}
