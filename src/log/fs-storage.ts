/**
 * LogStorage on a local directory: the static tree as plain files, ready for
 * any web server to serve.
 *
 * Tiles and bundles are written in place: the appender only writes paths no
 * checkpoint covers yet. The checkpoint is written to a temporary name and
 * renamed into place, so a reader sees the old one or the new one. With
 * `durable` (the default) every file and every touched directory is fsynced
 * before the checkpoint moves, so a crash or power loss leaves the previous
 * checkpoint and every file it covers intact.
 */
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { syncDir, writeFileDurably, writeFilesDurably } from "../util/durable-file.ts";
import type { LogFile, LogStorage } from "./appender.ts";
import { LogError } from "./errors.ts";
import { equalBytes } from "./hash.ts";

export interface FsStorageOptions {
  /** fsync files and directories before acknowledging; off only for benchmarks and tests. */
  readonly durable?: boolean;
}

const TMP_DIR = ".tmp";
const LOCK_FILE = ".lock";
/** The pending checkpoint (see LogStorage.savePending); not a tree path, so never served. */
const PENDING_FILE = "checkpoint.pending";
/** Locks this process holds, so that a second open in the same process is refused too. */
const heldLocks = new Set<string>();

export class FsLogStorage implements LogStorage {
  readonly #dir: string;
  readonly #durable: boolean;
  readonly #madeDirs = new Set<string>();
  #tmpCounter = 0;
  /** The stored checkpoint as last read or written; null when not known. */
  #checkpoint: Uint8Array | undefined | null = null;

  private constructor(dir: string, durable: boolean) {
    this.#dir = dir;
    this.#durable = durable;
  }

  /**
   * Opens `dir` as the single writer: takes its lock (refusing if a live
   * process holds it) and clears temporary files a crash may have left.
   */
  static async open(dir: string, options: FsStorageOptions = {}): Promise<FsLogStorage> {
    await mkdir(dir, { recursive: true });
    await takeLock(join(dir, LOCK_FILE));
    await rm(join(dir, TMP_DIR), { recursive: true, force: true });
    await mkdir(join(dir, TMP_DIR));
    return new FsLogStorage(dir, options.durable ?? true);
  }

  async close(): Promise<void> {
    await releaseLock(join(this.#dir, LOCK_FILE));
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(join(this.#dir, path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async writeFiles(files: readonly LogFile[]): Promise<void> {
    const targets = files.map((file) => ({ path: join(this.#dir, file.path), data: file.data }));
    const dirs = new Set(targets.map((t) => dirname(t.path)));
    await Promise.all([...dirs].map((dir) => this.#mkdir(dir)));
    // In place: no checkpoint covers these paths yet (see LogStorage), so no reader depends on them.
    await writeFilesDurably(targets, this.#durable, this.#durable ? dirs : []);
  }

  async swapCheckpoint(expected: Uint8Array | undefined, next: Uint8Array): Promise<void> {
    // We hold the lock, so the checkpoint can only change through us: read it once, then remember it.
    if (this.#checkpoint === null) this.#checkpoint = await this.read("checkpoint");
    const current = this.#checkpoint;
    const same =
      current === undefined || expected === undefined
        ? current === expected
        : equalBytes(current, expected);
    if (!same) throw new LogError("conflict", "the checkpoint changed under this writer");
    this.#checkpoint = null; // unknown until the rename is known to have happened
    const staged = this.#staged;
    this.#staged = undefined;
    if (staged && equalBytes(staged.data, next))
      await rename(staged.path, join(this.#dir, "checkpoint"));
    else await this.#writeAndRename(next, join(this.#dir, "checkpoint"));
    if (this.#durable) await syncDir(this.#dir);
    this.#checkpoint = next;
  }

  async savePending(next: Uint8Array): Promise<void> {
    const path = join(this.#dir, PENDING_FILE);
    const created = this.#pendingExists !== true && (await this.read(PENDING_FILE)) === undefined;
    // In place: a crash mid-write leaves a torn file, which fails its signature and is ignored.
    await this.#writeFile(next, path);
    if (created && this.#durable) await syncDir(this.#dir);
    this.#pendingExists = true;
  }

  #pendingExists: boolean | undefined;

  readPending(): Promise<Uint8Array | undefined> {
    return this.read(PENDING_FILE);
  }

  async stageCheckpoint(next: Uint8Array): Promise<void> {
    const path = join(this.#dir, TMP_DIR, `${process.pid}-${this.#tmpCounter++}`);
    this.#staged = undefined;
    await this.#writeFile(next, path);
    this.#staged = { path, data: next };
  }

  /** A checkpoint written ahead of its swap (see stageCheckpoint). */
  #staged: { readonly path: string; readonly data: Uint8Array } | undefined;

  async #mkdir(dir: string): Promise<void> {
    if (this.#madeDirs.has(dir)) return;
    const first = await mkdir(dir, { recursive: true });
    if (first !== undefined && this.#durable) {
      // New directories are entries in their parents: make each one durable, or a
      // power loss could drop a directory whose tiles a checkpoint covers.
      for (let d = dir; d.length >= first.length; d = dirname(d)) await syncDir(dirname(d));
    }
    this.#madeDirs.add(dir);
  }

  #writeFile(data: Uint8Array, target: string): Promise<void> {
    return writeFileDurably(target, data, this.#durable);
  }

  /** Replaces `target` atomically: readers see the old file or the new one, never a mix. */
  async #writeAndRename(data: Uint8Array, target: string): Promise<void> {
    const tmp = join(this.#dir, TMP_DIR, `${process.pid}-${this.#tmpCounter++}`);
    await this.#writeFile(data, tmp);
    await rename(tmp, target);
  }
}

/** Releases a lock taken with takeLock. */
export async function releaseLock(path: string): Promise<void> {
  heldLocks.delete(path);
  await rm(path, { force: true });
}

/**
 * Creates the lock file exclusively, so one process at a time writes a
 * directory; a lock whose process is gone is taken over.
 */
export async function takeLock(path: string): Promise<void> {
  if (heldLocks.has(path))
    throw new LogError("conflict", "the log is already open in this process");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      heldLocks.add(path);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
      if (Number.isSafeInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new LogError("conflict", `the log is in use by process ${holder}`);
      }
      // Stale lock from a crashed writer (or our own pid reused): take it over.
      await rm(path, { force: true });
    }
  }
  throw new LogError("conflict", "could not take the log lock");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
