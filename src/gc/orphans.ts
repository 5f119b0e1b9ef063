/**
 * The orphan journal: blobs a write stored before its entry was refused
 * (a publish the sequencer turned down, an uplink import that failed),
 * which no entry may ever name. Writers append their hashes; garbage
 * collection takes the journal whole (renamed aside, so lines appended
 * meanwhile start a new one), and deletes each blob no entry names once
 * it is older than the orphan grace (src/gc/gc.ts).
 */
import { appendFile, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";

const JOURNAL = "gc-orphans";
const TAKEN = "gc-orphans.taken";
const HEX64 = /^[0-9a-f]{64}$/;

/** Notes blobs a refused write left in the tree of `dataDir`; best effort (an unlisted orphan only wastes space). */
export async function recordOrphans(dataDir: string, hashes: readonly string[]): Promise<void> {
  if (hashes.length === 0) return;
  await appendFile(join(dataDir, JOURNAL), hashes.map((h) => `${h}\n`).join("")).catch(() => {});
}

export interface TakenOrphans {
  readonly hashes: readonly string[];
  /** Forgets the journal taken, once the collection has recorded its hashes. */
  done(): Promise<void>;
}

/** The journal so far; a journal taken by a run that did not finish is taken again first. */
export async function takeOrphans(dataDir: string): Promise<TakenOrphans> {
  const taken = join(dataDir, TAKEN);
  let text = await readFile(taken, "utf8").catch(() => undefined);
  if (text === undefined) {
    await rename(join(dataDir, JOURNAL), taken).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
    text = await readFile(taken, "utf8").catch(() => "");
  }
  return {
    hashes: [...new Set(text.split("\n").filter((line) => HEX64.test(line)))],
    done: () => rm(taken, { force: true }),
  };
}
