/**
 * Field-by-field differences between two package.json objects: the
 * manifest a registry serves against the package.json inside the tarball
 * (what is inside is what installs and runs), or one version's manifest
 * against another's. Object fields (dependencies, scripts, bin, engines…)
 * are compared key by key, so a page names the one dependency that
 * changed rather than the whole map.
 */
import { isDeepStrictEqual } from "node:util";

type Json = unknown;
type Obj = Record<string, Json>;

export interface FieldDifference {
  readonly field: string;
  /** The key inside an object field (`left-pad` in `dependencies`); absent for the field as a whole. */
  readonly key?: string;
  /** Undefined where that side lacks it. */
  readonly before: Json;
  readonly after: Json;
  /** The field decides what an install fetches, what runs, or what a require loads. */
  readonly install: boolean;
}

/**
 * Fields npm or a registry adds or rewrites when a version is published,
 * which the package.json an author wrote never holds; comparing them would
 * flag every package:
 * - every `_`-prefixed field: npm's bookkeeping (`_id`, `_nodeVersion`,
 *   `_npmVersion`, `_npmUser`, `_hasShrinkwrap`, `_integrity`…);
 * - `dist`: the tarball's URL and hashes, known only after packing;
 * - `readme`, `readmeFilename`: npm copies README.md into the manifest;
 * - `gitHead`: the commit npm published from;
 * - `maintainers`: the registry's list of owners at publish.
 */
const PUBLISH_ADDED = new Set(["dist", "readme", "readmeFilename", "gitHead", "maintainers"]);

export function addedAtPublish(field: string): boolean {
  return field.startsWith("_") || PUBLISH_ADDED.has(field);
}

/** The fields that change what an install fetches, runs or loads. */
const INSTALL_FIELDS = new Set([
  "name",
  "version",
  "dependencies",
  "optionalDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "bundleDependencies",
  "bundledDependencies",
  "devDependencies",
  "scripts",
  "bin",
  "directories",
  "man",
  "main",
  "module",
  "browser",
  "exports",
  "imports",
  "type",
  "types",
  "typings",
  "engines",
  "os",
  "cpu",
  "libc",
  "files",
  "workspaces",
  "overrides",
]);

/** Scripts npm runs on install: a difference here runs code nobody was shown. */
export const INSTALL_SCRIPTS = new Set(["preinstall", "install", "postinstall", "prepare"]);

function isObject(value: Json): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `bin` as npm publishes it: a map of command to path without `./` (a string names the package's command). */
function normalBin(bin: Json, name: Json): Json {
  const command = (n: string) => n.slice(n.lastIndexOf("/") + 1);
  const map: Json =
    typeof bin === "string" && typeof name === "string" ? { [command(name)]: bin } : bin;
  if (!isObject(map)) return bin;
  return Object.fromEntries(
    Object.entries(map).map(([k, v]) => [k, typeof v === "string" ? v.replace(/^(\.\/)+/, "") : v]),
  );
}

function normalised(manifest: Obj): Obj {
  return manifest.bin === undefined
    ? manifest
    : { ...manifest, bin: normalBin(manifest.bin, manifest.name) };
}

export interface CompareOptions {
  /** Leave out the fields npm adds at publish (manifest against tarball). */
  readonly ignorePublishAdded?: boolean;
}

/** Every difference between `before` and `after`, install-relevant fields first, then by name. */
export function fieldDifferences(
  before: Obj,
  after: Obj,
  options: CompareOptions = {},
): FieldDifference[] {
  const a = normalised(before);
  const b = normalised(after);
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
    (f) => !(options.ignorePublishAdded && addedAtPublish(f)),
  );
  const out: FieldDifference[] = [];
  for (const field of fields) {
    const x = Object.hasOwn(a, field) ? a[field] : undefined;
    const y = Object.hasOwn(b, field) ? b[field] : undefined;
    if (isDeepStrictEqual(x, y)) continue;
    const install = INSTALL_FIELDS.has(field);
    if (isObject(x) && isObject(y)) {
      for (const key of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
        const xv = Object.hasOwn(x, key) ? x[key] : undefined;
        const yv = Object.hasOwn(y, key) ? y[key] : undefined;
        if (!isDeepStrictEqual(xv, yv)) out.push({ field, key, before: xv, after: yv, install });
      }
    } else out.push({ field, before: x, after: y, install });
  }
  return out.sort(
    (p, q) =>
      Number(q.install) - Number(p.install) || (p.field < q.field ? -1 : p.field > q.field ? 1 : 0),
  );
}

/** The difference is an install script that one side has and the other does not say the same of. */
export function isInstallScript(d: FieldDifference): boolean {
  return d.field === "scripts" && d.key !== undefined && INSTALL_SCRIPTS.has(d.key);
}
