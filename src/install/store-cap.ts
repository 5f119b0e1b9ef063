/**
 * A size cap for the install store (`cairn store prune --max-size`): the
 * packages a project links are always kept; the others are kept most
 * recently linked first while the store's files fit the cap. A package's
 * last link is the newest ctime of its files (linking or unlinking a hard
 * link changes its inode's ctime). A package pruned is fetched and verified
 * again by the next install that needs it.
 */
import { stat } from "node:fs/promises";
import pLimit from "p-limit";
import type { FileIndex } from "../npm/file-index.ts";
import type { PackageStore } from "./store.ts";
import { type PackageRef, storedIndexes } from "./store-maintenance.ts";

interface Sized {
  readonly index: FileIndex;
  readonly files: ReadonlyMap<string, number>;
  readonly lastLink: number;
}

/** The integrities to keep so that the store holds at most `maxBytes` beyond what `linked` needs. */
export async function keepWithin(
  store: PackageStore,
  linked: readonly PackageRef[],
  maxBytes: number,
): Promise<string[]> {
  const limit = pLimit(32);
  const sized: Sized[] = await Promise.all(
    (await storedIndexes(store)).map(async (index) => {
      const files = new Map<string, number>();
      let lastLink = 0;
      await Promise.all(
        [...index.files.values()].map((f) =>
          limit(async () => {
            const path = store.filePath(f);
            const st = await stat(path).catch(() => undefined);
            if (!st) return;
            files.set(path, st.size);
            lastLink = Math.max(lastLink, st.ctimeMs);
          }),
        ),
      );
      return { index, files, lastLink };
    }),
  );
  const linkedKeys = new Set(linked.map((p) => p.integrity));
  const counted = new Set<string>();
  let used = 0;
  const extra = (s: Sized) => {
    let bytes = 0;
    for (const [path, size] of s.files) if (!counted.has(path)) bytes += size;
    return bytes;
  };
  const count = (s: Sized) => {
    used += extra(s);
    for (const path of s.files.keys()) counted.add(path);
  };
  const keep: string[] = [];
  for (const s of sized.filter((s) => linkedKeys.has(s.index.tarball.integrity))) {
    count(s);
    keep.push(s.index.tarball.integrity);
  }
  const rest = sized
    .filter((s) => !linkedKeys.has(s.index.tarball.integrity))
    .sort((a, b) => b.lastLink - a.lastLink);
  for (const s of rest) {
    if (used + extra(s) > maxBytes) continue;
    count(s);
    keep.push(s.index.tarball.integrity);
  }
  return keep;
}
