/**
 * Blobs from any IPFS trustless gateway (a web seed): a blob of at most
 * one chunk (1 MiB) as the raw block of the SHA-256 the log names
 * (`GET /ipfs/<rawCid>?format=raw`), a larger one as a CAR of its UnixFS
 * DAG when the caller knows the root CID the log records for it. Nothing
 * else (checkpoints, tiles, entry bundles, documents) ever comes from a
 * gateway. Every block of a CAR is checked against its CID as it arrives
 * (src/store/car.ts, through gateway-car.ts), the file is rebuilt from the blocks the root reaches,
 * and the caller checks the rebuilt blob against the log's SHA-256 and size
 * as it does a mirror's.
 */
import { CID } from "multiformats/cid";
import pLimit, { type LimitFunction } from "p-limit";
import type { HttpSource } from "../log/index.ts";
import type { BlobRef } from "../registry/entries.ts";
import { CHUNK_SIZE, DAG_PB_CODEC, parseCid, rawCid } from "../store/cid.ts";
import { SourceError } from "./errors.ts";

/** A blob the log names, with the root CID of its UnixFS DAG when it is larger than one chunk. */
export interface GatewayBlobRef extends BlobRef {
  /** The root CID of the blob's UnixFS file DAG (IPIP-0499 `unixfs-v1-2025`), as the log records it. */
  readonly unixfs?: string;
}

const RAW_ACCEPT = "application/vnd.ipld.raw";
const CAR_ACCEPT = "application/vnd.ipld.car; version=1; order=dfs; dups=n";

/** Room in a CAR for its header, section heads and UnixFS nodes, beside the file's own bytes. */
function maxCarBytes(size: number): number {
  const leaves = Math.ceil(size / CHUNK_SIZE);
  return size + leaves * 160 + (1 << 16);
}

/** The root CID of a blob's DAG, if the ref names one Cairn could hold (never a gateway's fault otherwise). */
function dagRoot(ref: GatewayBlobRef): CID | undefined {
  if (ref.unixfs === undefined) return undefined;
  try {
    return parseCid(ref.unixfs)?.codec === DAG_PB_CODEC ? CID.parse(ref.unixfs) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a gateway can be asked for this blob at all. */
export function gatewayCanServe(ref: GatewayBlobRef): boolean {
  return ref.size <= CHUNK_SIZE || dagRoot(ref) !== undefined;
}

export class GatewaySource {
  readonly url: string;
  readonly #http: HttpSource;
  readonly #stats: { requests: number; bytes: number };
  /** At most this many requests in flight here; more wait their turn. */
  readonly #limit: LimitFunction;

  constructor(
    url: string,
    http: HttpSource,
    stats: { requests: number; bytes: number },
    maxInFlight = Number.POSITIVE_INFINITY,
  ) {
    this.url = url;
    this.#http = http;
    this.#stats = stats;
    this.#limit = pLimit(maxInFlight);
  }

  /** Requests in flight or waiting for a turn. */
  get busy(): number {
    return this.#limit.activeCount + this.#limit.pendingCount;
  }

  /** The blob's bytes as the gateway serves them, each block verified; the caller checks the whole. */
  async blob(ref: GatewayBlobRef): Promise<Uint8Array> {
    if (ref.size <= CHUNK_SIZE) return this.#limit(() => this.#raw(ref));
    const root = dagRoot(ref);
    if (!root) throw new SourceError(this.url, "unavailable", "no root CID is known for this blob");
    return this.#limit(() => this.#car(ref, root));
  }

  async #raw(ref: GatewayBlobRef): Promise<Uint8Array> {
    this.#stats.requests++;
    const data = await this.#http.read(`ipfs/${rawCid(ref.sha256)}?format=raw`, ref.size, {
      accept: RAW_ACCEPT,
    });
    this.#stats.bytes += data.length;
    return data;
  }

  async #car(ref: GatewayBlobRef, root: CID): Promise<Uint8Array> {
    // Loaded on first use: the CAR reader and the UnixFS decoder are a sixth of an install's modules.
    const { readCarFile } = await import("./gateway-car.ts");
    const stats = this.#stats;
    stats.requests++;
    const path = `ipfs/${root}?format=car&dag-scope=entity&car-dups=n`;
    const body = this.#http.stream(path, maxCarBytes(ref.size), { accept: CAR_ACCEPT });
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        stats.bytes += chunk.length;
        yield chunk;
      }
    }
    try {
      return await readCarFile(this.url, path, counted(), root, ref.size);
    } finally {
      // A CAR refused part way leaves the response open: close it (and its timer) now.
      await body.return(undefined);
    }
  }
}
