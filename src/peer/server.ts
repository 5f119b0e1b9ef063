/**
 * A peer's server: the trustless gateway over the blocks its share set
 * holds, behind the share gate (one "not here" for everything else) and
 * the LAN limits. It serves `GET|HEAD /ipfs/<cid>` and the gateway's
 * probe, nothing more: no status, listing or package route on the LAN
 * port (`cairn peer status` reads a file the peer writes instead).
 *
 * The blocks are those of the current share set: whole blobs of at most
 * 2 MiB (a file of the install store, with or without its `-exec` suffix;
 * a file index; a tarball of the share store), and the leaves and nodes of
 * the DAGs of larger shared tarballs. The set is swapped whole when it is
 * recomputed, so a request sees one set or the other.
 */
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import { GatewayError, serveGateway } from "../gateway/index.ts";
import { errorResponse } from "../npm/error-status.ts";
import type { BlobStore } from "../store/blobs.ts";
import { BlockIndex, MAX_BLOCK_SIZE } from "../store/block-index.ts";
import { type BlockAddress, type BlockSource, RAW_CODEC } from "../store/cid.ts";
import { sha256Hex } from "../util/sha256.ts";
import { mountPeerHandler } from "./http.ts";
import { type PeerLimitOptions, PeerLimits } from "./limits.ts";
import type { SharedBlob, ShareSet } from "./policy.ts";
import {
  cidTextOf,
  type PeerHandler,
  type PeerRequest,
  type PeerResponse,
  shareGate,
} from "./response.ts";

/** The blocks of one share set, as a BlockSource that holds nothing else. */
export class SharedBlocks implements BlockSource {
  readonly #whole: ReadonlyMap<string, SharedBlob>;
  /** Leaves and nodes of the set's large tarballs; none without a share store. */
  readonly #dags: BlockIndex | undefined;

  private constructor(whole: ReadonlyMap<string, SharedBlob>, dags: BlockIndex | undefined) {
    this.#whole = whole;
    this.#dags = dags;
  }

  /** The blocks of `set`; the DAGs of its large tarballs read from `tarballs` (the share store's blobs). */
  static async of(set: ShareSet, tarballs: BlobStore | undefined): Promise<SharedBlocks> {
    // A larger file is no block: never read, so a request for one costs no more than a miss.
    const whole = new Map([...set.blobs].filter(([, blob]) => blob.size <= MAX_BLOCK_SIZE));
    if (!tarballs) return new SharedBlocks(whole, undefined);
    const dags = new BlockIndex(tarballs);
    await dags.addAll(set.roots);
    return new SharedBlocks(whole, dags);
  }

  /** An empty set (before the first computation). */
  static empty(): SharedBlocks {
    return new SharedBlocks(new Map(), undefined);
  }

  /** Blocks shared: whole blobs, and leaves and nodes of large tarballs. */
  get size(): number {
    const dags = this.#dags?.counts;
    return this.#whole.size + (dags ? dags.leaves + dags.nodes : 0);
  }

  /** Whether the address is in the set, from memory alone (the share gate's question). */
  shareable(address: BlockAddress): boolean {
    if (address.codec === RAW_CODEC && this.#whole.has(address.sha256)) return true;
    return this.#dags?.knows(address) ?? false;
  }

  async has(address: BlockAddress): Promise<boolean> {
    return this.shareable(address);
  }

  async block(address: BlockAddress): Promise<Uint8Array | undefined> {
    const whole = address.codec === RAW_CODEC ? this.#whole.get(address.sha256) : undefined;
    if (!whole) return this.#dags?.knows(address) ? this.#dags.block(address) : undefined;
    const bytes = await readFile(whole.path).catch(() => undefined);
    // A file changed or damaged on disk since the set was made is not served.
    return bytes && sha256Hex(bytes) === address.sha256 ? bytes : undefined;
  }
}

/** The trustless gateway over `source` as a PeerHandler: `/ipfs/<cid>` only, no path below it. */
function gatewayHandler(source: BlockSource): PeerHandler {
  return async (request: PeerRequest): Promise<PeerResponse> => {
    try {
      const cid = cidTextOf(request.url);
      const [path, search = ""] = request.url.split(/\?(.*)/s, 2);
      if (cid === undefined || path !== `/ipfs/${cid}`)
        throw new GatewayError("not-found", "block not found");
      const params = new URLSearchParams(search);
      const query: Record<string, string> = {};
      for (const [key, value] of params) {
        if (Object.hasOwn(query, key))
          throw new GatewayError("bad-param", `give ${key.slice(0, 40)} once`);
        query[key] = value;
      }
      const header = (name: string) => {
        const value = request.headers[name];
        return Array.isArray(value) ? value.join(", ") : value;
      };
      const answer = await serveGateway(source, {
        method: request.method === "HEAD" ? "HEAD" : "GET",
        cid: decodeURIComponent(cid),
        query,
        accept: header("accept"),
        ifNoneMatch: header("if-none-match"),
      });
      const { body } = answer;
      if (body === undefined || request.method === "HEAD")
        return { status: answer.status, headers: answer.headers };
      return {
        status: answer.status,
        headers: answer.headers,
        body: body instanceof Uint8Array ? body : Readable.from(body, { objectMode: false }),
      };
    } catch (err) {
      const { status, body } = errorResponse(err, "peer");
      const bytes = Buffer.from(`${JSON.stringify(body)}\n`);
      return {
        status,
        headers: { "content-type": "application/json", "content-length": String(bytes.length) },
        ...(request.method === "HEAD" ? {} : { body: bytes }),
      };
    }
  };
}

/** Bytes and requests served to one address. */
export interface ServedTo {
  requests: number;
  bytes: number;
}

export interface PeerServerOptions {
  readonly host: string;
  readonly port: number;
  readonly limits?: PeerLimitOptions;
  /** The blocks shared now (read on every request, so a new set takes effect at once). */
  readonly blocks: () => SharedBlocks;
}

export interface PeerServer {
  readonly app: FastifyInstance;
  /** The port it listens on (the one given, or the one picked for 0). */
  readonly port: number;
  readonly limits: PeerLimits;
  /** Requests and body bytes served, by client address. */
  readonly served: ReadonlyMap<string, ServedTo>;
  close(): Promise<void>;
}

/** Counts each answer's body bytes against the address that asked. */
function counted(handler: PeerHandler, served: Map<string, ServedTo>): PeerHandler {
  return async (request) => {
    let to = served.get(request.ip);
    if (!to) {
      to = { requests: 0, bytes: 0 };
      served.set(request.ip, to);
    }
    to.requests++;
    const response = await handler(request);
    const { body } = response;
    if (body === undefined) return response;
    const tally = to;
    if (body instanceof Uint8Array) {
      tally.bytes += body.length;
      return response;
    }
    // Counted as they go out: a response cut short counts what was sent.
    async function* tallied(): AsyncGenerator<Uint8Array> {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        tally.bytes += chunk.length;
        yield chunk;
      }
    }
    return { ...response, body: Readable.from(tallied(), { objectMode: false }) };
  };
}

/** Addresses whose counts are kept; beyond it, the least recent are not added. */
const MAX_COUNTED = 1024;

export async function startPeerServer(options: PeerServerOptions): Promise<PeerServer> {
  const limits = new PeerLimits(options.limits);
  const served = new Map<string, ServedTo>();
  const gateway = gatewayHandler({
    has: (a) => options.blocks().has(a),
    block: (a) => options.blocks().block(a),
  });
  const gated = shareGate((a) => options.blocks().shareable(a), gateway);
  const app = Fastify({ logger: false, return503OnClosing: true });
  const handler = limits.wrap(gated);
  const countedHandler = counted(handler, served);
  mountPeerHandler(app, (request) =>
    served.size < MAX_COUNTED || served.has(request.ip)
      ? countedHandler(request)
      : handler(request),
  );
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    app,
    port,
    limits,
    served,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
