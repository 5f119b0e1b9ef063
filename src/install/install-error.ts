/** The installer's one error type: every failure of the store, unpacking and linking carries one of these codes. */
import { CodedError } from "../util/coded-error.ts";

export type InstallErrorCode =
  /** A tarball or a file whose bytes do not hash to what was expected. */
  | "integrity-mismatch"
  /** An expected integrity that is not a `sha512-<base64>` SRI string. */
  | "bad-integrity"
  /** A tarball entry that would write outside the package or is not a file, folder or safe link. */
  | "hostile-entry"
  /** Not a gzip'd tar, or no package.json in it. */
  | "bad-tarball"
  /** Over the size, file-count or compression-ratio caps. */
  | "too-large"
  /** A file index that is not in its one canonical, valid form. */
  | "bad-index"
  /** Store files an index names are missing or damaged, and nothing was given to re-fetch them. */
  | "store-damaged";

export class InstallError extends CodedError<InstallErrorCode> {
  override name = "InstallError";
}
