/**
 * `cairn store verify` re-hashes every file of the install store;
 * `cairn store prune` removes the packages no project links any more.
 */
import { join } from "node:path";
import type { Command } from "commander";
import { PackageStore } from "../install/store.ts";
import { keepWithin } from "../install/store-cap.ts";
import { linkedPackages, pruneStore, verifyStore } from "../install/store-maintenance.ts";
import { defaultStateDir, parseSize } from "./options.ts";

/** Where installs keep the per-file store: `$CAIRN_HOME/store` (CAIRN_HOME defaults to ~/.cairn). */
export function defaultStoreDir(): string {
  return join(defaultStateDir(), "store");
}

const storeOption = (cmd: Command) =>
  cmd.option("--store <dir>", "the install store (default: $CAIRN_HOME/store)");

export function registerStoreCommands(program: Command): void {
  const store = program.command("store").description("check and clean the install store");

  storeOption(
    store
      .command("verify")
      .description("re-hash every stored file; exit 1 if any is missing or damaged")
      .option("--fix", "remove damaged files and the packages they break, to be fetched again"),
  ).action(async (flags: { store?: string; fix?: boolean }) => {
    const opened = await PackageStore.open(flags.store ?? defaultStoreDir());
    const report = await verifyStore(opened, { removeDamaged: flags.fix === true });
    for (const d of report.damaged) {
      const users = d.packages.map((p) => `${p.name}@${p.version}`).join(", ");
      process.stdout.write(`${d.problem} ${d.path} (sha256 ${d.sha256}) in ${users}\n`);
    }
    for (const path of report.badIndexes) process.stdout.write(`unreadable index ${path}\n`);
    const problems = report.damaged.length + report.badIndexes.length;
    process.stdout.write(
      `${report.checked} files checked, ${report.damaged.length} damaged, ${report.badIndexes.length} unreadable indexes\n`,
    );
    if (problems === 0) return;
    if (flags.fix)
      process.stdout.write(
        "removed: the packages they broke are fetched again on the next install\n",
      );
    else process.exitCode = 1;
  });

  storeOption(
    store
      .command("prune")
      .description("remove the packages no project links any more, and their files")
      .option(
        "--max-size <size>",
        "keep packages no project links too, most recently linked first, while the store fits this size (e.g. 5G)",
        parseSize,
      ),
  ).action(async (flags: { store?: string; maxSize?: number }) => {
    const opened = await PackageStore.open(flags.store ?? defaultStoreDir());
    const linked = await linkedPackages(opened);
    const keep =
      flags.maxSize === undefined
        ? linked.map((p) => p.integrity)
        : await keepWithin(opened, linked, flags.maxSize);
    const report = await pruneStore(opened, keep);
    process.stdout.write(
      `kept ${keep.length} packages; removed ${report.removedIndexes} packages and ${report.removedFiles} files (${report.freedBytes} bytes)\n`,
    );
  });
}
