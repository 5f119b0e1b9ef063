/**
 * Which of a crate version's dependencies a set of requested features turns
 * on, and with which features, as cargo's dependency resolver decides it
 * (`Requirements` in its `dep_cache`, the feature map of its `Summary`):
 *
 * - the feature map is `features` and `features2` together, plus an
 *   implicit feature `x = ["dep:x"]` for each optional dependency `x` that
 *   no feature names as `dep:x` and no feature is called;
 * - `dep:x` turns on the optional dependency `x`; `x/f` turns it on (and
 *   its implicit feature, when there is one) and asks it for `f`;
 * - `x?/f` asks for `f` and, in the dependency resolver, also turns `x` on:
 *   cargo narrows weak features only later, when building, so the lockfile
 *   holds the dependency either way.
 *
 * Dependencies are named as the depending crate's Cargo.toml names them
 * (the index line's `name`), so a renamed dependency is turned on by its new
 * name.
 */
import type { CrateResolution, IndexDependency } from "./index-line.ts";
import { isVersionReq } from "./version-req.ts";

export type FeatureValue =
  | { readonly kind: "feature"; readonly name: string }
  | { readonly kind: "dep"; readonly dep: string }
  | {
      readonly kind: "dep-feature";
      readonly dep: string;
      readonly feature: string;
      readonly weak: boolean;
    };

/** cargo's `FeatureValue::new`: a `/` decides first, so `dep:x/f` names a dependency `dep:x`. */
export function parseFeatureValue(value: string): FeatureValue {
  const slash = value.indexOf("/");
  if (slash < 0) {
    if (value.startsWith("dep:")) return { kind: "dep", dep: value.slice(4) };
    return { kind: "feature", name: value };
  }
  const dep = value.slice(0, slash);
  const weak = dep.endsWith("?");
  return {
    kind: "dep-feature",
    dep: weak ? dep.slice(0, -1) : dep,
    feature: value.slice(slash + 1),
    weak,
  };
}

export type FeatureTable = ReadonlyMap<string, readonly FeatureValue[]>;

/** The crate's features with the implicit ones cargo adds for optional dependencies. */
export function featureTable(resolution: CrateResolution): FeatureTable {
  const table = new Map<string, FeatureValue[]>();
  for (const [name, values] of Object.entries({ ...resolution.features, ...resolution.features2 }))
    table.set(name, values.map(parseFeatureValue));
  const explicit = new Set<string>();
  for (const values of table.values())
    for (const value of values) if (value.kind === "dep") explicit.add(value.dep);
  for (const dep of resolution.deps) {
    if (!dep.optional || table.has(dep.name) || explicit.has(dep.name)) continue;
    table.set(dep.name, [{ kind: "dep", dep: dep.name }]);
  }
  return table;
}

/**
 * Why cargo would not use a version with this resolution at all (cargo's
 * `Summary::new` and `build_feature_map`; such an index line is "invalid"
 * and never a candidate), or undefined when it is usable: an optional
 * dev-dependency; a feature value naming no dependency or feature, `dep:`
 * on a required dependency, `x?/f` on a required `x`, a bare name of an
 * optional dependency that has no implicit feature; `dep:x/f` or a second
 * `/`; an optional dependency no feature turns on; a requirement that
 * does not parse.
 */
export function resolutionProblem(resolution: CrateResolution): string | undefined {
  const optionalByName = new Map<string, boolean>();
  for (const dep of resolution.deps) {
    if (dep.optional && dep.kind === "dev")
      return `dev-dependencies are not allowed to be optional: \`${dep.name}\``;
    if (!isVersionReq(dep.req)) return `\`${dep.name}\` has an invalid requirement \`${dep.req}\``;
    optionalByName.set(dep.name, (optionalByName.get(dep.name) ?? false) || dep.optional);
  }
  const explicit = { ...resolution.features, ...resolution.features2 };
  const table = featureTable(resolution);
  const used = new Set<string>();
  for (const [feature, values] of table) {
    for (const value of values) {
      const dep = value.kind === "feature" ? value.name : value.dep;
      const optional = optionalByName.get(dep);
      const bad = (why: string) => `feature \`${feature}\` includes \`${dep}\`: ${why}`;
      if (value.kind === "feature") {
        if (Object.hasOwn(explicit, dep)) continue;
        if (optional === undefined) return bad("neither a dependency nor another feature");
        if (!optional) return bad("not an optional dependency");
        if (!table.has(dep)) return bad("an optional dependency without an implicit feature");
        continue;
      }
      used.add(dep);
      if (optional === undefined) return bad("not a dependency");
      if (value.kind === "dep" && !optional) return bad("not an optional dependency");
      if (value.kind === "dep-feature") {
        if (value.feature.includes("/") || dep.startsWith("dep:")) return bad("malformed");
        if (value.weak && !optional) return bad("`?` on a dependency that is not optional");
      }
    }
  }
  for (const [dep, optional] of optionalByName)
    if (optional && !used.has(dep))
      return `optional dependency \`${dep}\` is not included in any feature`;
  return undefined;
}

/** What a crate version is asked for: named features, or (for the root) every feature. */
export type FeatureRequest =
  | { readonly all: true }
  | {
      readonly all?: false;
      readonly features: Iterable<string>;
      readonly defaultFeatures: boolean;
      /** Features given as on cargo's command line may also be `dep:x` or `x/f`. */
      readonly commandLine?: boolean;
    };

/** Why a request cannot be met; a root's request fails outright, a dependency's rejects that version. */
export type FeatureProblem =
  | { readonly kind: "missing-feature"; readonly feature: string }
  | { readonly kind: "missing-dependency"; readonly dep: string }
  | { readonly kind: "feature-cycle"; readonly feature: string };

export interface EnabledDependencies {
  /** Every feature turned on, implicit ones and `default` included. */
  readonly features: ReadonlySet<string>;
  /** The dependencies turned on, in the line's order, each with the features asked of it. */
  readonly deps: readonly {
    readonly dep: IndexDependency;
    readonly features: ReadonlySet<string>;
  }[];
}

class Requirements {
  readonly features = new Set<string>();
  readonly deps = new Map<string, Set<string>>();
  readonly table: FeatureTable;
  readonly optional: ReadonlySet<string>;
  constructor(table: FeatureTable, optional: ReadonlySet<string>) {
    this.table = table;
    this.optional = optional;
  }

  feature(name: string): FeatureProblem | undefined {
    if (name === "" || this.features.has(name)) return undefined;
    this.features.add(name);
    const values = this.table.get(name);
    if (values === undefined) return { kind: "missing-feature", feature: name };
    for (const value of values) {
      if (value.kind === "feature" && value.name === name)
        return { kind: "feature-cycle", feature: name };
      const problem = this.value(value);
      if (problem) return problem;
    }
    return undefined;
  }

  value(value: FeatureValue): FeatureProblem | undefined {
    if (value.kind === "feature") return this.feature(value.name);
    if (value.kind === "dep") {
      this.depFeatures(value.dep);
      return undefined;
    }
    if (!value.weak && this.optional.has(value.dep) && this.table.has(value.dep)) {
      const problem = this.feature(value.dep);
      if (problem) return problem;
    }
    this.depFeatures(value.dep).add(value.feature);
    return undefined;
  }

  depFeatures(dep: string): Set<string> {
    const set = this.deps.get(dep) ?? new Set<string>();
    this.deps.set(dep, set);
    return set;
  }
}

/**
 * The dependencies `request` turns on; dev-dependencies only when
 * `withDev` (cargo resolves them for the root alone).
 */
export function enabledDependencies(
  resolution: CrateResolution,
  table: FeatureTable,
  request: FeatureRequest,
  withDev: boolean,
): EnabledDependencies | FeatureProblem {
  const optional = new Set(resolution.deps.filter((d) => d.optional).map((d) => d.name));
  const reqs = new Requirements(table, optional);
  let problem: FeatureProblem | undefined;
  if (request.all) {
    for (const name of table.keys()) problem ??= reqs.feature(name);
  } else {
    for (const name of request.features)
      problem ??= request.commandLine ? reqs.value(parseFeatureValue(name)) : reqs.feature(name);
    if (request.defaultFeatures && table.has("default")) problem ??= reqs.feature("default");
  }
  if (problem) return problem;
  const deps: { dep: IndexDependency; features: ReadonlySet<string> }[] = [];
  const known = new Set<string>();
  for (const dep of resolution.deps) {
    if (dep.kind === "dev" && !withDev) continue;
    if (dep.optional && !reqs.deps.has(dep.name)) continue;
    known.add(dep.name);
    deps.push({ dep, features: new Set([...(reqs.deps.get(dep.name) ?? []), ...dep.features]) });
  }
  for (const dep of reqs.deps.keys())
    if (!known.has(dep)) return { kind: "missing-dependency", dep };
  return { features: reqs.features, deps };
}
