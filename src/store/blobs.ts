/**
 * Content-addressed blob storage on a local directory, laid out as the
 * static tree serves it: `blob/sha256/<hex>`.
 *
 * Contract: `put` is idempotent and durable once it resolves (with
 * `durable`); a blob is visible whole or not at all (temporary file, then
 * rename). An existing file whose bytes do not hash to its name (disk
 * damage, a crash on a filesystem without ordered renames) is replaced, never
 * trusted. `get` returns undefined for a blob that is absent. A blob put as
 * `derived` (bytes anyone can make again from another blob: a version's
 * files from its tarball) is not synced: a crash may lose it or leave it
 * damaged, which `get` and `has` report as absent, and a later put repairs.
 *
 * Garbage collection (src/gc/gc.ts) deletes blobs by age, so a put of
 * a blob already held refreshes its mtime, and a collection running in the
 * same process sees every hash put since its mark began (`trackPuts`) and
 * deletes through `removeIfOlder`, which a concurrent put of the same hash
 * waits for before it writes the blob again.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { placeHashNamedFiles, syncDir, unlinkIfOlder } from "../util/durable-file.ts";
import { sha256Hex } from "../util/sha256.ts";

export { sha256Hex };

export interface StoredBlob {
  readonly sha256: string;
  readonly size: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
const PARALLEL_WRITES = 16;

/** The SHA-256 and size of a file, read as a stream. */
export async function hashFile(path: string): Promise<StoredBlob> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}

/** The hashes put since a collection's mark began. */
export interface PutTracker {
  has(hex: string): boolean;
  stop(): void;
}

export class BlobStore {
  readonly #dir: string;
  readonly #tmpDir: string;
  readonly #durable: boolean;
  readonly #trackers = new Set<Set<string>>();
  /** Deletions in flight by hash: a put of one waits for it, then writes the blob anew. */
  readonly #deleting = new Map<string, Promise<unknown>>();

  private constructor(treeDir: string, durable: boolean) {
    this.#dir = join(treeDir, "blob", "sha256");
    this.#tmpDir = join(treeDir, ".tmp");
    this.#durable = durable;
  }

  static async open(treeDir: string, options: { durable?: boolean } = {}): Promise<BlobStore> {
    const store = new BlobStore(treeDir, options.durable ?? true);
    await mkdir(store.#dir, { recursive: true });
    await mkdir(store.#tmpDir, { recursive: true });
    return store;
  }

  /** The path of the blob named `hex`, which must be a digest (it names a file). */
  #file(hex: string): string {
    if (!HEX64.test(hex)) throw new Error(`not a sha256 hex digest: ${JSON.stringify(hex)}`);
    return join(this.#dir, hex);
  }

  /** Deletes a blob if held (a cache dropping what it must no longer hold). */
  async remove(hex: string): Promise<void> {
    await rm(this.#file(hex), { force: true });
  }

  /** The tree-relative path a blob is served at. */
  static treePath(hex: string): string {
    return `blob/sha256/${hex}`;
  }

  async put(data: Uint8Array): Promise<StoredBlob> {
    const [stored] = await this.putMany([data]);
    return stored;
  }

  /** Stores several blobs, written in parallel, with their data and directory synced in one round. */
  async putMany(
    blobs: readonly Uint8Array[],
    options: { readonly derived?: boolean } = {},
  ): Promise<StoredBlob[]> {
    const durable = this.#durable && options.derived !== true;
    const stored: StoredBlob[] = [];
    for (let i = 0; i < blobs.length; i += PARALLEL_WRITES) {
      const slice = blobs.slice(i, i + PARALLEL_WRITES);
      const fresh = new Map<string, Uint8Array>();
      await Promise.all(
        slice.map(async (data) => {
          const hex = sha256Hex(data);
          stored.push({ sha256: hex, size: data.length });
          await this.#claim(hex);
          if (!fresh.has(hex) && !(await this.#holds(hex))) fresh.set(hex, data);
        }),
      );
      // Two writers of the same blob both rename identical bytes into place: harmless.
      const files = [...fresh].map(([hex, data]) => ({
        target: this.#file(hex),
        tmp: this.tempPath(),
        data,
      }));
      if (files.length > 0) await placeHashNamedFiles(files, durable, [this.#dir]);
    }
    return stored;
  }

  /**
   * Called before a put looks for `hex`: recorded for a collection in
   * progress first, in the same tick as the look at its deletions, so a
   * deletion either sees the put and keeps the blob, or started before and
   * is waited for.
   */
  async #claim(hex: string): Promise<void> {
    this.#track(hex);
    await this.#deleting.get(hex)?.catch(() => {});
  }

  /** Tells each collection in progress that `hex` is being put. */
  #track(hex: string): void {
    for (const tracker of this.#trackers) tracker.add(hex);
  }

  /** Whether the blob is held undamaged (a stat first, as most blobs put are new); a held one's mtime is refreshed. */
  async #holds(hex: string): Promise<boolean> {
    const found = await stat(this.#file(hex)).catch(() => undefined);
    return found !== undefined && (await this.get(hex)) !== undefined && this.#touch(hex);
  }

  /** Refreshes a held blob's mtime, so an age-based sweep keeps it; false if it is gone meanwhile (the put writes it again). */
  #touch(hex: string): Promise<boolean> {
    const now = new Date();
    return utimes(this.#file(hex), now, now).then(
      () => true,
      () => false,
    );
  }

  /** Records every hash put from now until `stop`. */
  trackPuts(): PutTracker {
    const put = new Set<string>();
    this.#trackers.add(put);
    return { has: (hex) => put.has(hex), stop: () => this.#trackers.delete(put) };
  }

  /**
   * Deletes the blob unless it was put since `tracker` began or its mtime is
   * at or after `before`; the bytes freed, or undefined if it was kept or absent.
   */
  async removeIfOlder(
    hex: string,
    before: number,
    tracker?: PutTracker,
  ): Promise<number | undefined> {
    if (tracker?.has(hex) || this.#deleting.has(hex)) return undefined;
    const removal = unlinkIfOlder(this.#file(hex), before);
    this.#deleting.set(hex, removal);
    try {
      return await removal;
    } finally {
      this.#deleting.delete(hex);
    }
  }

  /** A fresh path in the store's temporary directory, for a blob being made on disk. */
  tempPath(): string {
    return join(this.#tmpDir, `blob-${randomBytes(8).toString("hex")}`);
  }

  /**
   * Stores the file at `path` (in the store's filesystem, as from
   * `tempPath`), moving it into place under the hash of its bytes, which
   * are read as a stream: for blobs too large to hold in memory. `hashed`
   * spares that read when the caller hashed the bytes as it wrote them.
   * The file is consumed either way.
   */
  async putFile(path: string, hashed?: StoredBlob): Promise<StoredBlob> {
    try {
      const { sha256: hex, size } = hashed ?? (await hashFile(path));
      await this.#claim(hex);
      if ((await this.has(hex)) && (await this.#touch(hex))) return { sha256: hex, size };
      const handle = await open(path, "r");
      try {
        // Renamed first, then data and directory synced together: the name checks the bytes.
        await rename(path, this.#file(hex));
        if (this.#durable) await Promise.all([handle.datasync(), syncDir(this.#dir)]);
      } finally {
        await handle.close();
      }
      return { sha256: hex, size };
    } finally {
      await rm(path, { force: true });
    }
  }

  /** True if the blob is stored whole and undamaged (read as a stream: it may be large). */
  async has(hex: string): Promise<boolean> {
    try {
      return (await hashFile(this.#file(hex))).sha256 === hex;
    } catch (err) {
      return ifAbsent(err) ?? false;
    }
  }

  /**
   * The size of the stored file named `hex`, or undefined if there is none:
   * one stat, its bytes neither read nor checked (a damaged blob still has a size).
   */
  async size(hex: string): Promise<number | undefined> {
    try {
      return (await stat(this.#file(hex))).size;
    } catch (err) {
      return ifAbsent(err);
    }
  }

  /**
   * `length` bytes of a blob from `offset`, unchecked (the caller checks
   * them against what names the slice); undefined if the blob is absent or
   * shorter than that.
   */
  async slice(hex: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.#file(hex), "r");
    } catch (err) {
      return ifAbsent(err);
    }
    try {
      const data = Buffer.alloc(length);
      const { bytesRead } = await handle.read(data, 0, length, offset);
      return bytesRead === length ? data : undefined;
    } finally {
      await handle.close();
    }
  }

  /**
   * The blob's bytes as a stream of chunks of up to 1 MiB, unchecked (the
   * caller hashes them as they pass); reading fails with ENOENT if it is absent.
   */
  stream(hex: string): AsyncIterable<Uint8Array> {
    return createReadStream(this.#file(hex), { highWaterMark: 1 << 20 });
  }

  /** The blob's bytes, checked against its name; undefined if absent or damaged. */
  async get(hex: string): Promise<Uint8Array | undefined> {
    try {
      return ifNamed(hex, await readFile(this.#file(hex)));
    } catch (err) {
      return ifAbsent(err);
    }
  }

  /**
   * `get`, synchronously: for a command reading hundreds of small blobs in
   * a row (an install's package documents), where each promise-based read
   * costs more than the read itself. Not for a server: it holds the event
   * loop for the whole read.
   */
  getSync(hex: string): Uint8Array | undefined {
    try {
      return ifNamed(hex, readFileSync(this.#file(hex)));
    } catch (err) {
      return ifAbsent(err);
    }
  }

  /**
   * `put` of a blob a `getSync` just missed, for a store that is not
   * durable, written synchronously (the `getSync` reader's case): no look
   * for a held copy first, as a rename over one leaves the same bytes.
   * A durable store, or a blob being deleted, takes `put`'s way.
   */
  async putMissedSync(data: Uint8Array): Promise<StoredBlob> {
    const hex = sha256Hex(data);
    if (this.#durable || this.#deleting.has(hex)) return this.put(data);
    this.#track(hex);
    const tmp = this.tempPath();
    try {
      writeFileSync(tmp, data, { flag: "wx" });
      renameSync(tmp, this.#file(hex));
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    return { sha256: hex, size: data.length };
  }
}

/** The bytes when they hash to their name; a damaged blob is as none. */
function ifNamed(hex: string, data: Uint8Array): Uint8Array | undefined {
  return sha256Hex(data) === hex ? data : undefined;
}

/** Undefined for a blob that is not there; any other failure is thrown. */
function ifAbsent(err: unknown): undefined {
  if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
  throw err;
}
