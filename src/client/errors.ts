/**
 * What went wrong with one source (the origin, a mirror or a gateway), named by the
 * check that failed, so a report says who served what and why it was
 * refused. Verification failures are hard: the bytes are never used and
 * the source is set aside. Availability failures are soft: the client
 * simply asks the next source.
 */
import { isLogError } from "../log/index.ts";
import { CodedError } from "../util/coded-error.ts";

export type Check =
  /** The checkpoint or mirror list is not signed by the pinned origin key. */
  | "signature"
  /** The checkpoint lacks the witness policy's quorum of valid cosignatures (or carries one that does not verify). */
  | "witness"
  /** The checkpoint's cosignatures are older than the policy's maximum age: a frozen view of the log. */
  | "stale"
  /** A key rotation that does not follow from the trusted key: a gap, too few signatures, competing notes. */
  | "key-chain"
  /** The checkpoint names another log. */
  | "origin"
  /** The checkpoint does not extend the last verified one: a fork or rewritten history. */
  | "consistency"
  /** The checkpoint is older than one this client already verified from the same place. */
  | "rollback"
  /** A mirror's checkpoint is further behind the origin's than the allowed lag. */
  | "freshness"
  /** A hash tile does not lead up to the signed root. */
  | "tile"
  /** An entry bundle does not match the leaf hashes of its tile, or does not parse. */
  | "bundle"
  /** A blob (tarball, manifest, …) whose bytes do not match the hashes in the log. */
  | "blob"
  /** A trustless gateway's block that does not hash to its CID, or a CAR that does not hold the file. */
  | "block"
  /** Replaying the entries does not give the state a snapshot entry claims (a dishonest origin). */
  | "replay"
  /** A response larger than the log says it can be (an endless body ends here too). */
  | "size"
  /** A response cut off before its end. */
  | "truncated"
  /** A redirect to another origin, which is not followed (or redirects without end). */
  | "redirect"
  /** No answer in time. */
  | "timeout"
  /** Not found, an HTTP error or a network failure. */
  | "unavailable";

const SOFT: ReadonlySet<Check> = new Set(["timeout", "unavailable", "freshness"]);

export class SourceError extends CodedError<Check> {
  override name = "SourceError";
  readonly source: string;

  constructor(source: string, check: Check, detail: string, options?: { cause?: unknown }) {
    super(check, `${source}: ${check} check failed: ${detail}`, options);
    this.source = source;
  }

  /** True when the source served something wrong, not merely nothing. */
  get hard(): boolean {
    return !SOFT.has(this.code);
  }
}

/** Every source was tried for one thing and none gave it; the errors say why, source by source. */
export class NoSourceError extends Error {
  override name = "NoSourceError";
  readonly errors: readonly SourceError[];

  constructor(what: string, errors: readonly SourceError[]) {
    super(
      `could not get ${what} from any source:\n${errors.map((e) => `  ${e.message}`).join("\n")}`,
    );
    this.errors = errors;
  }
}

/**
 * Names what a failed read or check was: the errors of HttpSource and of the log
 * core become checks; anything that fails verification gets `check`.
 */
export function classify(err: unknown, source: string, check: Check): SourceError {
  if (err instanceof SourceError) return err;
  const message = (err as Error)?.message ?? String(err);
  const name = (err as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError")
    return new SourceError(source, "timeout", message, { cause: err });
  if (isLogError(err, "not-found")) return new SourceError(source, "unavailable", message);
  if (isLogError(err, "too-large")) return new SourceError(source, "size", message);
  if (isLogError(err, "redirect")) return new SourceError(source, "redirect", message);
  if (isLogError(err, "truncated"))
    return new SourceError(source, "truncated", message, { cause: err });
  // No answer, or one in an encoding not asked for: nothing served, not something wrong.
  if (isLogError(err, "unreachable") || isLogError(err, "bad-response"))
    return new SourceError(source, "unavailable", message, { cause: err });
  if (err instanceof TypeError || /answered \d{3}/.test(message))
    return new SourceError(source, "unavailable", message, { cause: err });
  return new SourceError(source, check, message, { cause: err });
}
