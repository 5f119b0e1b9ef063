/**
 * Blobs from any IPFS trustless gateway (a web seed): a blob of at most
 * one chunk (1 MiB) as the raw block of the SHA-256 the log names
 * (`GET /ipfs/<rawCid>?format=raw`), a larger one as a CAR of its UnixFS
 * DAG when the caller knows the root CID the log records for it. Nothing
 * else (checkpoints, tiles, entry bundles, documents) ever comes from a
 * gateway. Every block of a CAR is checked against its CID as it arrives
 * (src/store/car.ts), the file is rebuilt from the blocks the root reaches,
 * and the caller checks the rebuilt blob against the log's SHA-256 and size
 * as it does a mirror's.
 */
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import pLimit, { type LimitFunction } from "p-limit";
import { type HttpSource, isLogError } from "../log/index.ts";
import type { BlobRef } from "../registry/entries.ts";
import { CarError, readVerifiedCar } from "../store/car.ts";
import { CHUNK_SIZE, DAG_PB_CODEC, parseCid, RAW_CODEC, rawCid } from "../store/cid.ts";
import { type Check, SourceError } from "./errors.ts";

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

const CAR_CHECKS: Record<CarError["code"], Check> = {
  "bad-car": "block",
  "wrong-block": "block",
  truncated: "truncated",
  "block-too-large": "size",
};

/** UnixFS trees are shallow (depth 2 reaches 1 TiB); a deeper one is not a Cairn file. */
const MAX_DEPTH = 8;

/** The file a verified DAG holds, refused as soon as it grows past `size`. */
function assemble(rootCid: CID, blocks: ReadonlyMap<string, Uint8Array>, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  const append = (bytes: Uint8Array) => {
    if (at + bytes.length > size) throw new Error(`the DAG holds more than ${size} bytes`);
    out.set(bytes, at);
    at += bytes.length;
  };
  const visit = (cid: CID, depth: number) => {
    const bytes = blocks.get(cid.toString());
    if (!bytes) throw new Error(`the CAR lacks block ${cid}`);
    if (cid.code === RAW_CODEC) return append(bytes);
    if (cid.code !== DAG_PB_CODEC || depth > MAX_DEPTH)
      throw new Error(`${cid} is not part of a UnixFS file`);
    const node = dagPb.decode(bytes);
    const fs = node.Data ? UnixFS.unmarshal(node.Data) : undefined;
    if (!fs || (fs.type !== "file" && fs.type !== "raw"))
      throw new Error(`${cid} is not a UnixFS file node`);
    if (fs.data) append(fs.data);
    for (const link of node.Links) visit(link.Hash, depth + 1);
  };
  visit(rootCid, 0);
  if (at !== size) throw new Error(`the DAG holds ${at} bytes, not ${size}`);
  return out;
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
    const blocks = new Map<string, Uint8Array>();
    try {
      for await (const block of readVerifiedCar(counted(), root))
        blocks.set(block.cid.toString(), block.bytes);
    } catch (err) {
      if (err instanceof CarError)
        throw new SourceError(this.url, CAR_CHECKS[err.code], `${path}: ${err.message}`);
      if (isLogError(err, "too-large"))
        throw new SourceError(this.url, "size", `${path}: more bytes than the blob's CAR can hold`);
      throw err;
    } finally {
      // A CAR refused part way leaves the response open: close it (and its timer) now.
      await body.return(undefined);
    }
    try {
      return assemble(root, blocks, ref.size);
    } catch (err) {
      throw new SourceError(this.url, "block", `${path}: ${(err as Error).message}`);
    }
  }
}
