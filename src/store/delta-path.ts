/**
 * Where a per-file delta lives in the static tree:
 * `delta/sha256/<base hex>/<target hex>`, a zstd frame that rebuilds the
 * target file's bytes with the base file's bytes as its dictionary. Named
 * by both hashes, so it is immutable and anyone can check what it rebuilds.
 */

export const DELTA_PATH_RE = /^delta\/sha256\/[0-9a-f]{64}\/[0-9a-f]{64}$/;

export function deltaPath(base: string, target: string): string {
  return `delta/sha256/${base}/${target}`;
}

/** The base and target a delta's tree path names, or undefined for another path. */
export function deltaEnds(path: string): [base: string, target: string] | undefined {
  const m = /^delta\/sha256\/([0-9a-f]{64})\/([0-9a-f]{64})$/.exec(path);
  return m ? [m[1], m[2]] : undefined;
}

/**
 * The most bytes a delta for a file of `targetSize` bytes may take: zstd's
 * worst case for incompressible input (its compress bound) and a frame header.
 */
export function maxDeltaSize(targetSize: number): number {
  return targetSize + (targetSize >> 7) + 1024;
}
