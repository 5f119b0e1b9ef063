/**
 * Checks a package tarball before anything is stored: a gzip'd tar, within
 * size limits (compressed, unpacked, compression ratio, file count), every
 * path under one top-level folder with no absolute path and no `..`, each
 * path at most once, no device files or FIFOs, no link that points out of
 * the package or passes through another link, and one `package.json` at the
 * top of that folder. npm itself writes `package/`; some published packages
 * use another folder name (`@types/*` use their own), so any single folder
 * is accepted, as npm does on install.
 *
 * The tarball is inflated as a stream on zlib's thread pool and parsed
 * chunk by chunk, so a gzip bomb costs the event loop one chunk at a time
 * and is refused as soon as it crosses a cap, never inflated whole.
 */
import type { ReadEntry } from "tar";
import { DEFAULT_TARBALL_LIMITS, type TarballLimits } from "../registry/tarball-limits.ts";
import { CodedError } from "../util/coded-error.ts";
import { readTarGz } from "../util/tar-gz.ts";

export type TarballErrorCode =
  | "too-large"
  | "compression-ratio"
  | "not-gzip"
  | "bad-tar"
  | "unsafe-path"
  | "duplicate-entry"
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
  /** Every path in the package, relative to the root folder (`lib/index.js`). */
  readonly paths: ReadonlySet<string>;
  /** With `keepFiles`: every regular file's bytes and tar mode, by path relative to the root folder. */
  readonly contents?: ReadonlyMap<string, { readonly data: Buffer; readonly mode: number }>;
}

export interface InspectOptions {
  /** Keep every regular file's bytes (an installer unpacking in the same pass). */
  readonly keepFiles?: boolean;
  /** Inflate a whole tarball at once on this thread (a worker's), not on zlib's pool (tar-gz.ts). */
  readonly inline?: boolean;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);
const ALLOWED_TYPES = new Set([...FILE_TYPES, "Directory", "SymbolicLink", "Link"]);

function segments(path: string): string[] {
  return path.split(/[\\/]+/).filter((s) => s !== "" && s !== ".");
}

function isAbsolute(path: string): boolean {
  return path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path);
}

/**
 * Inspects a tarball given whole or as chunks (as a publish body is decoded).
 * Throws a TarballError as soon as a check fails.
 */
export async function inspectTarball(
  source: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  limits: TarballLimits = DEFAULT_TARBALL_LIMITS,
  options: InspectOptions = {},
): Promise<TarballSummary> {
  const entries = new TarEntries(limits, options.keepFiles === true);
  await readTarGz(
    source,
    limits,
    {
      entry: (entry) => entries.add(entry),
      fail: (error) => entries.fail(error as TarballError),
      throwIfFailed: () => entries.throwIfFailed(),
      error: (code, message, cause) =>
        new TarballError(code, `tarball ${message}`, cause === undefined ? undefined : { cause }),
    },
    { inline: options.inline === true },
  );
  return entries.finish();
}

/** The checks on the tar's entries, fed one entry at a time. */
class TarEntries {
  readonly #limits: TarballLimits;
  #root: string | undefined;
  #files = 0;
  #unpackedBytes = 0;
  #manifestText: string | undefined;
  #failure: TarballError | undefined;
  /** Every path seen, relative to the root. */
  readonly #paths = new Set<string>();
  /** Symbolic links by path relative to the root, with the target as written. */
  readonly #symlinks = new Map<string, string>();
  /** Hard links: path relative to the root, then the target's path from the archive root. */
  readonly #hardLinks: [string, string][] = [];
  /** With keepFiles: the regular files' bytes and modes. */
  readonly #kept: Map<string, { data: Buffer; mode: number }> | undefined;

  constructor(limits: TarballLimits, keepFiles: boolean) {
    this.#limits = limits;
    this.#kept = keepFiles ? new Map() : undefined;
  }

  fail(error: TarballError): void {
    this.#failure ??= error;
  }

  throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }

  add(entry: ReadEntry): void {
    const path = entry.path;
    const parts = segments(path);
    const inner = parts.slice(1).join("/");
    if (isAbsolute(path) || parts.includes("..") || parts.length === 0) {
      this.fail(
        new TarballError("unsafe-path", `tarball path ${JSON.stringify(path)} escapes the package`),
      );
    } else if (!ALLOWED_TYPES.has(entry.type)) {
      this.fail(
        new TarballError(
          "bad-entry-type",
          `tarball entry ${JSON.stringify(path)} is a ${entry.type}`,
        ),
      );
    } else if (this.#root !== undefined && parts[0] !== this.#root) {
      this.fail(new TarballError("unsafe-path", "tarball has more than one top-level folder"));
    } else if (this.#paths.has(inner) && entry.type !== "Directory") {
      // Extraction keeps the last copy: a checker reading the first would be shown another file.
      this.fail(new TarballError("duplicate-entry", `tarball holds ${JSON.stringify(path)} twice`));
    }
    this.#root ??= parts[0];
    this.#paths.add(inner);
    if (entry.type === "SymbolicLink") this.#symlinks.set(inner, entry.linkpath ?? "");
    if (entry.type === "Link") this.#hardLinks.push([inner, entry.linkpath ?? ""]);
    this.#files++;
    this.#unpackedBytes += entry.size ?? 0;
    if (this.#files > this.#limits.maxFiles) {
      this.fail(new TarballError("too-large", `tarball has over ${this.#limits.maxFiles} files`));
    }
    const isManifest = parts.length === 2 && inner.toLowerCase() === "package.json";
    if (isManifest && inner !== "package.json") {
      // On a case-insensitive disk it would replace package.json.
      this.fail(new TarballError("duplicate-entry", `tarball holds ${JSON.stringify(path)}`));
    }
    const kept = this.#kept;
    const keep = kept !== undefined && FILE_TYPES.has(entry.type) && inner !== "";
    const manifest =
      isManifest && FILE_TYPES.has(entry.type) && (entry.size ?? 0) <= MAX_MANIFEST_BYTES;
    if (keep || manifest) {
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => chunks.push(chunk));
      entry.on("end", () => {
        const data = Buffer.concat(chunks);
        if (manifest) this.#manifestText = data.toString("utf8");
        if (keep) kept.set(inner, { data, mode: entry.mode ?? 0 });
      });
    } else {
      entry.resume();
    }
  }

  finish(): TarballSummary {
    this.throwIfFailed();
    const root = this.#root;
    if (this.#files === 0 || root === undefined)
      throw new TarballError("bad-tar", "tarball holds no files");
    if (this.#unpackedBytes > this.#limits.maxUnpackedBytes) {
      throw new TarballError(
        "too-large",
        `tarball unpacks to over ${this.#limits.maxUnpackedBytes} bytes`,
      );
    }
    this.#checkLinks(root);
    if (this.#manifestText === undefined)
      throw new TarballError("no-manifest", `tarball has no ${root}/package.json file`);
    let manifest: unknown;
    try {
      manifest = JSON.parse(this.#manifestText);
    } catch (err) {
      throw new TarballError("bad-manifest", `${root}/package.json is not valid JSON`, {
        cause: err,
      });
    }
    if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) {
      throw new TarballError("bad-manifest", `${root}/package.json is not a JSON object`);
    }
    return {
      manifest: manifest as Record<string, unknown>,
      root,
      files: this.#files,
      unpackedBytes: this.#unpackedBytes,
      paths: this.#paths,
      ...(this.#kept ? { contents: this.#kept } : {}),
    };
  }

  /**
   * Links are checked once every entry is known, since a link may pass
   * through one that comes later in the archive. Following a path through a
   * link makes `..` mean the link target's parent, which no check of the
   * path's text can see (`a/b -> ..` then `a/c -> b/..` climbs two levels),
   * so no path, and no link target, may pass through a symbolic link. A
   * link to a link is fine: each target is checked from its own folder.
   */
  #checkLinks(root: string): void {
    const through = (path: string[]) =>
      path.findIndex(
        (_, i) => i < path.length - 1 && this.#symlinks.has(path.slice(0, i + 1).join("/")),
      );
    for (const path of this.#paths) {
      if (through(segments(path)) >= 0)
        throw linkError(`${root}/${path}`, "lies inside a symbolic link");
    }
    for (const [path, target] of this.#symlinks) {
      const resolved = resolveInside(segments(path).slice(0, -1), target, this.#symlinks);
      if (resolved !== "ok") throw linkError(`${root}/${path}`, resolved);
    }
    for (const [path, target] of this.#hardLinks) {
      const [first, ...rest] = segments(target);
      const resolved =
        isAbsolute(target) || first !== root
          ? "points out of the package"
          : resolveInside([], rest.join("/"), this.#symlinks);
      if (resolved !== "ok") throw linkError(`${root}/${path}`, resolved);
    }
  }
}

function linkError(path: string, why: string): TarballError {
  return new TarballError("unsafe-path", `link ${JSON.stringify(path)} ${why}`);
}

/** Walks `target` from the folder `from` (relative to the root), refusing escapes and links on the way. */
function resolveInside(
  from: string[],
  target: string,
  symlinks: ReadonlyMap<string, string>,
): "ok" | string {
  if (isAbsolute(target)) return "points out of the package";
  const stack = [...from];
  const parts = segments(target);
  for (const [i, part] of parts.entries()) {
    if (part === "..") {
      if (stack.length === 0) return "points out of the package";
      stack.pop();
    } else {
      stack.push(part);
      if (i < parts.length - 1 && symlinks.has(stack.join("/")))
        return `passes through the symbolic link ${stack.join("/")}`;
    }
  }
  return "ok";
}
