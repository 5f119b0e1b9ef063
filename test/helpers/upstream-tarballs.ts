/**
 * Tarball surgery for the test upstream: reading an npm tarball's
 * `<root>/package.json` and making a new tarball that differs only in it.
 * The archive is walked header by header with node-tar's Header, and the
 * rewritten archive keeps every other byte of the original tar (mtimes,
 * modes, order), so with a fixed gzip level the result is the same bytes on
 * every run and its integrity is stable. Archives that put an extended
 * (pax) or long-name header before package.json are refused rather than
 * half-understood; no corpus tarball has one.
 */
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { Header } from "tar";

const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);

/** Fixed so repacked tarballs are the same bytes on every run; fast, since installs rarely fetch them. */
const GZIP_LEVEL = 1;
const BLOCK = 512;
const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);
const PREFIX_TYPES = new Set([
  "ExtendedHeader",
  "GlobalExtendedHeader",
  "NextFileHasLongPath",
  "NextFileHasLongLinkpath",
  "OldExtendedHeader",
]);

export interface TarballDigests {
  /** `sha512-<base64>`, as `dist.integrity`. */
  readonly integrity: string;
  /** Hex SHA-1, as `dist.shasum`. */
  readonly shasum: string;
}

export function digestsOf(bytes: Uint8Array): TarballDigests {
  return {
    integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
    shasum: createHash("sha1").update(bytes).digest("hex"),
  };
}

/** The same bytes with one byte in the middle flipped: inside the compressed data, so it no longer inflates to the same archive. */
export function flipByte(bytes: Uint8Array): Buffer {
  const out = Buffer.from(bytes);
  if (out.length > 0) out[Math.floor(out.length / 2)] ^= 0x01;
  return out;
}

export interface UnpackedTarball {
  /** The uncompressed tar. */
  readonly tar: Buffer;
  readonly manifest: Record<string, unknown>;
  /** Regular files in the archive and the sum of their sizes, as `dist.fileCount` and `dist.unpackedSize`. */
  readonly fileCount: number;
  readonly unpackedSize: number;
}

interface PackageJsonEntry {
  /** Offset of its header block. */
  readonly at: number;
  readonly header: Header;
}

function blocks(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** Walks the archive's headers: package.json at the top of its single folder, and the file totals. */
function walk(tar: Buffer): {
  entry: PackageJsonEntry | undefined;
  fileCount: number;
  unpackedSize: number;
} {
  let entry: PackageJsonEntry | undefined;
  let fileCount = 0;
  let unpackedSize = 0;
  let previousType = "";
  for (let at = 0; at + BLOCK <= tar.length; ) {
    const header = new Header(tar, at);
    if (header.nullBlock) break;
    if (!header.cksumValid) throw new Error(`bad tar header checksum at ${at}`);
    const size = header.size ?? 0;
    if (FILE_TYPES.has(header.type)) {
      fileCount++;
      unpackedSize += size;
      if (entry === undefined && /^[^/]+\/package\.json$/.test(header.path ?? "")) {
        if (PREFIX_TYPES.has(previousType))
          throw new Error(`package.json follows a ${previousType} header`);
        entry = { at, header };
      }
    }
    previousType = header.type;
    at += BLOCK + blocks(size);
  }
  return { entry, fileCount, unpackedSize };
}

export async function unpackTarball(tgz: Uint8Array): Promise<UnpackedTarball> {
  const tar = await gunzipAsync(tgz);
  const { entry, fileCount, unpackedSize } = walk(tar);
  if (!entry) throw new Error("the tarball has no package.json");
  const start = entry.at + BLOCK;
  const manifest = JSON.parse(
    tar.subarray(start, start + (entry.header.size ?? 0)).toString("utf8"),
  ) as Record<string, unknown>;
  return { tar, manifest, fileCount, unpackedSize };
}

/**
 * A gzipped tarball equal to `source` except that its package.json is
 * `manifest` (two-space JSON, as npm writes it), with its header's size and
 * checksum rewritten.
 */
export async function repackWithManifest(
  source: UnpackedTarball,
  manifest: Record<string, unknown>,
): Promise<{ bytes: Buffer; unpackedSize: number }> {
  const { tar } = source;
  const { entry } = walk(tar);
  if (!entry) throw new Error("the tarball has no package.json");
  const data = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  const oldSize = entry.header.size ?? 0;
  const header = Buffer.from(tar.subarray(entry.at, entry.at + BLOCK));
  const rewritten = new Header(header);
  rewritten.size = data.length;
  if (rewritten.encode(header, 0)) throw new Error("package.json needs a pax header");
  const padding = Buffer.alloc(blocks(data.length) - data.length);
  const rest = tar.subarray(entry.at + BLOCK + blocks(oldSize));
  const out = Buffer.concat([tar.subarray(0, entry.at), header, data, padding, rest]);
  return {
    bytes: await gzipAsync(out, { level: GZIP_LEVEL }),
    unpackedSize: source.unpackedSize - oldSize + data.length,
  };
}
