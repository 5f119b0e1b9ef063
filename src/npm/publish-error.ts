/** The error of the publish path: a body, its attachment, its tarball and manifest. */
import { CodedError } from "../util/coded-error.ts";

export type PublishErrorCode =
  | "bad-request"
  | "invalid-name"
  | "invalid-version"
  | "too-large"
  | "bad-tarball"
  | "manifest-mismatch"
  | "integrity-mismatch";

export class PublishError extends CodedError<PublishErrorCode> {
  override name = "PublishError";
}
