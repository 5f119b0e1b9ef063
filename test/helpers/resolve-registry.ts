/**
 * Small registries for judging the resolver against the real cargo: the
 * same versions served as sparse index files (lines made by `indexLine`) to
 * `cargo generate-lockfile`, and handed to `resolveCrates` as its lookup;
 * and the Cargo.lock cargo writes, read back as packages with their edges.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parse } from "smol-toml";
import {
  type CrateResolution,
  compareDependencies,
  type IndexDependency,
  indexLine,
  splitFeatures,
} from "../../src/cargo/rules/index-line.ts";
import { indexPath } from "../../src/cargo/rules/index-path.ts";
import { keyName } from "../../src/cargo/rules/name.ts";
import type {
  CrateLookup,
  RegistryVersion,
  ResolvedPackage,
} from "../../src/cargo/rules/resolve.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import type { CorpusCrate } from "./crate-corpus.ts";

export interface VersionSpec {
  readonly deps?: readonly (Partial<IndexDependency> & { name: string; req: string })[];
  readonly features?: Record<string, string[]>;
  readonly yanked?: boolean;
  readonly links?: string;
}

/** Crate name → version → what it holds. */
export type RegistrySpec = Record<string, Record<string, VersionSpec>>;

function resolutionOf(spec: VersionSpec): CrateResolution {
  const deps = (spec.deps ?? [])
    .map((d) => ({
      features: [],
      optional: false,
      default_features: true,
      target: null,
      kind: "normal" as const,
      ...d,
    }))
    .sort(compareDependencies);
  const { features, features2 } = splitFeatures(spec.features ?? {});
  return {
    deps,
    features,
    ...(Object.keys(features2).length > 0 ? { features2 } : {}),
    ...(spec.links !== undefined ? { links: spec.links } : {}),
  };
}

export function registryVersions(spec: RegistrySpec): RegistryVersion[] {
  return Object.entries(spec).flatMap(([name, versions]) =>
    Object.entries(versions).map(([version, v]) => ({
      name,
      version,
      resolution: resolutionOf(v),
      yanked: v.yanked === true,
    })),
  );
}

/** The corpus crates as the registry would list them once published (dependencies as Cargo.toml has them). */
export function corpusVersions(crates: readonly CorpusCrate[]): RegistryVersion[] {
  return crates.map((crate) => ({
    name: crate.name,
    version: crate.version,
    yanked: false,
    resolution: resolutionOf({
      features: Object.fromEntries(
        Object.entries(crate.featureTable).map(([name, values]) => [name, [...values]]),
      ),
      ...(crate.links !== undefined ? { links: crate.links } : {}),
      deps: crate.dependencies.map(({ key, crate: pkg, kind, target, table }) => ({
        name: key,
        req: String(table.version ?? "*"),
        features: (table.features ?? []) as string[],
        optional: table.optional === true,
        default_features: table["default-features"] !== false && table.default_features !== false,
        target: target ?? null,
        kind,
        ...(pkg !== key ? { package: pkg } : {}),
      })),
    }),
  }));
}

/** The index files of these versions, by path, in the order given. */
export function indexFiles(versions: readonly RegistryVersion[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const v of versions) {
    const line = indexLine(
      v.name,
      v.version,
      v.resolution,
      sha256Hex(`${v.name}@${v.version}`),
      v.yanked,
    );
    const path = indexPath(v.name);
    files.set(path, `${files.get(path) ?? ""}${line}\n`);
  }
  return files;
}

/** The same index files as a cargo `local-registry` at `dir` (resolving needs no `.crate` files). */
export async function writeLocalRegistry(
  dir: string,
  versions: readonly RegistryVersion[],
): Promise<string> {
  for (const [path, text] of indexFiles(versions)) {
    await mkdir(dirname(join(dir, "index", path)), { recursive: true });
    await writeFile(join(dir, "index", path), text);
  }
  return dir;
}

export function lookupOf(versions: readonly RegistryVersion[]): CrateLookup {
  const byKey = new Map<string, RegistryVersion[]>();
  for (const v of versions) byKey.set(keyName(v.name), [...(byKey.get(keyName(v.name)) ?? []), v]);
  return (key) => byKey.get(key) ?? [];
}

/** A root crate in `dir` whose Cargo.toml has `tables` after its [package]. */
export async function writeRootCrate(dir: string, name: string, tables: string): Promise<string> {
  await mkdir(join(dir, "src"), { recursive: true });
  await writeFile(join(dir, "src", "lib.rs"), "");
  const text = `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n\n${tables}\n`;
  await writeFile(join(dir, "Cargo.toml"), text);
  return text;
}

/** `name version -> dep version, …` lines, sorted: the shape both sides are compared in. */
export function graphLines(packages: readonly ResolvedPackage[]): string[] {
  return packages
    .map(
      (p) =>
        `${p.name} ${p.version} -> ${p.dependencies.map((d) => `${d.name} ${d.version}`).join(", ")}`,
    )
    .sort();
}

interface LockEntry {
  name: string;
  version: string;
  dependencies?: string[];
}

/** The Cargo.lock at `file` as packages with edges (`"a"` or `"a 1.0.0 (source)"` read as a version). */
export async function lockGraph(file: string): Promise<ResolvedPackage[]> {
  const lock = parse(await readFile(file, "utf8")) as { package?: LockEntry[] };
  const packages = lock.package ?? [];
  const versionsOf = (name: string) => packages.filter((p) => p.name === name);
  return packages.map((p) => ({
    name: p.name,
    version: p.version,
    dependencies: (p.dependencies ?? []).map((text) => {
      const [name, version] = text.split(" ");
      if (version !== undefined) return { name, version };
      const [only, ...more] = versionsOf(name);
      if (only === undefined || more.length > 0) throw new Error(`ambiguous ${text} in ${file}`);
      return { name, version: only.version };
    }),
  }));
}
