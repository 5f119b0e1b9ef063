/**
 * LogSource implementations: a local directory and an HTTP(S) base URL.
 * Both return untrusted bytes, capped at the size the caller expects.
 */
import { open } from "node:fs/promises";
import { join, resolve } from "node:path";
import { isLogError, LogError } from "./errors.ts";
import { HASH_SIZE } from "./hash.ts";
import { type LogSource, MAX_TILE_BYTES } from "./tile-reader.ts";
import {
  bundlePath,
  MAX_BUNDLE_BYTES,
  type ParsedPath,
  parseTilePath,
  TILE_WIDTH,
  tilePath,
} from "./tiles.ts";

export class DirectorySource implements LogSource {
  readonly name: string;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = resolve(dir);
    this.name = this.#dir;
  }

  async read(path: string, maxBytes: number): Promise<Uint8Array> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(join(this.#dir, path), "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new LogError("not-found", `${path} not found in ${this.name}`, { cause: err });
      }
      throw err;
    }
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) throw tooLarge(this.name, path, maxBytes);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }
}

export interface HttpSourceOptions {
  /** Milliseconds before a request (headers and body) is abandoned. */
  readonly timeoutMs?: number;
}

export class HttpSource implements LogSource {
  readonly name: string;
  readonly #base: string;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, options: HttpSourceOptions = {}) {
    this.#base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
    this.name = this.#base;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** `headers` are sent besides the usual ones (a trustless gateway wants an Accept). */
  async read(
    path: string,
    maxBytes: number,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<Uint8Array> {
    const res = await this.#get(path, AbortSignal.timeout(this.#timeoutMs), headers);
    return readCapped(res, maxBytes, () => tooLarge(this.name, path, maxBytes));
  }

  /**
   * The body at `path` as it arrives, for files too large to hold in
   * memory. The timeout applies to each wait for data rather than to the
   * whole transfer, so a large file on a slow link is not cut off while it
   * still moves. Throws "too-large" once more than `maxBytes` arrive.
   */
  async *stream(
    path: string,
    maxBytes: number,
    headers: Readonly<Record<string, string>> = {},
  ): AsyncGenerator<Uint8Array> {
    const abort = new AbortController();
    let timer = setTimeout(() => abort.abort(timeoutError()), this.#timeoutMs);
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(timeoutError()), this.#timeoutMs);
    };
    try {
      const res = await this.#get(path, abort.signal, headers);
      if (declaredLength(res) > maxBytes) throw tooLarge(this.name, path, maxBytes);
      let total = 0;
      for await (const chunk of res.body ?? []) {
        rearm();
        total += chunk.length;
        if (total > maxBytes) throw tooLarge(this.name, path, maxBytes);
        yield chunk;
      }
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }

  /**
   * GET `path`, following redirects only within the source's own origin: a
   * source vouches for its own URLs, and a redirect elsewhere would let
   * anyone who can answer one request choose where the client reads from.
   */
  async #get(
    path: string,
    signal: AbortSignal,
    headers: Readonly<Record<string, string>>,
  ): Promise<Response> {
    const origin = new URL(this.#base).origin;
    let url = new URL(path, this.#base);
    let resent = false;
    for (let redirects = 0; ; redirects++) {
      const res = await fetch(url, {
        signal,
        redirect: "manual",
        headers: { ...headers, "accept-encoding": "gzip, identity" },
      }).catch((err: unknown) => {
        if (resent || !droppedBeforeAnswer(err)) throw err;
        resent = true;
        return undefined;
      });
      if (!res) {
        redirects--;
        continue;
      }
      const location = res.status >= 300 && res.status < 400 && res.headers.get("location");
      if (location) {
        await res.body?.cancel();
        const next = URL.parse(location, url.href);
        if (next?.origin !== origin)
          throw new LogError("redirect", `${url} redirects to ${location}, outside ${origin}`);
        if (redirects === MAX_REDIRECTS)
          throw new LogError("redirect", `${url}: more than ${MAX_REDIRECTS} redirects`);
        url = next;
        continue;
      }
      if (res.status === 404) {
        await res.body?.cancel();
        throw new LogError("not-found", `${url} answered 404`);
      }
      if (res.status === 451) {
        await res.body?.cancel();
        throw new LogError("withheld", `${url} answered 451: withheld (taken down)`);
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`${url} answered ${res.status} ${res.statusText}`);
      }
      return res;
    }
  }
}

/** How a connection closed under a request shows (undici's socket error, or the system's). */
const DROPPED_CODES: ReadonlySet<string> = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

/**
 * A connection closed before any answer: most often a kept-alive one the
 * server let go just as the request went out (a busy client notices late).
 * A GET of it is sent once more; any answer, even a cut-off one, is not.
 */
function droppedBeforeAnswer(err: unknown): boolean {
  const code = ((err as Error).cause as { code?: unknown } | undefined)?.code;
  return err instanceof TypeError && typeof code === "string" && DROPPED_CODES.has(code);
}

/** Redirects within a source's origin followed in a row before giving up. */
const MAX_REDIRECTS = 5;

function timeoutError(): Error {
  return new DOMException("no data arrived in time", "TimeoutError");
}

/**
 * The length of the body as it will be read, when the response says so. A
 * compressed body's Content-Length counts encoded bytes (gzip makes
 * incompressible bytes a little larger), so it says nothing either way;
 * the bytes read are counted all the same.
 */
function declaredLength(res: Response): number {
  if (res.headers.get("content-encoding")) return Number.NaN;
  return Number(res.headers.get("content-length") ?? Number.NaN);
}

async function readCapped(
  res: Response,
  maxBytes: number,
  onTooLarge: () => Error,
): Promise<Uint8Array> {
  if (declaredLength(res) > maxBytes) {
    await res.body?.cancel();
    throw onTooLarge();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (!res.body) return new Uint8Array(0);
  for await (const chunk of res.body) {
    total += chunk.length;
    if (total > maxBytes) {
      await res.body.cancel().catch(() => {});
      throw onTooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(source: string, path: string, maxBytes: number): LogError {
  return new LogError("too-large", `${path} from ${source} is larger than ${maxBytes} bytes`);
}

/** A source for a directory path or an http(s) URL. */
export function openSource(location: string, options: HttpSourceOptions = {}): LogSource {
  return /^https?:\/\//i.test(location)
    ? new HttpSource(location, options)
    : new DirectorySource(location);
}

/**
 * C2SP tlog-tiles lets a server delete a partial tile once the full tile
 * exists, and a mirror that synced past a size never had its partial tiles.
 * This source answers a missing `<path>.p/<W>` with the first W hashes (or
 * entries) of the full tile; the bytes are as untrusted as any others.
 */
export function withFullTileFallback(source: LogSource): LogSource {
  return {
    name: source.name,
    async read(path: string, maxBytes: number): Promise<Uint8Array> {
      try {
        return await source.read(path, maxBytes);
      } catch (err) {
        const partial = isLogError(err, "not-found") ? partialOf(path) : undefined;
        if (!partial) throw err;
        const full = await source.read(partial.fullPath, partial.maxFullBytes);
        return partial.prefix(full);
      }
    },
  };
}

function partialOf(path: string) {
  let parsed: ParsedPath;
  try {
    parsed = parseTilePath(path);
  } catch {
    return undefined;
  }
  if (parsed.kind === "entries") {
    if (parsed.width === TILE_WIDTH) return undefined;
    return {
      fullPath: bundlePath(parsed.index, TILE_WIDTH),
      maxFullBytes: MAX_BUNDLE_BYTES,
      prefix: (data: Uint8Array) => bundlePrefix(data, parsed.width),
    };
  }
  const { tile } = parsed;
  if (tile.width === TILE_WIDTH) return undefined;
  return {
    fullPath: tilePath({ ...tile, width: TILE_WIDTH }),
    maxFullBytes: MAX_TILE_BYTES,
    prefix: (data: Uint8Array) => data.subarray(0, tile.width * HASH_SIZE),
  };
}

/** The bytes of the first `count` entries of a bundle (a short bundle is left to the parser). */
function bundlePrefix(data: Uint8Array, count: number): Uint8Array {
  let at = 0;
  for (let i = 0; i < count && at + 2 <= data.length; i++)
    at += 2 + ((data[at] << 8) | data[at + 1]);
  return data.subarray(0, Math.min(at, data.length));
}
