/**
 * The cargo domain's one error type. Codes name what was wrong with the
 * input, so the HTTP layer maps each to one status (413 for `too-large`,
 * 400 for the rest) and cargo prints the message as crates.io's `detail`.
 */
import { CodedError } from "../../util/coded-error.ts";

export type CargoErrorCode =
  /** A crate or dependency name breaks crates.io's syntax. */
  | "bad-name"
  /** A name crates.io reserves (compared in canonical form). */
  | "reserved-name"
  | "bad-version"
  | "bad-version-req"
  | "bad-feature"
  /** A dependency that cannot be listed: its name, registry, requirement or shape. */
  | "bad-dependency"
  /** Publish metadata: missing or malformed fields, keywords, URLs, `links`, `rust_version`. */
  | "bad-metadata"
  /** The publish body's framing: lengths, UTF-8, JSON. */
  | "bad-body"
  /** Over a cap: body, metadata, `.crate`, unpacked size, file count, dependencies, features. */
  | "too-large"
  | "not-gzip"
  | "compression-ratio"
  /** A `.crate` that is not a well-formed tar of plain files and folders under one root. */
  | "bad-crate"
  | "unsafe-path"
  /** The `.crate`'s `Cargo.toml`: missing, duplicated, unparsable, or not the published crate. */
  | "bad-manifest"
  /** A request path that is not the index path of any crate name. */
  | "bad-index-path"
  /** Resolving: a dependency names a crate the registry does not have (under that spelling). */
  | "no-such-crate"
  /** Resolving: no version that may be used (not yanked, unless locked) matches the requirement. */
  | "no-matching-version"
  /** Resolving: every matching version clashes with a semver-compatible version already chosen. */
  | "version-conflict"
  /** Resolving: two crates would link the same native library (`links`). */
  | "links-conflict"
  /** Resolving: a feature asked for does not exist (or a feature names itself). */
  | "missing-feature"
  /** Resolving: crates that depend on themselves through others. */
  | "dependency-cycle"
  /** Resolving: backtracking went past its step limit. */
  | "resolve-too-complex";

export class CargoError extends CodedError<CargoErrorCode> {
  override name = "CargoError";
}
