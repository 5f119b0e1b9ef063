/** `cairn mirror` (copy and serve another server's tree) and `cairn mirrors` (the origin's list of them). */
import type { Command } from "commander";
import { CARGO_INDEX_PREFIX } from "../cargo/read-api.ts";
import { LogClient } from "../client/log-client.ts";
import { checkMirrors, formatStandings } from "../client/mirror-health.ts";
import { parseVerifierKey } from "../log/index.ts";
import { normalizeBaseUrl } from "../log/urls.ts";
import { Mirror, type SyncResult } from "../mirror/mirror.ts";
import { startMirror } from "../mirror/server.ts";
import { loadConfig } from "../origin/config.ts";
import { dataPaths } from "../origin/data-paths.ts";
import { loadOrCreateKey } from "../origin/keys.ts";
import { editMirrorList, readMirrorList } from "../origin/mirror-list-file.ts";
import { DEFAULT_LOG_LEVEL, type LogLevel } from "../util/log-level.ts";
import {
  collectGateway,
  defaultStateDir,
  GATEWAY_HELP,
  LOG_LEVEL_HELP,
  parseLogLevel,
  parsePort,
  parseSeconds,
  parseTimeoutMs,
} from "./options.ts";
import { progressBar } from "./output.ts";
import {
  CLIENT_MAX_AGE,
  SERVER_MAX_AGE,
  type WitnessFlags,
  witnessOptions,
  witnessPolicyOf,
} from "./witness-options.ts";

interface MirrorFlags extends WitnessFlags {
  from: string;
  key: string;
  data: string;
  host: string;
  port: number;
  interval: number;
  gcInterval: number;
  once?: boolean;
  durable: boolean;
  gateway: string[];
  timeout: number;
  logLevel: LogLevel;
}

function describeSync(r: SyncResult): string {
  const what =
    r.toSize === r.fromSize
      ? `up to date at size ${r.toSize}`
      : `size ${r.fromSize} -> ${r.toSize}: ${r.toSize - r.fromSize} entries, ${r.bundles} bundles, ${r.tiles} tiles, ${r.blobs} blobs`;
  return `${what}; fetched ${r.bytes} bytes in ${r.requests} requests`;
}

function logProblem(err: Error): void {
  process.stderr.write(`cairn mirror: ${err.message}\n`);
}

export function registerMirrorCommands(program: Command): void {
  witnessOptions(program.command("mirror"))
    .description(
      "keep a verified copy of a registry's static tree (from its origin or another mirror) and serve it, with the npm read API",
    )
    .requiredOption("--from <url>", "the origin or mirror to copy (its base URL)")
    .requiredOption("--key <verifier-key>", "the origin's verifier key (name+keyid+base64)")
    .option(
      "--data <dir>",
      "where the copy lives: tree/ is plain files any web server can serve",
      "./cairn-mirror",
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", parsePort, 4874)
    .option("--interval <seconds>", "seconds between syncs", parseSeconds("interval"), 60)
    .option(
      "--gc-interval <seconds>",
      "seconds between garbage collections of the copy, each between two syncs (see cairn gc --help); 0: never",
      parseSeconds("interval", 0),
      3600,
    )
    .option("--once", "sync once and exit, without serving (for cron)")
    .option("--no-durable", "do not fsync the copy (throwaway mirrors only)")
    .option("--gateway <url>", GATEWAY_HELP, collectGateway, [])
    .option(
      "--timeout <ms>",
      "milliseconds before a request upstream is abandoned",
      parseTimeoutMs,
      30_000,
    )
    .option("--log-level <level>", LOG_LEVEL_HELP, parseLogLevel, DEFAULT_LOG_LEVEL)
    .action(async (flags: MirrorFlags) => {
      const verifier = parseVerifierKey(flags.key);
      const common = {
        from: flags.from,
        verifier,
        policy: witnessPolicyOf(flags, SERVER_MAX_AGE),
        dataDir: flags.data,
        durable: flags.durable,
        gateways: flags.gateway,
        timeoutMs: flags.timeout,
        onProblem: logProblem,
      };
      if (flags.once) {
        let bar: ReturnType<typeof progressBar> | undefined;
        const mirror = await Mirror.open({
          ...common,
          onProgress: ({ entries, totalEntries }) => {
            bar ??= progressBar("syncing", totalEntries, 1024);
            bar.update(entries, totalEntries);
          },
        });
        try {
          const result = await mirror.sync();
          bar?.stop();
          process.stdout.write(`synced from ${flags.from}: ${describeSync(result)}\n`);
        } finally {
          bar?.stop();
          mirror.close();
        }
        return;
      }
      const running = await startMirror({
        ...common,
        logLevel: flags.logLevel,
        host: flags.host,
        port: flags.port,
        intervalMs: flags.interval * 1000,
        gcIntervalMs: flags.gcInterval * 1000,
        onGc: (r) => {
          if (r instanceof Error) logProblem(r);
        },
        onSync: (r) => {
          if (r instanceof Error) logProblem(r);
          else if (r.toSize !== r.fromSize) process.stdout.write(`synced: ${describeSync(r)}\n`);
        },
      });
      const held = running.mirror.checkpoint;
      process.stdout.write(
        `cairn mirror of ${flags.from} listening on ${running.url}\n` +
          `tree:         ${running.url}-/cairn/ ${held ? `(size ${held.size})` : "(first sync running)"}, files in ${flags.data}/tree\n` +
          `npm registry: ${running.url}${held ? "" : " (through the signed snapshot upstream until the first sync lands)"}\n` +
          `cargo index:  sparse+${running.url}${CARGO_INDEX_PREFIX.slice(1)}\n`,
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await running.close();
    });

  const mirrors = program
    .command("mirrors")
    .description("the origin's signed list of mirrors, served at /-/cairn/mirrors");
  const originData = (cmd: Command) =>
    cmd
      .option("--data <dir>", "the origin's data directory (default: ./cairn-data)")
      .option("--config <file>", "JSON config file (default: <data>/config.json)");
  const openOrigin = async (flags: { data?: string; config?: string }) => {
    const config = await loadConfig({ data: flags.data }, flags.config);
    const paths = dataPaths(config.data);
    return { tree: paths.tree, key: await loadOrCreateKey(paths.key, config.origin), config };
  };

  originData(
    mirrors
      .command("add")
      .description("add a mirror to the list (works while cairn serve runs)")
      .argument("<url>", "the mirror's base URL"),
  ).action(async (url: string, flags: { data?: string; config?: string }) => {
    const { tree, key } = await openOrigin(flags);
    const list = await editMirrorList(tree, key, (m) => [...m, url]);
    process.stdout.write(`${list.length} mirror(s):\n${list.map((u) => `  ${u}\n`).join("")}`);
  });

  originData(
    mirrors
      .command("rm")
      .description("remove a mirror from the list")
      .argument("<url>", "the mirror's base URL"),
  ).action(async (url: string, flags: { data?: string; config?: string }) => {
    const { tree, key } = await openOrigin(flags);
    const gone = normalizeBaseUrl(url);
    if (!(await readMirrorList(tree, key)).includes(gone))
      throw new Error(`${gone} is not on the mirror list`);
    const list = await editMirrorList(tree, key, (m) => m.filter((u) => u !== gone));
    process.stdout.write(`${list.length} mirror(s):\n${list.map((u) => `  ${u}\n`).join("")}`);
  });

  originData(mirrors.command("list").description("print the mirror list")).action(
    async (flags: { data?: string; config?: string }) => {
      const { tree, key } = await openOrigin(flags);
      for (const url of await readMirrorList(tree, key)) process.stdout.write(`${url}\n`);
    },
  );

  witnessOptions(mirrors.command("check"))
    .description(
      "fetch each listed mirror's checkpoint and report whether it answers, how far behind it is, and whether it is consistent",
    )
    .requiredOption("--origin <url>", "the origin's base URL")
    .requiredOption("--key <verifier-key>", "the origin's verifier key")
    .option("--mirror <url...>", "check these mirrors too")
    .option(
      "--state <dir>",
      "where the last verified checkpoint is kept (default: $CAIRN_HOME or ~/.cairn)",
    )
    .option(
      "--timeout <ms>",
      "milliseconds before a mirror counts as not answering",
      parseTimeoutMs,
      10_000,
    )
    .action(
      async (
        flags: {
          origin: string;
          key: string;
          mirror?: string[];
          state?: string;
          timeout: number;
        } & WitnessFlags,
      ) => {
        const client = await LogClient.open({
          origin: flags.origin,
          verifier: parseVerifierKey(flags.key),
          policy: witnessPolicyOf(flags, CLIENT_MAX_AGE),
          stateDir: flags.state ?? defaultStateDir(),
          mirrors: flags.mirror ?? [],
          timeoutMs: flags.timeout,
          maxLag: Number.MAX_SAFE_INTEGER,
        });
        const standings = await checkMirrors(client);
        process.stdout.write(`${formatStandings(client.checkpoint?.size ?? 0, standings)}\n`);
        const failed = standings.filter((s) => s.error).length;
        if (failed > 0)
          throw new Error(`${failed} of ${standings.length} mirror(s) failed the check`);
      },
    );
}
