/**
 * Cairn's lockfile is npm's package-lock.json, lockfileVersion 3, written
 * without `resolved` for registry packages and with one addition per
 * package, `"cairn": {"sha256": "<hex>", "index": <log index>}`: the
 * tarball's SHA-256 and the log entry that binds it. No host appears, so
 * one lockfile installs from the origin, any mirror, a peer or a proxy.
 * npm installs from it (without `resolved` it fetches name@version from
 * its configured registry and checks `integrity`), ignores `cairn`, and
 * drops it when it rewrites the file; Cairn derives it again from the log.
 *
 * Reading accepts what npm 7+ writes (v2 and v3; v2's legacy
 * `dependencies` section is ignored, as npm 9+ does) and refuses npm 6's
 * v1. Registry `resolved` URLs are read and dropped: hashes, not hosts,
 * say what a package is, and writing them back would name a host.
 * Fields npm does not write (beyond `cairn`) are ignored, as npm does.
 *
 * Writing follows arborist's Shrinkwrap.metaFromNode field by field and
 * npm's key order (npm-json.ts), so that for a tree npm wrote, the text
 * written equals npm's own minus `resolved` fields.
 */
import semver from "semver";
import { InstallError } from "./install-error.ts";
import { isObject, parseJsonObject } from "./json-input.ts";
import { npmStringify } from "./npm-json.ts";
import type { PlacedPackage, ProjectRoot, ProjectTree } from "./tree.ts";

/** Larger lockfiles exist only in monorepos of thousands of packages; this is well past them. */
export const MAX_LOCKFILE_BYTES = 64 * 1024 * 1024;
export const MAX_LOCKFILE_PACKAGES = 200_000;
const MAX_LOCATION_LENGTH = 4096;

export type LockfileVersion = 2 | 3;

export interface ReadLockfile {
  readonly tree: ProjectTree;
  readonly lockfileVersion: LockfileVersion;
}

/**
 * The manifest fields npm's lockfile repeats for a package (arborist's
 * pkgMetaKeys without `version` and the `_`-prefixed ones, which it turns
 * into `integrity` and `hasShrinkwrap`), and the kind of value each holds.
 */
const MANIFEST_FIELDS = {
  dependencies: "specs",
  peerDependencies: "specs",
  peerDependenciesMeta: "objects",
  optionalDependencies: "specs",
  bundleDependencies: "bundle",
  acceptDependencies: "specs",
  funding: "json",
  engines: "json",
  os: "strings",
  cpu: "strings",
  libc: "strings",
  license: "json",
  hasInstallScript: "boolean",
  bin: "bin",
  deprecated: "json",
  workspaces: "json",
} as const;
type FieldKind = (typeof MANIFEST_FIELDS)[keyof typeof MANIFEST_FIELDS];

/** Only the project and its workspaces record devDependencies (arborist's `node.isTop`). */
const TOP_FIELDS = { ...MANIFEST_FIELDS, devDependencies: "specs" } as const;

const FLAGS = ["dev", "optional", "devOptional", "peer", "extraneous"] as const;
const SRI = /^(sha1|sha256|sha384|sha512)-[A-Za-z0-9+/]+={0,2}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const bad = (where: string, what: string) =>
  new InstallError("bad-field", `package-lock.json ${where}: ${what}`);

function checkKind(kind: FieldKind, value: unknown): boolean {
  switch (kind) {
    case "specs":
      return isObject(value) && Object.values(value).every((v) => typeof v === "string");
    case "objects":
      return isObject(value) && Object.values(value).every(isObject);
    case "strings":
      return (
        typeof value === "string" ||
        (Array.isArray(value) && value.every((v) => typeof v === "string"))
      );
    case "bundle":
      return typeof value === "boolean" || checkKind("strings", value);
    case "bin":
      return typeof value === "string" || checkKind("specs", value);
    case "boolean":
      return typeof value === "boolean";
    case "json":
      return true;
  }
}

/** The last folder of a location as a package name (`@scope/name` for a scoped one), as @npmcli/name-from-folder. */
export function nameFromFolder(location: string): string {
  const parts = location.split("/");
  const last = parts[parts.length - 1];
  const scope = parts[parts.length - 2];
  return scope?.startsWith("@") ? `${scope}/${last}` : last;
}

// No separators, no control characters (a NUL ends a path in the OS), not `.` or `..`.
const safeSegment = (s: string) =>
  s !== "" && s !== "." && s !== ".." && ![...s].some((c) => c === "/" || c === "\\" || c < " ");

/**
 * Whether a location is one a package can sit in inside the project: a
 * folder path below it (a workspace), optionally followed by
 * `node_modules/<name>` steps, `<name>` being `x` or `@scope/x`.
 */
export function isSafeLocation(location: string): boolean {
  if (location.length === 0 || location.length > MAX_LOCATION_LENGTH) return false;
  const parts = location.split("/");
  if (!parts.every(safeSegment)) return false;
  let i = parts.indexOf("node_modules");
  if (i < 0) return true;
  while (i < parts.length) {
    if (parts[i] !== "node_modules") return false;
    let name = parts[i + 1];
    if (name === undefined || name.startsWith(".") || name === "node_modules") return false;
    if (name.startsWith("@")) {
      name = parts[i + 2];
      if (name === undefined || name.startsWith(".") || name === "node_modules") return false;
      i += 3;
    } else i += 2;
  }
  return true;
}

function lockfileVersionOf(data: Record<string, unknown>): LockfileVersion {
  const v = data.lockfileVersion;
  if (v === 2 || v === 3) return v;
  if (v === 1)
    throw new InstallError(
      "lockfile-version",
      "package-lock.json is lockfileVersion 1 (npm 6): run npm install with npm 7 or later to upgrade it",
    );
  throw new InstallError("lockfile-version", `package-lock.json has lockfileVersion ${String(v)}`);
}

function optionalString(meta: Record<string, unknown>, key: string, where: string) {
  const v = meta[key];
  if (v !== undefined && typeof v !== "string") throw bad(where, `${key} is not a string`);
  return v;
}

function manifestOf(
  meta: Record<string, unknown>,
  fields: Readonly<Record<string, FieldKind>>,
  where: string,
): Record<string, unknown> {
  const manifest: [string, unknown][] = [];
  for (const [key, kind] of Object.entries(fields)) {
    const value = meta[key];
    if (value === undefined) continue;
    if (!checkKind(kind, value)) throw bad(where, `${key} has the wrong shape`);
    manifest.push([key, value]);
  }
  return Object.fromEntries(manifest);
}

function flagsOf(meta: Record<string, unknown>, where: string) {
  const flags: [string, boolean][] = [];
  for (const key of [...FLAGS, "inBundle", "hasShrinkwrap"]) {
    const v = meta[key];
    if (v === undefined) continue;
    if (typeof v !== "boolean") throw bad(where, `${key} is not a boolean`);
    if (v) flags.push([key, true]);
  }
  return Object.fromEntries(flags);
}

function cairnOf(meta: Record<string, unknown>, where: string) {
  const c = meta.cairn;
  if (c === undefined) return {};
  if (!isObject(c) || typeof c.sha256 !== "string" || !SHA256_HEX.test(c.sha256))
    throw bad(where, "cairn.sha256 is not a hex SHA-256");
  if (typeof c.index !== "number" || !Number.isSafeInteger(c.index) || c.index < 0)
    throw bad(where, "cairn.index is not a log index");
  return { sha256: c.sha256, logIndex: c.index };
}

/** A `resolved` npm wrote for a registry package is a URL; anything else is a source Cairn cannot vouch for. */
function checkResolved(resolved: string | undefined, where: string): void {
  if (resolved === undefined || /^https?:\/\//i.test(resolved)) return;
  throw new InstallError(
    "unsupported-source",
    `package-lock.json ${where} comes from ${resolved}, not a registry`,
  );
}

function placedOf(location: string, meta: Record<string, unknown>): PlacedPackage {
  const where = `packages["${location}"]`;
  const isTop = !location.split("/").includes("node_modules");
  const name = optionalString(meta, "name", where) ?? nameFromFolder(location);
  const version = optionalString(meta, "version", where);
  if (!isTop && (version === undefined || semver.valid(version) === null))
    throw bad(where, "version is not a semver version");
  const integrity = optionalString(meta, "integrity", where);
  if (integrity !== undefined && !integrity.split(/\s+/).every((h) => SRI.test(h)))
    throw bad(where, "integrity is not a subresource integrity");
  checkResolved(optionalString(meta, "resolved", where), where);
  return {
    location,
    name,
    version: version ?? "",
    ...(integrity === undefined ? {} : { integrity }),
    ...cairnOf(meta, where),
    ...flagsOf(meta, where),
    manifest: manifestOf(meta, isTop ? TOP_FIELDS : MANIFEST_FIELDS, where),
  };
}

function linkOf(location: string, meta: Record<string, unknown>): PlacedPackage {
  const where = `packages["${location}"]`;
  const target = optionalString(meta, "resolved", where);
  if (target === undefined || !isSafeLocation(target))
    throw new InstallError("unsafe-path", `package-lock.json ${where} links outside the project`);
  return { location, name: nameFromFolder(location), version: "", link: target, manifest: {} };
}

function rootOf(data: Record<string, unknown>, meta: unknown): ProjectRoot {
  const name = optionalString(data, "name", "name");
  const version = optionalString(data, "version", "version");
  if (meta !== undefined && !isObject(meta)) throw bad('packages[""]', "is not an object");
  const m = meta ?? {};
  const manifest = {
    ...(typeof m.name === "string" ? { name: m.name } : {}),
    ...(typeof m.version === "string" ? { version: m.version } : {}),
    ...manifestOf(m, TOP_FIELDS, 'packages[""]'),
  };
  return {
    ...(name === undefined ? {} : { name }),
    ...(version === undefined ? {} : { version }),
    manifest,
  };
}

/** Reads a package-lock.json (v2 or v3), refusing anything it would not install from. */
export function readLockfile(text: string): ReadLockfile {
  const data = parseJsonObject(text, "package-lock.json", MAX_LOCKFILE_BYTES);
  const lockfileVersion = lockfileVersionOf(data);
  const entries = data.packages;
  if (!isObject(entries)) throw bad("packages", "is not an object");
  const locations = Object.keys(entries);
  if (locations.length > MAX_LOCKFILE_PACKAGES)
    throw new InstallError(
      "too-large",
      `package-lock.json lists more than ${MAX_LOCKFILE_PACKAGES} packages`,
    );
  const packages = new Map<string, PlacedPackage>();
  for (const location of locations.sort()) {
    if (location === "") continue;
    if (!isSafeLocation(location))
      throw new InstallError(
        "unsafe-path",
        `package-lock.json names a package outside the project: ${JSON.stringify(location.slice(0, 200))}`,
      );
    const meta = entries[location];
    if (!isObject(meta)) throw bad(`packages["${location}"]`, "is not an object");
    packages.set(location, meta.link === true ? linkOf(location, meta) : placedOf(location, meta));
  }
  for (const p of packages.values())
    if (p.link !== undefined && !packages.has(p.link))
      throw bad(
        `packages["${p.location}"]`,
        `links to ${p.link}, which the lockfile does not hold`,
      );
  return { tree: { root: rootOf(data, entries[""]), packages }, lockfileVersion };
}

/** arborist's metaFieldFromPkg: a license object by its type, and nothing for empty or false values. */
function metaField(key: string, value: unknown): unknown {
  if (!value) return undefined;
  if (key === "license" && isObject(value) && typeof value.type === "string") return value.type;
  if (typeof value === "object" && Object.keys(value).length === 0) return undefined;
  return value;
}

function manifestMeta(manifest: Readonly<Record<string, unknown>>, fields: object) {
  const meta: Record<string, unknown> = {};
  for (const key of Object.keys(fields)) {
    const value = metaField(key, manifest[key]);
    if (value !== undefined) meta[key] = value;
  }
  return meta;
}

/** arborist's Shrinkwrap.metaFromNode for a package of the tree, plus Cairn's `cairn`. */
function entryOf(p: PlacedPackage): Record<string, unknown> {
  if (p.link !== undefined) return { resolved: p.link, link: true };
  const isTop = !p.location.split("/").includes("node_modules");
  const meta = manifestMeta(p.manifest, isTop ? TOP_FIELDS : MANIFEST_FIELDS);
  if (p.version) meta.version = p.version;
  if (p.name !== nameFromFolder(p.location)) meta.name = p.name;
  if (p.integrity) meta.integrity = p.integrity;
  if (p.inBundle) meta.inBundle = true;
  if (p.hasShrinkwrap) meta.hasShrinkwrap = true;
  if (p.extraneous) meta.extraneous = true;
  else {
    if (p.peer) meta.peer = true;
    if (p.dev) meta.dev = true;
    if (p.optional) meta.optional = true;
    if (p.devOptional && !p.dev && !p.optional) meta.devOptional = true;
  }
  if (p.sha256 !== undefined && p.logIndex !== undefined)
    meta.cairn = { sha256: p.sha256, index: p.logIndex };
  return meta;
}

export interface WriteOptions {
  /** node_modules/.package-lock.json: the same without the project's own entry. */
  readonly hidden?: boolean;
}

/** The package-lock.json (v3) text for `tree`, as npm formats it. */
export function writeLockfile(tree: ProjectTree, options: WriteOptions = {}): string {
  const { root } = tree;
  const packages: Record<string, unknown> = {};
  if (!options.hidden) {
    const rootMeta = manifestMeta(root.manifest, { name: 0, version: 0, ...TOP_FIELDS });
    if (Object.keys(rootMeta).length > 0) packages[""] = rootMeta;
  }
  for (const p of tree.packages.values()) packages[p.location] = entryOf(p);
  return npmStringify({
    ...(root.name === undefined ? {} : { name: root.name }),
    ...(root.version === undefined ? {} : { version: root.version }),
    lockfileVersion: 3,
    requires: true,
    packages,
  });
}
