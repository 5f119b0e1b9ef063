/**
 * `cairn witness`'s HTTP front: a thin shell around addCheckpoint (C2SP
 * tlog-witness v1.0.0) and the monitoring read of the latest cosigned
 * checkpoint of a log (`GET /<hex SHA-256 of the origin>/checkpoint`, from
 * the spec's later text).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { addCheckpoint, type Cosigner, MAX_PROOF_LINES, type NoteVerifier } from "../log/index.ts";
import type { SqliteWitnessStore } from "./store.ts";

/** A checkpoint note is small; with 63 proof lines of 45 bytes, 64 KiB leaves room to spare. */
export const MAX_REQUEST_BYTES = 64 * 1024 + MAX_PROOF_LINES * 45;

export interface WitnessServerOptions {
  readonly cosigner: Cosigner;
  /** Trusted log keys, by checkpoint origin (several for a log across a key rotation). */
  readonly logs: ReadonlyMap<string, readonly NoteVerifier[]>;
  readonly store: SqliteWitnessStore;
  readonly host?: string;
  readonly port?: number;
  /** See WitnessOptions.beforeSwap. */
  readonly beforeSwap?: (origin: string, size: number) => Promise<void>;
}

export interface WitnessServer {
  readonly url: string;
  close(): Promise<void>;
}

class TooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_REQUEST_BYTES) throw new TooLarge();
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > MAX_REQUEST_BYTES) throw new TooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}

const CHECKPOINT_PATH = /^\/([0-9a-f]{64})\/checkpoint$/;

export async function startWitnessServer(options: WitnessServerOptions): Promise<WitnessServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/add-checkpoint") {
      if (req.method !== "POST") return send(res, 405, "text/plain", "use POST\n");
      let body: string;
      try {
        body = await readBody(req);
      } catch (err) {
        if (!(err instanceof TooLarge)) throw err;
        res.setHeader("connection", "close");
        return send(res, 413, "text/plain", "request body too large\n");
      }
      const answer = await addCheckpoint(options, body);
      return send(res, answer.status, answer.contentType, answer.body);
    }
    const monitored = CHECKPOINT_PATH.exec(path);
    if (monitored && (req.method === "GET" || req.method === "HEAD")) {
      const note = options.store.latestNote(monitored[1]);
      if (note === undefined) return send(res, 404, "text/plain", "no cosigned checkpoint\n");
      return send(res, 200, "text/plain; charset=utf-8", note);
    }
    send(res, 404, "text/plain", "not found\n");
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, "text/plain", "internal error\n");
      else res.destroy(err as Error);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
