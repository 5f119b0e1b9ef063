/**
 * The origin's mirror list on disk: `<tree>/mirrors`, a note signed with
 * the log key, replaced whole (temporary file, then rename) so the server
 * never serves half a list. Edited while `cairn serve` runs.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MIRROR_LIST_PATH, openMirrorList, signMirrorList } from "../log/mirror-list.ts";
import { normalizeBaseUrl } from "../log/urls.ts";
import { replaceFile, syncDir } from "../util/durable-file.ts";
import type { OriginKey } from "./keys.ts";

export async function readMirrorList(treeDir: string, key: OriginKey): Promise<string[]> {
  let note: Uint8Array;
  try {
    note = await readFile(join(treeDir, MIRROR_LIST_PATH));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return [...openMirrorList(note, key.verifier).mirrors];
}

/** Applies `edit` to the list of mirror base URLs and publishes the newly signed list. */
export async function editMirrorList(
  treeDir: string,
  key: OriginKey,
  edit: (mirrors: string[]) => string[],
): Promise<string[]> {
  const mirrors = [...new Set(edit(await readMirrorList(treeDir, key)).map(normalizeBaseUrl))];
  const note = signMirrorList(
    { origin: key.origin, updated: new Date().toISOString(), mirrors },
    key.signer,
  );
  await replaceFile(join(treeDir, MIRROR_LIST_PATH), new TextEncoder().encode(note), true);
  await syncDir(treeDir);
  return mirrors;
}
