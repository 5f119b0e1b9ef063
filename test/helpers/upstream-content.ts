/**
 * What the test upstream serves: every corpus package with its real
 * versions, plus for each an older version below its lowest (patch, else
 * minor, else major decremented; none below 0.0.0) and a prerelease above
 * its highest (`<major>.<minor>.<patch+1>-beta.0`, dist-tag `next`), both
 * repacked from a corpus tarball with only package.json's version changed.
 * `latest` is the highest corpus release. A few packages exist only here
 * (EXTRA_PACKAGES), among them one with a legacy capitalised name.
 *
 * Times are a pure function of the name and versions: `created` between
 * 2016 and 2019, each version one minute to 90 days after the one before in
 * semver order, `modified` at the last. A change made by a test is dated
 * now (and at least a second after the last, since Last-Modified counts
 * whole seconds).
 *
 * A package is built on first use (its packument asked for, or a tarball
 * that is not a corpus file, or a change) and kept; rendered packuments are
 * kept until the package changes.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import type { CorpusTarball } from "./corpus.ts";
import { ChangeFeed } from "./upstream-changes.ts";
import {
  digestsOf,
  flipByte,
  repackWithManifest,
  type TarballDigests,
  type UnpackedTarball,
  unpackTarball,
} from "./upstream-tarballs.ts";

type Json = Record<string, unknown>;

export interface ExtraPackage {
  readonly name: string;
  readonly versions: readonly string[];
  /** The corpus package whose (highest) tarball each version is repacked from. */
  readonly from: string;
}

/** Packages that exist only upstream, each repacked from a small corpus package without dependencies. */
export const EXTRA_PACKAGES: readonly ExtraPackage[] = [
  { name: "upstream-only", versions: ["1.0.0", "1.1.0", "2.0.0"], from: "abstract-logging" },
  { name: "@upstream/only", versions: ["1.0.0", "1.1.0"], from: "abstract-logging" },
  // npm no longer accepts capitals in new names, but installs the old ones (JSONStream).
  { name: "LegacyCaps", versions: ["1.0.0", "1.0.1"], from: "escape-html" },
];

const MAINTAINERS = [{ name: "upstream", email: "upstream@example.test" }];

/** The tarball's file name in its URL: `<name without scope>-<version>.tgz`. */
export function tarballFileName(name: string, version: string): string {
  return `${name.slice(name.indexOf("/") + 1)}-${version}.tgz`;
}

/** The file name `npm pack` gives the tarball (as CorpusTarball.file): the scope joined by a dash. */
export function packFileName(name: string, version: string): string {
  return `${name.replace(/^@/, "").replace("/", "-")}-${version}.tgz`;
}

export interface UpstreamVersion {
  readonly version: string;
  /** The tarball's package.json. */
  readonly manifest: Json;
  readonly digests: TarballDigests;
  readonly fileCount: number;
  readonly unpackedSize: number;
  readonly tarball: () => Promise<Buffer>;
  deprecated?: string;
}

interface PackageState {
  readonly versions: Map<string, UpstreamVersion>;
  readonly distTags: Record<string, string>;
  readonly time: Record<string, string>;
  unpublished?: { time: string; versions: string[] };
  /** Rendered packuments by variant, for the fault epoch they were made in. */
  rendered: Map<Variant, Rendered>;
}

export type Variant = "full" | "abbreviated";

export interface Rendered {
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified: string;
  readonly epoch: number;
}

interface CatalogEntry {
  readonly name: string;
  rev: number;
  /** The corpus tarballs of this name, by version (empty for packages that exist only here). */
  readonly corpus: ReadonlyMap<string, CorpusTarball>;
  readonly build: () => Promise<PackageState>;
  state?: Promise<PackageState>;
}

/** What rendering needs from the faults: which versions advertise other bytes' integrity. */
export interface Advertised {
  readonly epoch: number;
  hasWrongIntegrity(name: string, version: string): boolean;
}

const EPOCH = Date.UTC(2016, 0, 1);
const MINUTE = 60_000;
const DAY = 86_400_000;

/** Fields of a version in an abbreviated packument, beside `dist` and `deprecated`, as npm's registry keeps them. */
const ABBREVIATED_FIELDS = [
  "name",
  "version",
  "dependencies",
  "optionalDependencies",
  "devDependencies",
  "bundleDependencies",
  "bundledDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "acceptDependencies",
  "bin",
  "directories",
  "engines",
  "os",
  "cpu",
  "libc",
  "funding",
  "license",
  "_hasShrinkwrap",
];
/** Fields the registry copies from the latest version to the top of a full packument. */
const TOP_LEVEL_FIELDS = [
  "description",
  "homepage",
  "keywords",
  "repository",
  "author",
  "bugs",
  "license",
];
const INSTALL_SCRIPTS = ["preinstall", "install", "postinstall"];

function hashNumber(text: string): number {
  return createHash("sha256").update(text).digest().readUIntBE(0, 6);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** `time` for versions in ascending order: created, modified, then one per version. */
function initialTimes(name: string, versions: readonly string[]): Record<string, string> {
  let at = EPOCH + (hashNumber(name) % (3 * 365)) * DAY + (hashNumber(`${name}#`) % DAY);
  const created = at;
  const perVersion: Record<string, string> = {};
  for (const version of versions) {
    at += MINUTE + (hashNumber(`${name}@${version}`) % (90 * DAY));
    perVersion[version] = iso(at);
  }
  return { created: iso(created), modified: iso(at), ...perVersion };
}

/** A version below `lowest` (patch, else minor, else major decremented), or undefined below 0.0.0. */
export function olderVersion(lowest: string): string | undefined {
  const v = semver.parse(lowest);
  if (!v) return undefined;
  if (v.patch > 0) return `${v.major}.${v.minor}.${v.patch - 1}`;
  if (v.minor > 0) return `${v.major}.${v.minor - 1}.0`;
  if (v.major > 0) return `${v.major - 1}.0.0`;
  return undefined;
}

/** The prerelease above `highest`: `<major>.<minor>.<patch+1>-beta.0`. */
export function nextPrerelease(highest: string): string {
  const v = semver.parse(highest);
  if (!v) throw new Error(`not a version: ${highest}`);
  return `${v.major}.${v.minor}.${v.patch + 1}-beta.0`;
}

function highestRelease(versions: Iterable<string>): string | undefined {
  const all = [...versions].sort(semver.compare);
  return all.filter((v) => semver.prerelease(v) === null).at(-1) ?? all.at(-1);
}

function pick(source: Json, fields: readonly string[]): Json {
  const out: Json = {};
  for (const field of fields) if (source[field] !== undefined) out[field] = source[field];
  return out;
}

function hasInstallScript(manifest: Json): boolean {
  const scripts = manifest.scripts as Record<string, unknown> | undefined;
  return INSTALL_SCRIPTS.some((s) => typeof scripts?.[s] === "string");
}

function versionOf(
  version: string,
  bytes: Buffer,
  manifest: Json,
  unpacked: { fileCount: number; unpackedSize: number },
): UpstreamVersion {
  return {
    version,
    manifest,
    digests: digestsOf(bytes),
    fileCount: unpacked.fileCount,
    unpackedSize: unpacked.unpackedSize,
    tarball: async () => bytes,
  };
}

/** A version of `name` repacked from `source` with package.json's name and version changed. */
async function synthesize(
  name: string,
  version: string,
  source: UnpackedTarball,
): Promise<UpstreamVersion> {
  const manifest = { ...source.manifest, name, version };
  const { bytes, unpackedSize } = await repackWithManifest(source, manifest);
  return versionOf(version, bytes, manifest, { fileCount: source.fileCount, unpackedSize });
}

function newState(name: string, versions: UpstreamVersion[], distTags: Record<string, string>) {
  versions.sort((a, b) => semver.compare(a.version, b.version));
  return {
    versions: new Map(versions.map((v) => [v.version, v])),
    distTags,
    time: initialTimes(
      name,
      versions.map((v) => v.version),
    ),
    rendered: new Map(),
  } satisfies PackageState;
}

export class NotFound extends Error {}

export class UpstreamContent {
  readonly feed = new ChangeFeed();
  readonly #catalog = new Map<string, CatalogEntry>();
  readonly #corpusDir: string;
  readonly #corpusByName = new Map<string, CorpusTarball[]>();
  readonly #corpusBytes = new Map<string, Promise<Buffer>>();
  /** Where tarball links point, without the trailing slash. */
  readonly #baseUrl: string;

  constructor(corpus: readonly CorpusTarball[], corpusDir: string, baseUrl: string) {
    this.#corpusDir = corpusDir;
    this.#baseUrl = baseUrl.replace(/\/$/, "");
    for (const t of corpus) {
      const list = this.#corpusByName.get(t.name) ?? [];
      list.push(t);
      this.#corpusByName.set(t.name, list);
    }
    const entries: CatalogEntry[] = [];
    for (const [name, tarballs] of this.#corpusByName)
      entries.push({
        name,
        rev: 1,
        corpus: new Map(tarballs.map((t) => [t.version, t])),
        build: () => this.#buildCorpusPackage(name, tarballs),
      });
    for (const extra of EXTRA_PACKAGES) entries.push(this.#extraEntry(extra));
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) this.#register(entry);
  }

  get names(): string[] {
    return [...this.#catalog.keys()];
  }

  has(name: string): boolean {
    return this.#catalog.has(name);
  }

  /** Builds every package now rather than on first request. */
  async prepare(concurrency = 2): Promise<void> {
    const queue = [...this.#catalog.values()];
    const worker = async () => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) await this.#state(entry);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** The packument of `name` in the variant asked for, rendered once per change. */
  async packument(name: string, variant: Variant, advertised: Advertised): Promise<Rendered> {
    const entry = this.#entry(name);
    const state = await this.#state(entry);
    const cached = state.rendered.get(variant);
    if (cached && cached.epoch === advertised.epoch && !state.unpublished) return cached;
    const epoch = advertised.epoch;
    const wrong = await this.#wrongDigests(name, state, advertised);
    // From here on nothing awaits, so the document is one state of the package, never half a change.
    if (state.unpublished) throw new NotFound(name);
    const doc =
      variant === "full" ? this.#full(entry, state, wrong) : this.#abbreviated(name, state, wrong);
    const body = Buffer.from(JSON.stringify(doc));
    const rendered: Rendered = {
      body,
      etag: `"${createHash("sha1").update(body).digest("hex")}"`,
      lastModified: new Date(state.time.modified).toUTCString(),
      epoch,
    };
    state.rendered.set(variant, rendered);
    return rendered;
  }

  /** The honest bytes of `name@version`'s tarball; NotFound if the version is not (or no longer) served. */
  async tarball(name: string, version: string): Promise<Buffer> {
    const entry = this.#entry(name);
    // Until its package is built (by a packument request or a change), a corpus tarball is served as is.
    const corpus = entry.corpus.get(version);
    if (corpus && entry.state === undefined) return this.#readCorpus(corpus.file);
    const state = await this.#state(entry);
    const found = state.unpublished ? undefined : state.versions.get(version);
    if (!found) throw new NotFound(`${name}@${version}`);
    return found.tarball();
  }

  /** The version of `name` whose tarball URL ends in `file`, if the name could have it. */
  versionOfFile(name: string, file: string): string | undefined {
    const prefix = `${name.slice(name.indexOf("/") + 1)}-`;
    if (!file.startsWith(prefix) || !file.endsWith(".tgz")) return undefined;
    const version = file.slice(prefix.length, -4);
    return semver.valid(version) === version ? version : undefined;
  }

  async removeVersion(name: string, version: string): Promise<void> {
    const { entry, state } = await this.#live(name);
    if (!state.versions.delete(version)) throw new NotFound(`${name}@${version}`);
    delete state.time[version];
    const wasLatest = state.distTags.latest === version;
    for (const [tag, v] of Object.entries(state.distTags))
      if (v === version) delete state.distTags[tag];
    if (state.versions.size === 0) {
      const time = this.#changeTime(state);
      state.unpublished = { time, versions: [version] };
      state.time.unpublished = time;
      this.#changed(entry, state, time);
      return;
    }
    const latest = highestRelease(state.versions.keys());
    if (wasLatest && latest) state.distTags.latest = latest;
    this.#changed(entry, state);
  }

  async deprecate(name: string, version: string, message: string): Promise<void> {
    const { entry, state } = await this.#live(name);
    const found = state.versions.get(version);
    if (!found) throw new NotFound(`${name}@${version}`);
    if (message === "") delete found.deprecated;
    else found.deprecated = message;
    this.#changed(entry, state);
  }

  async setDistTag(name: string, tag: string, version: string): Promise<void> {
    const { entry, state } = await this.#live(name);
    if (!state.versions.has(version)) throw new NotFound(`${name}@${version}`);
    state.distTags[tag] = version;
    this.#changed(entry, state);
  }

  /** A new version repacked from the tarball of `latest`; it becomes `latest` if it is the highest release. */
  async addVersion(name: string, version: string): Promise<void> {
    const { entry, state } = await this.#live(name);
    if (semver.valid(version) !== version) throw new Error(`not a version: ${version}`);
    if (state.versions.has(version)) throw new Error(`${name}@${version} exists`);
    const source = state.versions.get(state.distTags.latest) ?? [...state.versions.values()].at(-1);
    if (!source) throw new NotFound(name);
    const added = await synthesize(name, version, await unpackTarball(await source.tarball()));
    // Checked again: another addVersion of it may have finished while this one repacked.
    if (state.versions.has(version)) throw new Error(`${name}@${version} exists`);
    state.versions.set(version, added);
    const time = this.#changeTime(state);
    state.time[version] = time;
    if (highestRelease(state.versions.keys()) === version) state.distTags.latest = version;
    this.#changed(entry, state, time);
  }

  /** A package that exists only upstream, its versions repacked from the corpus package `from`. */
  async addPackage(extra: ExtraPackage): Promise<void> {
    if (this.#catalog.has(extra.name)) throw new Error(`${extra.name} exists`);
    const entry = this.#extraEntry(extra);
    await this.#state(entry);
    this.#register(entry);
  }

  #extraEntry(extra: ExtraPackage): CatalogEntry {
    return { name: extra.name, rev: 1, corpus: new Map(), build: () => this.#buildExtra(extra) };
  }

  #register(entry: CatalogEntry): void {
    this.#catalog.set(entry.name, entry);
    this.feed.record(entry.name, revision(entry));
  }

  #entry(name: string): CatalogEntry {
    const entry = this.#catalog.get(name);
    if (!entry) throw new NotFound(name);
    return entry;
  }

  #state(entry: CatalogEntry): Promise<PackageState> {
    entry.state ??= entry.build();
    return entry.state;
  }

  async #live(name: string): Promise<{ entry: CatalogEntry; state: PackageState }> {
    const entry = this.#entry(name);
    const state = await this.#state(entry);
    if (state.unpublished) throw new NotFound(name);
    return { entry, state };
  }

  /** Now, but at least a whole second after the last change. */
  #changeTime(state: PackageState): string {
    return iso(Math.max(Date.now(), Date.parse(state.time.modified) + 1000));
  }

  #changed(entry: CatalogEntry, state: PackageState, time = this.#changeTime(state)): void {
    state.time.modified = time;
    state.rendered.clear();
    entry.rev++;
    this.feed.record(entry.name, revision(entry), state.unpublished !== undefined);
  }

  #readCorpus(file: string): Promise<Buffer> {
    let bytes = this.#corpusBytes.get(file);
    if (!bytes) {
      bytes = readFile(join(this.#corpusDir, file));
      this.#corpusBytes.set(file, bytes);
    }
    return bytes;
  }

  async #unpackCorpus(t: CorpusTarball) {
    const bytes = await this.#readCorpus(t.file);
    return { t, bytes, unpacked: await unpackTarball(bytes) };
  }

  async #buildCorpusPackage(name: string, tarballs: CorpusTarball[]): Promise<PackageState> {
    const real = await Promise.all(tarballs.map((t) => this.#unpackCorpus(t)));
    real.sort((a, b) => semver.compare(a.t.version, b.t.version));
    const versions = real.map(({ t, bytes, unpacked }) =>
      versionOf(t.version, bytes, unpacked.manifest, unpacked),
    );
    const distTags: Record<string, string> = {
      latest: highestRelease(tarballs.map((t) => t.version)) as string,
    };
    const lowest = real[0];
    const older = olderVersion(lowest.t.version);
    if (older) versions.push(await synthesize(name, older, lowest.unpacked));
    const highest = real[real.length - 1];
    const next = nextPrerelease(highest.t.version);
    versions.push(await synthesize(name, next, highest.unpacked));
    distTags.next = next;
    return newState(name, versions, distTags);
  }

  async #buildExtra(extra: ExtraPackage): Promise<PackageState> {
    const tarballs = this.#corpusByName.get(extra.from);
    if (!tarballs) throw new Error(`no corpus package ${extra.from}`);
    const from = tarballs.reduce((a, b) => (semver.gt(b.version, a.version) ? b : a));
    const { unpacked } = await this.#unpackCorpus(from);
    const versions = await Promise.all(
      extra.versions.map((v) => synthesize(extra.name, v, unpacked)),
    );
    return newState(extra.name, versions, {
      latest: highestRelease(extra.versions) as string,
    });
  }

  /** The digests of other bytes that versions under a wrong-integrity fault advertise. */
  async #wrongDigests(
    name: string,
    state: PackageState,
    advertised: Advertised,
  ): Promise<Map<string, TarballDigests>> {
    const wrong = new Map<string, TarballDigests>();
    for (const v of [...state.versions.values()])
      if (advertised.hasWrongIntegrity(name, v.version))
        wrong.set(v.version, digestsOf(flipByte(await v.tarball())));
    return wrong;
  }

  #dist(name: string, v: UpstreamVersion, wrong: Map<string, TarballDigests>): Json {
    const digests = wrong.get(v.version) ?? v.digests;
    return {
      integrity: digests.integrity,
      shasum: digests.shasum,
      tarball: `${this.#baseUrl}/${name}/-/${tarballFileName(name, v.version)}`,
      fileCount: v.fileCount,
      unpackedSize: v.unpackedSize,
    };
  }

  #full(entry: CatalogEntry, state: PackageState, wrong: Map<string, TarballDigests>): Json {
    const { name } = entry;
    const versions: Json = {};
    for (const v of state.versions.values()) {
      versions[v.version] = {
        ...v.manifest,
        _id: `${name}@${v.version}`,
        ...(v.deprecated !== undefined ? { deprecated: v.deprecated } : {}),
        dist: this.#dist(name, v, wrong),
      };
    }
    const latest = state.versions.get(state.distTags.latest);
    return {
      _id: name,
      _rev: revision(entry),
      name,
      ...pick(latest?.manifest ?? {}, TOP_LEVEL_FIELDS),
      "dist-tags": state.distTags,
      versions,
      time: state.time,
      maintainers: MAINTAINERS,
    };
  }

  #abbreviated(name: string, state: PackageState, wrong: Map<string, TarballDigests>): Json {
    const versions: Json = {};
    for (const v of state.versions.values()) {
      versions[v.version] = {
        ...pick(v.manifest, ABBREVIATED_FIELDS),
        ...(v.deprecated !== undefined ? { deprecated: v.deprecated } : {}),
        ...(hasInstallScript(v.manifest) ? { hasInstallScript: true } : {}),
        dist: this.#dist(name, v, wrong),
      };
    }
    return { name, modified: state.time.modified, "dist-tags": state.distTags, versions };
  }
}

/** A CouchDB-style `_rev`: the change count and a hash. */
function revision(entry: CatalogEntry): string {
  const hex = createHash("md5").update(`${entry.name}\n${entry.rev}`).digest("hex");
  return `${entry.rev}-${hex}`;
}
