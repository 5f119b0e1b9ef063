/**
 * A reverse proxy that counts: it forwards every request to `target`
 * unchanged and records its method and path, so a test can tell exactly
 * what reached the server behind it. `beforeAnswer`, when given, runs after
 * the server has answered a request and before the answer is passed on, so
 * a test can stage something between a client's read and its next write.
 */
import { createServer, request } from "node:http";
import { listenOnLoopback } from "./loopback.ts";

export interface CountingProxy {
  readonly url: string;
  /** `METHOD /path?query` of every request forwarded so far, in order of arrival. */
  readonly requests: string[];
  /** Bytes of every answer body passed back so far. */
  responseBytes(): number;
  /** Bytes of the answer bodies to requests whose path `matches`. */
  bytesOf(matches: (path: string) => boolean): number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface CountingProxyOptions {
  /** Pass the client's Host header on, so a server that builds URLs from it names the proxy. */
  keepHost?: boolean;
  beforeAnswer?(method: string, path: string): Promise<void>;
  /** The address to listen on (a free port of it); loopback by default. */
  host?: string;
  /** An answer of the proxy's own in place of the server's (a lie), or undefined to forward. */
  answerInstead?(method: string, path: string): { status: number; body: string } | undefined;
}

export async function startCountingProxy(
  target: string,
  options: CountingProxyOptions = {},
): Promise<CountingProxy> {
  const upstream = new URL(target);
  const requests: string[] = [];
  let bytes = 0;
  const bytesByPath = new Map<string, number>();
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const own = options.answerInstead?.(req.method ?? "", req.url ?? "");
    if (own) {
      req.resume();
      res.writeHead(own.status, { "content-type": "application/json" }).end(own.body);
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: options.keepHost ? req.headers : { ...req.headers, host: upstream.host },
      },
      async (answer) => {
        await options.beforeAnswer?.(req.method ?? "", req.url ?? "");
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const path = req.url ?? "";
        answer.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          bytesByPath.set(path, (bytesByPath.get(path) ?? 0) + chunk.length);
        });
        answer.pipe(res);
      },
    );
    forward.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.destroy();
    });
    req.pipe(forward);
  });
  const { url, close } = await listenOnLoopback(server, options.host);
  return {
    url,
    requests,
    responseBytes: () => bytes,
    bytesOf: (matches) => {
      let sum = 0;
      for (const [path, n] of bytesByPath) if (matches(path)) sum += n;
      return sum;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
