/**
 * The UnixFS file DAG of a blob, under the IPIP-0499 `unixfs-v1-2025`
 * profile (https://specs.ipfs.tech/ipips/ipip-0499/): CIDv1, sha2-256,
 * fixed 1 MiB chunks as raw leaves, a balanced tree of at most 1024 links
 * per node. The root CID is a pure function of the bytes, so anyone can
 * recompute it; the published vectors and the reference importer check it
 * (test/store/unixfs.test.ts).
 *
 * A blob of at most one chunk is its own single raw leaf: its CID is
 * `rawCid(sha256)` and it has no nodes. A larger blob's leaves are its
 * consecutive 1 MiB slices (the last one shorter); a node at height h holds
 * runs of 1024^(h-1) leaves, every leaf at the same depth (a trailing
 * partial group is wrapped too, never promoted). A node is dag-pb:
 * Links `{Hash, Name: "", Tsize}` in order (Tsize: a leaf's length; a
 * node's block length plus its children's Tsize), then Data, the UnixFS
 * `{Type: File, filesize, blocksizes: [each child's content bytes]}`.
 * Worked example, the 104-byte root of 1048577 bytes (two leaves):
 *
 *   12 2c 0a 24 <CID leaf0> 12 00 18 80 80 40      Link{leaf0, "", 1048576}
 *   12 2a 0a 24 <CID leaf1> 12 00 18 01            Link{leaf1, "", 1}
 *   0a 0c 08 02 18 81 80 40 20 80 80 40 20 01      Data{File, 1048577, [1048576, 1]}
 *
 * The builder reads the blob once, as a stream, hashing the whole and
 * each leaf as the bytes pass: it never holds more than one incoming
 * chunk. Only the nodes' bytes (about 44 bytes per link) are kept.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import type { CID } from "multiformats/cid";
import { sha256Hex } from "../util/sha256.ts";
import { CHUNK_SIZE, cidObject, DAG_PB_CODEC, parseCid, RAW_CODEC, rawCid } from "./cid.ts";

/** The most links a node holds (the profile's width). */
export const MAX_LINKS = 1024;

/** A leaf: a raw block that is the slice [offset, offset + length) of the blob. */
export interface UnixfsLeaf {
  readonly sha256: string;
  readonly offset: number;
  readonly length: number;
}

/** A dag-pb node block, to be stored as a blob named by its SHA-256. */
export interface UnixfsNode {
  readonly sha256: string;
  readonly bytes: Uint8Array;
}

export interface UnixfsDag {
  /** The SHA-256 and size of the whole blob. */
  readonly sha256: string;
  readonly size: number;
  /** The root CID: `bafkrei…` for a blob of at most one chunk, `bafybei…` above. */
  readonly root: string;
  /** Every node, root first (none for a single leaf); a repeated node appears once. */
  readonly nodes: readonly UnixfsNode[];
  /** Every leaf in blob order (repeated bytes give repeated digests). */
  readonly leaves: readonly UnixfsLeaf[];
}

/** A child as its parent links it. */
interface Child {
  readonly cid: CID;
  /** Bytes of the blob under it. */
  readonly size: number;
  /** Bytes of every block under it, its own included (dag-pb Tsize). */
  readonly tsize: number;
}

/** The DAG of a blob whose bytes arrive in chunks of any size. */
export async function unixfsOf(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<UnixfsDag> {
  const builder = new DagBuilder();
  for await (const chunk of chunks) builder.update(chunk);
  return builder.finish();
}

/** The DAG of a blob held in memory. */
export function unixfsOfBytes(data: Uint8Array): UnixfsDag {
  const builder = new DagBuilder();
  builder.update(data);
  return builder.finish();
}

/** The DAG of a file, read as a stream. */
export function unixfsOfFile(path: string): Promise<UnixfsDag> {
  return unixfsOf(createReadStream(path, { highWaterMark: CHUNK_SIZE }));
}

/** Hashes the whole blob and each 1 MiB slice of it in one pass, then builds the nodes over the leaves. */
class DagBuilder {
  readonly #whole = createHash("sha256");
  readonly #leaves: UnixfsLeaf[] = [];
  #leaf: Hash = createHash("sha256");
  #leafLength = 0;
  #size = 0;

  update(chunk: Uint8Array): void {
    this.#whole.update(chunk);
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(CHUNK_SIZE - this.#leafLength, chunk.length - at);
      this.#leaf.update(chunk.subarray(at, at + take));
      this.#leafLength += take;
      at += take;
      if (this.#leafLength === CHUNK_SIZE) this.#endLeaf();
    }
    this.#size += chunk.length;
  }

  #endLeaf(): void {
    const offset = this.#leaves.length * CHUNK_SIZE;
    this.#leaves.push({ sha256: this.#leaf.digest("hex"), offset, length: this.#leafLength });
    this.#leaf = createHash("sha256");
    this.#leafLength = 0;
  }

  finish(): UnixfsDag {
    // A trailing short slice, or the empty blob's one empty leaf.
    if (this.#leafLength > 0 || this.#leaves.length === 0) this.#endLeaf();
    const sha256 = this.#whole.digest("hex");
    const leaves = this.#leaves;
    if (leaves.length === 1)
      return { sha256, size: this.#size, root: rawCid(sha256), nodes: [], leaves };
    const nodes = new Map<string, UnixfsNode>();
    let level: Child[] = leaves.map((leaf) => ({
      cid: cidObject(leaf.sha256, RAW_CODEC),
      size: leaf.length,
      tsize: leaf.length,
    }));
    do {
      const above: Child[] = [];
      for (let i = 0; i < level.length; i += MAX_LINKS) {
        const { child, node } = fileNode(level.slice(i, i + MAX_LINKS));
        above.push(child);
        nodes.set(node.sha256, node);
      }
      level = above;
    } while (level.length > 1);
    // Nodes were made bottom-up: the root is the last one.
    const ordered = [...nodes.values()].reverse();
    return { sha256, size: this.#size, root: level[0].cid.toString(), nodes: ordered, leaves };
  }
}

/** A node over `children`, and the child it is to its parent. */
function fileNode(children: readonly Child[]): { child: Child; node: UnixfsNode } {
  const data = new UnixFS({ type: "file", blockSizes: children.map((c) => BigInt(c.size)) });
  const bytes = dagPb.encode(
    dagPb.prepare({
      Data: data.marshal(),
      Links: children.map((c) => ({ Hash: c.cid, Name: "", Tsize: c.tsize })),
    }),
  );
  const sha256 = sha256Hex(bytes);
  const size = children.reduce((sum, c) => sum + c.size, 0);
  const tsize = children.reduce((sum, c) => sum + c.tsize, bytes.length);
  return { child: { cid: cidObject(sha256, DAG_PB_CODEC), size, tsize }, node: { sha256, bytes } };
}

/** A child a node links to: a raw leaf or another node, and the blob bytes under it. */
export interface NodeLink {
  readonly codec: typeof RAW_CODEC | typeof DAG_PB_CODEC;
  readonly sha256: string;
  readonly size: number;
}

/**
 * The children of a UnixFS file node, in order, with the blob bytes under
 * each (its `blocksizes`); throws on a block that is not one (a stored
 * node is derived data, so a bad one is damage, not input).
 */
export function linksOfNode(bytes: Uint8Array): NodeLink[] {
  const node = dagPb.decode(bytes);
  if (!node.Data) throw new Error("a dag-pb node without UnixFS data");
  const data = UnixFS.unmarshal(node.Data);
  if (data.type !== "file" || data.blockSizes.length !== node.Links.length)
    throw new Error("not a UnixFS file node with one size per link");
  return node.Links.map((link, i) => {
    const address = parseCid(link.Hash.toString());
    if (!address) throw new Error(`a link to a block Cairn cannot hold: ${link.Hash}`);
    return {
      codec: address.codec as NodeLink["codec"],
      sha256: address.sha256,
      size: Number(data.blockSizes[i]),
    };
  });
}
