/**
 * Serving the static tree: `checkpoint`, `mirrors`, `tile/...`, `tile/entries/...` and
 * `blob/sha256/<hex>`. Only canonical names are served, so nothing outside
 * the tree (and no temporary or lock file) can ever be reached. Everything but
 * the checkpoint and the mirror list is immutable and cached forever.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isLogError, parseTilePath } from "../log/index.ts";

export interface StaticFile {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array | string;
}

const IMMUTABLE = "public, max-age=31536000, immutable";
/** The checkpoint moves; a few seconds of caching keeps load off the origin without hiding new heads. */
const CHECKPOINT_CACHE = "public, max-age=5";
const BLOB_RE = /^blob\/sha256\/[0-9a-f]{64}$/;

function notFound(message: string): StaticFile {
  return {
    status: 404,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ error: message }),
  };
}

/** The headers a tree path is served with, or undefined if it is not a tree path. */
export function treeFileHeaders(path: string): Record<string, string> | undefined {
  if (path === "checkpoint" || path === "mirrors") {
    return { "content-type": "text/plain; charset=utf-8", "cache-control": CHECKPOINT_CACHE };
  }
  if (BLOB_RE.test(path))
    return { "content-type": "application/octet-stream", "cache-control": IMMUTABLE };
  try {
    parseTilePath(path);
  } catch (err) {
    if (isLogError(err, "malformed-tile")) return undefined;
    throw err;
  }
  return { "content-type": "application/octet-stream", "cache-control": IMMUTABLE };
}

export async function readTreeFile(treeDir: string, path: string): Promise<StaticFile> {
  const headers = treeFileHeaders(path);
  if (!headers) return notFound(`not a file of the static tree: ${path}`);
  try {
    return { status: 200, headers, body: await readFile(join(treeDir, path)) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return notFound(`${path} not found`);
    throw err;
  }
}
