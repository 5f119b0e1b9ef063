/**
 * What the installer refuses, by code: a lockfile or package.json it will
 * not trust, or a project whose package.json and lockfile disagree. Input
 * refused with one of these changes nothing on disk. The installer runs as
 * a command, not behind HTTP, so these codes have no status in the npm
 * API's table.
 */
import { CodedError } from "../util/coded-error.ts";

export type InstallErrorCode =
  /** A lockfile or package.json that is not JSON, or whose top level is not an object. */
  | "not-json"
  /** A lockfile or package.json larger than the installer reads, or with too many entries. */
  | "too-large"
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
  | "out-of-sync";

export class InstallError extends CodedError<InstallErrorCode> {
  override name = "InstallError";
}
