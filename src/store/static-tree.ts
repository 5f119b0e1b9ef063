/**
 * Serving the static tree: `checkpoint`, `mirrors`, `tile/...`, `tile/entries/...`,
 * `blob/sha256/<hex>` and, on the origin, `delta/sha256/<base hex>/<target hex>`
 * (per-file zstd deltas, src/npm/file-deltas.ts). Only canonical names are served, so nothing outside
 * the tree (and no temporary or lock file) can ever be reached. Everything but
 * the checkpoint and the mirror list is immutable and cached forever.
 *
 * Entry bundles and blobs that are not compressed already (documents,
 * shards, manifests: JSON and hex) are sent gzipped to clients that accept
 * it, which cuts what a client syncing the log downloads by about three.
 * The compressed forms of these immutable files are kept in a bounded cache.
 * Files of more than a few MiB (SQLite snapshots, zstd already) are
 * streamed from disk as they are.
 */
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { LRUCache } from "lru-cache";
import { isLogError, parseTilePath } from "../log/index.ts";
import { DELTA_PATH_RE } from "./delta-path.ts";

export interface StaticFile {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** A stream for files too large to hold in memory (a SQLite snapshot). */
  readonly body: Uint8Array | string | Readable;
}

/** Larger files are streamed from disk, uncompressed, rather than read whole. */
const MAX_BUFFERED_SIZE = 8 << 20;

const IMMUTABLE = "public, max-age=31536000, immutable";
/** The checkpoint moves; a few seconds of caching keeps load off the origin without hiding new heads. */
const CHECKPOINT_CACHE = "public, max-age=5";
const BLOB_RE = /^blob\/sha256\/[0-9a-f]{64}$/;

function notFound(message: string): StaticFile {
  return {
    status: 404,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ error: message, code: "not-found" }),
  };
}

/** The headers a tree path is served with, or undefined if it is not a tree path. */
export function treeFileHeaders(path: string): Record<string, string> | undefined {
  if (path === "checkpoint" || path === "mirrors" || path === "keys") {
    return { "content-type": "text/plain; charset=utf-8", "cache-control": CHECKPOINT_CACHE };
  }
  if (BLOB_RE.test(path) || DELTA_PATH_RE.test(path))
    return { "content-type": "application/octet-stream", "cache-control": IMMUTABLE };
  try {
    parseTilePath(path);
  } catch (err) {
    if (isLogError(err, "malformed-tile")) return undefined;
    throw err;
  }
  return { "content-type": "application/octet-stream", "cache-control": IMMUTABLE };
}

const gzipAsync = promisify(gzip);
/** Smaller files gain too little from compression to pay for it. */
const MIN_COMPRESSED_SIZE = 512;
const compressed = new LRUCache<string, Buffer>({
  maxSize: 64 << 20,
  sizeCalculation: (value) => value.length,
});

/** Whether an Accept-Encoding header allows gzip (present, and not with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  return (header ?? "").split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    return (coding === "gzip" || coding === "*") && (q === undefined || Number(q) > 0);
  });
}

/** Whether a file is worth compressing: entry bundles, and blobs that are not gzip or zstd already. */
function compressible(path: string, body: Uint8Array): boolean {
  if (body.length < MIN_COMPRESSED_SIZE) return false;
  if (path.startsWith("tile/entries/")) return true;
  if (!path.startsWith("blob/")) return false;
  const gzipped = body[0] === 0x1f && body[1] === 0x8b;
  const zstd = body[0] === 0x28 && body[1] === 0xb5 && body[2] === 0x2f && body[3] === 0xfd;
  return !gzipped && !zstd;
}

export async function readTreeFile(
  treeDir: string,
  path: string,
  options: { readonly acceptEncoding?: string } = {},
): Promise<StaticFile> {
  const headers = treeFileHeaders(path);
  if (!headers) return notFound(`not a file of the static tree: ${path}`);
  const key = `${treeDir}\0${path}`;
  const wantsGzip = acceptsGzip(options.acceptEncoding);
  // Only immutable files are cached, so a cached one needs no read.
  const cached = wantsGzip ? compressed.get(key) : undefined;
  if (cached) return gzipReply(headers, cached);
  let handle: FileHandle;
  try {
    handle = await open(join(treeDir, path), "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return notFound(`${path} not found`);
    throw err;
  }
  let body: Buffer;
  try {
    const { size } = await handle.stat();
    if (size > MAX_BUFFERED_SIZE) {
      // The stream closes the file when it ends or is destroyed.
      const stream = handle.createReadStream({ highWaterMark: 1 << 20 });
      return { status: 200, headers: { ...headers, "content-length": String(size) }, body: stream };
    }
    body = await handle.readFile();
    await handle.close();
  } catch (err) {
    await handle.close();
    throw err;
  }
  if (!compressible(path, body)) return { status: 200, headers, body };
  if (!wantsGzip) return { status: 200, headers: { ...headers, vary: "accept-encoding" }, body };
  const gzipped = await gzipAsync(body);
  compressed.set(key, gzipped);
  return gzipReply(headers, gzipped);
}

function gzipReply(headers: Record<string, string>, gzipped: Buffer): StaticFile {
  return {
    status: 200,
    headers: { ...headers, vary: "accept-encoding", "content-encoding": "gzip" },
    body: gzipped,
  };
}

/** `blob/sha256/<hex>` of a static tree path, or undefined for any other path. */
export function blobOfTreePath(path: string): string | undefined {
  return /^blob\/sha256\/([0-9a-f]{64})$/.exec(path)?.[1];
}
