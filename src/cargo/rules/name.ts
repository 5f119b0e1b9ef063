/**
 * Crate, dependency and feature names as crates.io accepts them
 * (crates_io_validation), and the canonical form crates.io compares names
 * in: `keyName("Serde-JSON") === "serde_json"`, so `serde_json`,
 * `Serde_Json` and `serde-json` are one crate, kept under the spelling it
 * was first published with.
 */
import { CargoError } from "./errors.ts";

/** Characters, as crates.io counts them; every valid name is ASCII, so bytes too. */
export const MAX_CRATE_NAME_LENGTH = 64;

/** crates.io's canonical name (`canon_crate_name`): lowercase, `-` as `_`. */
export function keyName(name: string): string {
  return name.toLowerCase().replaceAll("-", "_");
}

/**
 * crates.io's reserved names, in canonical form: the 2017 list of Rust's own
 * crates, Windows device names (2017), and `com0`/`lpt0` (2021). A name is
 * refused when its canonical form is here, so `compiler_builtins` is
 * reserved too.
 */
export const RESERVED_CRATE_NAMES: ReadonlySet<string> = new Set(
  [
    ...["alloc", "arena", "ast", "builtins", "collections", "compiler-builtins", "compiler-rt"],
    ...["compiletest", "core", "coretest", "debug", "driver", "flate", "fmt_macros", "grammar"],
    ...["graphviz", "macro", "macros", "proc_macro", "rbml", "rust-installer", "rustbook"],
    ...["rustc", "rustc_back", "rustc_borrowck", "rustc_driver", "rustc_llvm", "rustc_resolve"],
    ...["rustc_trans", "rustc_typeck", "rustdoc", "rustllvm", "rustuv", "serialize", "std"],
    ...["syntax", "test", "unicode", "nul", "con", "prn", "aux"],
    ...Array.from({ length: 10 }, (_, i) => `com${i}`),
    ...Array.from({ length: 10 }, (_, i) => `lpt${i}`),
  ].map(keyName),
);

const NAME_REST = /^[A-Za-z0-9_-]*$/;

function checkIdent(name: string, what: string, firstMayBeUnderscore: boolean): void {
  if (name === "") throw new CargoError("bad-name", `${what} name cannot be empty`);
  if ([...name].length > MAX_CRATE_NAME_LENGTH) {
    throw new CargoError(
      "bad-name",
      `the ${what} name \`${name}\` is too long (max ${MAX_CRATE_NAME_LENGTH} characters)`,
    );
  }
  const first = name[0];
  if (first >= "0" && first <= "9") {
    throw new CargoError(
      "bad-name",
      `the name \`${name}\` cannot be used as a ${what} name, the name cannot start with a digit`,
    );
  }
  if (!/[A-Za-z]/.test(first) && !(firstMayBeUnderscore && first === "_")) {
    throw new CargoError(
      "bad-name",
      `invalid character \`${String.fromCodePoint(name.codePointAt(0) ?? 0)}\` in ${what} name: \`${name}\`, the first character must be an ASCII character${firstMayBeUnderscore ? ", or `_`" : ""}`,
    );
  }
  if (!NAME_REST.test(name)) {
    const bad = [...name].find((c) => !NAME_REST.test(c));
    throw new CargoError(
      "bad-name",
      `invalid character \`${bad}\` in ${what} name: \`${name}\`, characters must be an ASCII alphanumeric characters, \`-\`, or \`_\``,
    );
  }
}

/**
 * A crate name (or, with `what = "dependency"`, the crate a dependency
 * names): ASCII letters, digits, `-` and `_`, starting with a letter, at most
 * 64 characters. Reserved names are a separate check: `checkNotReserved`.
 */
export function checkCrateName(name: string, what: "crate" | "dependency" = "crate"): void {
  checkIdent(name, what, false);
}

/** The name a dependency is given in Cargo.toml (`explicit_name_in_toml`): may also start with `_`. */
export function checkDependencyName(name: string): void {
  checkIdent(name, "dependency", true);
}

export function checkNotReserved(name: string): void {
  if (RESERVED_CRATE_NAMES.has(keyName(name)))
    throw new CargoError("reserved-name", "cannot upload a crate with a reserved name");
}

const FEATURE_START = /^[\p{XID_Start}_0-9]$/u;
const FEATURE_REST = /^[\p{XID_Continue}+.-]$/u;

/** A feature's own name: starts with a Unicode XID start character, `_` or a digit; then XID continue, `+`, `-`, `.`. */
export function checkFeatureName(name: string): void {
  if (name === "") throw new CargoError("bad-feature", "feature cannot be empty");
  const [first, ...rest] = [...name];
  if (!FEATURE_START.test(first)) {
    throw new CargoError(
      "bad-feature",
      `invalid character \`${first}\` in feature \`${name}\`, the first character must be a Unicode XID start character or digit (most letters or \`_\` or \`0\` to \`9\`)`,
    );
  }
  const bad = rest.find((c) => !FEATURE_REST.test(c));
  if (bad !== undefined) {
    throw new CargoError(
      "bad-feature",
      `invalid character \`${bad}\` in feature \`${name}\`, characters must be Unicode XID characters, \`+\`, \`-\`, or \`.\` (numbers, \`+\`, \`-\`, \`_\`, \`.\`, or most letters)`,
    );
  }
}

/**
 * One value of a feature list, or a feature a dependency enables:
 * `feat`, `dep/feat`, `dep?/feat` or `dep:dep`.
 */
export function checkFeatureValue(value: string): void {
  const slash = value.indexOf("/");
  try {
    if (slash >= 0) {
      const dep = value.slice(0, slash);
      checkDependencyName(dep.endsWith("?") ? dep.slice(0, -1) : dep);
      checkFeatureName(value.slice(slash + 1));
    } else if (value.startsWith("dep:")) {
      checkDependencyName(value.slice(4));
    } else {
      checkFeatureName(value);
    }
  } catch (err) {
    if (err instanceof CargoError && err.code === "bad-name")
      throw new CargoError("bad-feature", `feature \`${value}\`: ${err.message}`, { cause: err });
    throw err;
  }
}
