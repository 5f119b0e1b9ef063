/**
 * Version requirements as cargo reads an index line's `req` (the `semver`
 * crate's `VersionReq`): comparators joined by `,` (all must match), each
 * `[op]MAJOR[.MINOR[.PATCH[-PRE][+BUILD]]]` with op `=`, `>`, `>=`, `<`,
 * `<=`, `~`, `^` (the default), or a wildcard `*`/`x`/`X` in place of minor
 * or patch; `*` alone matches every release. Spaces may surround ops and
 * commas; `||` and hyphen ranges are not cargo syntax. Build metadata in a
 * requirement is read and dropped. At most 32 comparators.
 *
 * Pre-releases (the crate's rule): a version with a pre-release matches only
 * when every comparator matches and one of them names the same
 * MAJOR.MINOR.PATCH with a pre-release of its own.
 */
import { CargoError } from "./errors.ts";
import {
  type CargoVersion,
  compareNumbers,
  comparePre,
  readIdentifiers,
  readNumber,
} from "./version.ts";

export type ReqOp = "=" | ">" | ">=" | "<" | "<=" | "~" | "^" | "*";

export interface Comparator {
  /** `*` is the crate's `Wildcard` op: `1.*`, `1.2.x` without an op. */
  readonly op: ReqOp;
  readonly major: string;
  readonly minor?: string;
  readonly patch?: string;
  readonly pre: readonly string[];
}

/** No comparators: `*`, every release. */
export interface VersionReq {
  readonly comparators: readonly Comparator[];
}

export const MAX_COMPARATORS = 32;

const OPS: readonly ReqOp[] = [">=", "<=", "=", ">", "<", "~", "^"];
const WILDCARDS = new Set(["*", "x", "X"]);

const trimSpaces = (s: string) => s.replace(/^ +/, "");

export function parseVersionReq(text: string): VersionReq {
  const fail = (why: string) =>
    new CargoError("bad-version-req", `"${text}" is an invalid version requirement: ${why}`);
  const start = trimSpaces(text);
  if (WILDCARDS.has(start[0])) {
    const rest = trimSpaces(start.slice(1));
    if (rest === "") return { comparators: [] };
    throw fail(
      rest.startsWith(",")
        ? `wildcard req (${start[0]}) must be the only comparator in the version req`
        : "unexpected character after wildcard in version req",
    );
  }
  const comparators: Comparator[] = [];
  let rest = start;
  for (;;) {
    let comparator: Comparator;
    try {
      [comparator, rest] = readComparator(rest, fail);
    } catch (err) {
      const afterWildcard = trimSpaces(rest.slice(1));
      if (WILDCARDS.has(rest[0]) && (afterWildcard === "" || afterWildcard.startsWith(",")))
        throw fail(`wildcard req (${rest[0]}) must be the only comparator in the version req`);
      throw err;
    }
    comparators.push(comparator);
    if (rest === "") return { comparators };
    if (!rest.startsWith(",")) throw fail(`expected comma, found ${JSON.stringify(rest[0])}`);
    if (comparators.length === MAX_COMPARATORS)
      throw fail(`excessive number of version comparators (max ${MAX_COMPARATORS})`);
    rest = trimSpaces(rest.slice(1));
  }
}

function readComparator(input: string, fail: (why: string) => Error): [Comparator, string] {
  const written = OPS.find((op) => input.startsWith(op));
  let op: ReqOp = written ?? "^";
  const [major, afterMajor] = readNumber(
    trimSpaces(input.slice(written?.length ?? 0)),
    "major version number",
    fail,
  );
  let text = afterMajor;
  let minor: string | undefined;
  let patch: string | undefined;
  let pre: string[] = [];
  let wildcard = false;
  if (text.startsWith(".")) {
    text = text.slice(1);
    if (WILDCARDS.has(text[0])) {
      wildcard = true;
      if (written === undefined) op = "*";
      text = text.slice(1);
    } else {
      [minor, text] = readNumber(text, "minor version number", fail);
    }
  }
  if (text.startsWith(".")) {
    text = text.slice(1);
    if (WILDCARDS.has(text[0])) {
      if (written === undefined) op = "*";
      text = text.slice(1);
    } else if (wildcard) {
      throw fail("unexpected character after wildcard in version req");
    } else {
      [patch, text] = readNumber(text, "patch version number", fail);
    }
  }
  if (patch !== undefined && text.startsWith("-"))
    [pre, text] = readIdentifiers(text.slice(1), "pre-release", fail);
  if (patch !== undefined && text.startsWith("+"))
    [, text] = readIdentifiers(text.slice(1), "build metadata", fail);
  return [{ op, major, minor, patch, pre }, trimSpaces(text)];
}

export function isVersionReq(text: string): boolean {
  try {
    parseVersionReq(text);
    return true;
  } catch {
    return false;
  }
}

/** The crate's `Display`: `^1.2.3`, `>=1.0.0, <2.0.0`, `1.*`, `*`. */
export function formatVersionReq(req: VersionReq): string {
  if (req.comparators.length === 0) return "*";
  return req.comparators.map(formatComparator).join(", ");
}

function formatComparator(c: Comparator): string {
  let text = `${c.op === "*" ? "" : c.op}${c.major}`;
  if (c.minor !== undefined) {
    text += `.${c.minor}`;
    if (c.patch !== undefined) {
      text += `.${c.patch}`;
      if (c.pre.length > 0) text += `-${c.pre.join(".")}`;
    } else if (c.op === "*") {
      text += ".*";
    }
  } else if (c.op === "*") {
    text += ".*";
  }
  return text;
}

export function matchesReq(req: VersionReq, version: CargoVersion): boolean {
  if (!req.comparators.every((c) => matchesComparator(c, version))) return false;
  if (version.pre.length === 0) return true;
  return req.comparators.some(
    (c) =>
      c.major === version.major &&
      c.minor === version.minor &&
      c.patch === version.patch &&
      c.pre.length > 0,
  );
}

function matchesComparator(c: Comparator, v: CargoVersion): boolean {
  switch (c.op) {
    case "=":
    case "*":
      return matchesExact(c, v);
    case ">":
      return matchesGreater(c, v);
    case ">=":
      return matchesExact(c, v) || matchesGreater(c, v);
    case "<":
      return matchesLess(c, v);
    case "<=":
      return matchesExact(c, v) || matchesLess(c, v);
    case "~":
      return matchesTilde(c, v);
    case "^":
      return matchesCaret(c, v);
  }
}

function matchesExact(c: Comparator, v: CargoVersion): boolean {
  if (v.major !== c.major) return false;
  if (c.minor !== undefined && v.minor !== c.minor) return false;
  if (c.patch !== undefined && v.patch !== c.patch) return false;
  return comparePre(v.pre, c.pre) === 0;
}

/** -1, 0 or 1 for `v` against `c` on the parts `c` names; undefined when `c` stops short of them equal. */
function order(c: Comparator, v: CargoVersion): number | undefined {
  if (v.major !== c.major) return compareNumbers(v.major, c.major);
  if (c.minor === undefined) return undefined;
  if (v.minor !== c.minor) return compareNumbers(v.minor, c.minor);
  if (c.patch === undefined) return undefined;
  if (v.patch !== c.patch) return compareNumbers(v.patch, c.patch);
  return comparePre(v.pre, c.pre);
}

function matchesGreater(c: Comparator, v: CargoVersion): boolean {
  return (order(c, v) ?? 0) > 0;
}

function matchesLess(c: Comparator, v: CargoVersion): boolean {
  return (order(c, v) ?? 0) < 0;
}

function matchesTilde(c: Comparator, v: CargoVersion): boolean {
  if (v.major !== c.major) return false;
  if (c.minor !== undefined && v.minor !== c.minor) return false;
  if (c.patch !== undefined && v.patch !== c.patch) return compareNumbers(v.patch, c.patch) > 0;
  return comparePre(v.pre, c.pre) >= 0;
}

function matchesCaret(c: Comparator, v: CargoVersion): boolean {
  if (v.major !== c.major) return false;
  if (c.minor === undefined) return true;
  if (c.patch === undefined) {
    return c.major !== "0" ? compareNumbers(v.minor, c.minor) >= 0 : v.minor === c.minor;
  }
  if (c.major !== "0") {
    if (v.minor !== c.minor) return compareNumbers(v.minor, c.minor) > 0;
    if (v.patch !== c.patch) return compareNumbers(v.patch, c.patch) > 0;
  } else if (c.minor !== "0") {
    if (v.minor !== c.minor) return false;
    if (v.patch !== c.patch) return compareNumbers(v.patch, c.patch) > 0;
  } else if (v.minor !== c.minor || v.patch !== c.patch) {
    return false;
  }
  return comparePre(v.pre, c.pre) >= 0;
}
