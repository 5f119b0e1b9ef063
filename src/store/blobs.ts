/**
 * Content-addressed blob storage on a local directory, laid out as the
 * static tree serves it: `blob/sha256/<hex>`.
 *
 * Contract: `put` is idempotent and durable once it resolves (with
 * `durable`); a blob is visible whole or not at all (temporary file, then
 * rename). An existing file whose bytes do not hash to its name (disk
 * damage, a crash on a filesystem without ordered renames) is replaced, never
 * trusted. `get` returns undefined for a blob that is absent.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { sha256 } from "../log/index.ts";
import { replaceFile, syncDir } from "../util/durable-file.ts";

export interface StoredBlob {
  readonly sha256: string;
  readonly size: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
const PARALLEL_WRITES = 16;

export function sha256Hex(data: Uint8Array): string {
  return Buffer.from(sha256(data)).toString("hex");
}

export class BlobStore {
  readonly #dir: string;
  readonly #tmpDir: string;
  readonly #durable: boolean;

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

  /** The tree-relative path a blob is served at. */
  static treePath(hex: string): string {
    return `blob/sha256/${hex}`;
  }

  async put(data: Uint8Array): Promise<StoredBlob> {
    const stored = await this.#write(data);
    if (this.#durable) await syncDir(this.#dir);
    return stored;
  }

  /** Stores several blobs, written in parallel, with one directory sync for all. */
  async putMany(blobs: readonly Uint8Array[]): Promise<StoredBlob[]> {
    const stored: StoredBlob[] = [];
    for (let i = 0; i < blobs.length; i += PARALLEL_WRITES) {
      stored.push(
        ...(await Promise.all(blobs.slice(i, i + PARALLEL_WRITES).map((b) => this.#write(b)))),
      );
    }
    if (this.#durable && blobs.length > 0) await syncDir(this.#dir);
    return stored;
  }

  async #write(data: Uint8Array): Promise<StoredBlob> {
    const hex = sha256Hex(data);
    const target = join(this.#dir, hex);
    const existing = await this.get(hex);
    if (existing) return { sha256: hex, size: data.length };
    // Two writers of the same blob both rename identical bytes into place: harmless.
    const tmp = join(this.#tmpDir, `blob-${randomBytes(8).toString("hex")}`);
    await replaceFile(target, data, this.#durable, tmp);
    return { sha256: hex, size: data.length };
  }

  /** True if the blob is stored whole and undamaged. */
  async has(hex: string): Promise<boolean> {
    return (await this.get(hex)) !== undefined;
  }

  /** The blob's bytes, checked against its name; undefined if absent or damaged. */
  async get(hex: string): Promise<Uint8Array | undefined> {
    if (!HEX64.test(hex)) throw new Error(`not a sha256 hex digest: ${JSON.stringify(hex)}`);
    let data: Uint8Array;
    try {
      data = await readFile(join(this.#dir, hex));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    return sha256Hex(data) === hex ? data : undefined;
  }
}
