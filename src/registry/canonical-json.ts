/**
 * RFC 8785 JSON Canonicalization Scheme: object keys sorted by UTF-16 code
 * units, no insignificant whitespace, numbers and strings serialized as
 * ECMAScript's JSON.stringify does. Log entries are hashed in this form, so
 * equal values always give equal bytes.
 *
 * Values nest at most MAX_JSON_DEPTH arrays and objects deep: encoding a
 * deeper one is a `too-deep` error, never a stack overflow, so no value
 * that got past this encoder can overflow a later one (JSON.stringify,
 * SQLite's JSON functions) either.
 */
import { CodedError } from "../util/coded-error.ts";

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

export type CanonicalJsonErrorCode = "too-deep" | "not-unicode" | "not-finite" | "not-json";

export class CanonicalJsonError extends CodedError<CanonicalJsonErrorCode> {
  override name = "CanonicalJsonError";
}

/**
 * The deepest nesting of arrays and objects encoded: a package document
 * wraps an entry's values four levels down, and real package.json files
 * nest a handful of levels, so 64 leaves room and bounds every recursion.
 */
export const MAX_JSON_DEPTH = 64;

function encode(value: unknown, depth: number): string {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed())
        throw new CanonicalJsonError("not-unicode", "string is not valid Unicode");
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value))
        throw new CanonicalJsonError("not-finite", "numbers must be finite");
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (depth >= MAX_JSON_DEPTH)
        throw new CanonicalJsonError(
          "too-deep",
          `JSON nests deeper than ${MAX_JSON_DEPTH} arrays and objects`,
        );
      if (Array.isArray(value)) return `[${value.map((v) => encode(v, depth + 1)).join(",")}]`;
      const keys = Object.keys(value).sort();
      const members: string[] = [];
      for (const key of keys) {
        const member = (value as Record<string, unknown>)[key];
        if (member === undefined) continue;
        members.push(`${encode(key, depth + 1)}:${encode(member, depth + 1)}`);
      }
      return `{${members.join(",")}}`;
    }
    default:
      throw new CanonicalJsonError("not-json", `cannot encode a ${typeof value} as JSON`);
  }
}

export function canonicalJson(value: unknown): string {
  return encode(value, 0);
}

const encoder = new TextEncoder();

export function canonicalJsonBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalJson(value));
}

/**
 * Whether `value` nests more than `max` arrays and objects deep. Iterative,
 * so it can check a value parsed from any input (JSON.parse nests without
 * limit) before anything recursive, or an error message, touches it.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [v, depth] = item;
    if (typeof v !== "object" || v === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
