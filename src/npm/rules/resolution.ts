/**
 * The resolution fields a publish entry carries: the manifest fields an
 * installer needs before it downloads anything, each with the exact shape
 * npm's own tools read (npm-install-checks, @npmcli/arborist, npm's
 * manifest normalisation), and caps on every count and length so an entry
 * is bounded in depth and size by its schema alone:
 *
 *   dependencies, optionalDependencies, peerDependencies   { name: spec }
 *   peerDependenciesMeta                                    { name: { optional?: boolean } }
 *   bundleDependencies                                      [name, …] or a boolean
 *   bin                                                     "path" or { command: path }
 *   directories, engines                                    { key: string }
 *   os, cpu, libc                                           "value" or ["value", …]
 *   deprecated                                              message
 *   _hasShrinkwrap                                          boolean
 *   hasInstallScript                                        true (derived from scripts)
 *
 * A field of another shape is refused (a `bad-field` EntryError naming it): a registry that kept it
 * would hand every installer something npm itself would not read.
 */
import { EntryError } from "../../registry/entry-error.ts";
import { isObject } from "../../util/is-object.ts";

/** Keys in one map (dependencies of one kind, bin commands, engines, …) or items in one list. */
export const MAX_RESOLUTION_ITEMS = 1000;
/** A package name (npm's limit), a bin command, an engine or directory key. */
export const MAX_RESOLUTION_KEY_LENGTH = 214;
/** A dependency spec (ranges, tags, git and tarball URLs), a path, an engine range. */
export const MAX_RESOLUTION_VALUE_LENGTH = 1024;
/** An os, cpu or libc name ("linux", "!arm64", "glibc"). */
export const MAX_PLATFORM_LENGTH = 64;
/** The `deprecated` message; the same cap as a deprecate entry's. */
export const MAX_DEPRECATED_LENGTH = 1024;

type Check = (value: unknown, field: string) => void;

function isString(value: unknown, max: number, empty = true): value is string {
  return (
    typeof value === "string" &&
    value.length <= max &&
    (empty || value.length > 0) &&
    value.isWellFormed()
  );
}

function fail(field: string, message: string): never {
  throw new EntryError("bad-field", `manifest field ${field} ${message}`);
}

function entriesOf(value: unknown, field: string): [string, unknown][] {
  if (!isObject(value)) fail(field, "must be an object");
  const entries = Object.entries(value);
  if (entries.length > MAX_RESOLUTION_ITEMS)
    fail(field, `has ${entries.length} keys, more than ${MAX_RESOLUTION_ITEMS}`);
  for (const [key] of entries) {
    if (!isString(key, MAX_RESOLUTION_KEY_LENGTH, false))
      fail(
        field,
        `has a key that is empty, longer than ${MAX_RESOLUTION_KEY_LENGTH} or not Unicode`,
      );
  }
  return entries;
}

function stringMap(max: number): Check {
  return (value, field) => {
    for (const [key, v] of entriesOf(value, field)) {
      if (!isString(v, max))
        fail(`${field}.${key}`, `must be a string of at most ${max} characters`);
    }
  };
}

function stringList(max: number): Check {
  return (value, field) => {
    if (!Array.isArray(value)) fail(field, "must be a list");
    if (value.length > MAX_RESOLUTION_ITEMS)
      fail(field, `lists ${value.length} items, more than ${MAX_RESOLUTION_ITEMS}`);
    if (!value.every((v) => isString(v, max, false)))
      fail(field, `must list non-empty strings of at most ${max} characters`);
  };
}

const dependencies = stringMap(MAX_RESOLUTION_VALUE_LENGTH);

const platform: Check = (value, field) => {
  if (typeof value === "string") {
    if (!isString(value, MAX_PLATFORM_LENGTH, false))
      fail(field, `must be a non-empty string of at most ${MAX_PLATFORM_LENGTH} characters`);
  } else stringList(MAX_PLATFORM_LENGTH)(value, field);
};

const boolean: Check = (value, field) => {
  if (typeof value !== "boolean") fail(field, "must be true or false");
};

const CHECKS: Readonly<Record<string, Check>> = {
  dependencies,
  optionalDependencies: dependencies,
  peerDependencies: dependencies,
  peerDependenciesMeta: (value, field) => {
    for (const [name, meta] of entriesOf(value, field)) {
      const keys = isObject(meta) ? Object.keys(meta) : undefined;
      if (
        !isObject(meta) ||
        keys?.some((k) => k !== "optional") ||
        (meta.optional !== undefined && typeof meta.optional !== "boolean")
      )
        fail(`${field}.${name}`, 'must be { "optional": true } or { "optional": false }');
    }
  },
  bundleDependencies: (value, field) => {
    if (typeof value !== "boolean") stringList(MAX_RESOLUTION_KEY_LENGTH)(value, field);
  },
  bin: (value, field) => {
    if (typeof value === "string") {
      if (!isString(value, MAX_RESOLUTION_VALUE_LENGTH, false))
        fail(field, `must be a path of at most ${MAX_RESOLUTION_VALUE_LENGTH} characters`);
    } else stringMap(MAX_RESOLUTION_VALUE_LENGTH)(value, field);
  },
  directories: stringMap(MAX_RESOLUTION_VALUE_LENGTH),
  engines: stringMap(MAX_RESOLUTION_VALUE_LENGTH),
  os: platform,
  cpu: platform,
  libc: platform,
  deprecated: (value, field) => {
    if (!isString(value, MAX_DEPRECATED_LENGTH))
      fail(field, `must be a message of at most ${MAX_DEPRECATED_LENGTH} characters`);
  },
  _hasShrinkwrap: boolean,
  hasInstallScript: (value, field) => {
    if (value !== true) fail(field, "must be true when present");
  },
};

/** The manifest fields copied into a publish entry as they are (hasInstallScript is derived). */
export const RESOLUTION_FIELDS = Object.keys(CHECKS).filter((f) => f !== "hasInstallScript");

/** Throws a `bad-field` EntryError naming the first field of `field`'s value that is not of its shape. */
export function checkResolutionField(field: string, value: unknown): void {
  const check = Object.hasOwn(CHECKS, field) ? CHECKS[field] : undefined;
  if (!check) fail(field, "is not a resolution field");
  check(value, field);
}

/** Checks a publish entry's `resolution`: an object of resolution fields, each of its shape. */
export function checkResolution(resolution: unknown): void {
  if (!isObject(resolution)) fail("resolution", "must be an object");
  for (const [field, value] of Object.entries(resolution)) checkResolutionField(field, value);
}
