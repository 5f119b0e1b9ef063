/** File writes that can be made durable: the data, and the directory entry that names it. */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";

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
