/**
 * Versions as cargo reads them (the `semver` crate, SemVer 2.0.0):
 * `MAJOR.MINOR.PATCH[-PRE][+BUILD]`, each number a u64 without leading
 * zeros, identifiers of `[0-9A-Za-z-]` separated by dots, numeric
 * pre-release identifiers without leading zeros (build identifiers may have
 * them). No `v` prefix, no spaces. A parsed version prints back as the same
 * string, so the text is the canonical form.
 *
 * Order is SemVer precedence: build metadata is ignored, so `1.0.0+a` and
 * `1.0.0+b` compare equal. (The crate's `Ord` breaks that tie by the build
 * string; a registry never holds two versions equal but for build
 * metadata, crates.io's rule and ours, so precedence orders one crate's
 * versions totally.)
 */
import { CargoError } from "./errors.ts";

export interface CargoVersion {
  /** Decimal digits, no leading zero, at most u64::MAX. */
  readonly major: string;
  readonly minor: string;
  readonly patch: string;
  /** Pre-release identifiers; empty for a release. */
  readonly pre: readonly string[];
  /** Build metadata as written, "" when absent. */
  readonly build: string;
}

/** crates.io's `MAX_VERSION_LENGTH`. */
export const MAX_VERSION_LENGTH = 150;

const U64_MAX = "18446744073709551615";

/** Compares two canonical decimal strings (no leading zeros) by value. */
export function compareNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function bad(text: string, why: string): CargoError {
  return new CargoError("bad-version", `"${text}" is an invalid semver version: ${why}`);
}

/**
 * Reads a number at the start of `text`: returns it and the rest, as the
 * crate's `numeric_identifier` does. `what` names the part for messages.
 */
export function readNumber(
  text: string,
  what: string,
  fail: (why: string) => Error,
): [string, string] {
  const digits = /^[0-9]+/.exec(text)?.[0];
  if (digits === undefined) {
    throw fail(
      text === ""
        ? `unexpected end of input while parsing ${what}`
        : `unexpected character ${JSON.stringify(text[0])} while parsing ${what}`,
    );
  }
  if (digits.length > 1 && digits[0] === "0") throw fail(`invalid leading zero in ${what}`);
  if (compareNumbers(digits, U64_MAX) > 0) throw fail(`value of ${what} exceeds u64::MAX`);
  return [digits, text.slice(digits.length)];
}

/**
 * Reads dot-separated identifiers at the start of `text` (the crate's
 * `identifier`): returns them and the rest. An empty segment is an error,
 * and so is a leading zero in a numeric pre-release identifier.
 */
export function readIdentifiers(
  text: string,
  kind: "pre-release" | "build metadata",
  fail: (why: string) => Error,
): [string[], string] {
  const run = /^[0-9A-Za-z.-]*/.exec(text)?.[0] ?? "";
  const ids = run.split(".");
  if (ids.some((id) => id === "")) throw fail(`empty identifier segment in ${kind} identifier`);
  if (kind === "pre-release" && ids.some((id) => /^0[0-9]+$/.test(id)))
    throw fail("invalid leading zero in pre-release identifier");
  return [ids, text.slice(run.length)];
}

export function parseVersion(text: string): CargoVersion {
  const fail = (why: string) => bad(text, why);
  const [major, afterMajor] = readNumber(text, "major version number", fail);
  const minorText = dot(afterMajor, "major", fail);
  const [minor, afterMinor] = readNumber(minorText, "minor version number", fail);
  const patchText = dot(afterMinor, "minor", fail);
  let [patch, rest] = readNumber(patchText, "patch version number", fail);
  let pre: string[] = [];
  let build = "";
  if (rest.startsWith("-")) [pre, rest] = readIdentifiers(rest.slice(1), "pre-release", fail);
  if (rest.startsWith("+")) {
    let ids: string[];
    [ids, rest] = readIdentifiers(rest.slice(1), "build metadata", fail);
    build = ids.join(".");
  }
  if (rest !== "") throw fail(`unexpected character ${JSON.stringify(rest[0])} after the version`);
  return { major, minor, patch, pre, build };
}

function dot(text: string, after: string, fail: (why: string) => Error): string {
  if (text.startsWith(".")) return text.slice(1);
  throw fail(
    text === ""
      ? `unexpected end of input after ${after} version number`
      : `unexpected character ${JSON.stringify(text[0])} after ${after} version number`,
  );
}

export function isVersion(text: string): boolean {
  try {
    parseVersion(text);
    return true;
  } catch {
    return false;
  }
}

/** A version a crate may be published as: parses, and at most crates.io's 150 characters. */
export function checkPublishVersion(text: string): CargoVersion {
  const version = parseVersion(text);
  if (text.length > MAX_VERSION_LENGTH)
    throw new CargoError(
      "bad-version",
      `the version number is too long (max ${MAX_VERSION_LENGTH} characters)`,
    );
  return version;
}

export function formatVersion(v: CargoVersion): string {
  const pre = v.pre.length > 0 ? `-${v.pre.join(".")}` : "";
  const build = v.build !== "" ? `+${v.build}` : "";
  return `${v.major}.${v.minor}.${v.patch}${pre}${build}`;
}

const isNumeric = (id: string) => /^[0-9]+$/.test(id);

/**
 * Pre-release order (the crate's `Ord for Prerelease`): no pre-release
 * ranks above any; numeric identifiers below alphanumeric ones; numbers by
 * value, others bytewise (ASCII); a shorter list below its extensions.
 */
export function comparePre(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  for (let i = 0; i < a.length; i++) {
    if (i >= b.length) return 1;
    const [x, y] = [a[i], b[i]];
    const order =
      isNumeric(x) && isNumeric(y)
        ? compareNumbers(x, y)
        : isNumeric(x)
          ? -1
          : isNumeric(y)
            ? 1
            : x < y
              ? -1
              : x > y
                ? 1
                : 0;
    if (order !== 0) return order;
  }
  return a.length < b.length ? -1 : 0;
}

/** SemVer precedence: major, minor, patch, then pre-release; build metadata ignored. */
export function compareVersions(a: CargoVersion, b: CargoVersion): number {
  return (
    compareNumbers(a.major, b.major) ||
    compareNumbers(a.minor, b.minor) ||
    compareNumbers(a.patch, b.patch) ||
    comparePre(a.pre, b.pre)
  );
}

/** Precedence of two version strings; both must parse. */
export function compareVersionStrings(a: string, b: string): number {
  return compareVersions(parseVersion(a), parseVersion(b));
}

/** `1.0.7` and `1.0.7+extra` are one version for a registry (cargo's index rule, crates.io's `num_no_build`). */
export function sameIgnoringBuild(a: string, b: string): boolean {
  return compareVersionStrings(a, b) === 0;
}

/** The version without build metadata, as crates.io keys uniqueness. */
export function withoutBuild(text: string): string {
  const plus = text.indexOf("+");
  return plus < 0 ? text : text.slice(0, plus);
}
