/**
 * Where a server keeps the bytes of taken-down versions: out of the served
 * tree, in `<data>/withheld/<hex>`, so a restore can bring them back, or
 * nowhere once purged (illegal content). The withheld set itself is the
 * state's (src/registry/withheld.ts); this module only moves files to match
 * it. Moves are renames within one data directory, so a crash leaves each
 * file in one place or the other, and `reconcile` at start finishes the job.
 */
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";

const HEX64 = /^[0-9a-f]{64}$/;

export class WithheldFiles {
  readonly #blobDir: string;
  readonly #dir: string;

  constructor(treeDir: string, withheldDir: string) {
    this.#blobDir = join(treeDir, "blob", "sha256");
    this.#dir = withheldDir;
  }

  /** Takes the blobs out of the tree: kept aside, or deleted with `purge`. */
  async withhold(hashes: Iterable<string>, purge: boolean): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    for (const hex of hashes) {
      const served = join(this.#blobDir, hex);
      if (purge) {
        await rm(served, { force: true });
        await rm(join(this.#dir, hex), { force: true });
      } else await moveIfPresent(served, join(this.#dir, hex));
    }
  }

  /** Puts kept-aside blobs back into the tree. */
  async release(hashes: Iterable<string>): Promise<void> {
    for (const hex of hashes) await moveIfPresent(join(this.#dir, hex), join(this.#blobDir, hex));
  }

  /** Which of the blobs neither the tree nor the withheld directory holds (purged ones). */
  async missing(hashes: Iterable<string>): Promise<string[]> {
    const gone: string[] = [];
    for (const hex of hashes) {
      const here = (p: string) =>
        stat(p).then(
          () => true,
          () => false,
        );
      if (!(await here(join(this.#blobDir, hex))) && !(await here(join(this.#dir, hex))))
        gone.push(hex);
    }
    return gone;
  }

  /**
   * Makes the files match the withheld set after a crash between an entry
   * becoming durable and its files moving: withheld blobs still in the tree
   * go aside, and blobs aside that are no longer withheld come back.
   */
  async reconcile(isWithheld: (hex: string) => boolean, withheld: Iterable<string>): Promise<void> {
    await this.withhold(withheld, false);
    const aside = await readdir(this.#dir).catch(() => [] as string[]);
    await this.release(aside.filter((hex) => HEX64.test(hex) && !isWithheld(hex)));
  }
}

async function moveIfPresent(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
