/**
 * The blocks a copy's blob store holds, by address, for a trustless
 * gateway (src/store/cid.ts `BlockSource`):
 *
 * - a raw-codec address names a whole stored blob of at most
 *   MAX_BLOCK_SIZE bytes (any blob up to 1 MiB is its own raw leaf), or a
 *   leaf of a larger blob: the 1 MiB slice at its offset, read from the
 *   blob without holding the rest;
 * - a dag-pb address names a stored UnixFS node block of a large blob, and
 *   nothing else (a blob that happens to parse as dag-pb is not one).
 *
 * Leaves and nodes become known from the root CIDs the entries record
 * (`artifact.unixfs`): `add` reads the root block (and, above 1 GiB, the
 * nodes under it) from the store, a few KiB per large blob, and keeps the
 * digest of each leaf and node in memory. Whole blobs need no index: a stat
 * answers for them, so blobs put later are found without telling the index.
 * `has` never reads block bytes; `block` checks every byte it returns
 * against the address.
 */

import { sha256Hex } from "../util/sha256.ts";
import type { BlobStore } from "./blobs.ts";
import { MAX_BLOCK_SIZE } from "./car.ts";
import { type BlockAddress, type BlockSource, DAG_PB_CODEC, parseCid, RAW_CODEC } from "./cid.ts";
import { linksOfNode } from "./unixfs.ts";

export { MAX_BLOCK_SIZE };

/** A large blob and the UnixFS root its entry records. */
export interface UnixfsRoot {
  /** SHA-256 and size of the whole blob. */
  readonly sha256: string;
  readonly size: number;
  /** The root CID (`bafybei…`). */
  readonly root: string;
}

/** Where a block's bytes are: the slice [offset, offset + length) of a stored blob. */
export interface BlockLocation {
  readonly blob: string;
  readonly offset: number;
  readonly length: number;
}

export class BlockIndex implements BlockSource {
  readonly #blobs: BlobStore;
  /** Leaf digest → where its bytes are (the first large blob seen holding it). */
  readonly #leaves = new Map<string, BlockLocation>();
  /** Leaf digest → where else its bytes are: later large blobs holding it too (rare: shared slices). */
  readonly #sharedLeaves = new Map<string, BlockLocation[]>();
  /** Node digest → the large blobs whose DAG holds it. */
  readonly #nodes = new Map<string, string[]>();
  /** Large blobs added, by SHA-256. */
  readonly #added = new Set<string>();

  constructor(blobs: BlobStore) {
    this.#blobs = blobs;
  }

  /** How many large blobs, leaves and nodes are known. */
  get counts(): { readonly blobs: number; readonly leaves: number; readonly nodes: number } {
    return { blobs: this.#added.size, leaves: this.#leaves.size, nodes: this.#nodes.size };
  }

  /**
   * Learns a large blob's leaves and nodes from its stored node blocks.
   * False, and nothing learnt, when a node is not held (a copy that has
   * not derived them yet: add it again once it has) or does not add up to
   * the blob's size. Adding a blob twice is harmless.
   */
  async add(root: UnixfsRoot): Promise<boolean> {
    if (this.#added.has(root.sha256)) return true;
    const address = parseCid(root.root);
    if (address?.codec !== DAG_PB_CODEC) return false;
    const leaves: [string, BlockLocation][] = [];
    const nodes: string[] = [];
    let offset = 0;
    const walk = async (node: string): Promise<boolean> => {
      const bytes = await this.#blobs.get(node);
      if (!bytes) return false;
      nodes.push(node);
      let links: ReturnType<typeof linksOfNode>;
      try {
        links = linksOfNode(bytes);
      } catch {
        return false;
      }
      for (const link of links) {
        if (link.codec === DAG_PB_CODEC) {
          if (!(await walk(link.sha256))) return false;
        } else if (link.size > MAX_BLOCK_SIZE) {
          return false;
        } else {
          leaves.push([link.sha256, { blob: root.sha256, offset, length: link.size }]);
          offset += link.size;
        }
      }
      return true;
    };
    if (!(await walk(address.sha256)) || offset !== root.size) return false;
    for (const [digest, location] of leaves) {
      const first = this.#leaves.get(digest);
      if (!first) this.#leaves.set(digest, location);
      else if (first.blob !== root.sha256) {
        const more = this.#sharedLeaves.get(digest) ?? [];
        if (!more.some((other) => other.blob === root.sha256)) more.push(location);
        this.#sharedLeaves.set(digest, more);
      }
    }
    for (const node of nodes) addOwner(this.#nodes, node, root.sha256);
    this.#added.add(root.sha256);
    return true;
  }

  /** Whether the leaves and nodes of this large blob were learnt. */
  learnt(sha256: string): boolean {
    return this.#added.has(sha256);
  }

  /** Adds every root (see `add`); resolves with how many were learnt. */
  async addAll(roots: Iterable<UnixfsRoot>): Promise<number> {
    let added = 0;
    for (const root of roots) if (await this.add(root)) added++;
    return added;
  }

  /** Whether the address is a leaf or node of a large blob added, answered from memory alone. */
  knows(address: BlockAddress): boolean {
    return address.codec === RAW_CODEC
      ? this.#leaves.has(address.sha256)
      : address.codec === DAG_PB_CODEC && this.#nodes.has(address.sha256);
  }

  /**
   * The large blobs whose DAG holds this block as a leaf or node, from
   * memory: a server withholds the block when it withholds all of them.
   */
  ownersOf(address: BlockAddress): string[] {
    if (address.codec === DAG_PB_CODEC) return this.#nodes.get(address.sha256) ?? [];
    if (address.codec !== RAW_CODEC) return [];
    return this.#leafLocations(address.sha256).map((location) => location.blob);
  }

  #leafLocations(digest: string): BlockLocation[] {
    const first = this.#leaves.get(digest);
    return first ? [first, ...(this.#sharedLeaves.get(digest) ?? [])] : [];
  }

  /** Where the block's bytes would be read from, found without reading them. */
  async locate(address: BlockAddress): Promise<BlockLocation | undefined> {
    const { codec, sha256 } = address;
    if (codec === RAW_CODEC) {
      // The first blob holding the leaf may be gone (withheld): another may hold it too.
      const leaves = this.#leafLocations(sha256);
      for (const leaf of leaves) if ((await this.#blobs.size(leaf.blob)) !== undefined) return leaf;
      if (leaves.length > 0) return undefined;
    } else if (codec !== DAG_PB_CODEC || !this.#nodes.has(sha256)) {
      return undefined;
    }
    const size = await this.#blobs.size(sha256);
    if (size === undefined || size > MAX_BLOCK_SIZE) return undefined;
    return { blob: sha256, offset: 0, length: size };
  }

  async has(address: BlockAddress): Promise<boolean> {
    return (await this.locate(address)) !== undefined;
  }

  async block(address: BlockAddress): Promise<Uint8Array | undefined> {
    const at = await this.locate(address);
    if (!at) return undefined;
    // A whole blob is checked against its name by the store; a slice here, against the leaf's.
    if (at.blob === address.sha256) return this.#blobs.get(at.blob);
    const bytes = await this.#blobs.slice(at.blob, at.offset, at.length);
    if (!bytes || sha256Hex(bytes) !== address.sha256) return undefined;
    return bytes;
  }
}

function addOwner(owners: Map<string, string[]>, digest: string, blob: string): void {
  const known = owners.get(digest);
  if (!known) owners.set(digest, [blob]);
  else if (!known.includes(blob)) known.push(blob);
}
