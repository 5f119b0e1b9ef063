/**
 * The origin's mirror list on disk: `<tree>/mirrors`, a note signed with
 * the log key, replaced whole (temporary file, then rename) so the server
 * never serves half a list. Edited while `cairn serve` runs.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { MIRROR_LIST_PATH, openMirrorList, signMirrorList } from "../client/mirror-list.ts";
import { normalizeBaseUrl } from "../client/urls.ts";
import { syncDir, writeFileDurably } from "../util/durable-file.ts";
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
  const target = join(treeDir, MIRROR_LIST_PATH);
  const tmp = `${target}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFileDurably(tmp, new TextEncoder().encode(note), true, "wx");
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(treeDir);
  return mirrors;
}
