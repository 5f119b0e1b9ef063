/**
 * Checks a package tarball before anything is stored: a gzip'd tar, within
 * size limits (compressed, unpacked, file count), every path under one
 * top-level folder with no absolute path and no `..`, no device files or
 * FIFOs, no link that points out of the package, and a `package.json` at the
 * top of that folder. npm itself writes `package/`; some published packages
 * use another folder name (`@types/*` use their own), so any single folder
 * is accepted, as npm does on install.
 */
import { gunzipSync } from "node:zlib";
import { Parser, type ReadEntry } from "tar";
import { CodedError } from "../util/coded-error.ts";

export interface TarballLimits {
  readonly maxCompressedBytes: number;
  readonly maxUnpackedBytes: number;
  readonly maxFiles: number;
}

export const DEFAULT_TARBALL_LIMITS: TarballLimits = {
  maxCompressedBytes: 100 * 1024 * 1024,
  maxUnpackedBytes: 500 * 1024 * 1024,
  maxFiles: 100_000,
};

export type TarballErrorCode =
  | "too-large"
  | "not-gzip"
  | "bad-tar"
  | "unsafe-path"
  | "bad-entry-type"
  | "no-manifest"
  | "bad-manifest";

export class TarballError extends CodedError<TarballErrorCode> {
  override name = "TarballError";
}

export interface TarballSummary {
  /** The parsed `<root>/package.json`. */
  readonly manifest: Record<string, unknown>;
  /** The top-level folder name, `package` for tarballs npm made. */
  readonly root: string;
  readonly files: number;
  readonly unpackedBytes: number;
}

/** Tar record and header overhead on top of file contents, for the gunzip cap. */
const TAR_SLACK = 1024 * 1024;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const ALLOWED_TYPES = new Set([
  "File",
  "OldFile",
  "ContiguousFile",
  "Directory",
  "SymbolicLink",
  "Link",
]);

function segments(path: string): string[] {
  return path.split(/[\\/]+/).filter((s) => s !== "" && s !== ".");
}

/** True if `target`, taken relative to `from` (a path inside the package), stays inside the root. */
function staysInside(from: string[], target: string): boolean {
  if (target.startsWith("/") || /^[A-Za-z]:/.test(target)) return false;
  const stack = [...from];
  for (const part of segments(target)) {
    if (part === "..") {
      if (stack.length <= 1) return false;
      stack.pop();
    } else {
      stack.push(part);
    }
  }
  return true;
}

export function inspectTarball(
  tgz: Uint8Array,
  limits: TarballLimits = DEFAULT_TARBALL_LIMITS,
): TarballSummary {
  if (tgz.length > limits.maxCompressedBytes) {
    throw new TarballError(
      "too-large",
      `tarball is ${tgz.length} bytes, over the ${limits.maxCompressedBytes}-byte limit`,
    );
  }
  if (tgz.length < 2 || tgz[0] !== 0x1f || tgz[1] !== 0x8b)
    throw new TarballError("not-gzip", "tarball is not gzip data");
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: limits.maxUnpackedBytes + TAR_SLACK });
  } catch (err) {
    const tooLarge = (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
    throw tooLarge
      ? new TarballError("too-large", `tarball unpacks to over ${limits.maxUnpackedBytes} bytes`, {
          cause: err,
        })
      : new TarballError("not-gzip", `tarball is not valid gzip: ${(err as Error).message}`, {
          cause: err,
        });
  }

  let root: string | undefined;
  let files = 0;
  let unpackedBytes = 0;
  let manifestText: string | undefined;
  let failure: TarballError | undefined;
  const fail = (error: TarballError) => {
    failure ??= error;
  };

  const onEntry = (entry: ReadEntry) => {
    const path = entry.path;
    const parts = segments(path);
    if (
      path.startsWith("/") ||
      /^[A-Za-z]:/.test(path) ||
      parts.includes("..") ||
      parts.length === 0
    ) {
      fail(
        new TarballError("unsafe-path", `tarball path ${JSON.stringify(path)} escapes the package`),
      );
    } else if (!ALLOWED_TYPES.has(entry.type)) {
      fail(
        new TarballError(
          "bad-entry-type",
          `tarball entry ${JSON.stringify(path)} is a ${entry.type}`,
        ),
      );
    } else if (
      (entry.type === "SymbolicLink" || entry.type === "Link") &&
      !linkInside(entry, parts)
    ) {
      fail(
        new TarballError("unsafe-path", `link ${JSON.stringify(path)} points out of the package`),
      );
    } else if (root !== undefined && parts[0] !== root) {
      fail(new TarballError("unsafe-path", "tarball has more than one top-level folder"));
    }
    root ??= parts[0];
    files++;
    unpackedBytes += entry.size ?? 0;
    if (files > limits.maxFiles) {
      fail(new TarballError("too-large", `tarball has over ${limits.maxFiles} files`));
    }
    const isManifest =
      parts.length === 2 && parts[1] === "package.json" && entry.type !== "Directory";
    if (isManifest && (entry.size ?? 0) <= MAX_MANIFEST_BYTES) {
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => chunks.push(chunk));
      entry.on("end", () => {
        manifestText = Buffer.concat(chunks).toString("utf8");
      });
    } else {
      entry.resume();
    }
  };

  const parser = new Parser({ strict: true, onReadEntry: onEntry });
  parser.on("error", (err: Error) =>
    fail(new TarballError("bad-tar", `tarball is not a valid tar: ${err.message}`, { cause: err })),
  );
  parser.write(tar);
  parser.end();
  if (failure) throw failure;
  if (files === 0 || root === undefined)
    throw new TarballError("bad-tar", "tarball holds no files");
  if (unpackedBytes > limits.maxUnpackedBytes) {
    throw new TarballError("too-large", `tarball unpacks to over ${limits.maxUnpackedBytes} bytes`);
  }
  if (manifestText === undefined)
    throw new TarballError("no-manifest", `tarball has no ${root}/package.json`);
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestText);
  } catch (err) {
    throw new TarballError("bad-manifest", `${root}/package.json is not valid JSON`, {
      cause: err,
    });
  }
  if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) {
    throw new TarballError("bad-manifest", `${root}/package.json is not a JSON object`);
  }
  return { manifest: manifest as Record<string, unknown>, root, files, unpackedBytes };
}

function linkInside(entry: ReadEntry, parts: string[]): boolean {
  const target = entry.linkpath ?? "";
  // A symlink resolves from its own folder; a hard link names a path from the archive root.
  return entry.type === "SymbolicLink"
    ? staysInside(parts.slice(0, -1), target)
    : staysInside([], target) && segments(target)[0] === parts[0];
}
