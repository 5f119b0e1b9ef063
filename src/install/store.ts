/**
 * The per-file content-addressed store: every file of every package once,
 * named by its SHA-256, and one file index per package version.
 *
 * Layout under the store's folder (the CLI uses `$CAIRN_HOME/store`):
 *
 *   v1/files/<2 hex>/<62 hex>        a file's bytes, read-only (0444)
 *   v1/files/<2 hex>/<62 hex>-exec   the same for an executable file (0555):
 *                                    a hard link shares its mode, so the
 *                                    two modes are two files
 *   v1/index/<2 hex>/<126 hex>.json  a version's file index (src/npm/file-index.ts),
 *                                    named by the hex of its tarball's SHA-512
 *   v1/names/<name>/<version>        the integrity of the last tarball added
 *                                    for that name and version
 *   v1/tmp/                          files being written
 *
 * Writes (store-writes.ts, run on a store thread: store-threads.ts): a
 * file is created under its own name (O_EXCL) and written there, which
 * fails rather than replaces when another writer got there first; that
 * file's bytes are then hashed and, if not whole (damaged, or still being
 * written), replaced by a copy renamed over it. A name whose bytes are not
 * whole is one being written now, or left by a crash, and no index names
 * it but one that checkFiles finds it through (putFileSync in
 * store-writes.ts has the argument); concurrent adds of the same package
 * (in one process or several) never tear one. The index is written last,
 * so an index present means all its files were.
 *
 * Protection of the store from the projects that link to it: files are
 * read-only, so editors and tools refuse to write through a link unless
 * told to (one that makes the file writable first, or root, which ignores
 * modes); and every file is written with its mtime set SETTLE_MS
 * (store-writes.ts) in the past, so any later write leaves an mtime past
 * its index's own. Before a package is linked or re-added, each
 * file is stat'ed: a missing file or a wrong size is damage; an mtime at or
 * past its index's (less a margin), or a mode made writable, is suspect,
 * and is re-hashed (and made read-only again if sound); damage is repaired
 * by re-adding the tarball. A file that was checked and found
 * sound refreshes its index's mtime, so it is hashed once, not on every
 * link. Nothing is fsynced: a crash may leave a file short or zeroed,
 * which the size and hash checks find.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, readFileSync, statSync } from "node:fs";
import { chmod, mkdir, readFile, utimes } from "node:fs/promises";
import { join } from "node:path";
import pLimit, { type LimitFunction } from "p-limit";
import { SingleFlight } from "../util/single-flight.ts";
import { InstallError } from "./install-error.ts";
import { Pacer } from "./pacer.ts";
import {
  EXEC_MODE,
  type ExpectedTarball,
  type FileIndex,
  type IndexedFile,
  integrityKey,
  parseFileIndex,
  tarballBytes,
} from "./package-files.ts";
import {
  storeFilePath,
  storeIndexPath,
  storeMode,
  storeNamePath,
  storeWrites,
} from "./store-layout.ts";
import { storeThreads } from "./store-threads.ts";
import { isCode } from "./store-writes.ts";

/** A file whose mtime is past its index's mtime less this was written after it was stored. */
const SUSPECT_MARGIN_MS = 1000;
/** Files re-hashed at once: enough to keep the disk and libuv's pool busy. */
const HASH_CONCURRENCY = 8;

export interface DamagedFile {
  readonly sha256: string;
  readonly executable: boolean;
  readonly problem: "missing" | "mismatch";
}

/** Files up to this size are hashed from one synchronous read: a stream's buffer and trips cost more. */
const SMALL_FILE = 256 << 10;

/** The SHA-256 of a file's bytes: read whole when small (`size`, if known), else as a stream. */
export async function hashFile(path: string, size?: number): Promise<string> {
  const hash = createHash("sha256");
  if (size !== undefined && size <= SMALL_FILE)
    return hash.update(readFileSync(path)).digest("hex");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest("hex");
}

export class PackageStore {
  readonly dir: string;
  readonly #root: string;
  readonly #tmp: string;
  readonly #limit: LimitFunction;
  readonly #adds = new SingleFlight<string, FileIndex>();
  /** Unique to this handle (another process or handle picks its own), so names never collide. */
  readonly #tmpPrefix = `${randomBytes(6).toString("hex")}-`;
  #tmpCount = 0;

  private constructor(dir: string) {
    this.dir = dir;
    this.#root = join(dir, "v1");
    this.#tmp = join(this.#root, "tmp");
    this.#limit = pLimit(HASH_CONCURRENCY);
  }

  /** Opens the store at `dir`, creating its folders when absent. */
  static async open(dir: string): Promise<PackageStore> {
    const store = new PackageStore(dir);
    // `index` is made last: once it is there, so is every other folder.
    if (statSync(join(store.#root, "index"), { throwIfNoEntry: false })) return store;
    await mkdir(store.#tmp, { recursive: true });
    // Every prefix folder at once, so no write has to create one.
    await Promise.all(
      Array.from({ length: 256 }, (_, i) =>
        mkdir(join(store.#root, "files", i.toString(16).padStart(2, "0")), { recursive: true }),
      ),
    );
    await mkdir(join(store.#root, "index"), { recursive: true });
    return store;
  }

  /** Where a file with these bytes and mode is kept. */
  filePath(file: Pick<IndexedFile, "sha256" | "mode">): string {
    return storeFilePath(this.#root, file);
  }

  indexPath(integrity: string): string {
    return storeIndexPath(this.#root, integrity);
  }

  namePath(name: string, version: string): string {
    return storeNamePath(this.#root, name, version);
  }

  /** The root folder of the store's own files (for maintenance). */
  get root(): string {
    return this.#root;
  }

  /** Whether the store holds an index for this tarball (its files are then all there, unless damaged since). */
  async has(integrity: string): Promise<boolean> {
    return (await this.getIndex(integrity)) !== undefined;
  }

  /** The index of a tarball, or undefined when the store has none. A damaged index is as none. */
  async getIndex(integrity: string): Promise<FileIndex | undefined> {
    let text: string;
    try {
      // Synchronously: an index is a few KiB, and an install reads hundreds of them in a row,
      // where each promise-based read costs four trips through libuv's thread pool.
      text = readFileSync(this.indexPath(integrity), "utf8");
    } catch (err) {
      if (isCode(err, "ENOENT")) return undefined;
      throw err;
    }
    try {
      return parseFileIndex(text);
    } catch (err) {
      if (err instanceof InstallError) return undefined;
      throw err;
    }
  }

  /** The index last added for `name@version`, if the store holds it. */
  async findIndex(name: string, version: string): Promise<FileIndex | undefined> {
    let integrity: string;
    try {
      integrity = await readFile(this.namePath(name, version), "utf8");
    } catch (err) {
      if (isCode(err, "ENOENT")) return undefined;
      throw err;
    }
    const index = await this.getIndex(integrity);
    return index?.name === name && index.version === version ? index : undefined;
  }

  /**
   * Adds a package from its tarball and returns its index. The tarball's
   * integrity (and sha256, when given) is checked before anything is
   * stored. A package already held whole is not unpacked again; one whose
   * files were damaged is repaired from these bytes.
   */
  async addTarball(
    source: Uint8Array | AsyncIterable<Uint8Array>,
    expected: ExpectedTarball,
  ): Promise<FileIndex> {
    const key = integrityKey(expected.integrity);
    const bytes = await tarballBytes(source);
    return this.#adds.run(key, async () => {
      const held = await this.getIndex(expected.integrity);
      if (held && (await this.checkFiles(held)).length === 0) return held;
      return this.#unpackAndStore(bytes, expected);
    });
  }

  /** On a store thread: the tarball's checks, gunzip, hashing and writes leave the main thread free. */
  async #unpackAndStore(bytes: Buffer, expected: ExpectedTarball): Promise<FileIndex> {
    return storeThreads.unpack(this.#root, bytes, expected, process.umask());
  }

  /** Hashes of the files an index names that the store lacks whole: what `addFiles` needs. */
  async missingFiles(index: FileIndex): Promise<IndexedFile[]> {
    const damaged = new Set((await this.checkFiles(index)).map((d) => this.filePath(toMode(d))));
    const missing = new Map<string, IndexedFile>();
    for (const f of index.files.values())
      if (damaged.has(this.filePath(f))) missing.set(this.filePath(f), f);
    return [...missing.values()];
  }

  /**
   * Adds a package from its index and the bytes of the files the store
   * lacks, fetched by hash from anywhere. The index itself must come
   * verified (its SHA-256 as the log binds it): the store files it under
   * its tarball's integrity without the tarball to check. Each file is
   * stored only if its bytes hash to one the index names (else nothing is
   * stored); the index is written once every file is there. Files the
   * store held already are taken as the caller's `missingFiles` just found
   * them (whole): here only that they are there, at their size. Returns
   * the files still missing (none: the package is now held).
   */
  async addFiles(index: FileIndex, contents: Iterable<Uint8Array>): Promise<IndexedFile[]> {
    const wanted = new Map<string, IndexedFile[]>();
    for (const f of index.files.values())
      wanted.set(f.sha256, [...(wanted.get(f.sha256) ?? []), f]);
    const writes: [IndexedFile, Uint8Array][] = [];
    for (const data of contents) {
      const sha256 = createHash("sha256").update(data).digest("hex");
      const files = wanted.get(sha256);
      if (!files) {
        throw new InstallError(
          "integrity-mismatch",
          `a file given for ${index.name}@${index.version} (sha256 ${sha256}) is not in its index`,
        );
      }
      const modes = new Map(files.map((f) => [f.mode, f]));
      for (const f of modes.values()) writes.push([f, data]);
    }
    await this.#write(writes);
    const missing = new Map<string, IndexedFile>();
    for (const f of index.files.values()) {
      const path = this.filePath(f);
      if (statSync(path, { throwIfNoEntry: false })?.size !== f.size) missing.set(path, f);
    }
    if (missing.size === 0) await this.#write([], index);
    return [...missing.values()];
  }

  /**
   * The files of an index that are missing or damaged, by the cheap check
   * (stat) with a re-hash of any file changed since it was stored.
   */
  async checkFiles(index: FileIndex): Promise<DamagedFile[]> {
    const indexPath = this.indexPath(index.tarball.integrity);
    // Synchronously, as the file stats below: a promise-based stat per package costs more than the call.
    const indexStat = statSync(indexPath, { throwIfNoEntry: false });
    const since =
      indexStat === undefined ? Number.NEGATIVE_INFINITY : indexStat.mtimeMs - SUSPECT_MARGIN_MS;
    const unique = new Map<string, IndexedFile>();
    for (const f of index.files.values()) unique.set(this.filePath(f), f);
    // Synchronous stats, paced (pacer.ts says why).
    const pacer = new Pacer();
    const suspects: [string, IndexedFile, number][] = [];
    const damaged: DamagedFile[] = [];
    const note = (f: IndexedFile, problem: DamagedFile["problem"]) =>
      damaged.push({ sha256: f.sha256, executable: f.mode === EXEC_MODE, problem });
    for (const [path, f] of unique) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (st === undefined) note(f, "missing");
      else if (st.size !== f.size) note(f, "mismatch");
      else if (st.mtimeMs >= since || (st.mode & 0o777) !== storeMode(f))
        suspects.push([path, f, st.mode & 0o777]);
      if (pacer.due()) await pacer.turn();
    }
    const rehashed = suspects.length > 0;
    await Promise.all(
      suspects.map(([path, f, mode]) =>
        this.#limit(async () => {
          if ((await hashFile(path, f.size)) !== f.sha256) note(f, "mismatch");
          // Made writable through a link (an editor's "overwrite"): read-only again.
          else if (mode !== storeMode(f)) await chmod(path, storeMode(f));
        }),
      ),
    );
    // Found sound: later checks need not hash these again.
    if (rehashed && damaged.length === 0 && since !== Number.NEGATIVE_INFINITY) {
      const now = new Date();
      await utimes(indexPath, now, now).catch(() => {});
    }
    return damaged;
  }

  /** A fresh temporary path in the store (same file system as every store path). */
  tmpPath(): string {
    return join(this.#tmp, `${this.#tmpPrefix}${(this.#tmpCount++).toString(36)}`);
  }

  /**
   * Puts files in the store and then, when given, writes the index (and the
   * name's record): one job on a store thread (store-threads.ts), in that
   * order, with every byte sent in one buffer.
   */
  async #write(
    files: readonly (readonly [IndexedFile, Uint8Array])[],
    index?: FileIndex,
  ): Promise<void> {
    const { writes, chunks } = storeWrites(
      this.#root,
      () => this.tmpPath(),
      files,
      index,
      process.umask(),
    );
    if (writes.length === 0) return;
    let total = 0;
    for (const c of chunks) total += c.length;
    const bytes = new Uint8Array(total);
    for (let i = 0, at = 0; i < chunks.length; at += chunks[i++].length) bytes.set(chunks[i], at);
    await storeThreads.write(writes, bytes);
  }
}

function toMode(d: DamagedFile): Pick<IndexedFile, "sha256" | "mode"> {
  return { sha256: d.sha256, mode: d.executable ? EXEC_MODE : 0o644 };
}
