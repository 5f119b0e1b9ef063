/**
 * The transport under HttpSource: one GET over node:http(s) on keep-alive
 * agents, with a timer that destroys the exchange, and bodies read with a
 * cap on the bytes they carry (gzip is inflated here, the cap counting
 * inflated bytes).
 *
 * node:http rather than the global fetch (undici): a verifying install
 * makes about a thousand small requests on the main thread, and fetch's
 * WHATWG streams, Request and Response objects, WebAssembly HTTP parser and
 * asynchronous inflation of each small document cost several times what a
 * plain request does; loading undici alone took tens of milliseconds of a
 * warm install.
 *
 * node:http is taken with `process.getBuiltinModule`: an ES module import
 * of it reads every export, and its lazy WebSocket exports load undici.
 */
import type { ClientRequest, IncomingMessage } from "node:http";
import type { Agent as HttpsAgent } from "node:https";
import type { Socket } from "node:net";
import { createGunzip, gunzipSync, type ZlibOptions } from "node:zlib";
import { USER_AGENT } from "../util/version.ts";
import { LogError } from "./errors.ts";

/**
 * Keep-alive agents shared by every source; Node pools their sockets per
 * host and port, so the origin, each mirror and each gateway has its own
 * pool. Sockets per host are not capped: the callers bound what they keep
 * in flight (an install: 32 document reads and 16 tarballs), and a cap
 * here would queue a small document behind tarballs, the wait counted
 * against its timeout. Idle sockets do not keep the process alive. With
 * NODE_USE_ENV_PROXY=1 (or --use-env-proxy) they go through HTTP_PROXY and
 * HTTPS_PROXY, as the global fetch does then.
 */
const http = process.getBuiltinModule("node:http");
const agentOptions = {
  keepAlive: true,
  ...(process.env.NODE_USE_ENV_PROXY === "1" || process.execArgv.includes("--use-env-proxy")
    ? { proxyEnv: process.env }
    : {}),
};
const httpAgent = new http.Agent(agentOptions);
let httpsAgent: HttpsAgent | undefined;

function send(url: URL, headers: Record<string, string>, timer: ExchangeTimer): Promise<Sent> {
  const https = url.protocol === "https:";
  // node:https loads TLS: only for a source that needs it.
  const client = https ? process.getBuiltinModule("node:https") : undefined;
  if (client) httpsAgent ??= new client.Agent(agentOptions);
  return new Promise((resolve, reject) => {
    const options = {
      headers: { "user-agent": USER_AGENT, ...headers },
      agent: https ? httpsAgent : httpAgent,
    };
    let socket: Socket | undefined;
    let readBefore = 0;
    const req = (client?.request ?? http.request)(url, options, (res) => {
      timer.watch(req, res);
      resolve({ req, res });
    });
    req.on("socket", (s: Socket) => {
      socket = s;
      readBefore = s.bytesRead;
    });
    req.on("error", (err) => {
      const answered = socket !== undefined && socket.bytesRead > readBefore;
      reject(answered || !DROPPED_CODES.has(errorCode(err)) ? err : new Dropped(err));
    });
    timer.watch(req);
    req.end();
  });
}

interface Sent {
  readonly req: ClientRequest;
  readonly res: IncomingMessage;
}

/** How a connection closed under a request shows ("socket hang up" is ECONNRESET). */
const DROPPED_CODES: ReadonlySet<string> = new Set(["ECONNRESET", "EPIPE"]);

/** A connection that closed before a single byte of the answer came back. */
class Dropped extends Error {
  constructor(cause: unknown) {
    super("the connection closed before any answer", { cause });
  }
}

/**
 * GET `url`. A connection closed before any answer (most often a kept-alive
 * one the server let go just as the request went out) is asked once more;
 * once any byte of an answer arrived, never. Fails with LogError
 * "unreachable" when no answer came, or with the timer's error.
 */
export async function httpGet(
  url: URL,
  headers: Record<string, string>,
  timer: ExchangeTimer,
): Promise<Sent> {
  const failed = (err: unknown) =>
    timer.expired ??
    new LogError("unreachable", `${url}: ${(err as Error)?.message ?? err}`, {
      cause: err instanceof Dropped ? err.cause : err,
    });
  try {
    return await send(url, headers, timer);
  } catch (err) {
    if (timer.expired || !(err instanceof Dropped)) throw failed(err);
    return await send(url, headers, timer).catch((again: unknown) => {
      throw failed(again);
    });
  }
}

/**
 * A timeout over one exchange, redirects and retry included: when it fires
 * it destroys the request and response it watches, and `expired` holds the
 * error to report instead of whatever the destruction caused.
 */
export class ExchangeTimer {
  expired: Error | undefined;
  #req: ClientRequest | undefined;
  #res: IncomingMessage | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(ms: number) {
    this.#timer = setTimeout(() => this.#expire(), ms);
  }

  watch(req: ClientRequest, res?: IncomingMessage): void {
    this.#req = req;
    this.#res = res;
  }

  /** Starts the wait over (a stream's timeout applies to each wait for data). */
  refresh(): void {
    this.#timer.refresh();
  }

  /** Stops the timer, and lets go of the exchange (let go of also when unread: see release). */
  done(): void {
    clearTimeout(this.#timer);
    release(this.#req, this.#res);
  }

  /** Lets go of the response, not worth reading (an error, a redirect), as `release` does. */
  discard(): void {
    release(this.#req, this.#res);
    this.#res = undefined;
  }

  #expire(): void {
    this.expired = new DOMException("no data arrived in time", "TimeoutError");
    this.#res?.destroy(this.expired);
    this.#req?.destroy(this.expired);
  }
}

/**
 * A response that has all arrived is read to its end, unread or not, so
 * its socket goes back to the pool; any other exchange is closed. Left as
 * it is, an unread response holds its socket, and the process, until the
 * server closes the connection, which a hostile one never does.
 */
function release(req: ClientRequest | undefined, res: IncomingMessage | undefined): void {
  if (res?.complete) res.resume();
  else req?.destroy();
}

/**
 * Whether the body is gzipped; identity otherwise. Anything else was not
 * asked for (Accept-Encoding says "gzip, identity") and is refused.
 */
function isGzipped(res: IncomingMessage, url: URL): boolean {
  const encoding = (res.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (encoding === "gzip" || encoding === "x-gzip") return true;
  if (encoding === "identity") return false;
  throw new LogError("bad-response", `${url} is sent with content-encoding ${encoding}`);
}

/**
 * The most gzip bytes that can carry `maxBytes` (deflate's stored blocks
 * add 5 bytes per block, the gzip header and trailer a few dozen): a
 * larger body must inflate past the cap, so it is refused unread.
 */
function gzipWireCap(maxBytes: number): number {
  return maxBytes + Math.ceil(maxBytes / 1024) + 1024;
}

/**
 * The whole body, inflated if gzipped, at most `maxBytes`. A declared
 * Content-Length over the cap is refused before any byte is read; the
 * bytes are counted as they arrive all the same, and gzip is inflated at
 * the end in one call that stops one chunk past the cap. A body cut off,
 * or gzip that does not decode to its end, fails as "truncated".
 */
export function readBody(
  res: IncomingMessage,
  url: URL,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Buffer> {
  const gzipped = isGzipped(res, url);
  const wireCap = gzipped ? gzipWireCap(maxBytes) : maxBytes;
  const declared = Number(res.headers["content-length"]);
  if (declared > wireCap) {
    res.destroy();
    return Promise.reject(tooLarge());
  }
  if (res.destroyed) return Promise.reject(truncated(url));
  return new Promise((resolve, reject) => {
    // One buffer, grown by doubling from the declared length (up to a first MiB): a buffer kept
    // per chunk costs hundreds of bytes each, and a hostile server can send a byte at a time.
    let buffer = Buffer.allocUnsafe(
      Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, 1 << 20) : 16 << 10,
    );
    let total = 0;
    res.on("data", (chunk: Buffer) => {
      if (total + chunk.length > wireCap) {
        res.destroy();
        reject(tooLarge());
        return;
      }
      if (total + chunk.length > buffer.length) {
        const grown = Buffer.allocUnsafe(
          Math.min(wireCap, Math.max(total + chunk.length, buffer.length * 2)),
        );
        buffer.copy(grown, 0, 0, total);
        buffer = grown;
      }
      total += chunk.copy(buffer, total);
    });
    res.on("end", () => {
      const body = buffer.subarray(0, total);
      try {
        resolve(gzipped ? inflate(body, url, maxBytes, tooLarge) : body);
      } catch (err) {
        reject(err);
      }
    });
    res.on("error", (err) => reject(truncated(url, err)));
    res.on("close", () => {
      if (!res.complete) reject(truncated(url));
    });
  });
}

function inflate(body: Buffer, url: URL, maxBytes: number, tooLarge: () => Error): Buffer {
  let out: Buffer;
  try {
    out = gunzipSync(body, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (err) {
    if (errorCode(err) === "ERR_BUFFER_TOO_LARGE") throw tooLarge();
    throw truncated(url, err);
  }
  if (out.length > maxBytes) throw tooLarge();
  return out;
}

/**
 * The body as it arrives, inflated if gzipped, at most `maxBytes`: the
 * declared length is checked first for an identity body, the bytes counted
 * as they come out. Inflation waits for each chunk to be taken, so it never
 * runs more than a chunk past the cap. `onData` hears of every chunk.
 */
export async function* streamBody(
  res: IncomingMessage,
  url: URL,
  maxBytes: number,
  tooLarge: () => Error,
  onData: () => void,
): AsyncGenerator<Buffer> {
  const gzipped = isGzipped(res, url);
  if (!gzipped && Number(res.headers["content-length"]) > maxBytes) throw tooLarge();
  let total = 0;
  for await (const chunk of decoded(res, url, gzipped)) {
    onData();
    total += chunk.length;
    if (total > maxBytes) throw tooLarge();
    yield chunk;
  }
}

/** The body's chunks, with a failure of the network or of gzip as "truncated". */
async function* decoded(res: IncomingMessage, url: URL, gzipped: boolean): AsyncGenerator<Buffer> {
  const body: AsyncIterable<Buffer> = gzipped ? res.pipe(inflating(res)) : res;
  try {
    yield* body;
  } catch (err) {
    throw truncated(url, err);
  }
  if (!res.complete) throw truncated(url);
}

function inflating(res: IncomingMessage) {
  // One chunk held at most: each further chunk is inflated only once the reader asks.
  const gunzip = createGunzip({ readableHighWaterMark: 1 } as ZlibOptions);
  res.on("error", (err) => gunzip.destroy(err));
  res.on("close", () => {
    if (!res.complete) gunzip.destroy(new Error("the connection closed before the body ended"));
  });
  return gunzip;
}

function truncated(url: URL, cause?: unknown): LogError {
  const detail = (cause as Error)?.message ?? "the connection closed before the body ended";
  return new LogError("truncated", `${url}: the body is cut off or not whole: ${detail}`, {
    cause,
  });
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : "";
}
