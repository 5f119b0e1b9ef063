/**
 * A blob from a gateway's CAR of its UnixFS DAG (gateway-source.ts asks
 * for it): every block checked against its CID as it arrives
 * (src/store/car.ts), then the file rebuilt from the blocks the root
 * reaches. Its own module, loaded only when a gateway serves a blob over
 * one chunk: the CAR reader and the UnixFS decoder bring a sixth of an
 * install's modules.
 */
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import type { CID } from "multiformats/cid";
import { isLogError } from "../log/index.ts";
import { CarError, readVerifiedCar } from "../store/car.ts";
import { DAG_PB_CODEC, RAW_CODEC } from "../store/cid.ts";
import { type Check, SourceError } from "./errors.ts";

const CAR_CHECKS: Record<CarError["code"], Check> = {
  "bad-car": "block",
  "wrong-block": "block",
  truncated: "truncated",
  "block-too-large": "size",
};

/** UnixFS trees are shallow (depth 2 reaches 1 TiB); a deeper one is not a Cairn file. */
const MAX_DEPTH = 8;

/**
 * The file of `size` bytes that the CAR streamed from `url`'s `path` holds
 * under `root`; a bad block or DAG is the gateway's SourceError.
 */
export async function readCarFile(
  url: string,
  path: string,
  car: AsyncIterable<Uint8Array>,
  root: CID,
  size: number,
): Promise<Uint8Array> {
  const blocks = new Map<string, Uint8Array>();
  try {
    for await (const block of readVerifiedCar(car, root))
      blocks.set(block.cid.toString(), block.bytes);
  } catch (err) {
    if (err instanceof CarError)
      throw new SourceError(url, CAR_CHECKS[err.code], `${path}: ${err.message}`);
    if (isLogError(err, "too-large"))
      throw new SourceError(url, "size", `${path}: more bytes than the blob's CAR can hold`);
    throw err;
  }
  try {
    return assemble(root, blocks, size);
  } catch (err) {
    throw new SourceError(url, "block", `${path}: ${(err as Error).message}`);
  }
}

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
