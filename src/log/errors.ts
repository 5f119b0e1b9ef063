import { CodedError } from "../util/coded-error.ts";

/**
 * Errors raised by the log core. Callers branch on `code`, never on the message.
 */
export type LogErrorCode =
  /** A signed note that does not follow C2SP signed-note. */
  | "malformed-note"
  /** A note with no valid signature by any of the known keys. */
  | "unverified-note"
  /** A known key's signature that does not verify: the note must be rejected. */
  | "invalid-signature"
  /** A trusted witness's cosignature that does not verify: the checkpoint must be rejected. */
  | "invalid-cosignature"
  /** A checkpoint cosigned by fewer trusted witnesses than the policy's threshold. */
  | "too-few-cosignatures"
  /** A checkpoint whose cosignatures are older than the policy's maximum age (a freeze). */
  | "stale-checkpoint"
  /** A signer or verifier key string that does not parse or whose key ID is wrong. */
  | "malformed-key"
  /** A checkpoint body that does not follow C2SP tlog-checkpoint. */
  | "malformed-checkpoint"
  /** A checkpoint for another log than the one expected. */
  | "wrong-origin"
  /** A tile or entry bundle of the wrong length or shape, or a bad tile path. */
  | "malformed-tile"
  /** Tiles or entries whose hashes do not lead up to the signed root. */
  | "hash-mismatch"
  /** An inclusion or consistency proof that does not verify. */
  | "invalid-proof"
  /** A size or index outside the tree. */
  | "out-of-range"
  /** An entry longer than an entry bundle can hold (65,535 bytes). */
  | "entry-too-large"
  /** A response or file larger than the most the reader accepts for it. */
  | "too-large"
  /** A resource that the log storage does not have. */
  | "not-found"
  /** A server that answered 451: it withholds the resource (a takedown, RFC 7725). */
  | "withheld"
  /** No answer: the connection failed or closed before any answer came back. */
  | "unreachable"
  /** A body cut off before its end, or gzip that does not decode to its end. */
  | "truncated"
  /** An answer the client cannot read (an encoding it did not ask for). */
  | "bad-response"
  /** A server that redirects to another origin (not followed), or redirects without end. */
  | "redirect"
  /** Another writer holds the log, or moved its checkpoint under us. */
  | "conflict"
  /** The log storage is damaged in a way recovery cannot repair. */
  | "corrupt-storage";

export class LogError extends CodedError<LogErrorCode> {
  override name = "LogError";
}

export function isLogError(err: unknown, code?: LogErrorCode): err is LogError {
  return err instanceof LogError && (code === undefined || err.code === code);
}
