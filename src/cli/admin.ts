/** `cairn import` and `cairn rebuild`: work on a registry's data directory while its server is stopped. */
import type { Command } from "commander";
import { findTarballs, importTarballs } from "../npm/import.ts";
import { loadConfig } from "../origin/config.ts";
import { dataPaths } from "../origin/data-paths.ts";
import { loadOriginKey } from "../origin/key-rotation.ts";
import { Registry } from "../origin/registry.ts";
import { loadOrCreateRegistrySigner, retireRegistryKey } from "../origin/registry-signer.ts";
import { progressBar } from "./output.ts";

async function openRegistry(
  flags: { data?: string; config?: string },
  rebuild = false,
): Promise<Registry> {
  const config = await loadConfig({ data: flags.data }, flags.config);
  const paths = dataPaths(config.data);
  const key = await loadOriginKey(config.data, config.origin);
  const registrySigner = await loadOrCreateRegistrySigner(paths.registryKey);
  return Registry.open({
    dataDir: config.data,
    key,
    registrySigner,
    durable: config.durable,
    rebuild,
  });
}

export function registerAdminCommands(program: Command): void {
  program
    .command("import")
    .description(
      "publish package tarballs straight into the registry, to seed it (stop cairn serve first)",
    )
    .argument("<paths...>", ".tgz files, or directories searched for them")
    .requiredOption("--user <name>", "the user the packages are published as (becomes their owner)")
    .option("--data <dir>", "data directory (default: ./cairn-data)")
    .option("--config <file>", "JSON config file (default: <data>/config.json)")
    .action(async (paths: string[], flags: { user: string; data?: string; config?: string }) => {
      const files = await findTarballs(paths);
      const registry = await openRegistry(flags);
      const bar = progressBar("importing", files.length, 50);
      try {
        const result = await importTarballs(registry, flags.user, files, (done) =>
          bar.update(done, files.length),
        );
        bar.stop();
        process.stdout.write(
          `imported ${result.published} versions, skipped ${result.skipped} already present, ${result.failed.length} failed; log size ${registry.appender.size}\n`,
        );
        for (const { file, error } of result.failed) process.stderr.write(`  ${file}: ${error}\n`);
        if (result.failed.length > 0) process.exitCode = 1;
      } finally {
        bar.stop();
        await registry.close();
      }
    });

  program
    .command("sign")
    .description(
      "sign every version the npm registry key has not signed; with --rotate, replace the key first (stop cairn serve first)",
    )
    .option(
      "--rotate",
      "retire the registry key: the log expires it and every version is signed again",
    )
    .option("--data <dir>", "data directory (default: ./cairn-data)")
    .option("--config <file>", "JSON config file (default: <data>/config.json)")
    .action(async (flags: { rotate?: boolean; data?: string; config?: string }) => {
      const config = await loadConfig({ data: flags.data }, flags.config);
      if (flags.rotate) {
        const retired = await retireRegistryKey(dataPaths(config.data).registryKey);
        process.stdout.write(`retired the registry key to ${retired}\n`);
      }
      // Opening the registry puts its key in the log and signs what it has not signed.
      const registry = await openRegistry(flags);
      const keys = registry.state.registryKeys?.entry.keys ?? [];
      await registry.close();
      for (const key of keys)
        process.stdout.write(
          `${key.keyid} ${key.expires === null ? "signing" : `expired ${key.expires}`}\n`,
        );
    });

  program
    .command("rebuild")
    .description("recreate the derived database from the log alone (stop cairn serve first)")
    .option("--data <dir>", "data directory (default: ./cairn-data)")
    .option("--config <file>", "JSON config file (default: <data>/config.json)")
    .action(async (flags: { data?: string; config?: string }) => {
      const registry = await openRegistry(flags, true);
      const size = registry.state.logSize;
      await registry.close();
      process.stdout.write(`rebuilt the database from ${size} log entries\n`);
    });
}
