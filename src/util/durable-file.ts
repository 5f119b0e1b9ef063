/** File writes that can be made durable: the data, and the directory entry that names it. */
import { open } from "node:fs/promises";

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
