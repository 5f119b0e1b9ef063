/**
 * One version's line in a sparse index file, exactly as crates.io writes it
 * and cargo 1.95 reads it (cargo-util-schemas `IndexPackage`, crates.io
 * `crates_io_index::Crate`), compact JSON with the fields in this order:
 *
 *   {"name":"foo","vers":"1.0.0","deps":[{"name":"bar","req":">0","features":[],
 *    "optional":false,"default_features":true,"target":null,"kind":"normal"}],
 *    "cksum":"2afc…","features":{"old_feat":[]},"features2":{"new_feat":["dep:bar",
 *    "bar?/feat"]},"yanked":false,"v":2}
 *
 * `features2` and `v: 2` appear only when some feature uses `dep:` or `?/`
 * (or names such a feature); `links` and `rust_version` only when set; a
 * dependency's `registry` only when it lives in another registry (absent =
 * this one; crates.io never writes the key) and `package` only when renamed.
 * An index file is these lines in publish order, each followed by "\n".
 *
 * What a publish log entry records as its `resolution` is exactly the
 * `CrateResolution` below, in canonical form (dependencies sorted, features
 * split), so the line is a pure function of (name, version, resolution,
 * sha256, yanked).
 */
import { CargoError } from "./errors.ts";
import {
  checkCrateName,
  checkDependencyName,
  checkFeatureName,
  checkFeatureValue,
} from "./name.ts";
import { parseVersion } from "./version.ts";
import { parseVersionReq } from "./version-req.ts";

export type DependencyKind = "normal" | "build" | "dev";

export interface IndexDependency {
  /** The name the depending crate uses (Cargo.toml's key); the crate itself when `package` is absent. */
  readonly name: string;
  readonly req: string;
  readonly features: readonly string[];
  readonly optional: boolean;
  readonly default_features: boolean;
  readonly target: string | null;
  readonly kind: DependencyKind;
  /** Index URL of another registry; absent for this registry. */
  readonly registry?: string;
  /** The depended-on crate's name when Cargo.toml renamed it. */
  readonly package?: string;
}

export type FeatureMap = Readonly<Record<string, readonly string[]>>;

export interface CrateResolution {
  readonly deps: readonly IndexDependency[];
  readonly features: FeatureMap;
  /** Present only when non-empty. */
  readonly features2?: FeatureMap;
  readonly links?: string;
  readonly rust_version?: string;
}

/** crates.io's limits (`publish_limits`): dependencies per version, features per crate and per feature. */
export const MAX_DEPENDENCIES = 500;
export const MAX_FEATURES = 300;
export const MAX_FEATURE_VALUES = 300;
/** Not a crates.io limit: the longest `links`/`target` a line may carry. */
export const MAX_SHORT_TEXT = 1024;

const KIND_ORDER: Record<DependencyKind, number> = { normal: 0, build: 1, dev: 2 };

/** Bytewise UTF-8 order, as Rust orders `String`s (JavaScript's `<` compares UTF-16 units). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function compareLists(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = compareUtf8(a[i], b[i]);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

/** Absent sorts first, as Rust's `None < Some`. */
function compareOptional(a: string | null | undefined, b: string | null | undefined): number {
  if (a == null || b == null) return (a == null ? 0 : 1) - (b == null ? 0 : 1);
  return compareUtf8(a, b);
}

/**
 * crates.io's dependency order (`Ord for Dependency`): name, kind (normal,
 * build, dev), req, optional, default_features, target, package, features.
 * `registry`, which crates.io has no field for, breaks remaining ties.
 */
export function compareDependencies(a: IndexDependency, b: IndexDependency): number {
  return (
    compareUtf8(a.name, b.name) ||
    KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
    compareUtf8(a.req, b.req) ||
    Number(a.optional) - Number(b.optional) ||
    Number(a.default_features) - Number(b.default_features) ||
    compareOptional(a.target, b.target) ||
    compareOptional(a.package, b.package) ||
    compareLists(a.features, b.features) ||
    compareOptional(a.registry, b.registry)
  );
}

const hasFeatures2Syntax = (value: string) => value.startsWith("dep:") || value.includes("?/");

/** crates.io's cap on the rounds that move features naming moved features. */
const SPLIT_ROUNDS = 100;

/**
 * crates.io's `split_features`: a feature goes to `features2` when a value
 * uses `dep:` or `?/`, or (repeatedly, up to 100 rounds) names a feature
 * already there, so cargo older than 1.19 never sees a value it cannot parse.
 */
export function splitFeatures(all: FeatureMap): { features: FeatureMap; features2: FeatureMap } {
  const features: Record<string, readonly string[]> = {};
  const features2: Record<string, readonly string[]> = {};
  for (const [name, values] of Object.entries(all)) {
    if (values.some(hasFeatures2Syntax)) features2[name] = values;
    else features[name] = values;
  }
  for (let round = 0; round < SPLIT_ROUNDS; round++) {
    const moving = Object.entries(features).filter(([, values]) =>
      values.some((v) => Object.hasOwn(features2, v)),
    );
    if (moving.length === 0) break;
    for (const [name, values] of moving) {
      features2[name] = values;
      delete features[name];
    }
  }
  return { features: sortedKeys(features), features2: sortedKeys(features2) };
}

function sortedKeys(map: FeatureMap): FeatureMap {
  const out: Record<string, readonly string[]> = {};
  for (const key of Object.keys(map).sort(compareUtf8)) out[key] = map[key];
  return out;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The JSON text of one index line (no trailing newline). */
export function indexLine(
  name: string,
  version: string,
  resolution: CrateResolution,
  sha256: string,
  yanked: boolean,
): string {
  if (!HEX64.test(sha256))
    throw new CargoError("bad-metadata", "cksum must be 64 lowercase hex digits");
  parseVersion(version);
  const deps = resolution.deps.map((d) => ({
    name: d.name,
    req: d.req,
    features: d.features,
    optional: d.optional,
    default_features: d.default_features,
    target: d.target,
    kind: d.kind,
    ...(d.registry !== undefined ? { registry: d.registry } : {}),
    ...(d.package !== undefined ? { package: d.package } : {}),
  }));
  const features2 = resolution.features2 ?? {};
  const hasFeatures2 = Object.keys(features2).length > 0;
  return JSON.stringify({
    name,
    vers: version,
    deps,
    cksum: sha256,
    features: sortedKeys(resolution.features),
    ...(hasFeatures2 ? { features2: sortedKeys(features2) } : {}),
    yanked,
    ...(resolution.links !== undefined ? { links: resolution.links } : {}),
    ...(resolution.rust_version !== undefined ? { rust_version: resolution.rust_version } : {}),
    ...(hasFeatures2 ? { v: 2 } : {}),
  });
}

/** crates.io's `rust-version` rule: digits and dots that parse as a requirement (`1.70`, `1.70.0`). */
export function checkRustVersion(value: string): void {
  let parses = true;
  try {
    parseVersionReq(value);
  } catch {
    parses = false;
  }
  if (!parses || !/^[0-9.]+$/.test(value))
    throw new CargoError("bad-metadata", "invalid `rust-version` value");
}

/** `links` and `target`: non-empty, no control characters, short. */
export function checkShortText(
  value: string,
  field: string,
  code: "bad-metadata" | "bad-dependency",
): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (value === "" || value.length > MAX_SHORT_TEXT || /[\u0000-\u001f\u007f]/.test(value))
    throw new CargoError(code, `\`${field}\` must be 1 to ${MAX_SHORT_TEXT} printable characters`);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function onlyKeys(
  value: Record<string, unknown>,
  required: readonly string[],
  optional: readonly string[],
  what: string,
  code: "bad-metadata" | "bad-dependency",
): void {
  for (const key of required)
    if (!Object.hasOwn(value, key)) throw new CargoError(code, `${what} has no \`${key}\``);
  for (const key of Object.keys(value))
    if (!required.includes(key) && !optional.includes(key))
      throw new CargoError(code, `${what} has an unknown field \`${key}\``);
}

const DEP_FIELDS = ["name", "req", "features", "optional", "default_features", "target", "kind"];

/**
 * Checks that `value` is a `CrateResolution` in canonical form, as a log
 * entry must hold it: known fields only, every name, requirement and
 * feature valid, dependencies sorted, features split as `splitFeatures`
 * splits them and within crates.io's counts.
 */
export function checkResolution(value: unknown): asserts value is CrateResolution {
  if (!isObject(value)) throw new CargoError("bad-metadata", "resolution must be an object");
  onlyKeys(
    value,
    ["deps", "features"],
    ["features2", "links", "rust_version"],
    "resolution",
    "bad-metadata",
  );
  const { deps, features, features2, links, rust_version } = value;
  if (!Array.isArray(deps)) throw new CargoError("bad-dependency", "`deps` must be an array");
  if (deps.length > MAX_DEPENDENCIES)
    throw new CargoError(
      "too-large",
      `a version may have at most ${MAX_DEPENDENCIES} dependencies`,
    );
  deps.forEach(checkIndexDependency);
  for (let i = 1; i < deps.length; i++) {
    if (compareDependencies(deps[i - 1], deps[i]) > 0)
      throw new CargoError("bad-dependency", "`deps` must be in crates.io's order");
  }
  const first = checkFeatureMap(features, "features");
  const second = features2 === undefined ? {} : checkFeatureMap(features2, "features2");
  if (features2 !== undefined && Object.keys(second).length === 0)
    throw new CargoError("bad-feature", "`features2` is present only when not empty");
  const merged = { ...first, ...second };
  if (Object.keys(merged).length !== Object.keys(first).length + Object.keys(second).length)
    throw new CargoError("bad-feature", "a feature is in both `features` and `features2`");
  if (Object.keys(merged).length > MAX_FEATURES)
    throw new CargoError("too-large", `a crate may have at most ${MAX_FEATURES} features`);
  const split = splitFeatures(merged);
  if (!sameKeys(split.features, first) || !sameKeys(split.features2, second))
    throw new CargoError(
      "bad-feature",
      "features are not split into `features2` as crates.io splits them",
    );
  if (links !== undefined) {
    if (typeof links !== "string") throw new CargoError("bad-metadata", "`links` must be a string");
    checkShortText(links, "links", "bad-metadata");
  }
  if (rust_version !== undefined) {
    if (typeof rust_version !== "string")
      throw new CargoError("bad-metadata", "`rust_version` must be a string");
    checkRustVersion(rust_version);
  }
}

function sameKeys(a: FeatureMap, b: FeatureMap): boolean {
  const [x, y] = [Object.keys(a).sort(), Object.keys(b).sort()];
  return x.length === y.length && x.every((k, i) => k === y[i]);
}

function checkFeatureMap(value: unknown, field: string): FeatureMap {
  if (!isObject(value)) throw new CargoError("bad-feature", `\`${field}\` must be an object`);
  for (const [name, values] of Object.entries(value)) {
    checkFeatureName(name);
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string"))
      throw new CargoError("bad-feature", `feature \`${name}\` must list strings`);
    if (values.length > MAX_FEATURE_VALUES)
      throw new CargoError(
        "too-large",
        `feature \`${name}\` lists over ${MAX_FEATURE_VALUES} values`,
      );
    for (const v of values) checkFeatureValue(v);
  }
  return value as FeatureMap;
}

function checkIndexDependency(value: unknown): asserts value is IndexDependency {
  if (!isObject(value)) throw new CargoError("bad-dependency", "a dependency must be an object");
  onlyKeys(value, DEP_FIELDS, ["registry", "package"], "a dependency", "bad-dependency");
  const {
    name,
    req,
    features,
    optional,
    default_features,
    target,
    kind,
    registry,
    package: pkg,
  } = value;
  if (typeof name !== "string")
    throw new CargoError("bad-dependency", "dependency `name` must be a string");
  checkDependencyName(name);
  if (pkg !== undefined) {
    if (typeof pkg !== "string")
      throw new CargoError("bad-dependency", "`package` must be a string");
    checkCrateName(pkg, "dependency");
  } else {
    checkCrateName(name, "dependency");
  }
  if (typeof req !== "string") throw new CargoError("bad-dependency", "`req` must be a string");
  parseVersionReq(req);
  if (!Array.isArray(features) || features.some((f) => typeof f !== "string"))
    throw new CargoError("bad-dependency", "dependency `features` must list strings");
  for (const f of features) checkFeatureValue(f);
  if (typeof optional !== "boolean" || typeof default_features !== "boolean")
    throw new CargoError("bad-dependency", "`optional` and `default_features` must be booleans");
  if (target !== null) {
    if (typeof target !== "string")
      throw new CargoError("bad-dependency", "`target` must be a string or null");
    checkShortText(target, "target", "bad-dependency");
  }
  if (kind !== "normal" && kind !== "build" && kind !== "dev")
    throw new CargoError("bad-dependency", "`kind` must be normal, build or dev");
  if (registry !== undefined) checkRegistryUrl(registry);
}

/**
 * Another registry's index URL as cargo writes it: `sparse+http(s)://…`,
 * `registry+…` or a plain http(s) (git) URL.
 */
export function checkRegistryUrl(value: unknown): asserts value is string {
  const fail = () =>
    new CargoError("bad-dependency", "a dependency's `registry` must be a registry index URL");
  if (typeof value !== "string" || value.length > MAX_SHORT_TEXT) throw fail();
  const url = URL.parse(value.replace(/^(sparse|registry)\+/, ""));
  if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) throw fail();
}
