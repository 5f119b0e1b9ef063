/**
 * What a running peer shares, kept current: the share set is computed
 * again when the verified checkpoint, the newest popularity entry or the
 * stores change, and only then. Noticing a store change costs a stat of
 * each of the install store's 256 index folders and of the share store's
 * record, so the peer can look every second or so at no real cost; the
 * set itself (every stored index read, each version's document) is made
 * only when something changed.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { PackageStore } from "../install/store.ts";
import type { BlobRef, PopularityEntry } from "../registry/entries.ts";
import type { PackageDocument } from "../registry/package-document.ts";
import { loadPopularity, type Popularity, SharePolicy, type ShareSet, shareSet } from "./policy.ts";
import { SharedBlocks } from "./server.ts";
import type { ShareStore } from "./share-store.ts";

/** The verified registry state a peer decides from. */
export interface VerifiedView {
  /** The verified checkpoint's size (a new one may change `latest` and opt-outs). */
  checkpointSize(): number | undefined;
  document(name: string): Promise<PackageDocument | undefined>;
  /** The newest popularity entry under the checkpoint, if any. */
  popularity(): Promise<PopularityEntry | undefined>;
  /** A blob the log names, verified (the sketch). */
  blob(ref: BlobRef): Promise<Uint8Array>;
}

export interface SharingOptions {
  readonly view: VerifiedView;
  readonly store?: PackageStore;
  readonly share?: ShareStore;
  /** The peer's own popularity threshold (raises the published one). */
  readonly threshold?: number;
  /** Share popular versions only, not every package's latest nor each release line's. */
  readonly popularOnly?: boolean;
  /**
   * Called when the stores changed, before the set is made again: an
   * install that kept a version verified a checkpoint that names it, which
   * the view may not have yet (the peer checks the checkpoint here).
   */
  readonly storesChanged?: () => Promise<void>;
}

/** What one computation found. */
export interface Shared {
  readonly set: ShareSet;
  readonly blocks: SharedBlocks;
  readonly popularity: Popularity | undefined;
  readonly threshold: number | undefined;
  readonly checkpointSize: number | undefined;
}

/** A stamp of the install store's index folders: changes when an index is added or removed. */
async function indexStamp(store: PackageStore): Promise<string> {
  const dir = join(store.root, "index");
  const folders = await readdir(dir).catch(() => [] as string[]);
  const times = await Promise.all(
    folders.map(async (f) => (await stat(join(dir, f)).catch(() => undefined))?.mtimeMs ?? 0),
  );
  return `${folders.length}:${times.reduce((a, b) => a + b, 0)}`;
}

export class Sharing {
  readonly #options: SharingOptions;
  #current: Shared = {
    set: { blobs: new Map(), roots: [], versions: [] },
    blocks: SharedBlocks.empty(),
    popularity: undefined,
    threshold: undefined,
    checkpointSize: undefined,
  };
  #stamp: string | undefined;
  /** The stores' stamp at the last look. */
  #stores: string | undefined;
  #popularity: Popularity | undefined;
  #entryAt: { size: number | undefined; entry: PopularityEntry | undefined } | undefined;
  #running: Promise<boolean> | undefined;
  #next: Promise<boolean> | undefined;

  constructor(options: SharingOptions) {
    this.#options = options;
  }

  get current(): Shared {
    return this.#current;
  }

  /** The blocks shared now. */
  blocks(): SharedBlocks {
    return this.#current.blocks;
  }

  /**
   * Computes the set again if anything it depends on changed; true if it
   * did. One at a time: a call during a run gets the run after it, which
   * sees whatever changed before the call.
   */
  refresh(): Promise<boolean> {
    const running = this.#running;
    if (!running) {
      const run = this.#refresh().finally(() => {
        this.#running = undefined;
      });
      this.#running = run;
      return run;
    }
    this.#next ??= running
      .catch(() => false)
      .then(() => {
        this.#next = undefined;
        return this.refresh();
      });
    return this.#next;
  }

  async #refresh(): Promise<boolean> {
    const { view, store, share } = this.#options;
    const stores = `${store ? await indexStamp(store) : ""}|${share ? await share.generation() : ""}`;
    if (this.#stores !== undefined && stores !== this.#stores)
      await this.#options.storesChanged?.().catch(() => undefined);
    this.#stores = stores;
    const size = view.checkpointSize();
    // Read once per checkpoint: finding it reads the log.
    let entryAt = this.#entryAt;
    if (!entryAt || entryAt.size !== size) {
      const entry = size === undefined ? undefined : await view.popularity().catch(() => undefined);
      entryAt = { size, entry };
      this.#entryAt = entryAt;
    }
    const entry = entryAt.entry;
    const stamp = [size, entry?.sketch.sha256, stores].join("|");
    if (stamp === this.#stamp) return false;
    if (entry && this.#popularity?.entry.sketch.sha256 !== entry.sketch.sha256)
      this.#popularity = await loadPopularity(entry, (ref) => view.blob(ref)).catch(
        () => undefined,
      );
    const popularity = entry ? this.#popularity : undefined;
    const policy = new SharePolicy({
      document: (name) => view.document(name),
      ...(popularity ? { popularity } : {}),
      ...(this.#options.threshold !== undefined ? { threshold: this.#options.threshold } : {}),
      latest: !this.#options.popularOnly,
    });
    const set = await shareSet(store, policy, share);
    const blocks = await SharedBlocks.of(set, share?.blobs);
    this.#current = {
      set,
      blocks,
      popularity,
      threshold: policy.threshold,
      checkpointSize: size,
    };
    this.#stamp = stamp;
    return true;
  }
}
