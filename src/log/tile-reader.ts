/**
 * Reads stored hashes from tiles fetched from an untrusted source, checking
 * every tile against a tree size and root taken from a verified checkpoint
 * before any of its hashes is used (the approach of Go's tlog.TileHashReader).
 *
 * Authentication: the partial ("edge") tiles of the tree determine its root,
 * so they are checked together by recomputing the root. A full tile is checked
 * against the hash its parent tile holds for it, parents first, up to an edge
 * tile. So a proof costs a handful of tiles, never the whole tree.
 */
import { LogError } from "./errors.ts";
import { equalBytes, type Hash } from "./hash.ts";
import { foldSubtrees, type HashReader, type NodeId, treeHashNodes } from "./merkle.ts";
import {
  edgeTiles,
  nodeFromTile,
  parentTile,
  perfectRoot,
  TILE_HEIGHT,
  TILE_WIDTH,
  type Tile,
  tileForNode,
  tileHashes,
  tilePath,
} from "./tiles.ts";

/**
 * Read access to a static log tree (a directory, an HTTP server, a mirror).
 * `read` returns the bytes at a path such as `checkpoint` or `tile/0/001`, and
 * throws LogError "not-found" if the source does not have it. Bytes returned
 * are untrusted.
 */
export interface LogSource {
  /** A name for error messages: a URL or a directory. */
  readonly name: string;
  read(path: string, maxBytes: number): Promise<Uint8Array>;
}

export const MAX_TILE_BYTES = TILE_WIDTH * 32;

export class TileHashReader implements HashReader {
  readonly #size: number;
  readonly #root: Hash;
  readonly #source: LogSource;
  /** Authenticated tiles, by path. */
  readonly #verified = new Map<string, Hash[]>();

  constructor(size: number, root: Hash, source: LogSource) {
    this.#size = size;
    this.#root = root;
    this.#source = source;
  }

  async readHashes(nodes: readonly NodeId[]): Promise<Hash[]> {
    const tiles = nodes.map((n) => tileForNode(n, this.#size));
    await this.#authenticate(tiles);
    return nodes.map((n, i) => nodeFromTile(n, tiles[i], this.#hashesOf(tiles[i])));
  }

  /** The authenticated hashes of one tile of this tree. */
  async readTile(tile: Tile): Promise<Hash[]> {
    await this.#authenticate([tile]);
    return this.#hashesOf(tile);
  }

  #hashesOf(tile: Tile): Hash[] {
    const hashes = this.#verified.get(tilePath(tile));
    if (!hashes) throw new Error(`tile ${tilePath(tile)} used before authentication`);
    return hashes;
  }

  async #authenticate(wanted: readonly Tile[]): Promise<void> {
    const edges = edgeTiles(this.#size);
    const needed = new Map<string, Tile>();
    const add = (t: Tile) => {
      if (!this.#verified.has(tilePath(t))) needed.set(tilePath(t), t);
    };
    for (const tile of wanted) {
      // Walk up from a full tile until a tile that is either verified or an edge tile.
      let t = tile;
      add(t);
      while (t.width === TILE_WIDTH && !this.#verified.has(tilePath(t))) {
        t = parentTile(t, this.#size);
        add(t);
      }
    }
    if (needed.size === 0) return;
    const edgesVerified = edges.every((t) => this.#verified.has(tilePath(t)));
    if (!edgesVerified) for (const t of edges) add(t);

    const suspect = new Map<string, Hash[]>();
    await Promise.all(
      [...needed].map(async ([path, tile]) => {
        const data = await this.#source.read(path, MAX_TILE_BYTES);
        suspect.set(path, tileHashes(tile, data));
      }),
    );

    if (!edgesVerified) {
      const byLevel = new Map(edges.map((t) => [t.level, t]));
      const subtrees = treeHashNodes(this.#size).map((node) => {
        const tile = byLevel.get(Math.floor(node.level / TILE_HEIGHT)) as Tile;
        return nodeFromTile(node, tile, this.#lookup(suspect, tile));
      });
      if (!equalBytes(foldSubtrees(subtrees), this.#root)) {
        throw new LogError(
          "hash-mismatch",
          `tiles from ${this.#source.name} do not hash to the checkpoint root (size ${this.#size})`,
        );
      }
      for (const t of edges) this.#verified.set(tilePath(t), this.#lookup(suspect, t));
    }

    // Parents before children: a full tile is checked against its verified parent.
    const full = [...needed.values()]
      .filter((t) => t.width === TILE_WIDTH)
      .sort((a, b) => b.level - a.level);
    for (const tile of full) {
      const hashes = this.#lookup(suspect, tile);
      const parent = this.#hashesOf(parentTile(tile, this.#size));
      if (!equalBytes(perfectRoot(hashes, 0, TILE_WIDTH), parent[tile.index % TILE_WIDTH])) {
        throw new LogError(
          "hash-mismatch",
          `${tilePath(tile)} from ${this.#source.name} does not match its parent tile`,
        );
      }
      this.#verified.set(tilePath(tile), hashes);
    }
  }

  #lookup(suspect: Map<string, Hash[]>, tile: Tile): Hash[] {
    const hashes = suspect.get(tilePath(tile)) ?? this.#verified.get(tilePath(tile));
    if (!hashes) throw new Error(`tile ${tilePath(tile)} was not fetched`);
    return hashes;
  }
}
