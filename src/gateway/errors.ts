/** What a trustless gateway refuses, by code; src/npm/error-status.ts maps each to its status. */
import { CodedError } from "../util/coded-error.ts";

export type GatewayErrorCode =
  /** The path does not hold a CID (400). */
  | "bad-cid"
  /** Neither `format` nor an `Accept` naming a trustless type: strict trustless mode serves nothing else (400). */
  | "no-format"
  /** A parameter that does not parse (`dag-scope`, `entity-bytes`, …) (400). */
  | "bad-param"
  /** A format or CAR variant this gateway does not produce (406). */
  | "not-acceptable"
  /** A block not held, or not served: one answer for both, always the same (404). */
  | "not-found";

export class GatewayError extends CodedError<GatewayErrorCode> {
  override name = "GatewayError";
}

/** The one "not here" answer: no CID, no reason, so an absent block and a withheld one look alike. */
export function notHere(): GatewayError {
  return new GatewayError("not-found", "block not found");
}
