/** `cairn gc`: garbage collection of an origin's or a mirror's data directory, safe while it serves. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import { DEFAULT_GRACE_MS, DEFAULT_ORPHAN_GRACE_MS, DEFAULT_RETAIN_FOR_MS } from "../gc/gc.ts";
import { collectDataDir, describeGc } from "../gc/run.ts";
import { RegistryState } from "../registry/state.ts";
import { parseSeconds } from "./options.ts";
import { printJson } from "./output.ts";

export const GC_POLICY = `
Policy. Retained checkpoints: the newest; every checkpoint published within
--retain-for; the first checkpoint holding the newest database entry and the
newest popularity entry. Nothing a retained checkpoint needs is deleted: its
snapshot root, shards, package documents and index-view files, its partial
tiles and bundle, the newest SQLite snapshot.

Garbage: the snapshot files of checkpoints no longer retained; SQLite
snapshots a newer database entry superseded; partial tiles and bundles whose
full tile exists; orphan blobs (stored by a refused publish or import and
named by no entry) older than --orphan-grace; temporary files older than an
hour. Blobs entries name (tarballs, manifests, file indexes, files) are never
garbage.

Two phases: a file is deleted only if an earlier run (at least --grace ago)
found it unreachable too, and it was last written before this run began
minus the grace; storing a blob again refreshes it. Readers holding a
checkpoint that is no longer retained get 404 for its snapshot files, fetch
the newest checkpoint and retry. Safe while cairn serve or cairn mirror
runs; both can run it on a schedule (--gc-interval).
`;

interface GcFlags {
  data: string;
  dryRun?: boolean;
  grace: number;
  retainFor: number;
  orphanGrace: number;
  json?: boolean;
}

export function registerGcCommands(program: Command): void {
  program
    .command("gc")
    .description("delete what no retained checkpoint needs from an origin's or a mirror's tree")
    .addHelpText("after", GC_POLICY)
    .option("--data <dir>", "the data directory (an origin's or a mirror's)", "./cairn-data")
    .option("--dry-run", "report what would be deleted, delete nothing")
    .option(
      "--grace <seconds>",
      "how long a file stays after it is first found unreachable",
      parseSeconds("grace", 0),
      DEFAULT_GRACE_MS / 1000,
    )
    .option(
      "--retain-for <seconds>",
      "keep every checkpoint published this recently",
      parseSeconds("retain-for", 0),
      DEFAULT_RETAIN_FOR_MS / 1000,
    )
    .option(
      "--orphan-grace <seconds>",
      "how old an orphan blob must be",
      parseSeconds("orphan-grace", 0),
      DEFAULT_ORPHAN_GRACE_MS / 1000,
    )
    .option("--json", "print the report as JSON")
    .action(async (flags: GcFlags) => {
      const statePath = join(flags.data, "state.sqlite");
      const state = existsSync(statePath)
        ? RegistryState.open(statePath, { readOnly: true, ecosystems: ECOSYSTEMS, anySchema: true })
        : undefined;
      try {
        const report = await collectDataDir({
          dataDir: flags.data,
          dryRun: flags.dryRun,
          grace: flags.grace * 1000,
          retainFor: flags.retainFor * 1000,
          orphanGrace: flags.orphanGrace * 1000,
          // Without the state, no orphan can be shown unnamed: all are kept.
          isNamed: state ? (hex) => state.namesBlob(hex) : undefined,
        });
        if (flags.json) printJson(report);
        else process.stdout.write(describeGc(report));
      } finally {
        state?.close();
      }
    });
}
