/**
 * Checks a `.crate` before anything is stored, as crates.io's
 * `process_tarball` does and a little stricter: a gzip'd tar within caps
 * (compressed, unpacked, file count, inflation ratio), every entry under
 * `<name>-<version>/` with no absolute path, no `..`, no backslash, each
 * path once, only plain files and folders (no links, devices or FIFOs),
 * and exactly one `Cargo.toml` at the root, spelled so, which parses as
 * TOML and names this crate and version, with a `[package]` table, no
 * `[patch]` and no workspace inheritance left unresolved.
 *
 * Where crates.io is looser: it also accepts `cargo.toml`, does not cap
 * the file count or the inflation ratio by default, and does not refuse
 * backslashes or a path given twice.
 */

import { parse as parseToml } from "smol-toml";
import type { ReadEntry } from "tar";
import { readTarGz, type TarGzLimits } from "../../util/tar-gz.ts";
import { CargoError } from "./errors.ts";

export interface CrateLimits extends TarGzLimits {
  readonly maxFiles: number;
}

/** crates.io: 10 MiB uploads, 512 MiB unpacked; file count and ratio are ours (crates.io has none by default). */
export const DEFAULT_CRATE_LIMITS: CrateLimits = {
  maxCompressedBytes: 10 * 1024 * 1024,
  maxUnpackedBytes: 512 * 1024 * 1024,
  maxFiles: 100_000,
  maxRatio: 100,
};

export interface CrateSummary {
  /** The parsed `Cargo.toml` (cargo's normalized manifest). */
  readonly manifest: Readonly<Record<string, unknown>>;
  readonly files: number;
  readonly unpackedBytes: number;
  /** Every path, relative to the `<name>-<version>/` folder. */
  readonly paths: ReadonlySet<string>;
}

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);
const MAX_MANIFEST_BYTES = 1024 * 1024;

export async function inspectCrate(
  bytes: Uint8Array,
  expected: { readonly name: string; readonly version: string },
  limits: CrateLimits = DEFAULT_CRATE_LIMITS,
): Promise<CrateSummary> {
  const entries = new CrateEntries(`${expected.name}-${expected.version}`, limits);
  await readTarGz(bytes, limits, {
    entry: (entry) => entries.add(entry),
    fail: (error) => entries.fail(error as CargoError),
    throwIfFailed: () => entries.throwIfFailed(),
    error: (code, message, cause) =>
      new CargoError(
        code === "bad-tar" ? "bad-crate" : code,
        `uploaded tarball ${message}`,
        cause === undefined ? undefined : { cause },
      ),
  });
  return entries.finish(expected);
}

class CrateEntries {
  readonly #root: string;
  readonly #limits: CrateLimits;
  readonly #paths = new Set<string>();
  #files = 0;
  #unpackedBytes = 0;
  #manifestText: string | undefined;
  #failure: CargoError | undefined;

  constructor(root: string, limits: CrateLimits) {
    this.#root = root;
    this.#limits = limits;
  }

  fail(error: CargoError): void {
    this.#failure ??= error;
  }

  throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }

  add(entry: ReadEntry): void {
    const problem = this.#check(entry);
    if (problem) this.fail(problem);
    if (problem || !this.#isManifest(entry)) {
      entry.resume();
      return;
    }
    const chunks: Buffer[] = [];
    entry.on("data", (chunk: Buffer) => chunks.push(chunk));
    entry.on("end", () => {
      this.#manifestText = Buffer.concat(chunks).toString("utf8");
    });
  }

  #isManifest(entry: ReadEntry): boolean {
    return entry.path === `${this.#root}/Cargo.toml`;
  }

  /** Records the entry, or says what is wrong with it. */
  #check(entry: ReadEntry): CargoError | undefined {
    const path = entry.path;
    const parts = path.split("/").filter((s) => s !== "" && s !== ".");
    const inner = parts.slice(1).join("/");
    const unsafe = (why: string) =>
      new CargoError("unsafe-path", `invalid path found: ${JSON.stringify(path)}: ${why}`);
    if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) return unsafe("absolute");
    if (path.includes("\\")) return unsafe("a backslash");
    if (parts.includes("..")) return unsafe("`..`");
    if (parts[0] !== this.#root) return unsafe(`not under ${this.#root}/`);
    if (entry.type !== "Directory" && !FILE_TYPES.has(entry.type))
      return new CargoError("bad-crate", `unexpected tar entry type ${entry.type} found: ${path}`);
    if (this.#paths.has(inner) && entry.type !== "Directory")
      return new CargoError("bad-crate", `the tarball holds ${JSON.stringify(path)} twice`);
    this.#paths.add(inner);
    this.#files++;
    this.#unpackedBytes += entry.size ?? 0;
    if (this.#files > this.#limits.maxFiles)
      return new CargoError("too-large", `tarball has over ${this.#limits.maxFiles} files`);
    if (this.#unpackedBytes > this.#limits.maxUnpackedBytes)
      return new CargoError(
        "too-large",
        `tarball unpacks to over ${this.#limits.maxUnpackedBytes} bytes`,
      );
    if (parts.length !== 2 || inner.toLowerCase() !== "cargo.toml") return undefined;
    if (!this.#isManifest(entry) || !FILE_TYPES.has(entry.type))
      return new CargoError(
        "bad-manifest",
        `${JSON.stringify(path)} must be a file named \`Cargo.toml\``,
      );
    if ((entry.size ?? 0) > MAX_MANIFEST_BYTES)
      return new CargoError("bad-manifest", "`Cargo.toml` is over 1 MiB");
    return undefined;
  }

  finish(expected: { readonly name: string; readonly version: string }): CrateSummary {
    this.throwIfFailed();
    if (this.#files === 0) throw new CargoError("bad-crate", "the tarball holds no files");
    if (this.#manifestText === undefined)
      throw new CargoError(
        "bad-manifest",
        "uploaded tarball is missing a `Cargo.toml` manifest file",
      );
    const manifest = checkManifest(this.#manifestText, expected);
    return {
      manifest,
      files: this.#files,
      unpackedBytes: this.#unpackedBytes,
      paths: this.#paths,
    };
  }
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

const inherited = (v: unknown) => isTable(v) && v.workspace === true;

const DEPENDENCY_TABLES = [
  "dependencies",
  "dev-dependencies",
  "dev_dependencies",
  "build-dependencies",
  "build_dependencies",
];

/** crates.io's `validate_manifest`, plus: the manifest names the published crate and version. */
function checkManifest(
  text: string,
  expected: { readonly name: string; readonly version: string },
): Record<string, unknown> {
  const bad = (why: string) =>
    new CargoError("bad-manifest", `failed to parse \`Cargo.toml\` manifest file: ${why}`);
  let manifest: Record<string, unknown>;
  try {
    manifest = parseToml(text);
  } catch (err) {
    throw new CargoError("bad-manifest", "`Cargo.toml` is not valid TOML", { cause: err });
  }
  const pkg = manifest.package;
  if (!isTable(pkg)) throw bad("missing field `package`");
  if (isTable(manifest.patch) && Object.keys(manifest.patch).length > 0)
    throw bad("crates cannot be published with `[patch]` tables");
  if (pkg.version === undefined) throw bad("missing field `version`");
  const deps = DEPENDENCY_TABLES.flatMap((t) =>
    isTable(manifest[t]) ? Object.values(manifest[t]) : [],
  );
  if (Object.values(pkg).some(inherited) || deps.some(inherited))
    throw bad("value from workspace hasn't been set");
  if (pkg.name !== expected.name)
    throw new CargoError(
      "bad-manifest",
      `metadata name \`${expected.name}\` does not match manifest name \`${String(pkg.name)}\``,
    );
  if (pkg.version !== expected.version)
    throw new CargoError(
      "bad-manifest",
      `metadata version \`${expected.version}\` does not match manifest version \`${String(pkg.version)}\``,
    );
  return manifest;
}
