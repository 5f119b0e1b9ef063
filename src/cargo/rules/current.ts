/**
 * A crate's current version, as crates.io's `max_version` picks it: the
 * highest version neither yanked nor taken down, a release before any
 * pre-release. Dependents, search and `cairn ls` describe this version.
 */
import type { PackageDocument } from "../../registry/package-document.ts";
import { isWithdrawn } from "../../registry/takedown.ts";
import { type CargoVersion, compareVersions, parseVersion } from "./version.ts";

/** The current version, or undefined when every version is yanked or taken down. */
export function currentVersion(doc: PackageDocument): string | undefined {
  if (isWithdrawn(doc)) return undefined;
  let best: { text: string; parsed: CargoVersion } | undefined;
  for (const [text, v] of Object.entries(doc.versions)) {
    if (isWithdrawn(v) || v.yanked !== undefined) continue;
    const parsed = parseVersion(text);
    if (best === undefined || isAbove(parsed, best.parsed)) best = { text, parsed };
  }
  return best?.text;
}

function isAbove(a: CargoVersion, b: CargoVersion): boolean {
  const aRelease = a.pre.length === 0;
  if (aRelease !== (b.pre.length === 0)) return aRelease;
  return compareVersions(a, b) > 0;
}
