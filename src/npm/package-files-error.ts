/**
 * The error of a package's files: unpacking a tarball as npm installs it,
 * and reading or checking its file index. The installer turns these into
 * its own InstallError; the origin and mirrors meet them at publish and
 * sync.
 */
import { CodedError } from "../util/coded-error.ts";

export type PackageFilesErrorCode =
  /** A tarball whose bytes do not hash to what was expected. */
  | "integrity-mismatch"
  /** An expected integrity that is not a `sha512-<base64>` SRI string. */
  | "bad-integrity"
  /** A tarball entry that would write outside the package, or a path that is a file and a folder. */
  | "hostile-entry"
  /** Not a gzip'd tar, no package.json in it, or no valid name and version. */
  | "bad-tarball"
  /** Over a size, file-count or compression-ratio cap. */
  | "too-large"
  /** A file index that is not in its one canonical, valid form. */
  | "bad-index"
  /** A published file index that differs from the one its tarball gives. */
  | "index-mismatch";

export class PackageFilesError extends CodedError<PackageFilesErrorCode> {
  override name = "PackageFilesError";
}
