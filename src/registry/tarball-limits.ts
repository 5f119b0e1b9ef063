/** The caps on a published tarball, set by the origin's configuration and enforced while it inflates. */
export interface TarballLimits {
  readonly maxCompressedBytes: number;
  readonly maxUnpackedBytes: number;
  readonly maxFiles: number;
  /**
   * Inflated bytes per compressed byte. Text packs about 4 to 10 times;
   * a gzip bomb packs about 1,000 times.
   */
  readonly maxRatio: number;
}

export const DEFAULT_TARBALL_LIMITS: TarballLimits = {
  maxCompressedBytes: 100 * 1024 * 1024,
  maxUnpackedBytes: 500 * 1024 * 1024,
  maxFiles: 100_000,
  maxRatio: 100,
};
