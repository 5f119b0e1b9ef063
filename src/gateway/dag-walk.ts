/**
 * The blocks of a CAR answer, in the order the spec's `order=dfs` names:
 * pre-order depth-first, links left to right (root, then for each child
 * its node and then its leaves). `dag-scope=block` is the root alone;
 * `entity` is, for a UnixFS file, every block needed to read it (all of
 * them, or with `entity-bytes` the root, the inner nodes on the way and the
 * leaves that overlap the range, found from each node's `blocksizes`);
 * `all` follows every dag-pb link. With `dups=n` a block goes out once.
 *
 * Blocks are read one at a time from the BlockSource and handed on, so a
 * large file never sits in memory. A child the source lacks (or one over
 * the block limit) ends the walk with an error: the answer is already a
 * 200 on its way, so the stream stops there ("Streaming and Missing Child
 * Blocks").
 */
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import type { CID } from "multiformats/cid";
import { type CarBlock, MAX_BLOCK_SIZE } from "../store/car.ts";
import { addressOf, type BlockSource, DAG_PB_CODEC, RAW_CODEC } from "../store/cid.ts";
import type { ByteRange, CarWanted } from "./negotiate.ts";

/** A node as the walk reads it: its links, and for a UnixFS file the byte span of each child. */
interface Node {
  readonly links: readonly CID[];
  /** Bytes of file content held in the node itself, before its children's. */
  readonly inline: number;
  /** Content bytes under each link, when the node is a UnixFS file. */
  readonly sizes?: readonly number[];
}

function decodeNode(block: CarBlock): Node | undefined {
  if (block.cid.code !== DAG_PB_CODEC) return undefined;
  let pb: dagPb.PBNode;
  try {
    pb = dagPb.decode(block.bytes);
  } catch {
    return undefined;
  }
  const links = pb.Links.map((l) => l.Hash);
  try {
    const fs = pb.Data ? UnixFS.unmarshal(pb.Data) : undefined;
    if (fs && (fs.type === "file" || fs.type === "raw") && fs.blockSizes.length === links.length)
      return { links, inline: fs.data?.length ?? 0, sizes: fs.blockSizes.map(Number) };
  } catch {}
  return { links, inline: 0 };
}

/** The size of the file a root block holds: a raw block's length, or its UnixFS file size. */
function fileSize(root: CarBlock, node: Node | undefined): number | undefined {
  if (root.cid.code === RAW_CODEC) return root.bytes.length;
  return node?.sizes ? node.inline + node.sizes.reduce((a, b) => a + b, 0) : undefined;
}

/** `[first, last]` byte offsets the range names in a file of `size` bytes, or undefined if none. */
function resolveRange(range: ByteRange, size: number): [number, number] | undefined {
  const from = range.from < 0 ? Math.max(0, size + range.from) : range.from;
  const to = range.to === "*" ? size - 1 : range.to < 0 ? size + range.to : range.to;
  const last = Math.min(to, size - 1);
  return from <= last ? [from, last] : undefined;
}

export class MissingBlockError extends Error {
  override name = "MissingBlockError";
}

async function read(source: BlockSource, cid: CID): Promise<CarBlock> {
  const address = addressOf(cid);
  const bytes = address && (await source.block(address));
  if (!bytes || bytes.length > MAX_BLOCK_SIZE)
    throw new MissingBlockError(`${cid}: a child block is not held here`);
  return { cid, bytes };
}

/** The blocks of the answer to `wanted`, the root (already read) first. */
export async function* carBlocks(
  source: BlockSource,
  root: CarBlock,
  wanted: CarWanted,
): AsyncGenerator<CarBlock> {
  const rootNode = decodeNode(root);
  let range: [number, number] | undefined;
  let scope = wanted.scope;
  if (scope === "entity") {
    const size = fileSize(root, rootNode);
    // Only a file has an entity larger than its root block here; a range outside it has no leaves.
    if (size === undefined) scope = "block";
    else if (wanted.entityBytes) {
      range = resolveRange(wanted.entityBytes, size);
      if (!range) scope = "block";
    }
  }
  yield root;
  if (scope === "block" || !rootNode) return;
  const sent = new Set<string>([root.cid.toString()]);

  async function* below(node: Node, offset: number): AsyncGenerator<CarBlock> {
    let at = offset + node.inline;
    for (const [i, cid] of node.links.entries()) {
      const span = node.sizes?.[i];
      const start = at;
      if (span !== undefined) at += span;
      // Outside the range asked for: not needed to read it.
      if (range && span !== undefined && (start > range[1] || start + span - 1 < range[0]))
        continue;
      const key = cid.toString();
      const seen = sent.has(key);
      // A raw leaf sent before adds nothing with dups=n; a repeated node may still lead to unsent leaves.
      if (seen && !wanted.dups && cid.code === RAW_CODEC) continue;
      const block = await read(source, cid);
      if (!seen || wanted.dups) {
        sent.add(key);
        yield block;
      }
      const child = decodeNode(block);
      if (child) yield* below(child, start);
    }
  }
  yield* below(rootNode, 0);
}
