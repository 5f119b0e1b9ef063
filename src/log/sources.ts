/**
 * LogSource implementations: a local directory and an HTTP(S) base URL.
 * Both return untrusted bytes, capped at the size the caller expects.
 */
import { open } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { join, resolve } from "node:path";
import { isLogError, LogError } from "./errors.ts";
import { HASH_SIZE } from "./hash.ts";
import { ExchangeTimer, httpGet, readBody, streamBody } from "./http-get.ts";
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
    const timer = new ExchangeTimer(this.#timeoutMs);
    try {
      const { res, url } = await this.#get(path, timer, headers);
      return await readBody(res, url, maxBytes, () => tooLarge(this.name, path, maxBytes));
    } catch (err) {
      throw timer.expired ?? err;
    } finally {
      timer.done();
    }
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
    const timer = new ExchangeTimer(this.#timeoutMs);
    try {
      const { res, url } = await this.#get(path, timer, headers).catch((err: unknown) => {
        throw timer.expired ?? err;
      });
      const body = streamBody(
        res,
        url,
        maxBytes,
        () => tooLarge(this.name, path, maxBytes),
        () => timer.refresh(),
      );
      // Errors of the body are the timer's when it fired; a consumer's error thrown in here passes as it is.
      for (;;) {
        const next = await body.next().catch((err: unknown) => {
          throw timer.expired ?? err;
        });
        if (next.done) return;
        yield next.value;
      }
    } finally {
      timer.done();
    }
  }

  /**
   * GET `path`, following redirects only within the source's own origin: a
   * source vouches for its own URLs, and a redirect elsewhere would let
   * anyone who can answer one request choose where the client reads from.
   */
  async #get(
    path: string,
    timer: ExchangeTimer,
    headers: Readonly<Record<string, string>>,
  ): Promise<{ res: IncomingMessage; url: URL }> {
    const origin = new URL(this.#base).origin;
    const sent = { accept: "*/*", ...headers, "accept-encoding": "gzip, identity" };
    let url = new URL(path, this.#base);
    for (let redirects = 0; ; redirects++) {
      const { res } = await httpGet(url, sent, timer);
      const status = res.statusCode ?? 0;
      const location = status >= 300 && status < 400 && res.headers.location;
      if (status >= 200 && status < 300) return { res, url };
      timer.discard();
      if (location) {
        const next = URL.parse(location, url.href);
        if (next?.origin !== origin)
          throw new LogError("redirect", `${url} redirects to ${location}, outside ${origin}`);
        if (redirects === MAX_REDIRECTS)
          throw new LogError("redirect", `${url}: more than ${MAX_REDIRECTS} redirects`);
        url = next;
        continue;
      }
      if (status === 404) throw new LogError("not-found", `${url} answered 404`);
      if (status === 451)
        throw new LogError("withheld", `${url} answered 451: withheld (taken down)`);
      throw new Error(`${url} answered ${status} ${res.statusMessage ?? ""}`.trimEnd());
    }
  }
}

/** Redirects within a source's origin followed in a row before giving up. */
const MAX_REDIRECTS = 5;

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
