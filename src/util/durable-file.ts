/** File writes that can be made durable: the data, and the directory entry that names it. */
import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";

/** Writes `data` to `path` (created or truncated); with `durable`, its data is on disk on return. */
export async function writeFileDurably(
  path: string,
  data: Uint8Array,
  durable: boolean,
  flags = "w",
): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.writeFile(data);
    if (durable) await handle.datasync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes each file (created or truncated) and then, with `durable`, makes
 * the data and the entries of `dirs` durable in one round: every datasync
 * and directory fsync at once. A directory's fsync needs the entry to
 * exist, not the file's data on disk, so neither waits for the other.
 */
export async function writeFilesDurably(
  files: readonly { readonly path: string; readonly data: Uint8Array }[],
  durable: boolean,
  dirs: Iterable<string> = [],
): Promise<void> {
  await withWritten(files, durable, dirs, async (handle, file) => {
    const opened = await open(file.path, "w");
    handle(opened);
    await opened.writeFile(file.data);
  });
}

/**
 * Puts each file at its target whole or not at all (written to a fresh
 * `tmp`, renamed over the target), then with `durable` syncs the data and
 * `dirs` in one round. The rename comes before the data is on disk, so a
 * crash may leave a target with lost bytes: only for files named by the
 * hash of their content, which a reader checks and a rewrite replaces.
 */
export async function placeHashNamedFiles(
  files: readonly { readonly target: string; readonly tmp: string; readonly data: Uint8Array }[],
  durable: boolean,
  dirs: Iterable<string>,
): Promise<void> {
  await withWritten(files, durable, dirs, async (handle, file) => {
    const opened = await open(file.tmp, "wx");
    handle(opened);
    try {
      await opened.writeFile(file.data);
      await rename(file.tmp, file.target);
    } catch (err) {
      await rm(file.tmp, { force: true });
      throw err;
    }
  });
}

/** Runs `write` for every file, keeping the handles it opens, then syncs them and `dirs` together and closes them. */
async function withWritten<F>(
  files: readonly F[],
  durable: boolean,
  dirs: Iterable<string>,
  write: (handle: (opened: FileHandle) => void, file: F) => Promise<void>,
): Promise<void> {
  const handles: FileHandle[] = [];
  try {
    const written = await Promise.allSettled(files.map((f) => write((h) => handles.push(h), f)));
    for (const result of written) if (result.status === "rejected") throw result.reason;
    if (durable)
      await Promise.all([...handles.map((h) => h.datasync()), ...[...dirs].map(syncDir)]);
  } finally {
    await Promise.allSettled(handles.map((h) => h.close()));
  }
}

/** Makes the entries of `dir` (new files, renames) durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Puts `data` at `target` whole or not at all: written to `tmp` (beside the
 * target unless given; created, never reused), then renamed over it. With
 * `durable`, the data is on disk before the rename; the caller syncs the
 * directory when the rename itself must survive a crash.
 */
export async function replaceFile(
  target: string,
  data: Uint8Array,
  durable: boolean,
  tmp = `${target}.${randomBytes(6).toString("hex")}.tmp`,
): Promise<void> {
  try {
    await writeFileDurably(tmp, data, durable, "wx");
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Creates a file only its owner may read (a private key), durably; fails with
 * EEXIST rather than overwrite one another process created in the meantime.
 */
export async function createPrivateFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, "wx", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Deletes the file unless it was last written at or after `before` (ms
 * since the epoch): what an age-based sweep deletes. The bytes freed, or
 * undefined when the file was kept or absent.
 */
export async function unlinkIfOlder(path: string, before: number): Promise<number | undefined> {
  const found = await stat(path).catch(() => undefined);
  if (found === undefined || found.mtimeMs >= before) return undefined;
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
  return found.size;
}
