/**
 * cargo's dependency resolver, as `cargo generate-lockfile` runs it: the
 * same packages and the same edges as the Cargo.lock cargo writes for the
 * same registry contents. It follows cargo's `activate_deps_loop`:
 *
 * - the root is activated with the features asked (cargo's lockfile asks
 *   for all of them) and its dev-dependencies; no other crate's
 *   dev-dependencies are resolved; build and target-specific dependencies
 *   always are (the lockfile is the same on every platform);
 * - the next dependency to resolve is the one with the fewest candidates
 *   among the frames of activated crates (ties: the older frame); its
 *   candidates are the versions its requirement matches (pre-releases only
 *   when it names one), yanked ones left out unless locked, locked versions
 *   first, then highest first;
 * - a candidate is refused when another version with the same semver
 *   compatibility (same major; same minor for 0.x; same patch for 0.0.x)
 *   is active, or another crate already claims its `links`; a candidate
 *   already active is reused, and activated again when asked for features
 *   it does not have yet (features unify across the graph);
 * - when no candidate is left it backtracks to the last choice that had
 *   another. cargo jumps straight to a choice involved in the conflict; its
 *   conflict sets are sound, so both find the same first solution, cargo
 *   sooner.
 *
 * Not modelled: `[patch]`/`[replace]`, path and git sources, dependencies
 * on other registries (resolved here as if in this one), and the
 * rust-version-aware preference of resolver 3 (edition 2024).
 */

import {
  type EnabledDependencies,
  enabledDependencies,
  type FeatureProblem,
  type FeatureRequest,
  type FeatureTable,
  featureTable,
} from "./crate-features.ts";
import { CargoError } from "./errors.ts";
import type { CrateResolution, IndexDependency } from "./index-line.ts";
import { keyName } from "./name.ts";
import { type CargoVersion, compareVersions, parseVersion } from "./version.ts";
import { matchesReq, parseVersionReq, type VersionReq } from "./version-req.ts";

/** One version of a crate as the registry lists it. */
export interface RegistryVersion {
  /** The published spelling. */
  readonly name: string;
  readonly version: string;
  readonly resolution: CrateResolution;
  readonly yanked: boolean;
}

/** Every version of the crate whose name has this `keyName` (empty when none). */
export type CrateLookup = (key: string) => readonly RegistryVersion[];

export interface RootCrate {
  readonly name: string;
  readonly version: string;
  /** Its dependencies of every kind, dev-dependencies included, and its features. */
  readonly resolution: CrateResolution;
}

export interface PackageRef {
  readonly name: string;
  readonly version: string;
}

export interface ResolveOptions {
  /** The root's features; cargo's lockfile resolves with all of them. */
  readonly features?: FeatureRequest;
  /** Versions a Cargo.lock pins: preferred, and usable even when yanked. */
  readonly locked?: Iterable<PackageRef>;
  /** Activations before giving up with `resolve-too-complex`. */
  readonly maxSteps?: number;
}

export interface ResolvedPackage extends PackageRef {
  /** The packages it depends on, sorted by name then version. */
  readonly dependencies: readonly PackageRef[];
}

interface Summary extends PackageRef {
  readonly id: string;
  readonly parsed: CargoVersion;
  /** Crates of one name and semver-compatible versions share it: at most one is active. */
  readonly activationKey: string;
  readonly links: string | undefined;
  readonly resolution: CrateResolution;
  readonly table: FeatureTable;
}

interface Candidates {
  readonly dep: IndexDependency;
  readonly list: readonly Summary[];
  readonly features: ReadonlySet<string>;
}

/** What activation built: every structure is replaced, never changed, once a copy may share it. */
interface Context {
  activations: Map<string, Summary>;
  links: Map<string, string>;
  features: Map<string, ReadonlySet<string>>;
  /** Package id to the ids it depends on. */
  edges: Map<string, ReadonlySet<string>>;
  /** Activations so far; a package's age is the count when it was activated. */
  age: number;
  ages: Map<string, number>;
}

const copyContext = (c: Context): Context => ({
  activations: new Map(c.activations),
  links: new Map(c.links),
  features: new Map(c.features),
  edges: new Map(c.edges),
  age: c.age,
  ages: new Map(c.ages),
});

const emptyContext = (): Context => ({
  activations: new Map(),
  links: new Map(),
  features: new Map(),
  edges: new Map(),
  age: 0,
  ages: new Map(),
});

/**
 * cargo's `is_conflicting`: when `parent` and every package of `conflicts`
 * are still active, the age of the youngest; otherwise undefined.
 */
function conflictAge(
  cx: Context,
  parent: Summary,
  conflicts: ReadonlyMap<string, Conflict>,
): number | undefined {
  let max = 0;
  for (const id of [parent.id, ...conflicts.keys()]) {
    const age = cx.ages.get(id);
    if (age === undefined) return undefined;
    max = Math.max(max, age);
  }
  return max;
}

interface Frame {
  readonly parent: Summary;
  readonly deps: readonly Candidates[];
  next: number;
  readonly time: number;
}

/** cargo's `RemainingDeps`: the frame whose next dependency has the fewest candidates goes first. */
class RemainingDeps {
  #frames: Frame[];
  #time: number;
  constructor(frames: Frame[] = [], time = 0) {
    this.#frames = frames;
    this.#time = time;
  }

  copy(): RemainingDeps {
    return new RemainingDeps(
      this.#frames.map((f) => ({ ...f })),
      this.#time,
    );
  }

  push(parent: Summary, deps: readonly Candidates[]): void {
    this.#frames.push({ parent, deps, next: 0, time: this.#time++ });
  }

  pop(): [Summary, Candidates] | undefined {
    for (;;) {
      let best = -1;
      let bestCount = 0;
      for (let i = 0; i < this.#frames.length; i++) {
        const f = this.#frames[i];
        const count = f.next < f.deps.length ? f.deps[f.next].list.length : 0;
        if (
          best < 0 ||
          count < bestCount ||
          (count === bestCount && f.time < this.#frames[best].time)
        ) {
          best = i;
          bestCount = count;
        }
      }
      if (best < 0) return undefined;
      const frame = this.#frames[best];
      if (frame.next < frame.deps.length) {
        const sibling = frame.deps[frame.next];
        frame.next++;
        return [frame.parent, sibling];
      }
      this.#frames.splice(best, 1);
    }
  }
}

/** Why an active package rules a candidate out (`feature`: the parent asked for what the candidate lacks). */
type Conflict = "semver" | "links" | "feature";

/** cargo's `RemainingCandidates`: hands out candidates that fit the context, one ahead to know if another remains. */
class RemainingCandidates {
  readonly list: readonly Summary[];
  #at: number;
  #held: Summary | undefined;
  constructor(list: readonly Summary[], at = 0, held: Summary | undefined = undefined) {
    this.list = list;
    this.#at = at;
    this.#held = held;
  }

  copy(): RemainingCandidates {
    return new RemainingCandidates(this.list, this.#at, this.#held);
  }

  next(cx: Context, conflicts: Map<string, Conflict>): [Summary, boolean] | undefined {
    while (this.#at < this.list.length) {
      const b = this.list[this.#at++];
      const active = cx.activations.get(b.activationKey);
      if (active !== undefined && active !== b) {
        if (!conflicts.has(active.id)) conflicts.set(active.id, "semver");
        continue;
      }
      const claimed = b.links === undefined ? undefined : cx.links.get(b.links);
      if (claimed !== undefined && claimed !== b.id) {
        if (!conflicts.has(claimed)) conflicts.set(claimed, "links");
        continue;
      }
      const previous = this.#held;
      this.#held = b;
      if (previous !== undefined) return [previous, true];
    }
    const last = this.#held;
    this.#held = undefined;
    return last === undefined ? undefined : [last, false];
  }
}

interface Backtrack {
  readonly cx: Context;
  readonly remaining: RemainingDeps;
  readonly candidates: RemainingCandidates;
  readonly parent: Summary;
  readonly dep: Candidates;
  readonly conflicts: Map<string, Conflict>;
}

function requestKey(dep: IndexDependency, features: ReadonlySet<string>): string {
  return JSON.stringify([
    dep.package ?? dep.name,
    dep.req,
    dep.default_features,
    [...features].sort(),
  ]);
}

function semverCompatibility(v: CargoVersion): string {
  if (v.major !== "0") return v.major;
  if (v.minor !== "0") return `0.${v.minor}`;
  return `0.0.${v.patch}`;
}

/** `source` tells the root apart from a registry crate of the same name, as cargo's source ids do. */
function summaryOf(
  name: string,
  version: string,
  resolution: CrateResolution,
  source = "registry",
): Summary {
  const parsed = parseVersion(version);
  return {
    id: `${name} ${version} ${source}`,
    name,
    version,
    parsed,
    activationKey: `${name} ${semverCompatibility(parsed)} ${source}`,
    links: resolution.links,
    resolution,
    table: featureTable(resolution),
  };
}

/**
 * Why a candidate cannot be activated whatever else is active: a feature
 * problem, or a dependency it turns on that was found unsatisfiable.
 */
type ActivationProblem =
  | FeatureProblem
  | { readonly kind: "unsatisfiable"; readonly cause: CargoError };

/** Thrown inside activation; a dependency's problem rejects the candidate, the root's fails the run. */
class ActivationConflict {
  readonly problem: ActivationProblem;
  constructor(problem: ActivationProblem) {
    this.problem = problem;
  }
}

class Resolver {
  readonly #summaries = new Map<string, Summary>();
  readonly #queries = new Map<string, readonly Summary[]>();
  readonly #locked: ReadonlySet<string>;

  readonly lookup: CrateLookup;
  readonly maxSteps: number;
  #steps = 0;
  /**
   * Requests (crate, requirement, features) that failed with no active
   * package involved: they fail in every context, so any version turning
   * one on is refused at once. This prunes only subtrees without a
   * solution, so the first solution found stays cargo's; cargo's conflict
   * cache does the same job more generally.
   */
  readonly #unsatisfiable = new Map<string, CargoError>();

  unsatisfiable(dep: Candidates, cause: CargoError): void {
    this.#unsatisfiable.set(requestKey(dep.dep, dep.features), cause);
  }
  constructor(lookup: CrateLookup, locked: Iterable<PackageRef>, maxSteps: number) {
    this.lookup = lookup;
    this.maxSteps = maxSteps;
    this.#locked = new Set([...locked].map((p) => `${keyName(p.name)} ${p.version}`));
  }

  /** cargo's registry query: matching versions, yanked ones only when locked, locked first, then newest. */
  query(dep: IndexDependency): readonly Summary[] {
    const crate = dep.package ?? dep.name;
    const cacheKey = `${crate} ${dep.req}`;
    const cached = this.#queries.get(cacheKey);
    if (cached) return cached;
    const req: VersionReq = parseVersionReq(dep.req);
    const found: Summary[] = [];
    for (const entry of this.lookup(keyName(crate))) {
      if (entry.name !== crate) continue;
      const locked = this.isLocked(entry);
      if (entry.yanked && !locked) continue;
      const summary = this.summary(entry);
      if (matchesReq(req, summary.parsed)) found.push(summary);
    }
    found.sort(
      (a, b) =>
        Number(this.isLocked(b)) - Number(this.isLocked(a)) || compareVersions(b.parsed, a.parsed),
    );
    this.#queries.set(cacheKey, found);
    return found;
  }

  private isLocked(p: PackageRef): boolean {
    return this.#locked.has(`${keyName(p.name)} ${p.version}`);
  }

  private summary(entry: RegistryVersion): Summary {
    const id = `${entry.name} ${entry.version}`;
    let summary = this.#summaries.get(id);
    if (summary === undefined) {
      summary = summaryOf(entry.name, entry.version, entry.resolution);
      this.#summaries.set(id, summary);
    }
    return summary;
  }

  /** cargo's `build_deps`: the dependencies turned on, fewest candidates first (a stable sort). */
  buildDeps(
    summary: Summary,
    request: FeatureRequest,
    withDev: boolean,
  ): EnabledDependencies & { candidates: Candidates[] } {
    const enabled = enabledDependencies(summary.resolution, summary.table, request, withDev);
    if ("kind" in enabled) throw new ActivationConflict(enabled);
    for (const { dep, features } of enabled.deps) {
      const cause = this.#unsatisfiable.get(requestKey(dep, features));
      if (cause) throw new ActivationConflict({ kind: "unsatisfiable", cause });
    }
    const candidates = enabled.deps.map(({ dep, features }) => ({
      dep,
      features,
      list: this.query(dep),
    }));
    candidates.sort((a, b) => a.list.length - b.list.length);
    return { ...enabled, candidates };
  }

  /** cargo's `activate`: records the edge, then the activation; a frame when there is new work. */
  activate(
    cx: Context,
    parent: Summary | undefined,
    candidate: Summary,
    request: FeatureRequest,
    withDev: boolean,
  ): Candidates[] | undefined {
    cx.age++;
    if (++this.#steps > this.maxSteps)
      throw new CargoError("resolve-too-complex", `gave up after ${this.maxSteps} activations`);
    if (parent !== undefined) {
      const edges = new Set(cx.edges.get(parent.id));
      edges.add(candidate.id);
      cx.edges.set(parent.id, edges);
    }
    if (this.alreadyActive(cx, candidate, request)) return undefined;
    const built = this.buildDeps(candidate, request, withDev);
    cx.features.set(
      candidate.id,
      new Set([...(cx.features.get(candidate.id) ?? []), ...built.features]),
    );
    return built.candidates;
  }

  private alreadyActive(cx: Context, summary: Summary, request: FeatureRequest): boolean {
    if (cx.activations.get(summary.activationKey) === undefined) {
      if (summary.links !== undefined) {
        if (cx.links.has(summary.links))
          throw new CargoError(
            "links-conflict",
            `more than one crate links to the native library \`${summary.links}\``,
          );
        cx.links.set(summary.links, summary.id);
      }
      cx.activations.set(summary.activationKey, summary);
      cx.ages.set(summary.id, cx.age);
      return false;
    }
    if (request.all) return false;
    const previous = cx.features.get(summary.id) ?? new Set();
    for (const f of request.features) if (!previous.has(f)) return false;
    return !request.defaultFeatures || previous.has("default") || !summary.table.has("default");
  }
}

/**
 * Resolves `root`'s dependencies against the registry `lookup` reads.
 * Returns every package of the resolution, the root first, each with the
 * packages it depends on. An unresolvable request throws a CargoError whose
 * message names the dependency and the chain that asked for it.
 */
export function resolveCrates(
  root: RootCrate,
  lookup: CrateLookup,
  options: ResolveOptions = {},
): ResolvedPackage[] {
  const resolver = new Resolver(lookup, options.locked ?? [], options.maxSteps ?? 200_000);
  const rootSummary = summaryOf(root.name, root.version, root.resolution, "root");
  let cx = emptyContext();
  let remaining = new RemainingDeps();
  try {
    const deps = resolver.activate(
      cx,
      undefined,
      rootSummary,
      options.features ?? { all: true },
      true,
    );
    if (deps) remaining.push(rootSummary, deps);
  } catch (err) {
    if (err instanceof ActivationConflict) throw rootProblem(rootSummary, err.problem);
    throw err;
  }

  const stack: Backtrack[] = [];
  for (let next = remaining.pop(); next !== undefined; next = remaining.pop()) {
    let [parent, dep] = next;
    let candidates = new RemainingCandidates(dep.list);
    let conflicts = new Map<string, Conflict>();
    const featureFailures: ActivationProblem[] = [];
    let backtracked = false;
    for (;;) {
      let picked = candidates.next(cx, conflicts);
      if (picked === undefined) {
        // cargo's `find_candidate`: a choice made after the parent and every
        // package in the conflict were active cannot undo the conflict, so it
        // is skipped (only on a first failure, as cargo does).
        const age = backtracked ? undefined : conflictAge(cx, parent, conflicts);
        const ruledOut = [...conflicts.values()].some((why) => why === "semver" || why === "links");
        if (!backtracked && !ruledOut)
          resolver.unsatisfiable(
            dep,
            unresolvable(resolver, cx, parent, dep, conflicts, featureFailures),
          );
        for (;;) {
          const frame = stack.pop();
          if (frame === undefined)
            throw unresolvable(resolver, cx, parent, dep, conflicts, featureFailures);
          picked = frame.candidates.next(frame.cx, frame.conflicts);
          if (picked === undefined || (age !== undefined && frame.cx.age >= age)) continue;
          ({ parent, dep, cx, remaining, candidates, conflicts } = frame);
          featureFailures.length = 0;
          backtracked = true;
          break;
        }
      }
      const [candidate, hasAnother] = picked;
      const backtrack: Backtrack | undefined = hasAnother
        ? {
            cx: copyContext(cx),
            remaining: remaining.copy(),
            candidates: candidates.copy(),
            parent,
            dep,
            conflicts: new Map(conflicts),
          }
        : undefined;
      const request = { features: dep.features, defaultFeatures: dep.dep.default_features };
      try {
        const deps = resolver.activate(cx, parent, candidate, request, false);
        if (deps) remaining.push(candidate, deps);
        if (backtrack) stack.push(backtrack);
        break;
      } catch (err) {
        if (!(err instanceof ActivationConflict)) throw err;
        featureFailures.push(err.problem);
        conflicts.set(parent.id, "feature");
        if (backtrack) cx = backtrack.cx;
      }
    }
  }
  checkCycles(cx);
  return packagesOf(rootSummary, cx);
}

/** `serde 1.0.0` for the id `serde 1.0.0 registry`. */
const label = (id: string) => id.slice(0, id.lastIndexOf(" "));

/** cargo refuses a graph where a package depends on itself through others (only dev-dependencies may, and only the root has them). */
function checkCycles(cx: Context): void {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (id: string): void => {
    if (done.has(id)) return;
    const at = path.indexOf(id);
    if (at >= 0) {
      const cycle = [...path.slice(at), id].map(label);
      throw new CargoError("dependency-cycle", `cyclic package dependency: ${cycle.join(" -> ")}`);
    }
    path.push(id);
    for (const child of cx.edges.get(id) ?? []) visit(child);
    path.pop();
    done.add(id);
  };
  for (const id of cx.edges.keys()) visit(id);
}

function packagesOf(root: Summary, cx: Context): ResolvedPackage[] {
  const all = [root, ...[...cx.activations.values()].filter((s) => s !== root)];
  const byId = new Map(all.map((s) => [s.id, s]));
  const order = (a: PackageRef, b: PackageRef) =>
    a.name < b.name
      ? -1
      : a.name > b.name
        ? 1
        : compareVersions(parseVersion(a.version), parseVersion(b.version));
  return all.map((s) => ({
    name: s.name,
    version: s.version,
    dependencies: [...(cx.edges.get(s.id) ?? [])]
      .map((id) => byId.get(id) as Summary)
      .map(({ name, version }) => ({ name, version }))
      .sort(order),
  }));
}

/** `a 1.0.0`, then who asked for it, up to the root: the first parent recorded for each. */
function chainTo(cx: Context, id: string): string[] {
  const parents = new Map<string, string>();
  for (const [parent, children] of cx.edges)
    for (const child of children) if (!parents.has(child)) parents.set(child, parent);
  const chain = [id];
  for (let at = parents.get(id); at !== undefined && !chain.includes(at); at = parents.get(at))
    chain.push(at);
  return chain.map(label);
}

function describeFeatureProblem(problem: FeatureProblem): string {
  switch (problem.kind) {
    case "missing-feature":
      return `it has no feature \`${problem.feature}\``;
    case "missing-dependency":
      return `it has no dependency \`${problem.dep}\``;
    case "feature-cycle":
      return `its feature \`${problem.feature}\` depends on itself`;
  }
}

function rootProblem(root: Summary, problem: ActivationProblem): CargoError {
  if (problem.kind === "unsatisfiable") return problem.cause;
  return new CargoError(
    "missing-feature",
    `cannot enable the features asked of \`${label(root.id)}\`: ${describeFeatureProblem(problem)}`,
  );
}

function unresolvable(
  resolver: Resolver,
  cx: Context,
  parent: Summary,
  dep: Candidates,
  conflicts: ReadonlyMap<string, Conflict>,
  featureFailures: readonly ActivationProblem[],
): CargoError {
  const deeper = featureFailures.find((p) => p.kind === "unsatisfiable");
  if (deeper !== undefined) return deeper.cause;
  const crate = dep.dep.package ?? dep.dep.name;
  const wanted = `\`${crate} = "${dep.dep.req}"\` (required by ${chainTo(cx, parent.id).join(" <- ")})`;
  if (dep.list.length === 0) {
    const known = resolver.lookup(keyName(crate));
    if (!known.some((v) => v.name === crate)) {
      const spelled = known.length > 0 ? `; the registry spells it \`${known[0].name}\`` : "";
      return new CargoError("no-such-crate", `no crate named \`${crate}\`${spelled}: ${wanted}`);
    }
    return new CargoError(
      "no-matching-version",
      `no version matches ${wanted} (yanked versions count only when locked)`,
    );
  }
  const activeFor = (why: Conflict) =>
    [...conflicts].filter(([, reason]) => reason === why).map(([id]) => label(id));
  const links = activeFor("links");
  if (links.length > 0)
    return new CargoError(
      "links-conflict",
      `${wanted}: its native library is already linked by ${links.join(", ")}`,
    );
  const semver = activeFor("semver");
  if (semver.length > 0)
    return new CargoError(
      "version-conflict",
      `${wanted}: every matching version conflicts with the active ${semver.join(", ")}`,
    );
  if (featureFailures.length === 0)
    return new CargoError(
      "version-conflict",
      `${wanted}: every matching version leads to a conflict further down`,
    );
  return new CargoError(
    "missing-feature",
    `${wanted}: ${featureFailures
      .map((p) => (p.kind === "unsatisfiable" ? p.cause.message : describeFeatureProblem(p)))
      .join("; ")}`,
  );
}
