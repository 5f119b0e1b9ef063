/**
 * A size cap on a blob cache (the proxy's `<data>/cache`): once the cached
 * bytes pass the cap, the least recently used blobs are deleted until they
 * are under 90% of it. Use is what this process saw (reads and writes);
 * blobs it has not touched since it started count from their mtime. An
 * evicted blob is fetched and verified again on its next read.
 */
import { opendir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { BlobStore } from "../store/blobs.ts";

const HEX64 = /^[0-9a-f]{64}$/;
/** Evicting down to this share of the cap, so a full cache does not evict on every write. */
const LOW_WATER = 0.9;

export class CacheCap {
  readonly #store: BlobStore;
  readonly #maxBytes: number;
  /** Size and last use (ms) of every cached blob, oldest use first (Map order is insertion order). */
  readonly #blobs = new Map<string, number>();
  #bytes = 0;
  #evicting: Promise<void> | undefined;

  private constructor(store: BlobStore, maxBytes: number) {
    this.#store = store;
    this.#maxBytes = maxBytes;
  }

  /** Reads what the cache in `treeDir` holds (its files by mtime), then evicts if it is over the cap. */
  static async open(store: BlobStore, treeDir: string, maxBytes: number): Promise<CacheCap> {
    const cap = new CacheCap(store, maxBytes);
    const found: { hex: string; size: number; mtimeMs: number }[] = [];
    const dir = join(treeDir, "blob", "sha256");
    for await (const file of await opendir(dir)) {
      if (!HEX64.test(file.name)) continue;
      const st = await stat(join(dir, file.name)).catch(() => undefined);
      if (st) found.push({ hex: file.name, size: st.size, mtimeMs: st.mtimeMs });
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const { hex, size } of found) cap.#add(hex, size);
    await cap.#evict();
    return cap;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** A cached blob was read: it becomes the most recently used. */
  used(hex: string): void {
    const size = this.#blobs.get(hex);
    if (size === undefined) return;
    this.#blobs.delete(hex);
    this.#blobs.set(hex, size);
  }

  /** A blob was stored: counted, and the least used evicted if that passes the cap. */
  stored(hex: string, size: number): Promise<void> {
    this.#add(hex, size);
    if (this.#bytes <= this.#maxBytes) return Promise.resolve();
    this.#evicting ??= this.#evict().finally(() => {
      this.#evicting = undefined;
    });
    return this.#evicting;
  }

  #add(hex: string, size: number): void {
    const held = this.#blobs.get(hex);
    if (held !== undefined) this.#bytes -= held;
    this.#blobs.delete(hex);
    this.#blobs.set(hex, size);
    this.#bytes += size;
  }

  async #evict(): Promise<void> {
    const target = this.#maxBytes * LOW_WATER;
    for (const [hex, size] of this.#blobs) {
      if (this.#bytes <= target) break;
      this.#blobs.delete(hex);
      this.#bytes -= size;
      await this.#store.removeIfOlder(hex, Number.POSITIVE_INFINITY);
    }
  }
}
