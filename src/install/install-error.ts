/**
 * The installer's one error type: what the store, unpacking, linking, the
 * lockfile, the project and the install itself refuse, by code. Input
 * refused with one of these changes nothing on disk. The installer runs as
 * a command, not behind HTTP, so these codes have no status in the npm
 * API's table.
 */
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
  /** Over a size, file-count or compression-ratio cap, or a lockfile or package.json too large. */
  | "too-large"
  /** A file index that is not in its one canonical, valid form. */
  | "bad-index"
  /** Store files an index names are missing or damaged, and nothing was given to re-fetch them. */
  | "store-damaged"
  /** A lockfile or package.json that is not JSON, or whose top level is not an object. */
  | "not-json"
  /** A lockfileVersion the installer does not read (npm 6's v1, or one newer than v3). */
  | "lockfile-version"
  /** A field of the wrong type or form: a version that is not semver, a bad integrity, a bad dependency map. */
  | "bad-field"
  /** A location or link that leaves the project, or is not a folder a package can sit in. */
  | "unsafe-path"
  /** A dependency from somewhere the log cannot vouch for: git, a local tarball, a remote URL. */
  | "unsupported-source"
  /** A `workspaces` field npm would refuse, or two workspaces with one name. */
  | "bad-workspaces"
  /** package.json and the lockfile disagree where `npm ci` says they must be in sync. */
  | "out-of-sync"
  /** A dependency's or the project's lifecycle script exited with an error. */
  | "script-failed"
  /** The tree cannot be planned: a dependency no version satisfies, a peer conflict npm stops on. */
  | "unresolvable"
  /** No source (mirror or origin) gave a package's tarball with the bytes the log binds. */
  | "fetch-failed"
  /** The project has no package.json. */
  | "no-project"
  /** A package or version a moderator took down: the message names it, the reason and the log entry. */
  | "taken-down";

export class InstallError extends CodedError<InstallErrorCode> {
  override name = "InstallError";
}
