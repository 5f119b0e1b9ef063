/**
 * What the cargo web API refuses beyond a crate's own rules (those are
 * CargoError's): who asks, and what the registry already holds.
 */
import { CodedError } from "../util/coded-error.ts";

export type CargoApiErrorCode =
  /** No token, or one the origin does not know: cargo's web API answers 403 for both. */
  | "unauthorized"
  /** A read-only token used to write. */
  | "forbidden"
  | "not-found"
  /** A request body that is not what the endpoint takes. */
  | "bad-request"
  /** The name is taken by a crate spelled otherwise (case, `-` or `_`). */
  | "name-taken"
  /** The version, ignoring build metadata, was published before. */
  | "version-exists"
  /** A dependency on this registry names a crate it does not hold. */
  | "unknown-dependency";

export class CargoApiError extends CodedError<CargoApiErrorCode> {
  override name = "CargoApiError";
}

/** An error as crates.io answers it, which cargo prints: `{"errors":[{"detail"}]}` (and our code, if any). */
export function cargoErrorBody(detail: string, code?: string) {
  return { errors: [{ detail, ...(code !== undefined ? { code } : {}) }] };
}
