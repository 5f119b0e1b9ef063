/**
 * A lying front for an npm registry: it forwards every request to `target`
 * and passes every answer on unchanged, except the full packument of
 * `name`, which it hands to `edit` first (a mirror whose served packument
 * was altered). Requests are forwarded without Accept-Encoding, so the
 * packument arrives as plain JSON.
 */
import { createServer, request } from "node:http";
import { listenOnLoopback } from "./loopback.ts";

export interface PackumentRewriter {
  readonly url: string;
  /** How many packuments of `name` it altered. */
  rewritten(): number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startPackumentRewriter(
  target: string,
  name: string,
  edit: (packument: Record<string, unknown>) => void,
): Promise<PackumentRewriter> {
  const upstream = new URL(target);
  let rewritten = 0;
  const server = createServer((req, res) => {
    const { "accept-encoding": _encoding, ...headers } = req.headers;
    const path = new URL(req.url ?? "/", "http://front").pathname;
    const isTarget = decodeURIComponent(path.slice(upstream.pathname.length)) === name;
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...headers, host: upstream.host },
      },
      (answer) => {
        if (!isTarget || answer.statusCode !== 200) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("end", () => {
          const packument = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          edit(packument);
          rewritten++;
          const body = Buffer.from(JSON.stringify(packument));
          const { etag: _etag, "content-length": _length, ...kept } = answer.headers;
          res.writeHead(200, { ...kept, "content-length": body.length });
          res.end(body);
        });
      },
    );
    forward.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.destroy();
    });
    req.pipe(forward);
  });
  const { url, close } = await listenOnLoopback(server);
  return { url, rewritten: () => rewritten, close, [Symbol.asyncDispose]: close };
}
