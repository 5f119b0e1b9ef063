/**
 * Incremental construction of a tiled log: feed entries in order, get back
 * every entry bundle and hash tile they complete, and at any point the
 * partial tiles, partial bundle and root of the tree so far.
 *
 * Used by the appender to write the tree and by `verifyLog` to check one.
 * Each entry costs one leaf hash and, on average, one node hash.
 */
import { LogError } from "./errors.ts";
import { equalBytes, type Hash, leafHash, nodeHash } from "./hash.ts";
import { foldSubtrees, treeHashNodes } from "./merkle.ts";
import {
  bundlePath,
  edgeTiles,
  encodeBundle,
  nodeFromTile,
  TILE_HEIGHT,
  TILE_WIDTH,
  type Tile,
  tilePath,
} from "./tiles.ts";

export interface LogFile {
  readonly path: string;
  readonly data: Uint8Array;
}

interface FrontierNode {
  readonly level: number;
  readonly hash: Hash;
}

export class TreeBuilder {
  #size: number;
  /** One hash per complete subtree on the right edge, largest first. */
  #frontier: FrontierNode[];
  /** The hashes of the partial tile at each tile level. */
  #tiles: Hash[][];
  /** The entries of the partial bundle. */
  #bundle: Uint8Array[];

  private constructor(
    size: number,
    frontier: FrontierNode[],
    tiles: Hash[][],
    bundle: Uint8Array[],
  ) {
    this.#size = size;
    this.#frontier = frontier;
    this.#tiles = tiles;
    this.#bundle = bundle;
  }

  static empty(): TreeBuilder {
    return new TreeBuilder(0, [], [], []);
  }

  /**
   * Resumes a tree of `size` from its partial tiles (by level) and partial
   * bundle, checking them against `root`. Throws LogError "hash-mismatch".
   */
  static resume(
    size: number,
    root: Hash,
    partialTiles: ReadonlyMap<number, Hash[]>,
    bundle: Uint8Array[],
  ): TreeBuilder {
    const edges = new Map<number, Tile>(edgeTiles(size).map((t) => [t.level, t]));
    const tiles: Hash[][] = [];
    for (let level = 0; TILE_WIDTH ** level <= size; level++)
      tiles[level] = [...(partialTiles.get(level) ?? [])];
    const frontier = treeHashNodes(size).map((node) => {
      const tile = edges.get(Math.floor(node.level / TILE_HEIGHT)) as Tile;
      return { level: node.level, hash: nodeFromTile(node, tile, tiles[tile.level]) };
    });
    const builder = new TreeBuilder(size, frontier, tiles, [...bundle]);
    if (!equalBytes(builder.root(), root)) {
      throw new LogError("hash-mismatch", `partial tiles do not hash to the root of size ${size}`);
    }
    if (bundle.length !== size % TILE_WIDTH) {
      throw new LogError(
        "hash-mismatch",
        `partial bundle has ${bundle.length} entries, want ${size % TILE_WIDTH}`,
      );
    }
    bundle.forEach((entry, i) => {
      if (!equalBytes(leafHash(entry), tiles[0][i])) {
        throw new LogError("hash-mismatch", `partial bundle entry ${i} does not match its tile`);
      }
    });
    return builder;
  }

  get size(): number {
    return this.#size;
  }

  clone(): TreeBuilder {
    return new TreeBuilder(
      this.#size,
      [...this.#frontier],
      this.#tiles.map((t) => [...t]),
      [...this.#bundle],
    );
  }

  root(): Hash {
    return foldSubtrees(this.#frontier.map((n) => n.hash));
  }

  /** Adds one entry; `emit` receives each full bundle and full tile it completes. */
  append(entry: Uint8Array, emit: (file: LogFile) => void): void {
    const index = this.#size;
    this.#size = index + 1;
    this.#bundle.push(entry);
    if (this.#bundle.length === TILE_WIDTH) {
      emit({
        path: bundlePath(Math.floor(index / TILE_WIDTH), TILE_WIDTH),
        data: encodeBundle(this.#bundle),
      });
      this.#bundle = [];
    }
    let node: FrontierNode = { level: 0, hash: leafHash(entry) };
    this.#store(node, emit);
    // Leaf `index` completes one subtree for each trailing 1 bit of `index`.
    for (;;) {
      const top = this.#frontier[this.#frontier.length - 1];
      if (!top || top.level !== node.level) break;
      this.#frontier.pop();
      node = { level: node.level + 1, hash: nodeHash(top.hash, node.hash) };
      this.#store(node, emit);
    }
    this.#frontier.push(node);
  }

  /** Records a new complete subtree hash in its tile, if its level is a stored one. */
  #store(node: FrontierNode, emit: (file: LogFile) => void): void {
    if (node.level % TILE_HEIGHT !== 0) return;
    const level = node.level / TILE_HEIGHT;
    this.#tiles[level] ??= [];
    const tile = this.#tiles[level];
    tile.push(node.hash);
    if (tile.length === TILE_WIDTH) {
      const index = Math.floor(this.#size / TILE_WIDTH ** (level + 1)) - 1;
      emit({ path: tilePath({ level, index, width: TILE_WIDTH }), data: Buffer.concat(tile) });
      this.#tiles[level] = [];
    }
  }

  /** The partial tiles and partial bundle of the tree as it stands now. */
  partialFiles(): LogFile[] {
    const files: LogFile[] = edgeTiles(this.#size).map((tile) => ({
      path: tilePath(tile),
      data: Buffer.concat(this.#tiles[tile.level]),
    }));
    if (this.#bundle.length > 0) {
      files.push({
        path: bundlePath(Math.floor(this.#size / TILE_WIDTH), this.#bundle.length),
        data: encodeBundle(this.#bundle),
      });
    }
    return files;
  }
}
