/**
 * Unpacks a package tarball into the files npm would install, after its
 * integrity is checked and every entry has passed the registry's tarball
 * checks (no path out of the package, no device, no link that escapes, no
 * bomb). What is left out or changed follows npm's own extraction: the top
 * folder is stripped whatever its name, folders and links (symbolic or
 * hard) are not installed, a `.gitignore` becomes `.npmignore` unless the
 * folder has one, and modes become 0644, or 0755 for a file with any
 * execute bit or one the manifest's `bin` names.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { Parser, type ReadEntry } from "tar";
import { inspectTarball, TarballError, type TarballErrorCode } from "../npm/tarball.ts";
import { DEFAULT_TARBALL_LIMITS } from "../registry/tarball-limits.ts";
import {
  EXEC_MODE,
  FILE_MODE,
  type FileMode,
  folderConflict,
  integrityKey,
  sha512Integrity,
  type TarballRef,
} from "./file-index.ts";
import { InstallError, type InstallErrorCode } from "./install-error.ts";

const gunzipAsync = promisify(gunzip);

export interface UnpackedFile {
  readonly path: string;
  readonly data: Buffer;
  readonly mode: FileMode;
}

export interface UnpackedPackage {
  readonly manifest: Record<string, unknown>;
  readonly tarball: TarballRef;
  /** In path order. */
  readonly files: readonly UnpackedFile[];
}

export interface ExpectedTarball {
  readonly integrity: string;
  /** Hex SHA-256, when the log binds one: checked too. */
  readonly sha256?: string;
}

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);

const FROM_TARBALL: Record<TarballErrorCode, InstallErrorCode> = {
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
      throw new InstallError(
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
    throw new InstallError(
      "integrity-mismatch",
      `tarball does not match its integrity ${sha512Integrity(expected.integrity)}`,
    );
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (expected.sha256 !== undefined && expected.sha256 !== sha256)
    throw new InstallError(
      "integrity-mismatch",
      `tarball does not match its sha256 ${expected.sha256}`,
    );
  return { integrity: sha512Integrity(expected.integrity), sha256, size: bytes.length };
}

export async function unpackTarball(
  bytes: Buffer,
  expected: ExpectedTarball,
): Promise<UnpackedPackage> {
  const tarball = checkTarball(bytes, expected);
  let manifest: Record<string, unknown>;
  try {
    ({ manifest } = await inspectTarball(bytes));
  } catch (err) {
    if (!(err instanceof TarballError)) throw err;
    throw new InstallError(FROM_TARBALL[err.code], err.message, { cause: err });
  }
  const raw = await readFiles(await gunzipAsync(bytes));
  const files = npmLayout(raw, binPaths(manifest));
  const conflict = folderConflict(files.map((f) => f.path));
  if (conflict !== undefined)
    throw new InstallError(
      "hostile-entry",
      `tarball holds ${JSON.stringify(conflict)} as a file and a folder`,
    );
  return { manifest, tarball, files };
}

interface RawFile {
  readonly path: string;
  readonly data: Buffer;
  readonly executable: boolean;
}

/** The regular files of an (already checked) tar, paths relative to its top folder. */
function readFiles(tar: Buffer): Promise<RawFile[]> {
  return new Promise((resolve, reject) => {
    const files: RawFile[] = [];
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const path = entry.path
          .split("/")
          .filter((p) => p !== "" && p !== ".")
          .slice(1)
          .join("/");
        if (!FILE_TYPES.has(entry.type) || path === "") {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on("data", (chunk: Buffer) => chunks.push(chunk));
        entry.on("end", () =>
          files.push({
            path,
            data: Buffer.concat(chunks),
            executable: ((entry.mode ?? 0) & 0o111) !== 0,
          }),
        );
      },
    });
    parser.on("error", reject);
    parser.on("end", () => resolve(files));
    parser.end(tar);
  });
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
