/**
 * The stylesheet and scripts under ./assets, served at names that carry
 * their hash (`site.3f2a9c1e.css`) so browsers keep them forever and a new
 * release never meets a stale copy. Read and compressed once, at start.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const TYPES: Record<string, string> = {
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

export interface Asset {
  /** The served file name, with its hash. */
  readonly file: string;
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly brotli: Buffer;
}

// Beside this module: src/web/ in a checkout, and in the package dist/, where the build copies them.
const ASSET_DIR = join(import.meta.dirname, "assets");

function load(): Map<string, Asset> {
  const byName = new Map<string, Asset>();
  for (const name of readdirSync(ASSET_DIR).sort()) {
    const ext = extname(name);
    const type = TYPES[ext];
    if (!type) continue;
    const body = readFileSync(join(ASSET_DIR, name));
    const hash = createHash("sha256").update(body).digest("hex").slice(0, 10);
    byName.set(name, {
      file: `${name.slice(0, -ext.length)}.${hash}${ext}`,
      type,
      body,
      gzip: gzipSync(body, { level: 9 }),
      brotli: brotliCompressSync(body, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11 },
      }),
    });
  }
  return byName;
}

const ASSETS = load();
const BY_FILE = new Map([...ASSETS.values()].map((a) => [a.file, a]));

/** The served file name of an asset (`site.css` → `site.<hash>.css`). */
export function assetFile(name: string): string {
  const asset = ASSETS.get(name);
  if (!asset) throw new Error(`no web asset ${name}`);
  return asset.file;
}

export function assetByFile(file: string): Asset | undefined {
  return BY_FILE.get(file);
}
