/**
 * LogSource implementations: a local directory and an HTTP(S) base URL.
 * Both return untrusted bytes, capped at the size the caller expects.
 */
import { open } from "node:fs/promises";
import { join, resolve } from "node:path";
import { LogError } from "./errors.ts";
import type { LogSource } from "./tile-reader.ts";

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

  async read(path: string, maxBytes: number): Promise<Uint8Array> {
    const url = new URL(path, this.#base);
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const res = await fetch(url, { signal, headers: { "accept-encoding": "gzip, identity" } });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new LogError("not-found", `${url} answered 404`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`${url} answered ${res.status} ${res.statusText}`);
    }
    return readCapped(res, maxBytes, () => tooLarge(this.name, path, maxBytes));
  }
}

async function readCapped(
  res: Response,
  maxBytes: number,
  onTooLarge: () => Error,
): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
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
  return new LogError("malformed-tile", `${path} from ${source} is larger than ${maxBytes} bytes`);
}

/** A source for a directory path or an http(s) URL. */
export function openSource(location: string, options: HttpSourceOptions = {}): LogSource {
  return /^https?:\/\//i.test(location)
    ? new HttpSource(location, options)
    : new DirectorySource(location);
}
