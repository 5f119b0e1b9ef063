/**
 * Fills the reverse index of file indexes (src/registry/withheld.ts) for
 * versions recorded before it existed, from the index blobs this copy
 * holds: without it, a file an old live version shares with a taken-down
 * one would look listed by taken-down versions only, and be withheld.
 * Runs at start; a version whose index blob is not held is left for the
 * next start (its files are not held either).
 */

import type { RegistryState } from "../registry/state.ts";
import { recordVersionFiles, versionsLackingFiles } from "../registry/withheld.ts";
import { parseFileIndex } from "./file-index.ts";

export async function backfillVersionFiles(
  state: RegistryState,
  blob: (sha256: string) => Promise<Uint8Array | undefined>,
): Promise<number> {
  let filled = 0;
  for (const { ecosystem, name, version, files } of versionsLackingFiles(state.sql)) {
    const bytes = await blob(files);
    if (!bytes) continue;
    let hashes: string[];
    try {
      const index = parseFileIndex(Buffer.from(bytes).toString("utf8"));
      hashes = [...index.files.values()].map((file) => file.sha256);
    } catch {
      // Not an index this copy can read: its version's files are unknown, as before the index.
      continue;
    }
    recordVersionFiles(state.sql, ecosystem, name, version, hashes);
    filled++;
  }
  return filled;
}
