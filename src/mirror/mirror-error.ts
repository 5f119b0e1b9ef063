/** A sync that must not complete: what upstream served contradicts this copy's own replay of the log. */

import { isLogError } from "../log/index.ts";
import { CodedError } from "../util/coded-error.ts";

export type MirrorErrorCode =
  /** Upstream answered 451 for a blob that no takedown in the log withholds. */
  "upstream-withheld";

export class MirrorError extends CodedError<MirrorErrorCode> {
  override name = "MirrorError";
}

/** Whether a failed read, or any source it tried, was an upstream's 451. */
export function upstreamWithheld(err: unknown): boolean {
  const seen = new Set<unknown>();
  const walk = (e: unknown): boolean => {
    if (e === undefined || e === null || seen.has(e)) return false;
    seen.add(e);
    if (isLogError(e, "withheld")) return true;
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    return walk(cause) || (Array.isArray(errors) && errors.some(walk));
  };
  return walk(err);
}
