/**
 * The body of cargo's `PUT /api/v1/crates/new`:
 *
 *   u32 LE n ‖ n bytes of JSON metadata ‖ u32 LE m ‖ m bytes of `.crate`
 *
 * parsed strictly (exact lengths, no trailing bytes, UTF-8 JSON within a
 * depth cap) and checked as crates.io checks the metadata, then projected
 * to what the registry logs: the crate's published name and version, the
 * index-line `resolution` (each dependency's `version_req` becomes `req`; a
 * renamed dependency's `explicit_name_in_toml` becomes `name` and its
 * crate name `package`; features split into `features`/`features2`), and
 * the descriptive fields search and pages show.
 *
 * crates.io reads dependencies, features and descriptive fields from the
 * `Cargo.toml` inside the `.crate`; cargo derives this JSON from that same
 * normalized manifest, and crate-file.ts checks that the manifest names the
 * same crate and version.
 *
 * Where this differs from crates.io: dependencies on other registries are
 * allowed (crates.io refuses them all; `allowRegistry` can narrow them), as
 * long as `registry` is an index URL; requiring a description and license
 * and refusing `*` requirements are options, on by default as on
 * crates.io; licenses are not checked against SPDX and categories not
 * against a list; artifact dependencies are refused; `links`, `target`,
 * authors and URLs have length caps; a feature value containing `dep:`
 * anywhere but at its start is refused (crates.io's check splits at the
 * first `dep:`); unknown metadata fields are kept and ignored, as crates.io
 * ignores them.
 */
import { parseStrictJson } from "../../util/strict-json.ts";
import { CargoError } from "./errors.ts";
import {
  type CrateResolution,
  checkRegistryUrl,
  checkRustVersion,
  checkShortText,
  compareDependencies,
  type DependencyKind,
  type FeatureMap,
  type IndexDependency,
  MAX_DEPENDENCIES,
  MAX_FEATURE_VALUES,
  MAX_FEATURES,
  splitFeatures,
} from "./index-line.ts";
import {
  checkCrateName,
  checkDependencyName,
  checkFeatureName,
  checkFeatureValue,
  checkNotReserved,
} from "./name.ts";
import { checkPublishVersion } from "./version.ts";
import { parseVersionReq } from "./version-req.ts";

export interface PublishLimits {
  /** crates.io's `MAX_JSON_LENGTH`: 1 MiB. */
  readonly maxMetadataBytes: number;
  /** crates.io's default `max_upload_size`: 10 MiB. */
  readonly maxCrateBytes: number;
  /** crates.io requires both; an alternative registry may not. */
  readonly requireDescriptionAndLicense: boolean;
  /** crates.io refuses `*` requirements. */
  readonly allowWildcardRequirements: boolean;
  /**
   * Whether a dependency may name this other registry (its index URL as
   * cargo wrote it). crates.io allows none; the default allows any.
   */
  readonly allowRegistry?: (url: string) => boolean;
}

export const DEFAULT_PUBLISH_LIMITS: PublishLimits = {
  maxMetadataBytes: 1024 * 1024,
  maxCrateBytes: 10 * 1024 * 1024,
  requireDescriptionAndLicense: true,
  allowWildcardRequirements: false,
};

/** The most bytes a body within `limits` can have: read no more before parsing. */
export function maxPublishBodyBytes(limits: PublishLimits = DEFAULT_PUBLISH_LIMITS): number {
  return 8 + limits.maxMetadataBytes + limits.maxCrateBytes;
}

/** The fields of the metadata shown to people, not part of the index line. */
export interface CrateDescription {
  readonly description?: string;
  readonly keywords: readonly string[];
  readonly categories: readonly string[];
  readonly license?: string;
  readonly licenseFile?: string;
  readonly authors: readonly string[];
  readonly homepage?: string;
  readonly documentation?: string;
  readonly repository?: string;
  readonly readme?: string;
  readonly readmeFile?: string;
}

export interface CratePublish {
  readonly name: string;
  readonly version: string;
  readonly resolution: CrateResolution;
  readonly description: CrateDescription;
  /** The metadata JSON as parsed (what the registry stores as the version's manifest). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The `.crate` bytes, a view into the body. */
  readonly crate: Uint8Array;
}

/** crates.io's limits on descriptive fields. */
export const MAX_DESCRIPTION_LENGTH = 1000;
export const MAX_KEYWORDS = 5;
export const MAX_KEYWORD_LENGTH = 20;
export const MAX_CATEGORIES = 5;
/** Not crates.io's: the cap on authors, on a URL or category, and on nesting in the metadata. */
const MAX_AUTHORS = 100;
const MAX_FIELD_LENGTH = 4096;
const MAX_METADATA_DEPTH = 16;

const body = (why: string) => new CargoError("bad-body", why);
const metadata = (why: string) => new CargoError("bad-metadata", why);

export function parsePublishBody(
  bytes: Uint8Array,
  limits: PublishLimits = DEFAULT_PUBLISH_LIMITS,
): CratePublish {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw body("invalid metadata length");
  const jsonLength = view.getUint32(0, true);
  if (jsonLength > limits.maxMetadataBytes)
    throw new CargoError("too-large", "JSON metadata blob too large");
  if (bytes.length < 4 + jsonLength + 4)
    throw body(`invalid metadata length for remaining payload: ${jsonLength}`);
  const jsonBytes = bytes.subarray(4, 4 + jsonLength);
  const crateLength = view.getUint32(4 + jsonLength, true);
  if (crateLength > limits.maxCrateBytes)
    throw new CargoError("too-large", `max upload size is: ${limits.maxCrateBytes}`);
  const crateStart = 8 + jsonLength;
  if (bytes.length - crateStart !== crateLength)
    throw body(
      bytes.length - crateStart < crateLength
        ? `invalid tarball length for remaining payload: ${crateLength}`
        : "bytes after the tarball",
    );
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(jsonBytes);
  } catch (err) {
    throw new CargoError("bad-body", "invalid upload request: metadata is not UTF-8", {
      cause: err,
    });
  }
  const parsed = parseStrictJson(text, MAX_METADATA_DEPTH, (why) =>
    body(`invalid upload request: ${why}`),
  );
  if (!isObject(parsed)) throw body("invalid upload request: metadata must be a JSON object");
  return {
    ...checkMetadata(parsed, limits),
    metadata: parsed,
    crate: bytes.subarray(crateStart),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The metadata checks crates.io makes, in its order, and the projection to the index line. */
export function checkMetadata(
  meta: Record<string, unknown>,
  limits: PublishLimits = DEFAULT_PUBLISH_LIMITS,
): Omit<CratePublish, "metadata" | "crate"> {
  const name = requiredString(meta, "name");
  checkCrateName(name);
  const version = requiredString(meta, "vers");
  checkPublishVersion(version);
  const description = describe(meta, limits);
  const features = projectFeatures(meta.features);
  const deps = projectDependencies(meta.deps, limits);
  const links = optionalString(meta, "links");
  if (links !== undefined) checkShortText(links, "links", "bad-metadata");
  const rustVersion = optionalString(meta, "rust_version");
  if (rustVersion !== undefined) checkRustVersion(rustVersion);
  checkNotReserved(name);
  const { features: plain, features2 } = splitFeatures(features);
  const resolution: CrateResolution = {
    deps,
    features: plain,
    ...(Object.keys(features2).length > 0 ? { features2 } : {}),
    ...(links !== undefined ? { links } : {}),
    ...(rustVersion !== undefined ? { rust_version: rustVersion } : {}),
  };
  return { name, version, resolution, description };
}

function requiredString(meta: Record<string, unknown>, field: string): string {
  const value = meta[field];
  if (typeof value !== "string") throw metadata(`\`${field}\` must be a string`);
  return value;
}

/** A string field that may be absent or null. */
function optionalString(meta: Record<string, unknown>, field: string): string | undefined {
  const value = meta[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw metadata(`\`${field}\` must be a string or null`);
  return value;
}

function stringList(meta: Record<string, unknown>, field: string, max: number): string[] {
  const value = meta[field] ?? [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw metadata(`\`${field}\` must be a list of strings`);
  if (value.length > max) throw metadata(`expected at most ${max} ${field} per crate`);
  return value as string[];
}

const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9_+-]*$/;

function describe(meta: Record<string, unknown>, limits: PublishLimits): CrateDescription {
  const description = optionalString(meta, "description");
  const license = optionalString(meta, "license");
  const licenseFile = optionalString(meta, "license_file");
  if (limits.requireDescriptionAndLicense) {
    const missing = [
      ...(description ? [] : ["description"]),
      ...(license || licenseFile ? [] : ["license"]),
    ];
    if (missing.length > 0)
      throw metadata(`missing or empty metadata fields: ${missing.join(", ")}`);
  }
  if (description !== undefined && Buffer.byteLength(description) > MAX_DESCRIPTION_LENGTH)
    throw metadata(
      `The \`description\` is too long. A maximum of ${MAX_DESCRIPTION_LENGTH} characters are currently allowed.`,
    );
  const urls: Record<string, string | undefined> = {};
  for (const field of ["homepage", "documentation", "repository"]) {
    const url = optionalString(meta, field);
    if (url !== undefined) checkUrl(url, field);
    urls[field] = url;
  }
  const keywords = stringList(meta, "keywords", MAX_KEYWORDS);
  for (const keyword of keywords) {
    if (keyword.length > MAX_KEYWORD_LENGTH)
      throw metadata(
        `"${keyword}" is an invalid keyword (keywords must have less than 20 characters)`,
      );
    if (!KEYWORD.test(keyword)) throw metadata(`"${keyword}" is an invalid keyword`);
  }
  const categories = stringList(meta, "categories", MAX_CATEGORIES);
  for (const category of categories) checkShortText(category, "categories", "bad-metadata");
  const authors = stringList(meta, "authors", MAX_AUTHORS);
  for (const author of authors)
    if (author.length > MAX_FIELD_LENGTH) throw metadata("an author is too long");
  const readme = optionalString(meta, "readme");
  const readmeFile = optionalString(meta, "readme_file");
  if (license !== undefined) checkShortText(license, "license", "bad-metadata");
  if (licenseFile !== undefined) checkShortText(licenseFile, "license_file", "bad-metadata");
  if (readmeFile !== undefined) checkShortText(readmeFile, "readme_file", "bad-metadata");
  if (meta.badges !== undefined && meta.badges !== null && !isObject(meta.badges))
    throw metadata("`badges` must be an object");
  return {
    ...(description ? { description } : {}),
    keywords,
    categories,
    ...(license ? { license } : {}),
    ...(licenseFile ? { licenseFile } : {}),
    authors,
    ...(urls.homepage !== undefined ? { homepage: urls.homepage } : {}),
    ...(urls.documentation !== undefined ? { documentation: urls.documentation } : {}),
    ...(urls.repository !== undefined ? { repository: urls.repository } : {}),
    ...(readme !== undefined ? { readme } : {}),
    ...(readmeFile !== undefined ? { readmeFile } : {}),
  };
}

function checkUrl(url: string, field: string): void {
  if (!url.startsWith("http://") && !url.startsWith("https://"))
    throw metadata(`URL for field \`${field}\` must begin with http:// or https:// (url: ${url})`);
  if (url.length > MAX_FIELD_LENGTH || URL.parse(url) === null)
    throw metadata(`\`${field}\` is not a valid url: \`${url}\``);
}

function projectFeatures(value: unknown): FeatureMap {
  if (!isObject(value)) throw new CargoError("bad-feature", "`features` must be an object");
  const entries = Object.entries(value);
  if (entries.length > MAX_FEATURES)
    throw new CargoError("too-large", `a crate may have at most ${MAX_FEATURES} features`);
  for (const [feature, values] of entries) {
    checkFeatureName(feature);
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string"))
      throw new CargoError("bad-feature", `feature \`${feature}\` must list strings`);
    if (values.length > MAX_FEATURE_VALUES)
      throw new CargoError(
        "too-large",
        `feature \`${feature}\` lists over ${MAX_FEATURE_VALUES} values`,
      );
    for (const v of values as string[]) checkFeatureValue(v);
  }
  return value as FeatureMap;
}

const KINDS = new Set<unknown>(["normal", "build", "dev"]);
/** Fields of cargo's unstable artifact dependencies, which the index line cannot carry for every cargo. */
const UNSUPPORTED_DEP_FIELDS = ["artifact", "bindep_target", "lib"];

function projectDependencies(value: unknown, limits: PublishLimits): IndexDependency[] {
  if (!Array.isArray(value)) throw new CargoError("bad-dependency", "`deps` must be an array");
  if (value.length > MAX_DEPENDENCIES)
    throw new CargoError(
      "too-large",
      `a version may have at most ${MAX_DEPENDENCIES} dependencies`,
    );
  return value.map((dep) => projectDependency(dep, limits)).sort(compareDependencies);
}

function projectDependency(dep: unknown, limits: PublishLimits): IndexDependency {
  const fail = (why: string) => new CargoError("bad-dependency", why);
  if (!isObject(dep)) throw fail("a dependency must be an object");
  const crate = dep.name;
  if (typeof crate !== "string") throw fail("a dependency's `name` must be a string");
  checkCrateName(crate, "dependency");
  const features = dep.features ?? [];
  if (!Array.isArray(features) || features.some((f) => typeof f !== "string"))
    throw fail(`dependency \`${crate}\`: \`features\` must list strings`);
  for (const f of features as string[]) checkFeatureValue(f);
  const registry = dep.registry ?? undefined;
  if (registry !== undefined) {
    checkRegistryUrl(registry);
    if (!(limits.allowRegistry?.(registry) ?? true))
      throw fail(`Dependency \`${crate}\` is hosted on a registry this registry does not allow`);
  }
  const req = dep.version_req;
  if (typeof req !== "string")
    throw fail(`dependency \`${crate}\`: \`version_req\` must be a string`);
  const parsed = parseVersionReq(req);
  if (parsed.comparators.length === 0 && !limits.allowWildcardRequirements)
    throw fail(
      `wildcard (\`*\`) dependency constraints are not allowed. Crate with this problem: \`${crate}\``,
    );
  const explicit = dep.explicit_name_in_toml ?? undefined;
  if (explicit !== undefined) {
    if (typeof explicit !== "string") throw fail("`explicit_name_in_toml` must be a string");
    checkDependencyName(explicit);
  }
  const optional = dep.optional ?? false;
  const defaultFeatures = dep.default_features ?? true;
  if (typeof optional !== "boolean" || typeof defaultFeatures !== "boolean")
    throw fail(`dependency \`${crate}\`: \`optional\` and \`default_features\` must be booleans`);
  const target = dep.target ?? null;
  if (target !== null) {
    if (typeof target !== "string")
      throw fail(`dependency \`${crate}\`: \`target\` must be a string`);
    checkShortText(target, "target", "bad-dependency");
  }
  const kind = dep.kind ?? "normal";
  if (!KINDS.has(kind)) throw fail(`dependency \`${crate}\`: unknown kind ${JSON.stringify(kind)}`);
  for (const field of UNSUPPORTED_DEP_FIELDS)
    if (dep[field] !== undefined && dep[field] !== null && dep[field] !== false)
      throw fail(`dependency \`${crate}\`: artifact dependencies (\`${field}\`) are not supported`);
  return {
    name: explicit ?? crate,
    req,
    features: features as string[],
    optional,
    default_features: defaultFeatures,
    target,
    kind: kind as DependencyKind,
    ...(registry !== undefined ? { registry } : {}),
    ...(explicit !== undefined ? { package: crate } : {}),
  };
}
