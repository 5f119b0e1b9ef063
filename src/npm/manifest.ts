/**
 * The fields of a version's manifest that change what an install does,
 * derived from the package.json inside its tarball, and the check that the
 * manifest a client declares in its publish body says the same.
 *
 * npm does not send package.json as it is: it normalises it first (`bin`
 * paths and shapes, `bundledDependencies` spelled `bundleDependencies`, a
 * `*.gyp` file adding `install: node-gyp rebuild`, `directories.bin`
 * expanded, optional dependencies taken out of `dependencies`, git
 * shorthands in dependency specs rewritten as URLs). The fields here are
 * normalised the same way on both sides before they are compared, so real
 * npm, pnpm and Yarn publishes agree, while a body that hides a dependency
 * or an install script from the packument does not.
 */
import { posix } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { TarballSummary } from "./tarball.ts";

type Obj = Record<string, unknown>;

const DEPENDENCY_FIELDS = [
  "dependencies",
  "optionalDependencies",
  "peerDependencies",
  "devDependencies",
] as const;

/** Fields compared as they are, once both sides are normalised. */
const PLAIN_FIELDS = [
  "peerDependenciesMeta",
  "bundleDependencies",
  "bin",
  "directories",
  "engines",
  "os",
  "cpu",
  "libc",
  "deprecated",
] as const;

/** Fields taken from the tarball, never from the declared manifest. */
export const TARBALL_FIELDS = [
  ...DEPENDENCY_FIELDS,
  ...PLAIN_FIELDS,
  "scripts",
  "_hasShrinkwrap",
] as const;

const INSTALL_SCRIPTS = ["preinstall", "install", "postinstall"] as const;

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** npm-normalize-package-bin: a map of command names to package-relative paths. */
function normalBin(bin: unknown, name: unknown): Obj | undefined {
  let raw: Obj;
  if (typeof bin === "string") raw = typeof name === "string" ? { [name]: bin } : {};
  else if (Array.isArray(bin))
    raw = Object.fromEntries(
      bin.filter((b) => typeof b === "string").map((b) => [posix.basename(b), b]),
    );
  else if (isObject(bin)) raw = bin;
  else return undefined;
  const clean: Obj = {};
  for (const [key, target] of Object.entries(raw)) {
    const command = posix.join("/", posix.basename(key.replace(/[\\:]/g, "/"))).slice(1);
    if (typeof target !== "string" || command === "") continue;
    const path = posix.join("/", target.replace(/\\/g, "/")).slice(1);
    if (path !== "") clean[command] = path;
  }
  return Object.keys(clean).length > 0 ? clean : undefined;
}

/** `directories.bin` expanded to every file under it, as npm does when `bin` is absent. */
function binOfDirectory(dir: string, paths: ReadonlySet<string>): Obj | undefined {
  const base = posix.join("/", dir.replace(/\\/g, "/")).slice(1);
  if (base === "") return undefined;
  const bin: Obj = {};
  for (const path of paths) {
    if (!path.startsWith(`${base}/`)) continue;
    const file = posix.basename(path);
    if (file !== "" && !file.startsWith(".")) bin[file] = path;
  }
  return Object.keys(bin).length > 0 ? bin : undefined;
}

function withoutNodeModulesBin(script: unknown): unknown {
  return typeof script === "string"
    ? script.replace(/^(\.[/\\])?node_modules[/\\].bin[\\/]/, "")
    : script;
}

/**
 * The TARBALL_FIELDS of the tarball's package.json, normalised as npm
 * normalises a manifest it publishes. Absent fields stay absent.
 */
export function tarballFields(tarball: TarballSummary): Obj {
  const pkg = tarball.manifest;
  const fields: Obj = {};
  for (const field of TARBALL_FIELDS) if (pkg[field] !== undefined) fields[field] = pkg[field];
  if (fields.bundleDependencies === undefined && pkg.bundledDependencies !== undefined)
    fields.bundleDependencies = pkg.bundledDependencies;
  if (fields.bundleDependencies === true)
    fields.bundleDependencies = Object.keys(isObject(pkg.dependencies) ? pkg.dependencies : {});
  if (fields.bundleDependencies === false) delete fields.bundleDependencies;

  const directories = isObject(pkg.directories) ? pkg.directories : {};
  const bin =
    pkg.bin === undefined && typeof directories.bin === "string"
      ? binOfDirectory(directories.bin, tarball.paths)
      : normalBin(pkg.bin, pkg.name);
  if (bin === undefined) delete fields.bin;
  else fields.bin = bin;

  if (isObject(pkg.scripts)) {
    fields.scripts = Object.fromEntries(
      Object.entries(pkg.scripts)
        .filter(([, s]) => typeof s === "string")
        .map(([k, s]) => [k, withoutNodeModulesBin(s)]),
    );
  }
  const scripts = isObject(fields.scripts) ? fields.scripts : {};
  const hasGyp = [...tarball.paths].some((p) => !p.includes("/") && p.endsWith(".gyp"));
  if (hasGyp && pkg.gypfile !== false && !scripts.install && !scripts.preinstall)
    fields.scripts = { ...scripts, install: "node-gyp rebuild" };
  if (tarball.paths.has("npm-shrinkwrap.json")) fields._hasShrinkwrap = true;
  else delete fields._hasShrinkwrap;
  return fields;
}

/** `base` with its TARBALL_FIELDS replaced by the tarball's (from tarballFields). */
export function withTarballFields(base: Obj, fromTarball: Obj): Obj {
  const manifest: Obj = { ...base };
  for (const field of [...TARBALL_FIELDS, "bundledDependencies", "hasInstallScript"])
    delete manifest[field];
  return { ...manifest, ...fromTarball };
}

/** True if installing the version runs a script: what `hasInstallScript` says in a packument. */
export function hasInstallScript(fields: Obj): boolean {
  const scripts = fields.scripts;
  return isObject(scripts) && INSTALL_SCRIPTS.some((s) => typeof scripts[s] === "string");
}

/**
 * A dependency spec as npm may rewrite it: git shorthands and hosted-git
 * URLs become one canonical URL, so only their kind is compared.
 */
function specKind(spec: unknown): unknown {
  if (typeof spec !== "string") return spec;
  const isGit =
    /^(git\+|git:|github:|gitlab:|bitbucket:|gist:)/.test(spec) ||
    /^[^@/:\s]+\/[^/:\s]+(#.*)?$/.test(spec);
  return isGit ? "<git>" : spec;
}

/** Dependencies by group (optional ones count as `dependencies`: npm moves them between the two). */
function dependencyGroups(fields: Obj): Map<string, Obj> {
  const groups = new Map<string, Obj>();
  for (const kind of DEPENDENCY_FIELDS) {
    const deps = fields[kind];
    const group = kind === "optionalDependencies" ? "dependencies" : kind;
    const view = groups.get(group) ?? {};
    if (isObject(deps))
      for (const [name, spec] of Object.entries(deps)) view[name] = specKind(spec);
    // A group that is not a map at all is a claim too: it must match the tarball's, not vanish.
    else if (deps !== undefined && deps !== null) view[`\u0000${kind}`] = deps;
    groups.set(group, view);
  }
  return groups;
}

function optionalNames(fields: Obj): string[] {
  return Object.keys(
    isObject(fields.optionalDependencies) ? fields.optionalDependencies : {},
  ).sort();
}

function installHooks(fields: Obj): unknown[] {
  const scripts = isObject(fields.scripts) ? fields.scripts : {};
  return INSTALL_SCRIPTS.map((s) => scripts[s]);
}

function isEmpty(value: unknown): boolean {
  return (
    value === undefined ||
    (Array.isArray(value) && value.length === 0) ||
    (isObject(value) && Object.keys(value).length === 0)
  );
}

/**
 * The names of the install-relevant fields where `declared` (the manifest
 * in the publish body) says something other than the tarball's own
 * package.json (`fromTarball`, from tarballFields). Empty when they agree.
 */
export function disagreements(declared: Obj, fromTarball: Obj, tarball: TarballSummary): string[] {
  // The declared side normalised as npm would have, with the tarball's files for what needs them.
  const claimed = tarballFields({
    ...tarball,
    manifest: { ...declared, name: tarball.manifest.name },
  });
  const fields: string[] = [];
  const claimedDeps = dependencyGroups(claimed);
  const tarballDeps = dependencyGroups(fromTarball);
  for (const [group, deps] of tarballDeps) {
    if (!isDeepStrictEqual(claimedDeps.get(group), deps)) fields.push(group);
  }
  if (!isDeepStrictEqual(optionalNames(claimed), optionalNames(fromTarball)))
    fields.push("optionalDependencies");
  for (const field of PLAIN_FIELDS) {
    const a = claimed[field];
    const b = fromTarball[field];
    if (!(isEmpty(a) && isEmpty(b)) && !isDeepStrictEqual(a, b)) fields.push(field);
  }
  if (!isDeepStrictEqual(installHooks(claimed), installHooks(fromTarball))) fields.push("scripts");
  // Claims about the tarball's files, when made at all.
  if (
    declared._hasShrinkwrap !== undefined &&
    declared._hasShrinkwrap !== (fromTarball._hasShrinkwrap === true)
  )
    fields.push("_hasShrinkwrap");
  if (
    declared.hasInstallScript !== undefined &&
    declared.hasInstallScript !== hasInstallScript(fromTarball)
  )
    fields.push("hasInstallScript");
  return fields;
}
