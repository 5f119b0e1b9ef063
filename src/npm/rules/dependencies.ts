/**
 * The registry dependencies a manifest names, as npm reads them: what an
 * uplink's follower walks for a closure, and what the importer and the
 * verifying reader read ahead of a client's requests.
 */
import semver from "semver";
import { isObject } from "../../util/is-object.ts";

/** A package wanted from the registry: a version range or tag, or one exact version. */
export interface DependencyRoot {
  readonly name: string;
  readonly range: string;
}

/** The fields whose packages an install fetches (npm 7+ installs peers too). */
export const DEPENDENCY_FIELDS = [
  "dependencies",
  "optionalDependencies",
  "peerDependencies",
] as const;

/** `name@range`, `@scope/name@range`, or a bare name (its latest). */
export function parseSpec(spec: string): DependencyRoot {
  const at = spec.indexOf("@", 1);
  return at < 0
    ? { name: spec, range: "latest" }
    : { name: spec.slice(0, at), range: spec.slice(at + 1) };
}

/** The registry dependency a spec names, following `npm:` aliases; undefined for git, file, … */
export function registryDependency(name: string, spec: unknown): DependencyRoot | undefined {
  if (typeof spec !== "string") return undefined;
  if (spec.startsWith("npm:")) return parseSpec(spec.slice(4));
  if (spec === "" || spec === "*" || semver.validRange(spec) !== null)
    return { name, range: spec || "*" };
  // A dist-tag (`latest`, `next`); URLs, paths and git specs are not the registry's.
  return /^[a-z][a-z0-9._-]*$/i.test(spec) ? { name, range: spec } : undefined;
}

/** Every registry dependency a manifest's `fields` name, in that order. */
export function registryDependencies(
  manifest: Record<string, unknown>,
  fields: readonly string[] = DEPENDENCY_FIELDS,
): DependencyRoot[] {
  const roots: DependencyRoot[] = [];
  for (const field of fields) {
    const deps = manifest[field];
    if (!isObject(deps)) continue;
    for (const [name, spec] of Object.entries(deps)) {
      const root = registryDependency(name, spec);
      if (root) roots.push(root);
    }
  }
  return roots;
}
