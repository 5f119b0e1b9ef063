/**
 * What any ecosystem's `resolution` in the log must be: an object whose
 * values nest boundedly. Each ecosystem checks its own shapes on append
 * (src/npm/rules/resolution.ts); this bound decides what old logs replay.
 */
import { isObject } from "../util/is-object.ts";
import { nestsDeeperThan } from "./canonical-json.ts";
import { EntryError } from "./entry-error.ts";

function fail(field: string, message: string): never {
  throw new EntryError("bad-field", `manifest field ${field} ${message}`);
}

/**
 * How deep a resolution value in the log may nest. Every npm shape is at
 * most 2 deep; older versions of Cairn copied manifest fields unchecked, so
 * a log may hold other shapes, which replay as they did, up to this depth.
 */
export const MAX_LOGGED_RESOLUTION_DEPTH = 8;

/** Checks a `resolution` read from the log: an object whose values nest boundedly. */
export function checkLoggedResolution(resolution: unknown): void {
  if (!isObject(resolution)) fail("resolution", "must be an object");
  for (const [field, value] of Object.entries(resolution)) {
    if (nestsDeeperThan(value, MAX_LOGGED_RESOLUTION_DEPTH))
      fail(field, `nests deeper than ${MAX_LOGGED_RESOLUTION_DEPTH} arrays and objects`);
  }
}
