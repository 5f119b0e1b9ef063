/**
 * An offline dependency resolver with npm's semantics, over a synchronous
 * package lookup (a local index), so an install can be planned without a
 * network. Versions are picked as npm-pick-manifest picks them: a dist-tag
 * exactly; for a range, `latest` if it satisfies and is not deprecated, else
 * the highest satisfying version, deprecated ones last. The graph is logical,
 * one node per name@version; arborist's hoisting and dedupe are approximated
 * by reusing the highest version already chosen anywhere that satisfies an
 * edge, walking breadth-first in name order so the result is stable. An
 * optional edge that cannot resolve or does not fit the platform is dropped;
 * a failure below an optional edge removes the optional part of the graph
 * that needed it, as arborist's `optionalSet` does.
 */
import semver, { type Range, type SemVer } from "semver";

export interface ResolvableVersion {
  readonly version: string;
  /** Manifest fields resolution needs: dependencies, optionalDependencies, peerDependencies, peerDependenciesMeta, bundleDependencies, os, cpu, libc, engines, bin… (any may be absent). */
  readonly resolution: Readonly<Record<string, unknown>>;
  /** Deprecation message, or null. */
  readonly deprecated: string | null;
  /** Its tarball as the log binds it, where the source knows it (the installer's lockfile records it). */
  readonly artifact?: {
    readonly integrity?: string;
    readonly sha256?: string;
    readonly logIndex?: number;
  };
}
export interface ResolvablePackage {
  readonly name: string;
  readonly distTags: Readonly<Record<string, string>>;
  /** Live versions only (unpublished/yanked ones are never offered). */
  readonly versions: readonly ResolvableVersion[];
}
export type PackageLookup = (name: string) => ResolvablePackage | undefined;
export interface Platform {
  readonly os: string;
  readonly cpu: string;
  /** `glibc` or `musl`; unknown means packages that name a libc do not fit, as in npm. */
  readonly libc?: string;
}
export interface ResolveOptions {
  /** Platform used to skip optional deps whose os/cpu/libc do not match; default process.platform / process.arch (and the host's libc on Linux). */
  readonly os?: string;
  readonly cpu?: string;
  readonly libc?: string;
  /** Default true, like npm 7+: non-optional peer dependencies are resolved and installed. False ignores all peers (`--legacy-peer-deps`). */
  readonly peers?: boolean;
  /** Default true; false skips optional dependencies (`--omit=optional`). */
  readonly optional?: boolean;
  /** Root requests that are optional (a package.json's optionalDependencies). */
  readonly optionalRoots?: ReadonlySet<string>;
}
export interface ResolvedNode {
  readonly name: string;
  readonly version: string;
  /** Each dependency name -> the resolved "name@version" key it uses. */
  readonly dependencies: Readonly<Record<string, string>>;
  /** Reached only through optional edges. */
  readonly optional: boolean;
  /** Reached only through peer edges. */
  readonly peer: boolean;
  readonly deprecated: string | null;
}
/** `from` is the requesting node's key, or "" for a root request. */
export interface ResolveProblem {
  readonly from: string;
  readonly name: string;
  readonly spec: string;
  readonly reason: string;
  readonly optional: boolean;
}
export interface Resolution {
  /** Root requests: name -> "name@version". */
  readonly roots: Readonly<Record<string, string>>;
  /** Every resolved node, keyed "name@version", sorted by key. */
  readonly nodes: ReadonlyMap<string, ResolvedNode>;
  readonly problems: readonly ResolveProblem[];
}

/** A dependency a manifest declares, after npm's precedence: optionalDependencies > dependencies > peerDependencies. */
type Wanted = { name: string; spec: string; optional: boolean; peer: boolean };
type Link = { key: string; optional: boolean; peer: boolean };
type Work = { key: string; v: ResolvableVersion; links: Map<string, Link> };
/**
 * Major, minor and patch of a version read as one number that sorts like
 * them (21, 16 and 16 bits), without a full parse; NaN when the version
 * does not start with three such numbers.
 */
function releaseKey(version: string): number {
  let key = 0;
  let at = 0;
  for (const [bits, end] of [
    [21, "."],
    [16, "."],
    [16, ""],
  ] as const) {
    let n = 0;
    const start = at;
    for (; at < version.length; at++) {
      const c = version.charCodeAt(at) - 48;
      if (c < 0 || c > 9) break;
      n = n * 10 + c;
    }
    if (at === start || n >= 2 ** bits) return Number.NaN;
    if (end !== "" && version[at++] !== end) return Number.NaN;
    key = key * 2 ** bits + n;
  }
  return key;
}

/**
 * A version on offer. Candidates sort by their release numbers, read
 * cheaply; the full semver parse happens only for the few a range is
 * tested against (a package has tens to thousands of versions, and a pick
 * usually stops at the first that fits).
 */
class Candidate {
  readonly v: ResolvableVersion;
  readonly #release: number;
  #sv: SemVer | null | undefined;

  constructor(v: ResolvableVersion) {
    this.v = v;
    this.#release = releaseKey(v.version);
  }

  /** The parsed version; null if it is not semver (such a version is never picked). */
  get sv(): SemVer | null {
    if (this.#sv === undefined) this.#sv = semver.parse(this.v.version, { loose: true });
    return this.#sv;
  }

  satisfies(range: Range): boolean {
    const sv = this.sv;
    return sv !== null && range.test(sv);
  }

  /** Highest first; ties on the release numbers (prereleases, build metadata) by semver's order. */
  static descending(a: Candidate, b: Candidate): number {
    const order = b.#release - a.#release;
    if (order) return order; // NaN, where a key is missing, is falsy too
    const [p, q] = [a.sv, b.sv];
    if (p === null || q === null) return (p === null ? 1 : 0) - (q === null ? 1 : 0);
    return q.compare(p);
  }
}
/** An exact version is a range too: npm-pick-manifest's answer for it is the same. */
export type RegistrySpec = { name: string; raw: string } & (
  | { tag: string }
  | { range: Range; any: boolean }
);
/** `site` is the node that failed: the target of a platform mismatch, else the requester. */
type Failure = Omit<ResolveProblem, "optional"> & { edgeOptional: boolean; site: string };

const NOT_FROM_REGISTRY: [RegExp, string][] = [
  [/^https?:\/\//i, "a remote tarball"],
  [/^(git\+[a-z]+|git|github|gitlab|bitbucket|gist):/i, "a git dependency"],
  [/^(file:|\.\.?(\/|$)|\/|~\/)|\.(tgz|tar\.gz|tar)$/i, "a local path"],
  [/^[a-z][a-z0-9+.-]*:/i, "a protocol npm's registry does not serve"],
  [/\//, "a GitHub shorthand (a git dependency)"],
];

/** The spec as a semver range, or undefined (semver's validRange, without parsing twice). */
function rangeOf(raw: string): Range | undefined {
  try {
    return new semver.Range(raw, { loose: true });
  } catch {
    return undefined;
  }
}

/** npm-package-arg's reading of a spec, or why a registry cannot answer it. */
export function parseSpec(name: string, rawSpec: string): RegistrySpec | string {
  const raw = rawSpec.trim();
  if (raw.startsWith("npm:")) {
    const at = raw.indexOf("@", 5);
    const target = raw.slice(4, at < 0 ? undefined : at);
    const inner = parseSpec(target, at < 0 ? "" : raw.slice(at + 1));
    const named = /^(@[^/@\s]+\/)?[^/@\s]+$/.test(target);
    return named && typeof inner !== "string"
      ? inner
      : `${raw} is not an alias of a registry package`;
  }
  const other = NOT_FROM_REGISTRY.find(([pattern]) => pattern.test(raw));
  if (other) return `${raw} is ${other[1]}, which a registry cannot serve`;
  const range = rangeOf(raw);
  if (range) return { name, raw, range, any: raw === "" || raw === "*" };
  // A tag needs no escaping in a URL; one with a lone surrogate cannot be escaped at all.
  if (raw.isWellFormed() && encodeURIComponent(raw) === raw) return { name, raw, tag: raw };
  return `${raw} is not a version, range or dist-tag`;
}

/**
 * A package's versions as candidates. Most picks take `latest`, so the
 * whole list is made and sorted only when a pick needs more.
 */
class Offer {
  readonly pkg: ResolvablePackage;
  #desc: Candidate[] | undefined;

  constructor(pkg: ResolvablePackage) {
    this.pkg = pkg;
  }

  /** Every version, highest first. */
  get desc(): Candidate[] {
    this.#desc ??= this.pkg.versions.map((v) => new Candidate(v)).sort(Candidate.descending);
    return this.#desc;
  }

  /** The candidate for one version, if it is on offer and semver. */
  find(version: string | undefined): Candidate | undefined {
    if (version === undefined) return undefined;
    let candidate = this.#desc?.find((c) => c.v.version === version);
    if (!this.#desc) {
      const v = this.pkg.versions.find((v) => v.version === version);
      candidate = v && new Candidate(v);
    }
    return candidate?.sv ? candidate : undefined;
  }
}

/** npm-pick-manifest's choice among the versions on `offer`. */
function pick(offer: Offer, spec: RegistrySpec): Candidate | string {
  const { pkg } = offer;
  const latest = pkg.distTags.latest;
  if ("tag" in spec) {
    const tagged = pkg.distTags[spec.tag];
    if (tagged === undefined) return `${pkg.name} has no dist-tag ${spec.tag}`;
    return offer.find(tagged) ?? `${pkg.name}@${spec.tag} is ${tagged}, not live`;
  }
  const tagged = offer.find(latest);
  if (tagged && !tagged.v.deprecated && (spec.any || tagged.satisfies(spec.range))) return tagged;
  // The highest fitting version that is not deprecated, else the highest fitting one.
  let fallback: Candidate | undefined;
  for (const c of offer.desc) {
    if (!c.satisfies(spec.range)) continue;
    if (!c.v.deprecated) return c;
    fallback ??= c;
  }
  return (
    fallback ??
    `no version of ${pkg.name} satisfies ${spec.raw} (latest is ${latest ?? "untagged"})`
  );
}

/** npm-install-checks' checkList: a list of values, `!value` excluding one. */
function allows(list: unknown, value: string | undefined): boolean {
  if (!list) return true;
  const entries = (Array.isArray(list) ? list : [list]).filter((e) => typeof e === "string");
  if (entries.length === 1 && entries[0] === "any") return true;
  const negated = entries.filter((e) => e.startsWith("!"));
  if (negated.some((e) => e.slice(1) === value)) return false;
  return entries.some((e) => e === value) || negated.length === entries.length;
}

/** Whether a manifest's os/cpu/libc let it install on `platform`, as npm's checkPlatform decides. */
export function fitsPlatform(manifest: Readonly<Record<string, unknown>>, platform: Platform) {
  if (!allows(manifest.os, platform.os) || !allows(manifest.cpu, platform.cpu)) return false;
  return !manifest.libc || (platform.libc !== undefined && allows(manifest.libc, platform.libc));
}

let hostLibcMemo: string | null | undefined;
/** The host's libc as npm finds it, read once: the report takes milliseconds. */
function hostLibc(): string | undefined {
  if (hostLibcMemo === undefined) {
    const report = process.report.getReport() as {
      header?: { glibcVersionRuntime?: string };
      sharedObjects?: string[];
    };
    const musl = report.sharedObjects?.some((s) => s.includes("musl"));
    hostLibcMemo = report.header?.glibcVersionRuntime ? "glibc" : musl ? "musl" : null;
  }
  return hostLibcMemo ?? undefined;
}

/** This machine's os, cpu and libc, as npm checks optional packages against them. */
export function hostPlatform(): Platform {
  const os = process.platform;
  return { os, cpu: process.arch, libc: os === "linux" ? hostLibc() : undefined };
}

function record(value: unknown): Readonly<Record<string, unknown>> {
  return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
}

function specsOf(value: unknown): [string, string][] {
  return Object.entries(record(value)).filter(
    (e): e is [string, string] => typeof e[1] === "string",
  );
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A manifest's edges, sorted; bundled ones ship inside the tarball and are not resolved. */
function wantedOf(m: Readonly<Record<string, unknown>>): Wanted[] {
  const wanted = new Map<string, Wanted>();
  const meta = record(m.peerDependenciesMeta);
  for (const [name, spec] of specsOf(m.peerDependencies)) {
    wanted.set(name, { name, spec, optional: record(meta[name]).optional === true, peer: true });
  }
  for (const optional of [false, true]) {
    const field = optional ? m.optionalDependencies : m.dependencies;
    for (const [name, spec] of specsOf(field)) {
      wanted.set(name, { name, spec, optional, peer: false });
    }
  }
  const bundled = m.bundleDependencies ?? m.bundledDependencies;
  const names = bundled === true ? Object.keys(record(m.dependencies)) : bundled;
  for (const name of Array.isArray(names) ? names : []) {
    if (!wanted.get(name)?.peer) wanted.delete(name);
  }
  return [...wanted.values()].sort((a, b) => byName(a.name, b.name));
}

function mismatch(key: string, m: Readonly<Record<string, unknown>>, p: Platform): string {
  const wants = ["os", "cpu", "libc"].filter((f) => m[f]).map((f) => `${f} ${[m[f]].flat()}`);
  return `${key} is for ${wants.join(", ")}, not ${p.os} ${p.cpu} ${p.libc ?? "(libc unknown)"}`;
}

function keysOf(links: ReadonlyMap<string, Link>): Record<string, string> {
  return Object.fromEntries(
    [...links].sort(([a], [b]) => byName(a, b)).map(([n, l]) => [n, l.key]),
  );
}

class Resolver {
  readonly #lookup: PackageLookup;
  readonly #options: ResolveOptions;
  readonly #platform: Platform;
  readonly #packages = new Map<string, Offer | null>();
  /** Versions chosen so far per real name, highest first: what later edges reuse. */
  readonly #chosen = new Map<string, Candidate[]>();
  readonly #nodes = new Map<string, Work>();
  /** The requests, as the links of a node with the key "". */
  readonly #root: Work = {
    key: "",
    v: { version: "", resolution: {}, deprecated: null },
    links: new Map(),
  };
  readonly #queue: Work[] = [];
  readonly #failures: Failure[] = [];

  constructor(lookup: PackageLookup, options: ResolveOptions) {
    this.#lookup = lookup;
    this.#options = options;
    const os = options.os ?? process.platform;
    const libc = options.libc ?? (os === "linux" ? hostLibc() : undefined);
    this.#platform = { os, cpu: options.cpu ?? process.arch, libc };
  }

  /** Breadth-first from the roots; optional peers wait until the rest is known, and may add nodes. */
  build(requests: Readonly<Record<string, string>>): void {
    for (const [name, spec] of Object.entries(requests).sort(([a], [b]) => byName(a, b))) {
      const optional = this.#options.optionalRoots?.has(name) ?? false;
      if (!optional || this.#options.optional !== false) {
        this.#link(this.#root, { name, spec, optional, peer: false });
      }
    }
    let waiting: [Work, Wanted][] = [];
    for (let next = 0; next < this.#queue.length; ) {
      for (; next < this.#queue.length; next++) {
        const node = this.#queue[next];
        for (const want of wantedOf(node.v.resolution)) {
          if (want.peer && this.#options.peers === false) continue;
          if (want.optional && !want.peer && this.#options.optional === false) continue;
          if (want.peer && want.optional) waiting.push([node, want]);
          else this.#link(node, want);
        }
      }
      const unmet: [Work, Wanted][] = [];
      for (const [node, want] of waiting) {
        const spec = parseSpec(want.name, want.spec);
        if (typeof spec !== "string" && this.#chosen.has(spec.name)) this.#link(node, want);
        else unmet.push([node, want]);
      }
      waiting = unmet;
    }
  }

  /** The version an edge gets (reused or picked), or why it gets none. */
  #choose(want: Wanted): { name: string; picked: Candidate } | string {
    const spec = parseSpec(want.name, want.spec);
    if (typeof spec === "string") return spec;
    const known = this.#known(spec.name);
    if (!known) return `no package named ${spec.name}`;
    const picked = this.#reuse(spec) ?? pick(known, spec);
    return typeof picked === "string" ? picked : { name: spec.name, picked };
  }

  #link(from: Work, want: Wanted): void {
    const choice = this.#choose(want);
    const fail = (reason: string, site: string) => {
      const { name, spec, optional: edgeOptional } = want;
      this.#failures.push({ from: from.key, name, spec, reason, edgeOptional, site });
    };
    if (typeof choice === "string") {
      fail(choice, from.key);
      return;
    }
    const { name, picked } = choice;
    const key = `${name}@${picked.v.version}`;
    if (!fitsPlatform(picked.v.resolution, this.#platform)) {
      fail(mismatch(key, picked.v.resolution, this.#platform), want.optional ? from.key : key);
      if (want.optional) return;
    }
    if (!this.#nodes.has(key)) this.#add(key, name, picked);
    from.links.set(want.name, { key, optional: want.optional, peer: want.peer });
  }

  #known(name: string) {
    let known = this.#packages.get(name);
    if (known === undefined) {
      const pkg = this.#lookup(name);
      known = pkg ? new Offer(pkg) : null;
      this.#packages.set(name, known);
    }
    return known;
  }

  /** The highest version already in the graph that satisfies; a dist-tag always picks its version. */
  #reuse(spec: RegistrySpec): Candidate | undefined {
    if ("tag" in spec) return undefined;
    return this.#chosen.get(spec.name)?.find((c) => spec.any || c.satisfies(spec.range));
  }

  #add(key: string, name: string, picked: Candidate): void {
    const node = { key, v: picked.v, links: new Map<string, Link>() };
    this.#nodes.set(key, node);
    this.#queue.push(node);
    const chosen = [...(this.#chosen.get(name) ?? []), picked];
    chosen.sort(Candidate.descending);
    this.#chosen.set(name, chosen);
  }

  /** Keys reachable from the roots through links that `follow` accepts. */
  #reach(follow: (link: Link) => boolean): Set<string> {
    const seen = new Set<string>();
    const stack = [...this.#root.links.values()];
    for (let link = stack.pop(); link; link = stack.pop()) {
      if (!follow(link) || seen.has(link.key)) continue;
      seen.add(link.key);
      stack.push(...(this.#nodes.get(link.key)?.links.values() ?? []));
    }
    return seen;
  }

  /** arborist's optionalSet: the failed node and, up through non-optional edges, what needed it. */
  #removeOptionalSet(site: string): void {
    const doomed = new Set([site]);
    const everyone = [this.#root, ...this.#nodes.values()];
    for (const key of doomed) {
      for (const node of everyone) {
        for (const l of node.links.values()) if (l.key === key && !l.optional) doomed.add(node.key);
      }
    }
    for (const node of everyone) {
      if (doomed.has(node.key)) this.#nodes.delete(node.key);
      for (const [name, l] of node.links) if (doomed.has(l.key)) node.links.delete(name);
    }
  }

  /** A failure under an optional edge prunes what needed it; then what nothing reaches goes too. */
  #settleFailures(): ResolveProblem[] {
    const required = this.#reach((link) => !link.optional);
    const problems = this.#failures.map(({ edgeOptional, site, ...problem }) => {
      const optional = edgeOptional || (site !== "" && !required.has(site));
      if (optional && !edgeOptional && this.#nodes.has(site)) this.#removeOptionalSet(site);
      return { ...problem, optional };
    });
    const live = this.#reach(() => true);
    for (const key of this.#nodes.keys()) if (!live.has(key)) this.#nodes.delete(key);
    return problems;
  }

  result(): Resolution {
    const problems = this.#settleFailures();
    const required = this.#reach((link) => !link.optional);
    const direct = this.#reach((link) => !link.peer);
    const nodes = new Map<string, ResolvedNode>();
    for (const key of [...this.#nodes.keys()].sort()) {
      const { v, links } = this.#nodes.get(key) as Work;
      nodes.set(key, {
        name: key.slice(0, key.lastIndexOf("@")),
        version: v.version,
        dependencies: keysOf(links),
        optional: !required.has(key),
        peer: !direct.has(key),
        deprecated: v.deprecated,
      });
    }
    return { roots: keysOf(this.#root.links), nodes, problems };
  }
}

/** The registry package `name@rawSpec` asks for (an npm: alias names its target), or why a registry cannot serve it. */
export function specTarget(name: string, rawSpec: string): { name: string } | { reason: string } {
  const spec = parseSpec(name, rawSpec);
  return typeof spec === "string" ? { reason: spec } : { name: spec.name };
}

/** npm-pick-manifest over one package, its versions sorted once for every pick. */
export class VersionPicker {
  readonly #offer: Offer;

  constructor(pkg: ResolvablePackage) {
    this.#offer = new Offer(pkg);
  }

  /** The version npm picks for `name@rawSpec` (name as the dependent writes it), or why there is none. */
  pick(name: string, rawSpec: string): ResolvableVersion | string {
    const spec = parseSpec(name, rawSpec);
    if (typeof spec === "string") return spec;
    if (spec.name !== this.#offer.pkg.name)
      return `${rawSpec} names ${spec.name}, not ${this.#offer.pkg.name}`;
    const picked = pick(this.#offer, spec);
    return typeof picked === "string" ? picked : picked.v;
  }
}

/** The version npm would pick for `name@spec` on its own (no tree), or why there is none. */
export function pickVersion(
  lookup: PackageLookup,
  name: string,
  rawSpec: string,
): { version: string } | { reason: string } {
  const spec = parseSpec(name, rawSpec);
  if (typeof spec === "string") return { reason: spec };
  const pkg = lookup(spec.name);
  if (!pkg) return { reason: `no package named ${spec.name}` };
  const picked = pick(new Offer(pkg), spec);
  return typeof picked === "string" ? { reason: picked } : { version: picked.v.version };
}

export function resolve(
  requests: Readonly<Record<string, string>>,
  lookup: PackageLookup,
  options: ResolveOptions = {},
): Resolution {
  const resolver = new Resolver(lookup, options);
  resolver.build(requests);
  return resolver.result();
}

/** The requests of a package.json: dependencies, optionalDependencies (marked optional), and devDependencies when `dev` is true. */
export function requestsOfPackageJson(
  pkg: Record<string, unknown>,
  options: { dev?: boolean } = {},
): { requests: Record<string, string>; optional: Set<string> } {
  // Later fields win, as in arborist: a name in optionalDependencies is optional wherever it appears.
  const fields = [
    options.dev ? pkg.devDependencies : {},
    pkg.dependencies,
    pkg.optionalDependencies,
  ];
  const optional = new Set(specsOf(pkg.optionalDependencies).map(([name]) => name));
  return { requests: Object.fromEntries(fields.flatMap(specsOf)), optional };
}
