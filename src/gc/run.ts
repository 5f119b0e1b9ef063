/** Garbage collection of a data directory (origin or mirror): its tree, its GC state, its orphan journal. */
import { join } from "node:path";
import type { BlobStore } from "../store/blobs.ts";
import { DirectoryTree } from "../store/tree-files.ts";
import { collectGarbage, type GcOptions, type GcReport } from "./gc.ts";
import { takeOrphans } from "./orphans.ts";
import { readGcState, writeGcState } from "./retention.ts";

export interface DataDirGcOptions
  extends Pick<
    GcOptions,
    "grace" | "retainFor" | "orphanGrace" | "dryRun" | "isNamed" | "afterMark" | "now"
  > {
  readonly dataDir: string;
  /** The store the serving process writes blobs through, when GC runs inside it. */
  readonly blobs?: BlobStore;
}

export async function collectDataDir(options: DataDirGcOptions): Promise<GcReport> {
  const treeDir = join(options.dataDir, "tree");
  const tracker = options.blobs?.trackPuts();
  try {
    const orphans = await takeOrphans(options.dataDir);
    const report = await collectGarbage({
      ...options,
      tree: new DirectoryTree(treeDir, { blobs: options.blobs, tracker }),
      state: { read: () => readGcState(treeDir), write: (s) => writeGcState(treeDir, s) },
      orphans: orphans.hashes,
    });
    // A dry run recorded nothing: the next run takes the same journal again.
    if (!options.dryRun) await orphans.done();
    return report;
  } finally {
    tracker?.stop();
  }
}

/** The lines `cairn gc` prints. */
export function describeGc(report: GcReport): string {
  const verb = report.dryRun ? "would free" : "freed";
  const lines = [
    `checkpoint ${report.size}: ${report.retained.length} checkpoint(s) retained, ${report.marked} snapshot files marked (${report.markMs} ms)`,
  ];
  for (const [kind, { files, bytes }] of Object.entries(report.freed))
    lines.push(`  ${kind.padEnd(10)} ${verb} ${files} file(s), ${bytes} bytes`);
  lines.push(`  ${report.pending} file(s) wait for the grace period (sweep ${report.sweepMs} ms)`);
  return `${lines.join("\n")}\n`;
}
