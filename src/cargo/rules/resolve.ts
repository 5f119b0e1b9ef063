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
 *   another, skipping choices made after the parent and everything in the
 *   conflict were first activated (cargo's backjumping, which also skips a
 *   later feature request that turned the failing dependency on: cargo
 *   fails there, and so does this); a request that failed with nothing
 *   active involved is refused at once wherever it recurs, as cargo's
 *   conflict cache refuses it (cargo also caches conflicts with active
 *   packages, not modelled: a pathological registry may reach `maxSteps`);
 * - as cargo over a sparse index, it resolves in passes: a crate whose
 *   index file cargo has not fetched yet is left out of a pass, and what a
 *   pass learnt steers the next, which can end elsewhere than one pass;
 * - a graph where a crate depends on itself through others is refused.
 *
 * The result lists every package with the packages it depends on, as
 * Cargo.lock does: for a root depending on `a = "1"` where `a 1.2.0` needs
 * `b = "0.3"`, `[root 0.1.0 -> a 1.2.0], [a 1.2.0 -> b 0.3.4], [b 0.3.4]`.
 *
 * Not modelled: `[patch]`/`[replace]`, path and git sources, dependencies
 * on other registries (resolved here as if in this one), the
 * rust-version-aware preference of resolver 3 (edition 2024), and cargo's
 * `-`/`_` suggestions (a name must be spelled as published, as cargo
 * requires; the error says how the registry spells it).
 */

import {
  type EnabledDependencies,
  enabledDependencies,
  type FeatureProblem,
  type FeatureRequest,
} from "./crate-features.ts";
import { CargoError } from "./errors.ts";
import type { CrateResolution, IndexDependency } from "./index-line.ts";
import { keyName } from "./name.ts";
import {
  type Candidates,
  type Conflict,
  type Context,
  conflictAge,
  copyContext,
  emptyContext,
  type PackageRef,
  RemainingCandidates,
  RemainingDeps,
  type Summary,
  summaryOf,
} from "./resolve-state.ts";
import { compareVersions, isVersion, parseVersion } from "./version.ts";
import { matchesReq, parseVersionReq, type VersionReq } from "./version-req.ts";

export type { PackageRef };

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

export interface ResolveOptions {
  /** The root's features; cargo's lockfile resolves with all of them. */
  readonly features?: FeatureRequest;
  /** Versions a Cargo.lock pins: preferred, and usable even when yanked. */
  readonly locked?: Iterable<PackageRef>;
  /** Activations before giving up with `resolve-too-complex`. */
  readonly maxSteps?: number;
  /**
   * `sparse` (the default): passes as cargo makes them over a sparse
   * index, fetching as it goes. `local`: one pass with every crate known,
   * as cargo resolves from a local-registry or an index already fetched.
   */
  readonly index?: "sparse" | "local";
}

export interface ResolvedPackage extends PackageRef {
  /** The packages it depends on, sorted by name then version. */
  readonly dependencies: readonly PackageRef[];
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
  readonly #summaries = new Map<string, Summary | undefined>();
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
  readonly #allKnown: boolean;
  constructor(
    lookup: CrateLookup,
    locked: Iterable<PackageRef>,
    maxSteps: number,
    allKnown: boolean,
  ) {
    this.lookup = lookup;
    this.maxSteps = maxSteps;
    this.#allKnown = allKnown;
    this.#locked = new Set([...locked].map((p) => `${keyName(p.name)} ${p.version}`));
  }

  /**
   * Crates whose index files cargo has fetched. cargo resolves in passes:
   * a query for a crate not fetched yet is pending, its dependency left
   * out of that pass, and the file fetched before the next pass, until a
   * pass needs nothing new. What a pass learns (`#unsatisfiable`) is kept,
   * so a later pass can take another path than a single pass would.
   */
  readonly #known = new Set<string>();
  readonly #pending = new Set<string>();

  /** Starts the next pass when the last one asked for crates not fetched; false when it was the last. */
  nextPass(): boolean {
    if (this.#pending.size === 0) return false;
    for (const key of this.#pending) this.#known.add(key);
    this.#pending.clear();
    return true;
  }

  /**
   * cargo's registry query: matching versions, yanked ones only when
   * locked, locked first, then newest; undefined while the crate is pending.
   */
  query(dep: IndexDependency): readonly Summary[] | undefined {
    const crate = dep.package ?? dep.name;
    if (!this.#allKnown && !this.#known.has(keyName(crate))) {
      this.#pending.add(keyName(crate));
      return undefined;
    }
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
      if (summary !== undefined && summary.problem === undefined && matchesReq(req, summary.parsed))
        found.push(summary);
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

  /** Undefined for a version that does not parse: such a line is no candidate. */
  private summary(entry: RegistryVersion): Summary | undefined {
    const id = `${entry.name} ${entry.version}`;
    if (!this.#summaries.has(id))
      this.#summaries.set(
        id,
        isVersion(entry.version)
          ? summaryOf(entry.name, entry.version, entry.resolution)
          : undefined,
      );
    return this.#summaries.get(id);
  }

  /** cargo's `build_deps`: the dependencies turned on, fewest candidates first (a stable sort). */
  buildDeps(
    summary: Summary,
    request: FeatureRequest,
    withDev: boolean,
  ): EnabledDependencies & { candidates: Candidates[] } {
    const enabled = enabledDependencies(summary.resolution, summary.table, request, withDev);
    if ("kind" in enabled) throw new ActivationConflict(enabled);
    const candidates: Candidates[] = [];
    for (const { dep, features } of enabled.deps) {
      const list = this.query(dep);
      if (list !== undefined) candidates.push({ dep, features, list });
    }
    for (const { dep, features } of candidates) {
      const cause = this.#unsatisfiable.get(requestKey(dep, features));
      if (cause) throw new ActivationConflict({ kind: "unsatisfiable", cause });
    }
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
  const resolver = new Resolver(
    lookup,
    options.locked ?? [],
    options.maxSteps ?? 200_000,
    options.index === "local",
  );
  const rootSummary = summaryOf(root.name, root.version, root.resolution, "root");
  if (rootSummary.problem !== undefined)
    throw new CargoError(
      "bad-manifest",
      `\`${root.name}\` cannot be resolved: ${rootSummary.problem}`,
    );
  const features = options.features ?? { all: true };
  let cx = resolvePass(resolver, rootSummary, features);
  while (resolver.nextPass()) cx = resolvePass(resolver, rootSummary, features);
  checkCycles(cx);
  return packagesOf(rootSummary, cx);
}

/** `serde 1.0.0` for the id `serde 1.0.0 registry`. */
const label = (id: string) => id.slice(0, id.lastIndexOf(" "));

/** One pass of cargo's `activate_deps_loop` over the crates fetched so far. */
function resolvePass(resolver: Resolver, rootSummary: Summary, features: FeatureRequest): Context {
  let cx = emptyContext();
  let remaining = new RemainingDeps();
  try {
    const deps = resolver.activate(cx, undefined, rootSummary, features, true);
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
        // package in the conflict were activated is taken not to undo the
        // conflict, so it is skipped (only on a first failure, as cargo does).
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
  return cx;
}

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
