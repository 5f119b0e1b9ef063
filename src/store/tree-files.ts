/**
 * The static tree as garbage collection sees it: files named by
 * tree-relative paths that can be listed, read and deleted by age. A local
 * directory implements it here; an object store could (list by prefix, a
 * conditional delete on last-modified).
 *
 * Contract: `list` yields the names directly in a directory (none if it is
 * absent); `read` and `stat` return undefined for a file that is absent; `removeIfOlder`
 * deletes a file only if it was last written before `before` (ms since the
 * epoch), and returns the bytes freed, or undefined when it kept the file or
 * there was none. Deleting is idempotent: a second call finds nothing.
 */
import { opendir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { unlinkIfOlder } from "../util/durable-file.ts";
import type { BlobStore, PutTracker } from "./blobs.ts";

export interface TreeFiles {
  list(dir: string): AsyncIterable<{ readonly name: string; readonly isDirectory: boolean }>;
  read(path: string): Promise<Uint8Array | undefined>;
  stat(path: string): Promise<{ readonly size: number; readonly mtimeMs: number } | undefined>;
  removeIfOlder(path: string, before: number): Promise<number | undefined>;
}

const BLOB_RE = /^blob\/sha256\/([0-9a-f]{64})$/;

/**
 * A tree on a local disk. Blobs are deleted through `blobs` when the tree's
 * writer shares this process, so a put racing the deletion is never lost
 * (see BlobStore.removeIfOlder); a collection in another process relies on
 * the mtime a put refreshes.
 */
export class DirectoryTree implements TreeFiles {
  readonly #dir: string;
  readonly #blobs: BlobStore | undefined;
  readonly #tracker: PutTracker | undefined;

  constructor(dir: string, options: { blobs?: BlobStore; tracker?: PutTracker } = {}) {
    this.#dir = dir;
    this.#blobs = options.blobs;
    this.#tracker = options.tracker;
  }

  async *list(dir: string): AsyncIterable<{ name: string; isDirectory: boolean }> {
    let handle: Awaited<ReturnType<typeof opendir>>;
    try {
      handle = await opendir(join(this.#dir, dir));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for await (const entry of handle) yield { name: entry.name, isDirectory: entry.isDirectory() };
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    return readFile(join(this.#dir, path)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
  }

  async stat(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    return stat(join(this.#dir, path)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
  }

  async removeIfOlder(path: string, before: number): Promise<number | undefined> {
    const blob = BLOB_RE.exec(path)?.[1];
    if (blob !== undefined && this.#blobs)
      return this.#blobs.removeIfOlder(blob, before, this.#tracker);
    return unlinkIfOlder(join(this.#dir, path), before);
  }
}
