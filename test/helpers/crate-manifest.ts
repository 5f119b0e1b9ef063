/**
 * Rewrites a crate's normalized Cargo.toml (as Debian ships it) so that the
 * crate can be packaged against a registry holding only the corpus.
 * `cargo package` and `cargo publish` resolve a lockfile for the crate with
 * every feature and its dev-dependencies, for every platform at once, so
 * anything naming a crate outside the corpus has to go:
 * - dev-dependencies, everywhere (tests and benches are never built here);
 * - optional dependencies on crates outside the corpus, with the features
 *   that enable them, then the features that enabled those (the `default`
 *   feature only loses the value);
 * - target-specific dependencies on crates outside the corpus (other
 *   platforms' crates: winapi and friends).
 * A required dependency outside the corpus means the corpus is not a closure:
 * that throws.
 */
import { parse, stringify } from "smol-toml";

type Table = Record<string, unknown>;

const DEPENDENCY_KINDS = ["dependencies", "build-dependencies"] as const;
const DEV_KINDS = ["dev-dependencies", "dev_dependencies"] as const;

export interface CrateDependency {
  /** The key in Cargo.toml: the name the crate's code and features use. */
  readonly key: string;
  /** The crate depended on (differs from `key` when renamed). */
  readonly crate: string;
  readonly kind: "normal" | "build";
  /** The `cfg(...)` or triple of a target-specific dependency. */
  readonly target: string | undefined;
  readonly table: Table;
}

export interface RewrittenManifest {
  readonly name: string;
  readonly version: string;
  readonly text: string;
  readonly dependencies: readonly CrateDependency[];
  /** Every feature another crate may enable on this one, implicit ones included. */
  readonly features: ReadonlySet<string>;
  readonly featureTable: Readonly<Record<string, readonly string[]>>;
  readonly links: string | undefined;
}

/** A manifest's name, version and the corpus crates it depends on, read before any rewriting. */
export function manifestSummary(
  text: string,
  inCorpus: (crate: string) => boolean,
): { name: string; version: string; needs: string[] } {
  const manifest = parse(text) as Table;
  const pkg = manifest.package as Table;
  const needs = new Set<string>();
  for (const dep of dependenciesOf(manifest)) if (inCorpus(dep.crate)) needs.add(dep.crate);
  return { name: String(pkg.name), version: String(pkg.version), needs: [...needs].sort() };
}

/**
 * The manifest restricted to the corpus. `featuresOf` gives the features
 * left on a corpus crate already rewritten (callers go in dependency order).
 */
export function rewriteManifest(
  text: string,
  inCorpus: (crate: string) => boolean,
  featuresOf: (crate: string) => ReadonlySet<string>,
): RewrittenManifest {
  const manifest = parse(text) as Table;
  const pkg = manifest.package as Table;
  const name = String(pkg.name);
  for (const kind of DEV_KINDS) delete manifest[kind];
  const targets = (manifest.target ?? {}) as Record<string, Table>;
  for (const [target, tables] of Object.entries(targets)) {
    for (const kind of DEV_KINDS) delete tables[kind];
    if (Object.keys(tables).length === 0) delete targets[target];
  }
  if (manifest.target && Object.keys(targets).length === 0) delete manifest.target;

  for (const dep of dependenciesOf(manifest)) {
    if (inCorpus(dep.crate)) continue;
    if (dep.table.optional !== true && dep.target === undefined)
      throw new Error(`${name} needs ${dep.crate}, which is not in the crate corpus`);
    removeDependency(manifest, dep);
  }
  const dependencies = dependenciesOf(manifest);
  for (const dep of dependencies) checkRequestedFeatures(name, dep, featuresOf(dep.crate));

  const featureTable = pruneFeatures(
    (manifest.features ?? {}) as Record<string, string[]>,
    dependencies,
    featuresOf,
  );
  if (manifest.features) manifest.features = featureTable;
  // An optional dependency is a feature too, unless some feature names it as `dep:`.
  const named = new Set(Object.values(featureTable).flat());
  const features = new Set(Object.keys(featureTable));
  for (const dep of dependencies)
    if (dep.table.optional === true && !named.has(`dep:${dep.key}`)) features.add(dep.key);
  return {
    name,
    version: String(pkg.version),
    text: stringify(manifest),
    dependencies,
    features,
    featureTable,
    links: typeof pkg.links === "string" ? pkg.links : undefined,
  };
}

/** The normal and build dependencies a manifest declares, for every target. */
export function manifestDependencies(text: string): CrateDependency[] {
  return dependenciesOf(parse(text) as Table);
}

function dependenciesOf(manifest: Table): CrateDependency[] {
  const found: CrateDependency[] = [];
  const collect = (tables: Table, target: string | undefined) => {
    for (const kind of DEPENDENCY_KINDS) {
      const deps = (tables[kind] ?? {}) as Record<string, unknown>;
      for (const [key, spec] of Object.entries(deps)) {
        const table = typeof spec === "string" ? { version: spec } : (spec as Table);
        found.push({
          key,
          crate: typeof table.package === "string" ? table.package : key,
          kind: kind === "dependencies" ? "normal" : "build",
          target,
          table,
        });
      }
    }
  };
  collect(manifest, undefined);
  for (const [target, tables] of Object.entries((manifest.target ?? {}) as Record<string, Table>))
    collect(tables, target);
  return found;
}

function removeDependency(manifest: Table, dep: CrateDependency): void {
  const kind = dep.kind === "normal" ? "dependencies" : "build-dependencies";
  const owner =
    dep.target === undefined ? manifest : (manifest.target as Record<string, Table>)[dep.target];
  const deps = owner[kind] as Table;
  delete deps[dep.key];
  if (Object.keys(deps).length === 0) delete owner[kind];
  if (dep.target !== undefined && Object.keys(owner).length === 0) {
    const targets = manifest.target as Record<string, Table>;
    delete targets[dep.target];
    if (Object.keys(targets).length === 0) delete manifest.target;
  }
}

function checkRequestedFeatures(
  name: string,
  dep: CrateDependency,
  available: ReadonlySet<string>,
): void {
  for (const feature of (dep.table.features ?? []) as string[])
    if (feature !== "" && !available.has(feature))
      throw new Error(`${name} asks ${dep.crate} for feature ${feature}, which the corpus removed`);
}

/**
 * Drops every feature value that names a removed dependency or a feature
 * that no longer exists, deleting the feature that held it (until nothing
 * changes), except `default`, which only loses the value.
 */
function pruneFeatures(
  original: Record<string, string[]>,
  dependencies: readonly CrateDependency[],
  featuresOf: (crate: string) => ReadonlySet<string>,
): Record<string, string[]> {
  const byKey = new Map(dependencies.map((dep) => [dep.key, dep]));
  const live = new Map(Object.entries(original).map(([name, values]) => [name, [...values]]));
  const valid = (value: string): boolean => {
    if (value.startsWith("dep:")) return byKey.has(value.slice(4));
    const slash = value.indexOf("/");
    if (slash < 0) return live.has(value) || byKey.get(value)?.table.optional === true;
    const dep = byKey.get(value.slice(0, slash).replace(/\?$/, ""));
    return dep !== undefined && featuresOf(dep.crate).has(value.slice(slash + 1));
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (const [feature, values] of live) {
      if (values.every(valid)) continue;
      if (feature === "default") live.set(feature, values.filter(valid));
      else live.delete(feature);
      changed = true;
    }
  }
  return Object.fromEntries(live);
}
