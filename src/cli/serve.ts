/** `cairn serve` and `cairn key`: run the origin registry, print its verifier key. */
import { execFile } from "node:child_process";
import { access, chmod } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { Command } from "commander";
import { CARGO_INDEX_PREFIX } from "../cargo/read-api.ts";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import { startOrigin } from "../npm/origin-server.ts";
import { AuthStore } from "../origin/auth.ts";
import {
  ConfigError,
  loadConfig,
  type OriginConfig,
  type UplinkSettings,
} from "../origin/config.ts";
import { dataPaths } from "../origin/data-paths.ts";
import { loadOriginKey } from "../origin/key-rotation.ts";
import { loadOrCreateKey } from "../origin/keys.ts";
import { checkStoredTree } from "../origin/tree-health.ts";
import { parseWitnessSetting } from "../origin/witnesses.ts";
import { RegistryState } from "../registry/state.ts";
import { withheldHashes } from "../registry/withheld.ts";
import type { LogLevel } from "../util/log-level.ts";
import { registerKeySubcommands } from "./key.ts";
import { LOG_LEVEL_HELP, parseCount, parseLogLevel, parsePort, parseSeconds } from "./options.ts";

const execFileAsync = promisify(execFile);

interface ServeFlags {
  data?: string;
  host?: string;
  port?: number;
  origin?: string;
  durable?: boolean;
  signup?: boolean;
  databaseInterval?: number;
  gcInterval?: number;
  popularityInterval?: number;
  snapshotShards?: number;
  logLevel?: LogLevel;
  maxTarballBytes?: number;
  config?: string;
  check?: boolean;
  uplink?: string[];
  local?: string[];
  follow?: string[];
  witness?: string[];
  witnessQuorum?: number;
  witnessTimeout?: number;
  witnessRefresh?: number;
  moderator?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The registry npm on this machine is configured with (what `npm install` would use). */
async function npmRegistry(): Promise<string> {
  try {
    const { stdout } = await execFileAsync("npm", ["config", "get", "registry"], {
      timeout: 30_000,
    });
    return stdout.trim();
  } catch (err) {
    throw new ConfigError(
      `--uplink npm: could not ask npm for its registry: ${(err as Error).message}`,
    );
  }
}

/**
 * `--uplink npm` (the registry npm here uses, named "npm") or
 * `--uplink <name>=<url>`; `--local <pattern>` keeps matching names local.
 */
async function uplinkFlags(
  specs: readonly string[],
  local: readonly string[],
  follow: readonly string[],
): Promise<Pick<OriginConfig, "uplinks" | "packages">> {
  const uplinks: Record<string, UplinkSettings> = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (spec === "npm") uplinks.npm = { url: await npmRegistry() };
    else if (eq > 0) uplinks[spec.slice(0, eq)] = { url: spec.slice(eq + 1) };
    else throw new ConfigError(`--uplink ${spec}: give npm or <name>=<url>`);
  }
  const first = Object.keys(uplinks)[0];
  if (follow.length > 0) {
    if (first === undefined) throw new ConfigError("--follow needs an --uplink to follow");
    uplinks[first] = {
      ...uplinks[first],
      follow: follow.map((spec) => (spec.endsWith(".json") ? resolve(spec) : spec)),
    };
  }
  const packages = Object.fromEntries(local.map((pattern) => [pattern, { uplink: null }]));
  return {
    ...(specs.length > 0 ? { uplinks } : {}),
    ...(local.length > 0 ? { packages } : {}),
  };
}

function witnessFlags(specs: readonly string[]): Pick<OriginConfig, "witnesses"> {
  if (specs.length === 0) return {};
  const witnesses: Record<string, string> = {};
  for (const spec of specs) {
    const { url, key } = parseWitnessSetting(spec);
    witnesses[url] = key;
  }
  return { witnesses };
}

export function registerServeCommands(program: Command): void {
  program
    .command("serve")
    .description("run the origin registry: the npm API and the signed static tree under /-/cairn/")
    .option("--data <dir>", "data directory: key, static tree, database (default: ./cairn-data)")
    .option("--host <host>", "address to listen on (default: 127.0.0.1)")
    .option("--port <port>", "port to listen on (default: 4873)", parsePort)
    .option("--origin <name>", "the log's name (checkpoint origin), used when the key is created")
    .option("--no-durable", "do not fsync before acknowledging (throwaway registries only)")
    .option("--no-signup", "refuse npm adduser for new users; create them with cairn user add")
    .option(
      "--database-interval <seconds>",
      "seconds between SQLite snapshots for new clients; 0: only on SIGHUP (default: 3600)",
      parseSeconds("interval", 0),
    )
    .option(
      "--gc-interval <seconds>",
      "seconds between garbage collections of the static tree (see cairn gc --help); 0: never (default: 3600)",
      parseSeconds("interval", 0),
    )
    .option(
      "--popularity-interval <seconds>",
      "seconds between published popularity sketches of downloads, which LAN peers share by; " +
        "0: never (default: 86400; popularityWindow and popularityThreshold in the config file)",
      parseSeconds("interval", 0),
    )
    .option(
      "--snapshot-shards <n>",
      "shards of the snapshot map, a power of two (default: by the number of packages)",
      parseCount("shard count"),
    )
    .option("--log-level <level>", `${LOG_LEVEL_HELP} (default: info)`, parseLogLevel)
    .option(
      "--max-tarball-bytes <n>",
      "the largest tarball a publish may carry (default: 104857600, 100 MiB)",
      parseCount("size", 1),
    )
    .option(
      "--config <file>",
      "JSON config file with the same settings (default: <data>/config.json)",
    )
    .option(
      "--uplink <uplink>",
      "import packages not published here from an upstream registry: npm (the registry npm " +
        "is configured with) or <name>=<url>; repeatable",
      collect,
    )
    .option(
      "--local <pattern>",
      "names matching this pattern (e.g. '@corp/*') never come from an uplink; repeatable",
      collect,
    )
    .option(
      "--follow <spec>",
      "import eagerly from the first --uplink and keep current: a package (name or name@range, " +
        "with its dependency closure), a package.json or a package-lock.json; repeatable",
      collect,
    )
    .option(
      "--witness <url=vkey>",
      "submit each checkpoint to the witness at this URL (its add-checkpoint prefix) and serve it " +
        "with the witness's cosignature, checked against its verifier key; repeatable",
      collect,
    )
    .option(
      "--witness-quorum <k>",
      "cosignatures a publish waits for before it is acknowledged (default: every witness)",
      parseCount("quorum"),
    )
    .option(
      "--witness-timeout <seconds>",
      "how long a publish waits for the quorum; later cosignatures are added afterwards (default: 2)",
      parseSeconds("timeout"),
    )
    .option(
      "--witness-refresh <seconds>",
      "re-cosign an idle log's checkpoint this often, so clients' maximum age holds (default: 900)",
      parseSeconds("interval", 0),
    )
    .option(
      "--moderator <user>",
      "a user who may take packages down and restore them (PUT/DELETE /-/cairn/takedown); repeatable",
      collect,
    )
    .option(
      "--check",
      "check the whole static tree against the signed checkpoint (every tile, bundle and blob), " +
        "print each damaged file and exit 1 if there is one; does not serve",
    )
    .addHelpText(
      "after",
      "\nSettings come from the defaults, then the config file, then these flags.\n" +
        'Config file example: {"host": "0.0.0.0", "port": 4873, "data": "/var/lib/cairn", "logLevel": "warn"}\n' +
        'Uplinks (config file): {"uplinks": {"npm": {"url": "<registry URL>", "maxAge": 120}},\n' +
        '  "packages": {"@corp/*": {"uplink": null}, "**": {"uplink": "npm"}}}\n' +
        "Tarball caps (config file only, beside maxTarballBytes): maxUnpackedBytes (default 500 MiB),\n" +
        "maxCompressionRatio (default 100: inflated bytes per compressed byte).",
    )
    .action(async (flags: ServeFlags) => {
      const {
        config: configFile,
        durable,
        check,
        uplink,
        local,
        follow,
        witness,
        moderator,
        ...rest
      } = flags;
      // commander sets durable=true by default for --no-durable; only pass it when the flag was used.
      const config = await loadConfig(
        {
          ...rest,
          durable: durable === false ? false : undefined,
          ...(moderator ? { moderators: moderator } : {}),
          ...(await uplinkFlags(uplink ?? [], local ?? [], follow ?? [])),
          ...witnessFlags(witness ?? []),
        },
        configFile,
      );
      if (check) {
        process.exitCode = await checkTree(config.data);
        return;
      }
      await makePrivate(config.data);
      const origin = await startOrigin(config);
      // SIGHUP: publish a SQLite snapshot for new clients now. Listening before the
      // address is printed, so a signal sent on seeing it is never the default (exit).
      const onHangup = () => {
        void origin.publishDatabase().then((published) => {
          if (published)
            process.stdout.write(
              `published the SQLite snapshot at log size ${published.entry.size} (entry ${published.index})\n`,
            );
        });
      };
      process.on("SIGHUP", onHangup);
      const lines = [
        `cairn registry listening on ${origin.url}`,
        `data:         ${config.data}`,
        `log origin:   ${origin.key.origin}`,
        `verifier key: ${origin.key.verifierKey}`,
        `cargo index:  sparse+${origin.url}${CARGO_INDEX_PREFIX.slice(1)}`,
      ];
      const witnessed = origin.witnesses?.status();
      if (witnessed)
        lines.push(`witnesses:    ${witnessed.witnesses.length} (quorum ${witnessed.quorum})`);
      if (origin.key.created)
        lines.push("(a new signing key was created; clients pin the verifier key above)");
      process.stdout.write(`${lines.join("\n")}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      process.off("SIGHUP", onHangup);
      await origin.close();
    });

  program
    .command("user")
    .description("manage registry users")
    .command("add")
    .description(
      "create a user (works while cairn serve runs); reads the password from standard input",
    )
    .argument("<name>", "the user name")
    .option("--data <dir>", "data directory (default: ./cairn-data)")
    .option("--config <file>", "JSON config file (default: <data>/config.json)")
    .action(async (name: string, flags: { data?: string; config?: string }) => {
      const config = await loadConfig({ data: flags.data }, flags.config);
      const password = (await readStdin()).replace(/\r?\n$/, "");
      const auth = AuthStore.open(dataPaths(config.data).auth);
      try {
        await auth.createUser(name, password);
      } finally {
        auth.close();
      }
      process.stdout.write(`created user ${name}\n`);
    });

  const key = program
    .command("key")
    .description(
      "print the registry's verifier key, the string clients pin (creates the key if missing)",
    )
    .option("--data <dir>", "data directory (default: ./cairn-data)")
    .option("--config <file>", "JSON config file (default: <data>/config.json)")
    .action(async (flags: { data?: string; config?: string }) => {
      const config = await loadConfig({ data: flags.data }, flags.config);
      const key = await loadOriginKey(config.data, config.origin);
      process.stdout.write(`${key.verifierKey}\n`);
    });
  registerKeySubcommands(key);
}

/** The blobs the data directory's state withholds (taken down), expected absent from the tree. */
function withheldOf(dataDir: string): Set<string> {
  let state: RegistryState | undefined;
  try {
    state = RegistryState.open(join(dataDir, "state.sqlite"), {
      readOnly: true,
      ecosystems: ECOSYSTEMS,
    });
    return new Set(withheldHashes(state.sql));
  } catch {
    // No state yet, or one of another schema: nothing is known withheld.
    return new Set();
  } finally {
    state?.close();
  }
}

/** `cairn serve --check`: 0 when the tree is whole, 1 when a file is damaged, 2 when there is no registry. */
async function checkTree(dataDir: string): Promise<number> {
  const paths = dataPaths(dataDir);
  try {
    await access(paths.key);
  } catch {
    process.stderr.write(`no registry in ${dataDir}: ${paths.key} does not exist\n`);
    return 2;
  }
  const key = await loadOrCreateKey(paths.key);
  const withheld = withheldOf(dataDir);
  const result = await checkStoredTree(paths.tree, key.verifier, {
    hashBlobs: true,
    isWithheld: (sha256) => withheld.has(sha256),
  });
  for (const { path, problem } of result.damage) {
    process.stdout.write(`damaged: ${path}: ${problem}\n`);
  }
  const checked =
    `${result.size} entries: ${result.tiles} tiles, ${result.bundles} bundles, ` +
    `${result.blobs} blobs checked in ${paths.tree}`;
  if (result.damage.length === 0) {
    process.stdout.write(`ok: ${checked}\n`);
    return 0;
  }
  process.stdout.write(
    `${result.damage.length} damaged file(s) of ${checked}; restore them from a mirror ` +
      "(their bytes are named by the signed log, so any verified copy will do)\n",
  );
  return 1;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** A data directory made before cairn created files private: only its owner may enter it now. */
async function makePrivate(dir: string): Promise<void> {
  try {
    await chmod(dir, 0o700);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
