/**
 * Request bodies as JSON, refused (400, "invalid-json") before any handler
 * sees them when they could not be stored or hashed as canonical JSON (see
 * util/strict-json.ts for what that excludes).
 */
import { MAX_JSON_DEPTH } from "../registry/canonical-json.ts";
import { parseStrictJson } from "../util/strict-json.ts";
import { HttpError } from "./http-common.ts";

export function parseJsonBody(text: string): unknown {
  return parseStrictJson(
    text,
    MAX_JSON_DEPTH,
    (reason) => new HttpError("invalid-json", `invalid JSON body: ${reason}`),
  );
}
