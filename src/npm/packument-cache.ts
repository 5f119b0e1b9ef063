/**
 * Serialized packuments and their ETags, kept until a log entry touches the
 * package. Building one costs queries, JSON parsing and (for the full form)
 * a blob read per version; serving one from here costs a map lookup. Bounded:
 * the least recently used packages are dropped first.
 */
export interface CachedDocument {
  readonly json: string;
  readonly etag: string;
  readonly lastModified: string;
}

export class PackumentCache {
  readonly #maxPackages: number;
  /** Per package, its documents by variant (abbreviated or full, and the base URL). */
  readonly #packages = new Map<string, Map<string, CachedDocument>>();

  constructor(maxPackages = 5000) {
    this.#maxPackages = maxPackages;
  }

  get(name: string, variant: string): CachedDocument | undefined {
    const docs = this.#packages.get(name);
    if (!docs) return undefined;
    // Re-insert to mark the package as recently used.
    this.#packages.delete(name);
    this.#packages.set(name, docs);
    return docs.get(variant);
  }

  set(name: string, variant: string, doc: CachedDocument): void {
    let docs = this.#packages.get(name);
    if (!docs) {
      docs = new Map();
      this.#packages.set(name, docs);
      if (this.#packages.size > this.#maxPackages) {
        const oldest = this.#packages.keys().next().value as string;
        this.#packages.delete(oldest);
      }
    }
    docs.set(variant, doc);
  }

  invalidate(names: Iterable<string>): void {
    for (const name of names) this.#packages.delete(name);
  }
}
