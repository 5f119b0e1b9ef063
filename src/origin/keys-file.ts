/**
 * The origin's `keys` file (src/registry/key-chain-log.ts): rewritten whole
 * from the state's `key` entries whenever it differs from them, so a crash
 * between appending a rotation and writing the file is repaired at the
 * next start.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { KEYS_PATH } from "../log/key-rotation.ts";
import { formatKeysFile, type LoggedKey } from "../registry/key-chain-log.ts";
import { replaceFile, syncDir } from "../util/durable-file.ts";

export async function writeKeysFile(
  treeDir: string,
  chain: readonly LoggedKey[],
  durable: boolean,
): Promise<void> {
  if (chain.length === 0) return;
  const path = join(treeDir, KEYS_PATH);
  const data = formatKeysFile(chain);
  const current = await readFile(path).catch(() => undefined);
  if (current && Buffer.from(current).equals(data)) return;
  await replaceFile(path, data, durable);
  if (durable) await syncDir(treeDir);
}
