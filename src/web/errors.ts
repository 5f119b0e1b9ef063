/** What the web interface refuses, by code; src/npm/error-status.ts maps each to its status. */
import { CodedError } from "../util/coded-error.ts";

export type WebErrorCode =
  /** A page's path or query that does not parse (400). */
  | "bad-request"
  /** No such package, version, file or entry (404). */
  | "not-found"
  /** A version that was unpublished: its files are no longer served (410). */
  | "gone"
  /** A version or package a moderator took down: withheld, with the public reason (451). */
  | "withheld"
  /** A page that needs what this server does not hold: the whole registry, a mirror list (501). */
  | "not-available";

export class WebError extends CodedError<WebErrorCode> {
  override name = "WebError";
}
