/**
 * C2SP tlog-tiles v0.1.0: hash tiles, entry bundles and their paths.
 *
 * The n-th tile at level L holds the stored hashes at tree level 8*L with
 * indexes n*256 .. n*256+W-1, W = 256 for a full tile. A tree of size s has,
 * at each level L, floor(s / 256^L) complete hashes, so its rightmost tile at
 * level L is partial with width floor(s / 256^L) mod 256 (absent when zero).
 *
 * Paths: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, with N written
 * as zero-padded 3-digit path elements, all but the last prefixed with `x`:
 *   1234067 -> x001/x234/067
 * Parsing is canonical: a path is accepted only if re-encoding gives it back.
 */
import { LogError } from "./errors.ts";
import { HASH_SIZE, type Hash, nodeHash } from "./hash.ts";
import type { NodeId } from "./merkle.ts";

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
export const MAX_TILE_LEVEL = 63;
/** Entries are uint16 length-prefixed in bundles, so this is the largest. */
export const MAX_ENTRY_SIZE = 0xffff;
/** A full bundle of the largest entries. */
export const MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE);

export interface Tile {
  /** Tile level L; its hashes are at tree level 8*L. */
  readonly level: number;
  /** Tile index N within its level. */
  readonly index: number;
  /** Number of hashes, 1..256; 256 is a full tile. */
  readonly width: number;
}

function pow256(level: number): number {
  return TILE_WIDTH ** level;
}

/** How many complete stored hashes tile level `level` has in a tree of `size`. */
export function storedHashCount(level: number, size: number): number {
  return Math.floor(size / pow256(level));
}

/** The tile at (level, index) as it stands in a tree of `size`, or undefined if empty. */
export function tileInTree(level: number, index: number, size: number): Tile | undefined {
  const width = Math.min(TILE_WIDTH, storedHashCount(level, size) - index * TILE_WIDTH);
  return width > 0 ? { level, index, width } : undefined;
}

/** Every tile of a tree of `size`, bottom level first, left to right. */
export function* tilesOfTree(size: number): Generator<Tile> {
  for (let level = 0; storedHashCount(level, size) > 0; level++) {
    const count = storedHashCount(level, size);
    for (let index = 0; index * TILE_WIDTH < count; index++) {
      yield tileInTree(level, index, size) as Tile;
    }
  }
}

/**
 * The partial (rightmost, width < 256) tile at each level of a tree of
 * `size`. The tree's root is a function of these alone: the complete subtrees
 * that make up the tree at heights 8L..8L+7 are exactly the hashes of the
 * partial tile at level L.
 */
export function edgeTiles(size: number): Tile[] {
  const tiles: Tile[] = [];
  for (let level = 0; storedHashCount(level, size) > 0; level++) {
    const count = storedHashCount(level, size);
    const width = count % TILE_WIDTH;
    if (width > 0) tiles.push({ level, index: Math.floor(count / TILE_WIDTH), width });
  }
  return tiles;
}

/** The tile that holds (or can recompute) stored hash `node` in a tree of `size`. */
export function tileForNode(node: NodeId, size: number): Tile {
  const span = 2 ** (node.level % TILE_HEIGHT);
  const first = node.index * span;
  const tile = tileInTree(
    Math.floor(node.level / TILE_HEIGHT),
    Math.floor(first / TILE_WIDTH),
    size,
  );
  if (!tile || first + span - tile.index * TILE_WIDTH > tile.width) {
    throw new LogError(
      "out-of-range",
      `node ${node.level}/${node.index} is not in a tree of size ${size}`,
    );
  }
  return tile;
}

/** The tile one level up whose hash at some position covers this full tile. */
export function parentTile(tile: Tile, size: number): Tile {
  const parent = tileInTree(tile.level + 1, Math.floor(tile.index / TILE_WIDTH), size);
  if (!parent) throw new LogError("out-of-range", "tile has no parent in this tree");
  return parent;
}

/** Splits a tile's bytes into its hashes, checking the exact length. */
export function tileHashes(tile: Tile, data: Uint8Array): Hash[] {
  if (data.length !== tile.width * HASH_SIZE) {
    throw new LogError(
      "malformed-tile",
      `${tilePath(tile)} has ${data.length} bytes, want ${tile.width * HASH_SIZE}`,
    );
  }
  const hashes: Hash[] = [];
  for (let i = 0; i < tile.width; i++) {
    hashes.push(data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  }
  return hashes;
}

/** The RFC 6962 hash of `count` (a power of two) consecutive hashes. */
export function perfectRoot(hashes: readonly Hash[], start: number, count: number): Hash {
  if (count === 1) return hashes[start];
  const halfCount = count / 2;
  return nodeHash(
    perfectRoot(hashes, start, halfCount),
    perfectRoot(hashes, start + halfCount, halfCount),
  );
}

/** Recomputes stored hash `node` from the hashes of the tile that covers it. */
export function nodeFromTile(node: NodeId, tile: Tile, hashes: readonly Hash[]): Hash {
  const span = 2 ** (node.level % TILE_HEIGHT);
  const start = node.index * span - tile.index * TILE_WIDTH;
  if (
    Math.floor(node.level / TILE_HEIGHT) !== tile.level ||
    start < 0 ||
    start + span > hashes.length
  ) {
    throw new LogError(
      "out-of-range",
      `node ${node.level}/${node.index} is not in ${tilePath(tile)}`,
    );
  }
  return perfectRoot(hashes, start, span);
}

function encodeIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new LogError("out-of-range", `tile index ${index} is invalid`);
  }
  let n = index;
  let path = String(n % 1000).padStart(3, "0");
  n = Math.floor(n / 1000);
  while (n > 0) {
    path = `x${String(n % 1000).padStart(3, "0")}/${path}`;
    n = Math.floor(n / 1000);
  }
  return path;
}

function widthSuffix(width: number): string {
  return width === TILE_WIDTH ? "" : `.p/${width}`;
}

export function tilePath(tile: Tile): string {
  return `tile/${tile.level}/${encodeIndex(tile.index)}${widthSuffix(tile.width)}`;
}

/** The entry bundle that matches level-0 tile `index` of `width` entries. */
export function bundlePath(index: number, width: number): string {
  return `tile/entries/${encodeIndex(index)}${widthSuffix(width)}`;
}

export type ParsedPath =
  | { readonly kind: "tile"; readonly tile: Tile }
  | { readonly kind: "entries"; readonly index: number; readonly width: number };

const PATH_RE =
  /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/** Parses a tile or bundle path; rejects anything that does not re-encode to itself. */
export function parseTilePath(path: string): ParsedPath {
  const bad = () =>
    new LogError("malformed-tile", `not a canonical tile path: ${JSON.stringify(path)}`);
  const m = PATH_RE.exec(path);
  if (!m) throw bad();
  const [, levelText, indexText, widthText] = m;
  const index = Number(indexText.replaceAll("x", "").replaceAll("/", ""));
  const width = widthText === undefined ? TILE_WIDTH : Number(widthText);
  if (!Number.isSafeInteger(index) || (widthText !== undefined && width >= TILE_WIDTH)) {
    throw bad();
  }
  let parsed: ParsedPath;
  if (levelText === "entries") {
    parsed = { kind: "entries", index, width };
    if (bundlePath(index, width) !== path) throw bad();
  } else {
    const level = Number(levelText);
    if (level > MAX_TILE_LEVEL) throw bad();
    parsed = { kind: "tile", tile: { level, index, width } };
    if (tilePath(parsed.tile) !== path) throw bad();
  }
  return parsed;
}

/** Encodes entries as a C2SP entry bundle: each prefixed by its big-endian uint16 length. */
export function encodeBundle(entries: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of entries) {
    checkEntrySize(e);
    total += 2 + e.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const e of entries) {
    out.writeUInt16BE(e.length, at);
    out.set(e, at + 2);
    at += 2 + e.length;
  }
  return out;
}

export function checkEntrySize(entry: Uint8Array): void {
  if (entry.length > MAX_ENTRY_SIZE) {
    throw new LogError(
      "entry-too-large",
      `entry of ${entry.length} bytes is over the ${MAX_ENTRY_SIZE}-byte limit of an entry bundle`,
    );
  }
}

/** Parses an entry bundle that must hold exactly `count` entries and nothing after them. */
export function parseBundle(data: Uint8Array, count: number): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    if (entries.length === count) {
      throw new LogError("malformed-tile", `entry bundle has bytes after its ${count} entries`);
    }
    if (at + 2 > data.length) throw new LogError("malformed-tile", "entry bundle is truncated");
    const length = (data[at] << 8) | data[at + 1];
    if (at + 2 + length > data.length) {
      throw new LogError("malformed-tile", "entry bundle is truncated");
    }
    entries.push(data.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  if (entries.length !== count) {
    throw new LogError(
      "malformed-tile",
      `entry bundle has ${entries.length} entries, want ${count}`,
    );
  }
  return entries;
}
