/**
 * The store's writes, as plain synchronous functions of paths and bytes,
 * so that a worker thread (store-threads.ts) can run them while the main
 * thread fetches, checks and unpacks. What to write where is decided by
 * the store (store.ts); these only carry it out.
 */
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fstatSync,
  futimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";

/** How far in the past a stored file's mtime is set. */
export const SETTLE_MS = 2000;

/** One file to put in the store. */
export interface FilePut {
  readonly kind: "file";
  /** Where it goes (PackageStore.filePath). */
  readonly target: string;
  /** A fresh temporary name on the store's file system (PackageStore.tmpPath, store-layout.ts's tmpNames), for a copy that replaces a file already there. */
  readonly tmp: string;
  readonly sha256: string;
  readonly size: number;
  /** The store mode, 0o444 or 0o555. */
  readonly mode: number;
  /** Whether the umask takes bits off `mode`, so an fchmod must put them back. */
  readonly chmod: boolean;
}

/** A small file (an index, a name's record) written whole under a temporary name and renamed over `target`. */
export interface FileReplace {
  readonly kind: "replace";
  readonly target: string;
  readonly tmp: string;
  readonly size: number;
}

export type StoreWrite = FilePut | FileReplace;

/**
 * Writes as one string, for a worker: a structured clone of thousands of
 * small objects cost more than the writes. Fields are separated by NUL,
 * which no path holds.
 */
export function encodeWrites(writes: readonly StoreWrite[]): string {
  const fields: (string | number)[] = [];
  for (const w of writes)
    if (w.kind === "file")
      fields.push("f", w.target, w.tmp, w.sha256, w.size, w.mode, w.chmod ? 1 : 0);
    else fields.push("r", w.target, w.tmp, w.size);
  return fields.join("\0");
}

export function decodeWrites(text: string): StoreWrite[] {
  const f = text === "" ? [] : text.split("\0");
  const writes: StoreWrite[] = [];
  for (let i = 0; i < f.length; ) {
    if (f[i] === "f") {
      const [target, tmp, sha256, size, mode, chmod] = f.slice(i + 1, i + 7);
      writes.push({
        kind: "file",
        target,
        tmp,
        sha256,
        size: Number(size),
        mode: Number(mode),
        chmod: chmod === "1",
      });
      i += 7;
    } else {
      writes.push({ kind: "replace", target: f[i + 1], tmp: f[i + 2], size: Number(f[i + 3]) });
      i += 4;
    }
  }
  return writes;
}

/** Runs writes in order, each taking its bytes from `data` in turn. */
export function runWritesSync(writes: readonly StoreWrite[], data: Uint8Array): void {
  let at = 0;
  for (const w of writes) {
    runWriteSync(w, data.subarray(at, at + w.size));
    at += w.size;
  }
}

export function runWriteSync(write: StoreWrite, data: Uint8Array): void {
  if (write.kind === "file") putFileSync(write, data);
  else replaceFileSync(write, data);
}

export function isCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException).code ?? "");
}

/** Whether `path` (whose stat is `st`, undefined when absent) holds exactly these bytes. */
export function isIntactSync(
  path: string,
  file: { sha256: string; size: number },
  st = statSync(path, { throwIfNoEntry: false }),
): boolean {
  if (st?.size !== file.size) return false;
  return createHash("sha256").update(readFileSync(path)).digest("hex") === file.sha256;
}

export function unlinkIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (!isCode(err, "ENOENT")) throw err;
  }
}

/**
 * Puts one file in place: created under its own name (O_EXCL) and written
 * there, four system calls for a new file (open, write, futimes, close)
 * where a temporary name linked into place took seven.
 *
 * Why that is safe although the name now exists while its bytes are being
 * written:
 * - A crash mid-write leaves the file short (a file's size grows only as
 *   its bytes are copied in) or, after the last byte but before futimes,
 *   whole with a fresh mtime. No index names it yet: an index is written
 *   only after every one of its files was put (storeWrites). A later put
 *   finds the name taken (EEXIST) and hashes what is there; a later check
 *   of an older index naming the same bytes (checkFiles) finds a short file
 *   by its size and re-hashes one with a fresh mtime. Either way the
 *   file is replaced, never linked as it is.
 * - Two writers at once: only one creates the name; the other gets EEXIST
 *   and hashes the file, and if the first is not done yet (or crashed),
 *   writes its own copy under `tmp` and renames it over the name, which
 *   is atomic. The first writer then goes on writing into an inode that no
 *   longer has a name. Each returns only once the name holds whole bytes.
 * - A damaged file already there is replaced the same way.
 * A write that fails (a full disk) removes the name it made, unless a
 * concurrent writer's copy has replaced it since.
 */
export function putFileSync(put: FilePut, data: Uint8Array): void {
  let fd: number;
  try {
    fd = openSync(put.target, "wx", put.mode);
  } catch (err) {
    if (!isCode(err, "EEXIST")) throw err;
    const st = statSync(put.target, { throwIfNoEntry: false });
    if (st === undefined || !isIntactSync(put.target, put, st)) replaceByRenameSync(put, data);
    // Made writable through a project's link: read-only again before this install links it too.
    else if ((st.mode & 0o777) !== put.mode) chmodSync(put.target, put.mode);
    return;
  }
  try {
    writeSettledSync(fd, put, data);
  } catch (err) {
    removeIfOwnSync(put.target, fd);
    throw err;
  } finally {
    closeSync(fd);
  }
}

/** Writes a new store file's bytes, then sets its mtime in the past and its mode. */
function writeSettledSync(fd: number, put: FilePut, data: Uint8Array): void {
  // writeFileSync on a descriptor writes until every byte is down (a bare write may stop short).
  writeFileSync(fd, data);
  const settled = new Date(Date.now() - SETTLE_MS);
  futimesSync(fd, settled, settled);
  if (put.chmod) fchmodSync(fd, put.mode);
}

/** Replaces what is at `put.target` with these bytes, atomically, through a temporary name. */
function replaceByRenameSync(put: FilePut, data: Uint8Array): void {
  try {
    const fd = openSync(put.tmp, "wx", put.mode);
    try {
      writeSettledSync(fd, put, data);
    } finally {
      closeSync(fd);
    }
    renameSync(put.tmp, put.target);
  } catch (err) {
    unlinkIfThere(put.tmp);
    throw err;
  }
}

/** Unlinks `path` if it is still the file open as `fd` (not a copy renamed over it since). */
function removeIfOwnSync(path: string, fd: number): void {
  try {
    const own = fstatSync(fd);
    const there = statSync(path, { throwIfNoEntry: false });
    if (there?.ino === own.ino && there.dev === own.dev) unlinkSync(path);
  } catch {
    // The write's own error is the one to report.
  }
}

/** Writes a read-only file under `tmp` and renames it over `target` (its folder made first). */
export function replaceFileSync(write: FileReplace, data: Uint8Array): void {
  mkdirSync(dirname(write.target), { recursive: true });
  try {
    const fd = openSync(write.tmp, "wx", 0o444);
    try {
      writeFileSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(write.tmp, write.target);
  } catch (err) {
    unlinkIfThere(write.tmp);
    throw err;
  }
}
