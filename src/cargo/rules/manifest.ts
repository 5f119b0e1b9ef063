/**
 * The part of a Cargo.toml the resolver needs: the package's name, version
 * and `links`, its `[features]`, and its registry dependencies of every
 * kind (`[dependencies]`, `[dev-dependencies]`, `[build-dependencies]`, and
 * the same under `[target.<cfg>]`), in the shape of an index line's
 * dependencies: a bare string is a requirement; a table may rename
 * (`package`), ask for `features`, be `optional`, or turn
 * `default-features` off. A dependency without a version asks for `*`, as
 * cargo reads it. Path, git and workspace-inherited dependencies are
 * refused: they are not in a registry.
 */
import { parse } from "smol-toml";
import { CargoError } from "./errors.ts";
import type { DependencyKind, FeatureMap, IndexDependency } from "./index-line.ts";
import {
  checkCrateName,
  checkDependencyName,
  checkFeatureName,
  checkFeatureValue,
} from "./name.ts";
import type { RootCrate } from "./resolve.ts";
import { parseVersion } from "./version.ts";
import { parseVersionReq } from "./version-req.ts";

type Table = Record<string, unknown>;

const isTable = (v: unknown): v is Table =>
  typeof v === "object" && v !== null && !Array.isArray(v);

type Tables = readonly [DependencyKind, readonly string[]][];

const NORMAL: Tables[number] = ["normal", ["dependencies"]];
const DEV: Tables[number] = ["dev", ["dev-dependencies", "dev_dependencies"]];
const BUILD: Tables[number] = ["build", ["build-dependencies", "build_dependencies"]];
/**
 * cargo's order of a manifest's dependencies (`to_real_manifest`), which
 * breaks ties in the resolver's order of choice: each table sorted by
 * name; normal, dev, build at the top; then each target, sorted, with
 * normal, build, dev.
 */
const TOP_TABLES: Tables = [NORMAL, DEV, BUILD];
const TARGET_TABLES: Tables = [NORMAL, BUILD, DEV];

const bad = (message: string) => new CargoError("bad-manifest", message);

function stringList(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw bad(`${what} must be a list of strings`);
  return value as string[];
}

function dependency(
  key: string,
  spec: unknown,
  kind: DependencyKind,
  target: string | null,
): IndexDependency {
  checkDependencyName(key);
  if (typeof spec === "string") {
    parseVersionReq(spec);
    return {
      name: key,
      req: spec,
      features: [],
      optional: false,
      default_features: true,
      target,
      kind,
    };
  }
  if (!isTable(spec)) throw bad(`dependency \`${key}\` must be a version string or a table`);
  for (const source of ["path", "git", "workspace"])
    if (spec[source] !== undefined)
      throw new CargoError(
        "bad-dependency",
        `dependency \`${key}\` is not from a registry (\`${source}\`)`,
      );
  const req = spec.version ?? "*";
  if (typeof req !== "string") throw bad(`dependency \`${key}\`: \`version\` must be a string`);
  parseVersionReq(req);
  const pkg = spec.package;
  if (pkg !== undefined && typeof pkg !== "string")
    throw bad(`dependency \`${key}\`: \`package\` must be a string`);
  if (pkg !== undefined) checkCrateName(pkg, "dependency");
  const features = stringList(spec.features, `dependency \`${key}\`'s features`);
  for (const feature of features) checkFeatureValue(feature);
  const defaults = spec["default-features"] ?? spec.default_features ?? true;
  const optional = spec.optional ?? false;
  if (typeof defaults !== "boolean" || typeof optional !== "boolean")
    throw bad(`dependency \`${key}\`: \`optional\` and \`default-features\` must be booleans`);
  return {
    name: key,
    req,
    features,
    optional,
    default_features: defaults,
    target,
    kind,
    ...(pkg !== undefined && pkg !== key ? { package: pkg } : {}),
  };
}

function dependencyTables(owner: Table, target: string | null, tables: Tables): IndexDependency[] {
  const deps: IndexDependency[] = [];
  for (const [kind, keys] of tables) {
    for (const key of keys) {
      const table = owner[key];
      if (table === undefined) continue;
      if (!isTable(table)) throw bad(`\`${key}\` must be a table`);
      for (const name of Object.keys(table).sort())
        deps.push(dependency(name, table[name], kind, target));
    }
  }
  return deps;
}

/** Reads a Cargo.toml's text as the root of a resolution; refuses what the resolver cannot use. */
export function parseRootManifest(text: string): RootCrate {
  let manifest: Table;
  try {
    manifest = parse(text) as Table;
  } catch (err) {
    throw new CargoError(
      "bad-manifest",
      `Cargo.toml is not valid TOML: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const pkg = manifest.package;
  if (!isTable(pkg)) throw bad("Cargo.toml has no [package]");
  const { name, version = "0.0.0", links } = pkg;
  if (typeof name !== "string") throw bad("`package.name` must be a string");
  checkCrateName(name);
  if (typeof version !== "string") throw bad("`package.version` must be a string");
  parseVersion(version);
  if (links !== undefined && typeof links !== "string")
    throw bad("`package.links` must be a string");

  const deps = dependencyTables(manifest, null, TOP_TABLES);
  const targets = manifest.target ?? {};
  if (!isTable(targets)) throw bad("`target` must be a table");
  for (const target of Object.keys(targets).sort()) {
    const tables = targets[target];
    if (!isTable(tables)) throw bad(`\`target.${target}\` must be a table`);
    deps.push(...dependencyTables(tables, target, TARGET_TABLES));
  }

  const features: Record<string, readonly string[]> = {};
  const table = manifest.features ?? {};
  if (!isTable(table)) throw bad("`features` must be a table");
  for (const [feature, values] of Object.entries(table)) {
    checkFeatureName(feature);
    features[feature] = stringList(values, `feature \`${feature}\``);
    for (const value of features[feature]) checkFeatureValue(value);
  }
  const resolution = {
    deps,
    features: features as FeatureMap,
    ...(links !== undefined ? { links } : {}),
  };
  return { name, version, resolution };
}
