/**
 * Unpacks a package tarball into the files npm would install, after its
 * integrity is checked and every entry has passed the registry's tarball
 * checks (no path out of the package, no device, no link that escapes, no
 * bomb). What is left out or changed follows npm's own extraction: the top
 * folder is stripped whatever its name, folders and links (symbolic or
 * hard) are not installed, a `.gitignore` becomes `.npmignore` unless the
 * folder has one, and modes become 0644, or 0755 for a file with any
 * execute bit or one the manifest's `bin` names. The files are read in the
 * same pass as the checks, so the paths written are the paths checked (a
 * backslash separates folders there, where npm on POSIX would keep it in
 * the file's name).
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { DEFAULT_TARBALL_LIMITS } from "../registry/tarball-limits.ts";
import {
  EXEC_MODE,
  FILE_MODE,
  type FileIndex,
  type FileMode,
  folderConflict,
  type IndexedFile,
  integrityKey,
  isValidName,
  isValidVersion,
  sha512Integrity,
  type TarballRef,
} from "./file-index.ts";
import { PackageFilesError, type PackageFilesErrorCode } from "./package-files-error.ts";
import {
  inspectTarball,
  TarballError,
  type TarballErrorCode,
  type TarballSummary,
} from "./tarball.ts";

export interface UnpackedFile {
  readonly path: string;
  readonly data: Buffer;
  readonly mode: FileMode;
}

export interface UnpackedPackage {
  readonly manifest: Record<string, unknown>;
  readonly index: FileIndex;
  /** In path order, each with its entry in the index. */
  readonly files: readonly (UnpackedFile & { readonly entry: IndexedFile })[];
}

export interface ExpectedTarball {
  readonly integrity: string;
  /** Hex SHA-256, when the log binds one: checked too. */
  readonly sha256?: string;
  /** The name and version the package is listed under, when the caller knows them (else the tarball's). */
  readonly name?: string;
  readonly version?: string;
}

const FROM_TARBALL: Record<TarballErrorCode, PackageFilesErrorCode> = {
  "too-large": "too-large",
  "compression-ratio": "too-large",
  "not-gzip": "bad-tarball",
  "bad-tar": "bad-tarball",
  "no-manifest": "bad-tarball",
  "bad-manifest": "bad-tarball",
  "unsafe-path": "hostile-entry",
  "bad-entry-type": "hostile-entry",
  "duplicate-entry": "hostile-entry",
};

/** Collects a tarball given as a stream, refusing one over the registry's size cap. */
export async function tarballBytes(
  source: Uint8Array | AsyncIterable<Uint8Array>,
): Promise<Buffer> {
  if (source instanceof Uint8Array)
    return Buffer.from(source.buffer, source.byteOffset, source.length);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size > DEFAULT_TARBALL_LIMITS.maxCompressedBytes)
      throw new PackageFilesError(
        "too-large",
        `tarball is over ${DEFAULT_TARBALL_LIMITS.maxCompressedBytes} bytes`,
      );
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Checks the tarball's hashes against what was expected; nothing is read from it before. */
export function checkTarball(bytes: Uint8Array, expected: ExpectedTarball): TarballRef {
  const key = integrityKey(expected.integrity);
  const sha512 = createHash("sha512").update(bytes).digest("hex");
  if (sha512 !== key)
    throw new PackageFilesError(
      "integrity-mismatch",
      `tarball does not match its integrity ${sha512Integrity(expected.integrity)}`,
    );
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (expected.sha256 !== undefined && expected.sha256 !== sha256)
    throw new PackageFilesError(
      "integrity-mismatch",
      `tarball does not match its sha256 ${expected.sha256}`,
    );
  return { integrity: sha512Integrity(expected.integrity), sha256, size: bytes.length };
}

export async function unpackTarball(
  bytes: Buffer,
  expected: ExpectedTarball,
  options: { readonly inline?: boolean } = {},
): Promise<UnpackedPackage> {
  const tarball = checkTarball(bytes, expected);
  let summary: TarballSummary;
  try {
    summary = await inspectTarball(bytes, DEFAULT_TARBALL_LIMITS, {
      keepFiles: true,
      inline: options.inline === true,
    });
  } catch (err) {
    if (!(err instanceof TarballError)) throw err;
    throw new PackageFilesError(FROM_TARBALL[err.code], err.message, { cause: err });
  }
  return packageOfTarball(summary, tarball, expected);
}

/**
 * The files and index of a tarball already checked (its hashes in
 * `tarball`) and inspected with `keepFiles`: how a publish, which has done
 * both as it read the body, gets the index an installer would compute.
 */
export function packageOfTarball(
  summary: TarballSummary,
  tarball: TarballRef,
  listed: { readonly name?: string; readonly version?: string } = {},
): UnpackedPackage {
  const { manifest, contents = new Map() } = summary;
  const raw = [...contents].map(([path, f]) => ({
    path,
    data: f.data,
    executable: (f.mode & 0o111) !== 0,
  }));
  const files = npmLayout(raw, binPaths(manifest));
  const conflict = folderConflict(files.map((f) => f.path));
  if (conflict !== undefined)
    throw new PackageFilesError(
      "hostile-entry",
      `tarball holds ${JSON.stringify(conflict)} as a file and a folder`,
    );
  const name = listed.name ?? manifest.name;
  const version = listed.version ?? manifest.version;
  if (typeof name !== "string" || !isValidName(name))
    throw new PackageFilesError("bad-tarball", "the tarball's package.json has no valid name");
  if (typeof version !== "string" || !isValidVersion(version))
    throw new PackageFilesError("bad-tarball", "the tarball's package.json has no valid version");
  const indexed = files.map((f) => ({
    ...f,
    entry: {
      sha256: createHash("sha256").update(f.data).digest("hex"),
      mode: f.mode,
      size: f.data.length,
    },
  }));
  const index: FileIndex = {
    name,
    version,
    tarball,
    files: new Map(indexed.map((f) => [f.path, f.entry])),
  };
  return { manifest, index, files: indexed };
}

/** A tarball's file index, as the store would record it (and an origin could publish it), stored nowhere. */
export async function fileIndexOfTarball(
  bytes: Buffer,
  expected: ExpectedTarball,
): Promise<FileIndex> {
  return (await unpackTarball(bytes, expected)).index;
}

interface RawFile {
  readonly path: string;
  readonly data: Buffer;
  readonly executable: boolean;
}

/** The paths the manifest's `bin` names, as npm normalises them. */
function binPaths(manifest: Record<string, unknown>): Set<string> {
  const bin = manifest.bin;
  const targets =
    typeof bin === "string"
      ? [bin]
      : typeof bin === "object" && bin !== null
        ? Object.values(bin).filter((t): t is string => typeof t === "string")
        : [];
  return new Set(targets.map((t) => posix.normalize(t).replace(/^\/+/, "")));
}

/** npm's renames and modes applied, in path order. */
function npmLayout(raw: readonly RawFile[], bins: ReadonlySet<string>): UnpackedFile[] {
  const paths = new Set(raw.map((f) => f.path));
  const files: UnpackedFile[] = [];
  for (const f of raw) {
    let path = f.path;
    if (posix.basename(path) === ".gitignore") {
      const npmignore = `${path.slice(0, -".gitignore".length)}.npmignore`;
      // npm keeps the folder's own .npmignore over a renamed .gitignore.
      if (paths.has(npmignore)) continue;
      path = npmignore;
    }
    const mode = f.executable || bins.has(path) ? EXEC_MODE : FILE_MODE;
    files.push({ path, data: f.data, mode });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
