/**
 * Checks a stored tree against its signed checkpoint and names every file
 * that does not match, rather than stopping at the first: for an origin
 * that must notice its own disk going bad (the client's audit trusts no
 * server; this trusts the key and asks only which local file is wrong).
 *
 * Top-down, so that each file is judged by one already authenticated:
 * the edge (partial) tiles together against the root, each full tile
 * against the hash its parent tile holds for it, each entry bundle against
 * its level-0 tile. A file whose judge is damaged cannot be judged and is
 * not named; its judge is. Level-0 tiles are walked left to right keeping
 * only the last tile checked at each level, so memory stays small for any
 * size.
 */
import { LogError } from "./errors.ts";
import { equalBytes, type Hash, leafHash } from "./hash.ts";
import { foldSubtrees, treeHashNodes } from "./merkle.ts";
import { type LogSource, MAX_TILE_BYTES } from "./tile-reader.ts";
import {
  bundlePath,
  edgeTiles,
  MAX_BUNDLE_BYTES,
  nodeFromTile,
  parentTile,
  parseBundle,
  perfectRoot,
  TILE_HEIGHT,
  TILE_WIDTH,
  type Tile,
  tileHashes,
  tileInTree,
  tilePath,
} from "./tiles.ts";

export interface TreeDamage {
  /** The file's path in the tree. */
  readonly path: string;
  readonly problem: string;
}

export interface TreeCheckOptions {
  /** Only the last `recent` bundles, their level-0 tiles and the tiles above them; all when absent. */
  readonly recent?: number;
  /** Told of each bundle whose entries check out, in order (to check what the entries name). */
  readonly onBundle?: (index: number, entries: readonly Uint8Array[]) => Promise<void> | void;
  /** Stops the walk early (the result then lists what was found so far). */
  readonly signal?: AbortSignal;
}

export interface TreeCheckResult {
  readonly damage: readonly TreeDamage[];
  readonly tiles: number;
  readonly bundles: number;
}

function problemOf(err: unknown): string {
  if (err instanceof LogError && err.code === "not-found") return "missing";
  return (err as Error).message;
}

export async function checkTree(
  source: LogSource,
  size: number,
  root: Hash,
  options: TreeCheckOptions = {},
): Promise<TreeCheckResult> {
  const damage: TreeDamage[] = [];
  let tiles = 0;
  let bundles = 0;
  const read = async (tile: Tile) => {
    tiles++;
    return tileHashes(tile, await source.read(tilePath(tile), MAX_TILE_BYTES));
  };

  const edges = edgeTiles(size);
  const edgeHashes = new Map<number, Hash[]>();
  for (const tile of edges) {
    try {
      edgeHashes.set(tile.level, await read(tile));
    } catch (err) {
      damage.push({ path: tilePath(tile), problem: problemOf(err) });
    }
  }
  if (damage.length > 0) return { damage, tiles, bundles };
  const subtrees = treeHashNodes(size).map((node) => {
    const level = Math.floor(node.level / TILE_HEIGHT);
    return nodeFromTile(
      node,
      edges.find((t) => t.level === level) as Tile,
      edgeHashes.get(level) as Hash[],
    );
  });
  if (!equalBytes(foldSubtrees(subtrees), root)) {
    for (const tile of edges)
      damage.push({
        path: tilePath(tile),
        problem: `the edge tiles do not hash to the signed root of size ${size}`,
      });
    return { damage, tiles, bundles };
  }

  /** The last full tile checked at each level: its index and its hashes (undefined if damaged). */
  const lastFull = new Map<number, { index: number; hashes: Hash[] | undefined }>();
  const hashesOf = async (tile: Tile): Promise<Hash[] | undefined> => {
    if (tile.width < TILE_WIDTH) return edgeHashes.get(tile.level);
    const last = lastFull.get(tile.level);
    if (last?.index === tile.index) return last.hashes;
    const parent = await hashesOf(parentTile(tile, size));
    let hashes: Hash[] | undefined;
    if (parent) {
      try {
        const stored = await read(tile);
        if (equalBytes(perfectRoot(stored, 0, TILE_WIDTH), parent[tile.index % TILE_WIDTH]))
          hashes = stored;
        else
          damage.push({
            path: tilePath(tile),
            problem: "does not match the hash its parent tile holds",
          });
      } catch (err) {
        damage.push({ path: tilePath(tile), problem: problemOf(err) });
      }
    }
    lastFull.set(tile.level, { index: tile.index, hashes });
    return hashes;
  };

  const count = Math.ceil(size / TILE_WIDTH);
  const first = options.recent === undefined ? 0 : Math.max(0, count - options.recent);
  for (let index = first; index < count && !options.signal?.aborted; index++) {
    const tile = tileInTree(0, index, size) as Tile;
    const hashes = await hashesOf(tile);
    if (!hashes) continue;
    const path = bundlePath(index, tile.width);
    let entries: Uint8Array[];
    try {
      entries = parseBundle(await source.read(path, MAX_BUNDLE_BYTES), tile.width);
    } catch (err) {
      damage.push({ path, problem: problemOf(err) });
      continue;
    }
    bundles++;
    const wrong = entries.findIndex((entry, i) => !equalBytes(leafHash(entry), hashes[i]));
    if (wrong !== -1) {
      damage.push({ path, problem: `entry ${wrong} does not match its tile` });
      continue;
    }
    await options.onBundle?.(index, entries);
  }
  return { damage, tiles, bundles };
}
