/**
 * RFC 8785 JSON Canonicalization Scheme: object keys sorted by UTF-16 code
 * units, no insignificant whitespace, numbers and strings serialized as
 * ECMAScript's JSON.stringify does. Log entries are hashed in this form, so
 * equal values always give equal bytes.
 */
import { CodedError } from "../util/coded-error.ts";

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

export type CanonicalJsonErrorCode = "ill-formed-string" | "non-finite-number" | "not-json";

export class CanonicalJsonError extends CodedError<CanonicalJsonErrorCode> {
  override name = "CanonicalJsonError";
}

export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed())
        throw new CanonicalJsonError("ill-formed-string", "string is not valid Unicode");
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value))
        throw new CanonicalJsonError("non-finite-number", "numbers must be finite");
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
      const keys = Object.keys(value).sort();
      const members: string[] = [];
      for (const key of keys) {
        const member = (value as Record<string, unknown>)[key];
        if (member === undefined) continue;
        members.push(`${canonicalJson(key)}:${canonicalJson(member)}`);
      }
      return `{${members.join(",")}}`;
    }
    default:
      throw new CanonicalJsonError("not-json", `cannot encode a ${typeof value} as JSON`);
  }
}

const encoder = new TextEncoder();

export function canonicalJsonBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalJson(value));
}
