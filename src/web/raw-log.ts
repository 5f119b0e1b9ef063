/**
 * The log as this server holds it, read WITHOUT checking anything: the
 * proof pages hand these bytes to the browser, which checks them itself
 * (assets/proof.js). Authenticating them here (TileHashReader) would turn
 * a tampered tile into an error page, hiding from the reader the very
 * failure the page exists to show. Nothing read here may be trusted for
 * anything but display.
 */
import { readUnverifiedCheckpoint } from "../log/checkpoint.ts";
import { isLogError, LogError } from "../log/errors.ts";
import type { Hash } from "../log/hash.ts";
import { type HashReader, type NodeId, proveInclusion } from "../log/merkle.ts";
import { withFullTileFallback } from "../log/sources.ts";
import { type LogSource, MAX_TILE_BYTES } from "../log/tile-reader.ts";
import {
  bundlePath,
  MAX_BUNDLE_BYTES,
  nodeFromTile,
  parseBundle,
  TILE_WIDTH,
  type Tile,
  tileForNode,
  tileHashes,
  tilePath,
} from "../log/tiles.ts";
import { MAX_CHECKPOINT_BYTES } from "../log/verify-log.ts";
import { WebError } from "./errors.ts";

/** A checkpoint as served: its note, byte for byte, and what it says (signatures unchecked). */
export interface ServedCheckpoint {
  /** The signed note exactly as served. */
  readonly note: string;
  readonly origin: string;
  readonly size: number;
  readonly root: Hash;
  readonly extensions: readonly string[];
  readonly signatures: readonly { readonly name: string; readonly keyId: number }[];
}

/** A log source that also answers a partial tile from its full tile (a mirror that synced past it). */
export function rawLog(source: LogSource): LogSource {
  return withFullTileFallback(source);
}

/** Throws WebError "not-available" where the server holds no log yet (a mirror before its first sync). */
export async function readServedCheckpoint(log: LogSource): Promise<ServedCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await log.read("checkpoint", MAX_CHECKPOINT_BYTES);
  } catch (err) {
    if (isLogError(err, "not-found"))
      throw new WebError("not-available", "this server holds no log yet", { cause: err });
    throw err;
  }
  let note: string;
  try {
    note = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw new LogError("malformed-note", "the checkpoint is not UTF-8", { cause: err });
  }
  return { note, ...readUnverifiedCheckpoint(note) };
}

/**
 * Stored hashes straight from the tiles a source serves, unchecked,
 * remembering which tiles it read. Each tile is read once per reader.
 */
export class UncheckedTileReader implements HashReader {
  readonly #size: number;
  readonly #log: LogSource;
  readonly #tiles = new Map<string, Promise<Hash[]>>();

  constructor(size: number, log: LogSource) {
    this.#size = size;
    this.#log = log;
  }

  /** The paths of the tiles read so far, in the order first asked for. */
  get tilePaths(): string[] {
    return [...this.#tiles.keys()];
  }

  async readHashes(nodes: readonly NodeId[]): Promise<Hash[]> {
    const tiles = nodes.map((n) => tileForNode(n, this.#size));
    const hashes = await Promise.all(tiles.map((t) => this.#read(t)));
    return nodes.map((n, i) => nodeFromTile(n, tiles[i], hashes[i]));
  }

  #read(tile: Tile): Promise<Hash[]> {
    const path = tilePath(tile);
    let hashes = this.#tiles.get(path);
    if (!hashes) {
      hashes = this.#log.read(path, MAX_TILE_BYTES).then((data) => tileHashes(tile, data));
      this.#tiles.set(path, hashes);
    }
    return hashes;
  }
}

/** Entries [start, end) of a tree of `size`, as its bundles hold them, one bundle read at a time. */
export async function readEntries(
  log: LogSource,
  size: number,
  start: number,
  end: number,
): Promise<{ readonly index: number; readonly bytes: Uint8Array }[]> {
  const out: { index: number; bytes: Uint8Array }[] = [];
  for (let at = start; at < end; ) {
    const bundle = Math.floor(at / TILE_WIDTH);
    const width = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH);
    const entries = parseBundle(await log.read(bundlePath(bundle, width), MAX_BUNDLE_BYTES), width);
    const last = Math.min(end, bundle * TILE_WIDTH + width);
    for (; at < last; at++) out.push({ index: at, bytes: entries[at - bundle * TILE_WIDTH] });
  }
  return out;
}

/** A part the server could not read as its format demands (a damaged or tampered file): the browser is told why. */
export interface Unreadable {
  readonly unreadable: string;
}

/** Damage the page reports rather than refuses: what a tampered copy may serve. */
const DAMAGE = ["malformed-tile", "not-found", "too-large"] as const;

async function orUnreadable<T>(read: Promise<T>): Promise<T | Unreadable> {
  try {
    return await read;
  } catch (err) {
    if (DAMAGE.some((code) => isLogError(err, code))) return { unreadable: (err as Error).message };
    throw err;
  }
}

export function isUnreadable(part: unknown): part is Unreadable {
  return typeof part === "object" && part !== null && "unreadable" in part;
}

/** What the browser needs to prove one entry into the served checkpoint, and where each part came from. */
export interface InclusionMaterial {
  readonly checkpoint: ServedCheckpoint;
  readonly index: number;
  readonly entry: Uint8Array | Unreadable;
  /** The bundle the entry came from. */
  readonly bundle: string;
  /** RFC 6962 PATH(index, D[0:size]), leaf first. */
  readonly proof: readonly Hash[] | Unreadable;
  /** The tiles the proof's hashes came from. */
  readonly tiles: readonly string[];
}

/** Throws LogError "out-of-range" if the checkpoint does not cover `index`. */
export async function inclusionMaterial(log: LogSource, index: number): Promise<InclusionMaterial> {
  const checkpoint = await readServedCheckpoint(log);
  const { size } = checkpoint;
  if (index >= size)
    throw new LogError("out-of-range", `entry ${index} is not in a log of ${size} entries`);
  const bundle = Math.floor(index / TILE_WIDTH);
  const width = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH);
  const reader = new UncheckedTileReader(size, log);
  const [entry, proof] = await Promise.all([
    orUnreadable(readEntries(log, size, index, index + 1).then(([e]) => e.bytes)),
    orUnreadable(proveInclusion(index, size, reader)),
  ]);
  return {
    checkpoint,
    index,
    entry,
    bundle: bundlePath(bundle, width),
    proof,
    tiles: reader.tilePaths,
  };
}
