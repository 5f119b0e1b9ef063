/**
 * Serialized packuments and their ETags, kept per package with the
 * revision they were built from (a token the reader gives, which changes
 * whenever the package's document does). Building one costs queries or a
 * verified fetch, JSON parsing and (for the full form) a blob read per
 * version; serving one from here costs a revision check and a lookup.
 * Bounded: the least recently used packages are dropped first.
 */
import { LRUCache } from "lru-cache";

export interface CachedDocument {
  readonly json: string;
  readonly etag: string;
  readonly lastModified: string;
}

interface CachedPackage {
  readonly revision: string;
  /** The package's documents by variant (abbreviated or full, and the base URL). */
  readonly variants: Map<string, CachedDocument>;
}

export class PackumentCache {
  readonly #packages: LRUCache<string, CachedPackage>;

  constructor(maxPackages = 5000) {
    this.#packages = new LRUCache({ max: maxPackages });
  }

  get(name: string, revision: string, variant: string): CachedDocument | undefined {
    const cached = this.#packages.get(name);
    return cached?.revision === revision ? cached.variants.get(variant) : undefined;
  }

  set(name: string, revision: string, variant: string, doc: CachedDocument): void {
    let cached = this.#packages.get(name);
    if (cached?.revision !== revision) {
      cached = { revision, variants: new Map() };
      this.#packages.set(name, cached);
    }
    cached.variants.set(variant, doc);
  }
}
