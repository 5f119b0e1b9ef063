/** What can stop an install, named so the user (and a test) knows which check failed. */
import { CodedError } from "../util/coded-error.ts";

export type InstallErrorCode =
  /** A dependency's or the project's lifecycle script exited with an error. */
  | "script-failed"
  /** The registry has no version that satisfies a dependency the tree needs. */
  | "unresolvable"
  /** package.json and the lockfile disagree where a frozen install (`cairn ci`) needs them to agree. */
  | "lockfile-mismatch"
  /** The project has no package.json, or one that is not a JSON object. */
  | "no-project";

export class InstallError extends CodedError<InstallErrorCode> {
  override name = "InstallError";
}
