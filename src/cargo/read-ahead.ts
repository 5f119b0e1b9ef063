/**
 * The crates cargo is likely to ask for after reading a crate's index file:
 * what a reader fetches ahead so it holds them when cargo asks.
 */
import type { PackageDocument } from "../registry/package-document.ts";
import type { CrateResolution } from "./rules/index-line.ts";

/** Versions whose dependencies are read ahead, newest first: those a fresh lock most likely picks. */
const NEWEST_VERSIONS = 3;

/**
 * The crates (by the name they are published under) that the newest live
 * versions of `doc` depend on from this registry. Dev-dependencies are left
 * out: cargo resolves them only for the crates of its own workspace.
 */
export function crateDependencyNames(doc: PackageDocument): string[] {
  const live = Object.values(doc.versions).filter(
    (v) => v.unpublished === undefined && v.yanked === undefined,
  );
  live.sort((a, b) => b.index - a.index);
  const names = new Set<string>();
  for (const version of live.slice(0, NEWEST_VERSIONS)) {
    const { deps = [] } = (version.resolution ?? {}) as Partial<CrateResolution>;
    for (const dep of deps)
      if (dep.kind !== "dev" && dep.registry === undefined) names.add(dep.package ?? dep.name);
  }
  return [...names];
}
