/**
 * The blocks a blob store holds as whole blobs: a blob of at most 2 MiB
 * (the block limit) is the raw block of its SHA-256, and, when its bytes
 * are a dag-pb node, that node too (the UnixFS nodes of large blobs are
 * stored as blobs of their own). Leaves that are slices of a larger blob
 * are not found here.
 */
import * as dagPb from "@ipld/dag-pb";
import type { BlobStore } from "./blobs.ts";
import { MAX_BLOCK_SIZE } from "./car.ts";
import { type BlockAddress, type BlockSource, DAG_PB_CODEC } from "./cid.ts";

function isDagPb(bytes: Uint8Array): boolean {
  try {
    dagPb.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export class WholeBlobBlocks implements BlockSource {
  readonly #blobs: BlobStore;

  constructor(blobs: BlobStore) {
    this.#blobs = blobs;
  }

  async block(address: BlockAddress): Promise<Uint8Array | undefined> {
    const size = await this.#blobs.size(address.sha256);
    if (size === undefined || size > MAX_BLOCK_SIZE) return undefined;
    const bytes = await this.#blobs.get(address.sha256);
    if (!bytes || (address.codec === DAG_PB_CODEC && !isDagPb(bytes))) return undefined;
    return bytes;
  }

  async has(address: BlockAddress): Promise<boolean> {
    // A raw block is any blob small enough; a node must be read to know it is one.
    if (address.codec === DAG_PB_CODEC) return (await this.block(address)) !== undefined;
    const size = await this.#blobs.size(address.sha256);
    return size !== undefined && size <= MAX_BLOCK_SIZE;
  }
}
