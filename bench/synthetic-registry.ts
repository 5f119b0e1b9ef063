/**
 * A synthetic npm-sized registry, as log entries: for each package of
 * ../shared/data/npm-packages.tsv (name, latest version, monthly downloads),
 * a version history whose length is heavy-tailed and grows with popularity,
 * ending at the package's real latest version, with dependencies drawn from
 * the other packages weighted by downloads, fake but well-formed hashes and
 * sizes, search fields, and a few deprecations and dist-tag moves.
 *
 * The packages of the corpus (../shared/corpus: the real dependency closure
 * of an app) are the exception that keeps the app's tree real: their
 * histories include the corpus's real releases, and each version depends
 * as the nearest real release at or below it does. Resolving the app
 * against the synthetic registry then walks its real tree (about 400
 * packages), with synthetic version histories to pick from.
 *
 * Everything is a pure function of the package list and the seed: package
 * `i`'s history comes from its own PRNG stream, so a later benchmark can
 * regenerate one package, or the whole registry, without storing it.
 * Nothing here stores blobs: the entries name hashes of strings.
 */
import { hash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import { resolutionOf } from "../src/npm/rules/projection.ts";
import { inspectTarball } from "../src/npm/tarball.ts";
import type { JsonValue } from "../src/registry/canonical-json.ts";
import type { PackageEntry, PublishEntry } from "../src/registry/entries.ts";
import { sharedPath } from "../test/helpers/shared.ts";
import { mix32, prng } from "./common.ts";

/** Name, latest version and monthly downloads of 226,974 npm packages (header line first). */
const NPM_PACKAGES_TSV = sharedPath("data", "npm-packages.tsv");

export interface NpmPackage {
  readonly name: string;
  readonly latest: string;
  readonly downloads: number;
}

export async function readNpmPackages(): Promise<NpmPackage[]> {
  const text = await readFile(NPM_PACKAGES_TSV, "utf8");
  const rows: NpmPackage[] = [];
  for (const line of text.split("\n").slice(1)) {
    if (line === "") continue;
    const [name, latest, downloads] = line.split("\t");
    rows.push({ name, latest, downloads: Math.max(1, Number(downloads) || 1) });
  }
  return rows;
}

/** A real release of a corpus package: its version and the resolution fields of its manifest. */
export interface RealRelease {
  readonly version: string;
  readonly resolution: Record<string, JsonValue>;
}

const CORPUS_DIR = sharedPath("corpus", "npm");

/** The corpus's releases by package name, each list in ascending semver order. */
export async function readCorpusReleases(): Promise<Map<string, RealRelease[]>> {
  const releases = new Map<string, RealRelease[]>();
  for (const file of (await readdir(CORPUS_DIR)).filter((f) => f.endsWith(".tgz"))) {
    const { manifest } = await inspectTarball(await readFile(join(CORPUS_DIR, file)));
    const name = manifest.name as string;
    const list = releases.get(name) ?? [];
    list.push({ version: manifest.version as string, resolution: resolutionOf(manifest) });
    releases.set(name, list);
  }
  for (const list of releases.values()) list.sort((a, b) => semver.compare(a.version, b.version));
  return releases;
}

/** A seeded sample of `n` packages, in the list's order (all of them when n >= the list). */
export function samplePackages(all: readonly NpmPackage[], n: number, seed: number): NpmPackage[] {
  if (n >= all.length) return [...all];
  const random = prng(mix32(seed ^ 0x5ca1ab1e));
  const picked = new Uint8Array(all.length);
  // Floyd's algorithm: n distinct indexes.
  for (let j = all.length - n; j < all.length; j++) {
    const t = Math.floor(random() * (j + 1));
    picked[picked[t] ? j : t] = 1;
  }
  return all.filter((_, i) => picked[i] === 1);
}

/** Times are spread over these years; the incremental publishes come after END. */
export const START_MS = Date.UTC(2011, 0, 1);
export const END_MS = Date.UTC(2026, 9, 1);

/*
 * The model, tuned so the full list gives about 8.8 publishes per package
 * (2.0 million) and about 4 dependencies per version:
 *
 * - versions: lognormal, median exp(VERSIONS_MU + VERSIONS_SLOPE * (log10(downloads) - 3.66)),
 *   sigma VERSIONS_SIGMA, at most MAX_VERSIONS, cut short when the walk down
 *   from the latest version reaches 0.0.0;
 * - dependencies of the package's last version: none for NO_DEPS of packages,
 *   else lognormal around DEPS_MEDIAN; earlier versions have from half of them
 *   up to all, in order.
 */
const VERSIONS_MU = 1.36;
const VERSIONS_SLOPE = 0.52;
const VERSIONS_SIGMA = 1.0;
const MAX_VERSIONS = 3000;
const MEDIAN_DOWNLOADS_LOG10 = 3.66;
const NO_DEPS = 0.28;
const DEPS_MEDIAN = 5.2;
const DEPS_SIGMA = 0.85;
const MAX_DEPS = 80;
/** Of the packages with enough versions, the share that publish prereleases. */
const PRERELEASE_PACKAGES = 0.4;
const DEPRECATE_SHARE = 0.01;
const DIST_TAG_SHARE = 0.005;

const ADJECTIVES = [
  "fast",
  "tiny",
  "simple",
  "lightweight",
  "modern",
  "minimal",
  "robust",
  "typed",
  "zero-dependency",
  "small",
  "flexible",
  "declarative",
  "isomorphic",
  "streaming",
  "pluggable",
];
const NOUNS = [
  "parser",
  "utility",
  "library",
  "wrapper",
  "toolkit",
  "client",
  "plugin",
  "CLI",
  "helper",
  "validator",
  "formatter",
  "loader",
  "middleware",
  "component",
  "polyfill",
];
const PURPOSES = [
  "YAML files",
  "HTTP requests",
  "React apps",
  "date formatting",
  "command-line tools",
  "Node.js streams",
  "webpack builds",
  "JSON schemas",
  "the browser",
  "Express servers",
  "TypeScript projects",
  "unit tests",
  "environment variables",
  "color output in the terminal",
  "image processing",
  "Vue components",
  "GraphQL APIs",
  "file system paths",
  "logging",
  "ESLint configurations",
];
const KEYWORDS = [
  "javascript",
  "typescript",
  "node",
  "nodejs",
  "react",
  "vue",
  "cli",
  "util",
  "utility",
  "parser",
  "json",
  "http",
  "api",
  "plugin",
  "webpack",
  "babel",
  "eslint",
  "eslintplugin",
  "css",
  "html",
  "browser",
  "stream",
  "async",
  "promise",
  "date",
  "string",
  "array",
  "object",
  "test",
  "testing",
  "mock",
  "logger",
  "config",
  "color",
  "terminal",
  "file",
  "fs",
  "path",
  "url",
  "crypto",
  "hash",
  "validation",
  "schema",
  "graphql",
  "database",
  "sql",
  "redis",
  "aws",
  "cloud",
  "serverless",
  "component",
  "ui",
  "framework",
  "template",
  "markdown",
  "image",
  "svg",
  "icon",
  "animation",
  "mobile",
];
const PRERELEASE_LABELS = ["alpha", "beta", "rc", "next", "canary"];
const DIST_TAGS = ["legacy", "lts", "beta", "stable", "canary"];

export interface PlannedVersion {
  readonly version: string;
  readonly tag: string;
  readonly time: number;
}

/** One package's history before it becomes entries. */
export interface PackagePlan {
  readonly index: number;
  readonly name: string;
  readonly actor: string;
  readonly created: number;
  readonly versions: readonly PlannedVersion[];
  /** Dependencies of the last version, in the order earlier versions gained them. */
  readonly dependencies: readonly { readonly name: string; readonly range: string }[];
  readonly description: string;
  readonly keywords: readonly string[];
  /** Median tarball size of the package. */
  readonly tarballSize: number;
  /** A corpus package's real releases, ascending: they set its versions' dependencies. */
  readonly real?: readonly RealRelease[];
}

/** sha256 hex, sha512 base64 and sha1 hex of a string: well-formed fake hashes. */
function fakeHashes(text: string) {
  return {
    sha256: hash("sha256", text, "hex"),
    sha512: hash("sha512", text, "base64"),
    sha1: hash("sha1", text, "hex"),
  };
}

function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)];
}

/** A draw of 1 + Geometric: at least 1, about `mean + 1` on average. */
function geometric(random: () => number, mean: number): number {
  return Math.max(1, Math.ceil(Math.log(1 - random()) / Math.log(1 - 1 / (mean + 1))));
}

/** The caret range of a latest version's major (or minor, under 1.0.0). */
export function caretOf(latest: string): string {
  const v = semver.parse(latest);
  if (!v) return "*";
  if (v.major > 0) return `^${v.major}.0.0`;
  if (v.minor > 0) return `^0.${v.minor}.0`;
  return `^0.0.${v.patch}`;
}

/**
 * Releases below `top` (exclusive), newest first: a walk down the version
 * space whose minor lines hold about `patchMean` patches each. Stops at 0.0.0.
 */
function releasesBelow(
  random: () => number,
  top: semver.SemVer,
  count: number,
  patchMean: number,
): string[] {
  let major = top.major;
  let minor = top.minor;
  let patch = top.patch;
  const out: string[] = [];
  while (out.length < count) {
    if (patch > 0) patch--;
    else if (minor > 0) {
      minor--;
      patch = Math.min(200, geometric(random, patchMean)) - 1;
    } else if (major > 0) {
      major--;
      minor = Math.min(40, geometric(random, 3)) - 1;
      patch = Math.min(200, geometric(random, patchMean)) - 1;
    } else break;
    out.push(`${major}.${minor}.${patch}`);
  }
  return out;
}

/** Vose's alias method: O(1) draws of an index weighted by `weights`. */
class AliasTable {
  readonly #prob: Float64Array;
  readonly #alias: Int32Array;

  constructor(weights: readonly number[]) {
    const n = weights.length;
    const total = weights.reduce((a, b) => a + b, 0);
    this.#prob = new Float64Array(n);
    this.#alias = new Int32Array(n);
    const scaled = weights.map((w) => (w * n) / total);
    const small: number[] = [];
    const large: number[] = [];
    scaled.forEach((p, i) => {
      (p < 1 ? small : large).push(i);
    });
    while (small.length > 0 && large.length > 0) {
      const s = small.pop() as number;
      const l = large.pop() as number;
      this.#prob[s] = scaled[s];
      this.#alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    for (const i of [...small, ...large]) this.#prob[i] = 1;
  }

  draw(random: () => number): number {
    const i = Math.floor(random() * this.#prob.length);
    return random() < this.#prob[i] ? i : this.#alias[i];
  }
}

export class SyntheticRegistry {
  readonly packages: readonly NpmPackage[];
  readonly seed: number;
  readonly #byPopularity: AliasTable;
  readonly #real: ReadonlyMap<string, readonly RealRelease[]>;

  constructor(
    packages: readonly NpmPackage[],
    seed: number,
    real: ReadonlyMap<string, readonly RealRelease[]> = new Map(),
  ) {
    this.packages = packages;
    this.seed = seed;
    this.#byPopularity = new AliasTable(packages.map((p) => p.downloads));
    this.#real = real;
  }

  /** A package index drawn with probability proportional to its downloads. */
  drawByPopularity(random: () => number): number {
    return this.#byPopularity.draw(random);
  }

  /** Package `index`'s own PRNG stream (its history depends on nothing else). */
  random(index: number, stream = 0): () => number {
    return prng(mix32(mix32(this.seed) ^ mix32(index * 4 + stream + 1)));
  }

  /** The creation time of every package, for ordering the log. */
  creationTime(index: number): number {
    const random = this.random(index, 1);
    const pop = Math.log10(this.packages[index].downloads) - MEDIAN_DOWNLOADS_LOG10;
    // Less popular packages are younger on the whole (npm grew); popular ones spread evenly.
    const exponent = Math.min(3, Math.max(0.4, 0.55 + 0.25 * pop));
    return Math.floor(START_MS + (END_MS - START_MS) * random() ** exponent);
  }

  /** Package indexes in log order: by creation time. */
  order(): number[] {
    const created = this.packages.map((_, i) => this.creationTime(i));
    return created.map((_, i) => i).sort((a, b) => created[a] - created[b] || a - b);
  }

  plan(index: number): PackagePlan {
    const pkg = this.packages[index];
    const random = this.random(index);
    const created = this.creationTime(index);
    const pop = Math.log10(pkg.downloads) - MEDIAN_DOWNLOADS_LOG10;
    const wanted = Math.min(
      MAX_VERSIONS,
      Math.max(
        1,
        Math.round(
          Math.exp(VERSIONS_MU + VERSIONS_SLOPE * pop + VERSIONS_SIGMA * gaussian(random)),
        ),
      ),
    );

    // Releases, then prereleases inserted before some minor and major bumps.
    let latest = semver.valid(pkg.latest) === null ? null : semver.parse(pkg.latest);
    if (latest === null) {
      const major = Math.floor(random() * 4);
      latest = semver.parse(`${major}.${Math.floor(random() * 10)}.${Math.floor(random() * 8)}`);
    }
    const top = latest as semver.SemVer;
    const latestIsPrerelease = top.prerelease.length > 0;
    const prereleaseBudget =
      wanted >= 6 && random() < PRERELEASE_PACKAGES
        ? Math.floor(wanted * (0.03 + 0.15 * random()))
        : 0;
    const releaseCount = wanted - prereleaseBudget - 1;
    const lines = top.major * 3 + top.minor + 1;
    const patchMean = Math.max(2, (1.2 * releaseCount) / lines);
    const below = releasesBelow(
      random,
      new semver.SemVer(`${top.major}.${top.minor}.${top.patch}`),
      releaseCount,
      patchMean,
    ).reverse();
    const chronological: { version: string; tag: string }[] = [];
    let budget = prereleaseBudget;
    for (const [i, version] of below.entries()) {
      if (i > 0 && budget > 0 && version.endsWith(".0") && random() < 0.7) {
        const label = pick(random, PRERELEASE_LABELS);
        const n = Math.min(budget, 1 + Math.floor(random() * 4));
        for (let j = 0; j < n; j++)
          chronological.push({ version: `${version}-${label}.${j}`, tag: "next" });
        budget -= n;
      }
      chronological.push({ version, tag: "latest" });
    }
    if (latestIsPrerelease) {
      // The real latest is a prerelease: it and a few of its predecessors end the history.
      const ids = top.prerelease;
      const last = ids[ids.length - 1];
      if (typeof last === "number" && last > 0) {
        const prefix = `${top.major}.${top.minor}.${top.patch}-${ids.slice(0, -1).join(".")}${ids.length > 1 ? "." : ""}`;
        for (let j = Math.max(0, last - 3); j < last; j++)
          chronological.push({ version: `${prefix}${j}`, tag: "next" });
      }
    }
    chronological.push({ version: top.version, tag: "latest" });
    const real = this.#real.get(pkg.name);
    if (real) {
      // The real releases join the history, which is then in version order.
      const planned = new Set(chronological.map((v) => v.version));
      for (const { version } of real)
        if (!planned.has(version))
          chronological.push({ version, tag: semver.prerelease(version) ? "next" : "latest" });
      chronological.sort((a, b) => semver.compare(a.version, b.version));
    }

    // Publish times: from creation, spread over part of the package's life.
    const life = END_MS - created;
    const span = chronological.length === 1 ? 0 : life * (0.05 + 0.95 * Math.sqrt(random()));
    const gaps = chronological.map(() => -Math.log(1 - random()));
    const totalGap = gaps.reduce((a, b) => a + b, 0) - gaps[0];
    let acc = 0;
    const versions: PlannedVersion[] = chronological.map((v, i) => {
      if (i > 0) acc += gaps[i];
      const time = created + Math.floor(totalGap > 0 ? (span * acc) / totalGap : 0) + i;
      return { ...v, time };
    });

    // Dependencies, weighted by the dependency's downloads (a corpus package's come from its real releases).
    const depCount =
      real || random() < NO_DEPS
        ? 0
        : Math.min(
            MAX_DEPS,
            this.packages.length - 1,
            Math.max(1, Math.round(DEPS_MEDIAN * Math.exp(DEPS_SIGMA * gaussian(random)))),
          );
    const seen = new Set<number>([index]);
    const dependencies: { name: string; range: string }[] = [];
    for (let tries = 0; dependencies.length < depCount && tries < depCount * 20; tries++) {
      const d = this.#byPopularity.draw(random);
      if (seen.has(d)) continue;
      seen.add(d);
      dependencies.push({ name: this.packages[d].name, range: caretOf(this.packages[d].latest) });
    }

    const scope = pkg.name.startsWith("@") ? pkg.name.slice(1, pkg.name.indexOf("/")) : undefined;
    const actor = scope ?? `user${mix32(index ^ mix32(this.seed)) % 60_000}`;
    const description = `A ${pick(random, ADJECTIVES)} ${pick(random, NOUNS)} for ${pick(random, PURPOSES)}.`;
    const keywordCount = Math.floor(random() * 6);
    const keywords = [
      ...new Set(Array.from({ length: keywordCount }, () => pick(random, KEYWORDS))),
    ];
    const tarballSize = Math.round(12_000 * Math.exp(1.3 * gaussian(random)));
    return {
      index,
      name: pkg.name,
      actor,
      created,
      versions,
      dependencies,
      description,
      keywords,
      tarballSize,
      ...(real ? { real } : {}),
    };
  }

  /** The publish entry of one version of a planned package; `k` of `n` picks its dependencies. */
  publishEntry(plan: PackagePlan, v: PlannedVersion, k: number, n: number): PublishEntry {
    const id = `${plan.name}@${v.version}`;
    const hashes = fakeHashes(id);
    // Size jitter from the hash, so it needs no PRNG state.
    const jitter = Number.parseInt(hashes.sha256.slice(0, 8), 16) / 2 ** 32;
    const deps = plan.dependencies;
    const depCount = n <= 1 ? deps.length : Math.round(deps.length * (0.5 + (0.5 * k) / (n - 1)));
    const resolution: Record<string, JsonValue> = plan.real
      ? { ...plan.real.findLast((r) => semver.lte(r.version, v.version))?.resolution }
      : {};
    if (depCount > 0) {
      const dependencies: Record<string, string> = {};
      for (const d of deps.slice(0, depCount)) dependencies[d.name] = d.range;
      resolution.dependencies = dependencies;
    }
    const growth = n <= 1 ? 1 : 0.6 + (0.4 * k) / (n - 1);
    return {
      v: 1,
      kind: "publish",
      ecosystem: "npm",
      name: plan.name,
      version: v.version,
      tag: v.tag,
      time: new Date(v.time).toISOString(),
      actor: plan.actor,
      artifact: {
        sha256: hashes.sha256,
        sha512: hashes.sha512,
        sha1: hashes.sha1,
        size: Math.max(200, Math.round(plan.tarballSize * growth * (0.85 + 0.3 * jitter))),
      },
      manifest: {
        sha256: hash("sha256", `manifest:${id}`, "hex"),
        size: Math.round(700 + 45 * depCount + plan.description.length + 1500 * jitter),
      },
      resolution,
      description: plan.description,
      ...(plan.keywords.length > 0 ? { keywords: plan.keywords } : {}),
    };
  }

  /**
   * Package `index`'s entries: its publishes, oldest first, and then (a
   * separate list, since they need the publishes applied before they are
   * checked) the deprecations and dist-tag moves that came after them.
   */
  history(index: number): { publishes: PublishEntry[]; changes: PackageEntry[] } {
    const plan = this.plan(index);
    const n = plan.versions.length;
    const publishes = plan.versions.map((v, k) => this.publishEntry(plan, v, k, n));
    const changes: PackageEntry[] = [];
    const random = this.random(index, 2);
    const lastTime = plan.versions[n - 1].time;
    const later = () => new Date(lastTime + Math.floor((END_MS - lastTime) * random()) + 1);
    const base = { v: 1, ecosystem: "npm", name: plan.name, actor: plan.actor } as const;
    if (n >= 2 && random() < DEPRECATE_SHARE) {
      const old = plan.versions[Math.floor(random() * (n - 1))].version;
      changes.push({
        ...base,
        kind: "deprecate",
        time: later().toISOString(),
        version: old,
        message: `${old} has a critical bug; please upgrade to ${plan.versions[n - 1].version} or later`,
      });
    }
    if (n >= 2 && random() < DIST_TAG_SHARE) {
      const old = plan.versions[Math.floor(random() * (n - 1))].version;
      // One in five moves latest back (a rollback); the others set a side tag.
      const tag = random() < 0.2 ? "latest" : pick(random, DIST_TAGS);
      changes.push({ ...base, kind: "dist-tag", time: later().toISOString(), tag, version: old });
    }
    changes.sort((a, b) => a.time.localeCompare(b.time));
    return { publishes, changes };
  }

  /** A package that is not in the list yet, for publishes after the build: one version, 1.0.0. */
  newPackagePlan(i: number, time: number): PackagePlan {
    const random = prng(mix32(this.seed ^ mix32(0xbe11 + i)));
    const name = `new-${pick(random, ADJECTIVES)}-${pick(random, NOUNS).toLowerCase()}-${i}`;
    const depCount = random() < NO_DEPS ? 0 : 1 + Math.floor(random() * 6);
    const dependencies: { name: string; range: string }[] = [];
    const seen = new Set<number>();
    while (dependencies.length < Math.min(depCount, this.packages.length)) {
      const d = this.#byPopularity.draw(random);
      if (seen.has(d)) continue;
      seen.add(d);
      dependencies.push({ name: this.packages[d].name, range: caretOf(this.packages[d].latest) });
    }
    return {
      index: -1 - i,
      name,
      actor: `newuser${i}`,
      created: time,
      versions: [{ version: "1.0.0", tag: "latest", time }],
      dependencies,
      description: `A ${pick(random, ADJECTIVES)} ${pick(random, NOUNS)} for ${pick(random, PURPOSES)}.`,
      keywords: [pick(random, KEYWORDS)],
      tarballSize: Math.round(12_000 * Math.exp(1.3 * gaussian(random))),
    };
  }
}
