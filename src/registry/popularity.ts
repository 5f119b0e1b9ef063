/**
 * The popularity sketch: a count-min sketch (Cormode and Muthukrishnan,
 * J. Algorithms 55(1), 2005) of downloads per version over a window, which
 * the origin publishes as a blob named by a `popularity` log entry. Every
 * peer reads the same signed sketch, so every peer decides alike which
 * versions are popular enough to share (src/peer/policy.ts).
 *
 * Shape: `depth` rows of `width` uint32 counters. A key is the UTF-8 string
 * `<ecosystem>/<name>@<version>`; its column in row i is the first four
 * bytes, big-endian, of SHA-256("cairn-popularity-v1" || 0x00 || byte(i) ||
 * key), modulo `width`. Adding a key adds to one counter per row; the
 * estimate is the smallest of them, so it never under-counts, and over-counts
 * by more than e·N/width with probability at most e^-depth (N the total).
 * Updates are plain (not conservative), so the sketches of two windows add
 * up cell by cell (`merge`). Counters saturate at 2^32 - 1.
 *
 * Encoding: the counters row after row, each uint32 little-endian (depth ×
 * width × 4 bytes: 1 MiB for 4 × 65536), stored zstd-compressed; a sketch of
 * a quiet week is mostly zeros and compresses to a few KiB. Worked example,
 * depth 4, width 65536: the key `npm/left-pad@1.3.0` lands in columns
 * 49890, 10261, 8068 and 46420 of rows 0 to 3 (a test holds these).
 */
import { createHash } from "node:crypto";
import { zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { EntryError } from "./entry-error.ts";

export const SKETCH_DOMAIN = "cairn-popularity-v1";
export const DEFAULT_SKETCH_DEPTH = 4;
export const DEFAULT_SKETCH_WIDTH = 65536;
/** Caps on what an entry may declare, so decoding a sketch never allocates more than 64 MiB. */
export const MAX_SKETCH_DEPTH = 16;
export const MAX_SKETCH_WIDTH = 1 << 20;
const MAX_COUNT = 0xffff_ffff;

/** The key a version is counted under. */
export function popularityKey(ecosystem: string, name: string, version: string): string {
  return `${ecosystem}/${name}@${version}`;
}

const DOMAIN_PREFIX = Buffer.from(`${SKETCH_DOMAIN}\0`, "utf8");

/** The column of `key` in each row. */
export function sketchColumns(key: string, depth: number, width: number): number[] {
  const keyBytes = Buffer.from(key, "utf8");
  const columns: number[] = [];
  for (let row = 0; row < depth; row++) {
    const digest = createHash("sha256")
      .update(DOMAIN_PREFIX)
      .update(Uint8Array.of(row))
      .update(keyBytes)
      .digest();
    columns.push(digest.readUInt32BE(0) % width);
  }
  return columns;
}

function bad(message: string, cause?: unknown): EntryError {
  return new EntryError("bad-sketch", message, { cause });
}

/** Whether `depth` × `width` is a shape a sketch may have. */
export function isSketchShape(depth: number, width: number): boolean {
  return (
    Number.isSafeInteger(depth) &&
    Number.isSafeInteger(width) &&
    depth >= 1 &&
    depth <= MAX_SKETCH_DEPTH &&
    width >= 1 &&
    width <= MAX_SKETCH_WIDTH
  );
}

export class CountMinSketch {
  readonly depth: number;
  readonly width: number;
  readonly #cells: Uint32Array;
  #total = 0;

  constructor(depth = DEFAULT_SKETCH_DEPTH, width = DEFAULT_SKETCH_WIDTH, cells?: Uint32Array) {
    if (!isSketchShape(depth, width))
      throw bad(`a sketch of ${depth} rows of ${width} counters is not allowed`);
    this.depth = depth;
    this.width = width;
    this.#cells = cells ?? new Uint32Array(depth * width);
    // Each row counts every addition once, so any row's sum is the total.
    if (cells) for (let c = 0; c < width; c++) this.#total += cells[c];
  }

  /** How many additions the sketch holds (row 0's sum; saturated counters stop counting). */
  get total(): number {
    return this.#total;
  }

  add(key: string, count = 1): void {
    if (!Number.isSafeInteger(count) || count < 0) throw bad("a count must be a whole number");
    const columns = sketchColumns(key, this.depth, this.width);
    for (let row = 0; row < this.depth; row++) {
      const cell = row * this.width + columns[row];
      const before = this.#cells[cell];
      this.#cells[cell] = Math.min(MAX_COUNT, before + count);
      if (row === 0) this.#total += this.#cells[cell] - before;
    }
  }

  /** The count of `key`: never less than the true count. */
  estimate(key: string): number {
    const columns = sketchColumns(key, this.depth, this.width);
    let least = MAX_COUNT;
    for (let row = 0; row < this.depth; row++)
      least = Math.min(least, this.#cells[row * this.width + columns[row]]);
    return least;
  }

  /** Adds `other`'s counts in: the sketch of both windows together. */
  merge(other: CountMinSketch): void {
    if (other.depth !== this.depth || other.width !== this.width)
      throw bad(
        `cannot merge a ${other.depth}×${other.width} sketch into a ${this.depth}×${this.width} one`,
      );
    const theirs = other.#cells;
    for (let i = 0; i < this.#cells.length; i++)
      this.#cells[i] = Math.min(MAX_COUNT, this.#cells[i] + theirs[i]);
    this.#total = 0;
    for (let c = 0; c < this.width; c++) this.#total += this.#cells[c];
  }

  /** The counters, row after row, uint32 little-endian. */
  raw(): Uint8Array {
    const bytes = Buffer.alloc(this.#cells.length * 4);
    for (let i = 0; i < this.#cells.length; i++) bytes.writeUInt32LE(this.#cells[i], i * 4);
    return bytes;
  }

  /** The counters as a blob: raw() zstd-compressed. */
  encode(): Uint8Array {
    return zstdCompressSync(this.raw());
  }

  /** A sketch from its raw counters, which must be exactly depth × width × 4 bytes. */
  static fromRaw(bytes: Uint8Array, depth: number, width: number): CountMinSketch {
    if (!isSketchShape(depth, width))
      throw bad(`a sketch of ${depth} rows of ${width} counters is not allowed`);
    if (bytes.length !== depth * width * 4)
      throw bad(`a ${depth}×${width} sketch is ${depth * width * 4} bytes, not ${bytes.length}`);
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const cells = new Uint32Array(depth * width);
    for (let i = 0; i < cells.length; i++) cells[i] = view.readUInt32LE(i * 4);
    return new CountMinSketch(depth, width, cells);
  }

  /**
   * A sketch from its blob (zstd of the raw counters), refusing anything
   * that does not decompress to exactly the declared shape: the output is
   * capped, so a hostile blob cannot make decoding allocate more.
   */
  static decode(blob: Uint8Array, depth: number, width: number): CountMinSketch {
    if (!isSketchShape(depth, width))
      throw bad(`a sketch of ${depth} rows of ${width} counters is not allowed`);
    const expected = depth * width * 4;
    let raw: Buffer;
    try {
      // One byte over the expected size is enough to tell "too long" apart.
      raw = zstdDecompressSync(blob, { maxOutputLength: expected + 1 });
    } catch (err) {
      throw bad("the sketch blob is not zstd, or decompresses to more than its shape", err);
    }
    return CountMinSketch.fromRaw(raw, depth, width);
  }
}

export const MIN_POPULARITY_THRESHOLD = 100;
const THRESHOLD_FRACTION = 1e-4;

/**
 * The origin's default threshold for a window of `total` downloads:
 * max(100, ⌈1e-4 · total⌉) (the README's section on peers' privacy says why).
 */
export function defaultThreshold(total: number): number {
  return Math.max(MIN_POPULARITY_THRESHOLD, Math.ceil(THRESHOLD_FRACTION * total));
}

/** The threshold a peer applies: the published one, raised (never lowered) by its own. */
export function popularityThreshold(published: number, local?: number): number {
  return Math.max(published, local ?? 0);
}
