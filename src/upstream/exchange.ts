/**
 * One GET to an uplink, bounded: an idle timer (re)armed while waiting for
 * the connection and headers and on every chunk of the body, a deadline
 * for the whole exchange, and a byte cap on the body both as sent and as
 * decoded. A timer that fires destroys the request and its socket, and
 * every failure of the network or of the bytes becomes an UpstreamError.
 *
 * Built on node:http(s) rather than the global fetch (undici), for the
 * control this needs: errors keep their codes (`ECONNREFUSED`, a cut body's
 * `ECONNRESET`, the parser's `HPE_*`) where undici wraps them in
 * `TypeError("fetch failed")` and reports a cut body only by the message
 * "terminated"; gzip is decoded here, so the cap counts decoded bytes chunk
 * by chunk; `res.complete` says whether a socket may go back to the pool;
 * and `reusedSocket` tells a keep-alive socket the upstream closed between
 * requests (safe to retry once) from a real failure. The keep-alive agents
 * pool connections: a cold install asks an upstream for hundreds of
 * packuments and tarballs.
 */

import {
  type ClientRequest,
  Agent as HttpAgent,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { USER_AGENT } from "../util/version.ts";
import type { Uplink } from "./uplink.ts";
import { UpstreamError } from "./upstream-error.ts";

/**
 * Unbounded sockets per host: requests are never queued behind each other
 * in the agent, where they would spend their idle time waiting for a
 * socket rather than for the upstream. The importer's single flights bound
 * the requests in flight instead.
 */
const agents = {
  http: new HttpAgent({ keepAlive: true }),
  https: new HttpsAgent({ keepAlive: true }),
};

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: IncomingMessage["headers"];
  /** Bytes received so far, as sent (before decoding). */
  readonly wireBytes: number;
  /** The decoded body; read it once, to the end or until you stop. */
  body(maxBytes: number): AsyncGenerator<Buffer>;
}

export interface ExchangeOptions {
  /** GET unless given; a POST (an audit forwarded) sends `body`. */
  readonly method?: "GET" | "POST";
  readonly body?: Uint8Array;
  /** Ends the exchange early (the caller is shutting down), as a timeout. */
  readonly signal?: AbortSignal;
}

/**
 * GET `url` from `uplink` and hand the response to `use`. A status not in
 * `expected` is an error (404 and 410 "not-found", 401 and 403
 * "unauthorized", anything else "bad-status"); redirects are not followed.
 * Errors thrown by `use` itself (a full disk) pass through unchanged.
 */
export async function exchange<T>(
  uplink: Uplink,
  url: URL,
  headers: OutgoingHttpHeaders,
  expected: readonly number[],
  use: (response: UpstreamResponse) => Promise<T>,
  options: ExchangeOptions = {},
): Promise<T> {
  const method = options.method ?? "GET";
  const what = `${method} ${url.pathname}`;
  let failure: UpstreamError | undefined;
  let req: ClientRequest | undefined;
  const fail = (err: UpstreamError): UpstreamError => {
    failure ??= err;
    req?.destroy(failure);
    return failure;
  };
  const timeout = (detail: string) => () =>
    fail(new UpstreamError(uplink, "timeout", `${what}: ${detail}`));
  const deadline = setTimeout(
    timeout(`no complete answer in ${uplink.deadlineMs} ms`),
    uplink.deadlineMs,
  );
  const idle = setTimeout(timeout(`nothing arrived for ${uplink.timeoutMs} ms`), uplink.timeoutMs);
  const abandon = timeout("given up by the caller");
  options.signal?.addEventListener("abort", abandon, { once: true });
  if (options.signal?.aborted) abandon();
  let res: IncomingMessage | undefined;
  let requestError: unknown;
  try {
    const sent = { ...headers, "user-agent": USER_AGENT };
    // The token is the uplink's own: a change feed on another host never sees it.
    if (uplink.token && url.origin === new URL(uplink.url).origin)
      sent.authorization = `Bearer ${uplink.token}`;
    const attempt = () =>
      send(url, method, sent, options.body, (r) => {
        req = r;
        requestError = undefined;
        // A parse error mid-body is the request's error, perhaps before `res` is even
        // handed over; the response itself only hears "aborted".
        r.on("error", (err) => {
          requestError ??= err;
        });
      });
    try {
      res = await attempt();
    } catch (err) {
      // The upstream closed an idle keep-alive socket as we reused it: the request never reached it.
      if (failure || !req?.reusedSocket || !isReset(err))
        throw failure ?? beforeHeaders(uplink, what, err);
      res = await attempt().catch((again) => {
        throw failure ?? beforeHeaders(uplink, what, again);
      });
    }
    idle.refresh();
    const status = res.statusCode ?? 0;
    if (!expected.includes(status)) throw statusError(uplink, what, status);
    const why = (err: unknown) => failure ?? duringBody(uplink, what, requestError ?? err);
    return await use(responseOf(uplink, what, res, idle, fail, why));
  } finally {
    clearTimeout(deadline);
    clearTimeout(idle);
    options.signal?.removeEventListener("abort", abandon);
    // A socket with unread body bytes cannot carry another request: close it rather than pool it.
    if (res?.complete) res.resume();
    else req?.destroy();
  }
}

function send(
  url: URL,
  method: string,
  headers: OutgoingHttpHeaders,
  body: Uint8Array | undefined,
  onRequest: (req: ClientRequest) => void,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const options = {
      method,
      headers,
      agent: url.protocol === "https:" ? agents.https : agents.http,
    };
    const req =
      url.protocol === "https:"
        ? httpsRequest(url, options, resolve)
        : request(url, options, resolve);
    onRequest(req);
    req.on("error", reject);
    req.end(body);
  });
}

function responseOf(
  uplink: Uplink,
  what: string,
  res: IncomingMessage,
  idle: NodeJS.Timeout,
  fail: (err: UpstreamError) => UpstreamError,
  why: (err: unknown) => unknown,
): UpstreamResponse {
  let wireBytes = 0;
  const tooLarge = (maxBytes: number) =>
    fail(
      new UpstreamError(uplink, "too-large", `${what}: the body is larger than ${maxBytes} bytes`),
    );

  async function* wire(maxBytes: number): AsyncGenerator<Buffer> {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      idle.refresh();
      wireBytes += chunk.length;
      if (wireBytes > maxBytes) throw tooLarge(maxBytes);
      yield chunk;
    }
  }

  async function* body(maxBytes: number): AsyncGenerator<Buffer> {
    const declared = Number(res.headers["content-length"]);
    if (declared > maxBytes) throw tooLarge(maxBytes);
    const encoding = (res.headers["content-encoding"] ?? "identity").trim().toLowerCase();
    if (!["identity", "gzip", "x-gzip"].includes(encoding))
      throw fail(
        new UpstreamError(uplink, "bad-response", `${what}: unknown content-encoding ${encoding}`),
      );
    const decoded: AsyncIterable<Buffer> =
      encoding === "identity" ? wire(maxBytes) : gunzipped(wire(maxBytes));
    let total = 0;
    try {
      for await (const chunk of decoded) {
        total += chunk.length;
        if (total > maxBytes) throw tooLarge(maxBytes);
        yield chunk;
      }
    } catch (err) {
      throw why(err);
    }
  }

  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    get wireBytes() {
      return wireBytes;
    },
    body,
  };
}

function gunzipped(source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const gunzip = createGunzip();
  // A failure on either side destroys the gunzip stream with it, so the reader sees it there.
  pipeline(source, gunzip).catch(() => {});
  return gunzip;
}

function statusError(uplink: Uplink, what: string, status: number): UpstreamError {
  const detail = `${what} answered ${status}`;
  if (status === 404 || status === 410) return new UpstreamError(uplink, "not-found", detail);
  if (status === 401 || status === 403)
    return new UpstreamError(
      uplink,
      "unauthorized",
      `${detail}: the upstream refused our credentials`,
    );
  return new UpstreamError(uplink, "bad-status", detail);
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : "";
}

const RESETS = new Set(["ECONNRESET", "EPIPE"]);

function isReset(err: unknown): boolean {
  return RESETS.has(errorCode(err));
}

function beforeHeaders(uplink: Uplink, what: string, err: unknown): UpstreamError {
  const message = (err as Error)?.message ?? String(err);
  const code = errorCode(err);
  if (code.startsWith("HPE_"))
    return new UpstreamError(uplink, "bad-response", `${what}: not an HTTP response: ${message}`, {
      cause: err,
    });
  return new UpstreamError(uplink, "unreachable", `${what}: ${message}`, { cause: err });
}

function truncated(uplink: Uplink, what: string, cause?: unknown): UpstreamError {
  return new UpstreamError(uplink, "truncated", `${what}: the body ended before it was complete`, {
    cause,
  });
}

/** The error for a failure while the body streams; anything not from the network or gzip stays as it is. */
function duringBody(uplink: Uplink, what: string, err: unknown): unknown {
  const code = errorCode(err);
  // A reset, or a gzip stream cut short: the connection dropped mid-body.
  if (isReset(err) || code === "Z_BUF_ERROR") return truncated(uplink, what, err);
  const message = (err as Error)?.message ?? String(err);
  if (code.startsWith("Z_"))
    return new UpstreamError(
      uplink,
      "bad-response",
      `${what}: the body is not valid gzip: ${message}`,
      { cause: err },
    );
  if (code.startsWith("HPE_"))
    return new UpstreamError(uplink, "bad-response", `${what}: a malformed body: ${message}`, {
      cause: err,
    });
  return err;
}
