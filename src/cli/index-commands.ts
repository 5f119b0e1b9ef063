/**
 * The local index commands: `cairn sync` keeps a verified SQLite copy of the
 * registry on this machine; `cairn ls`, `show`, `search`, `diff` and
 * `resolve` answer from it offline, about one ecosystem at a time:
 * `--ecosystem cargo` (`-e cargo`) asks about crates, npm packages by default.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Command, InvalidArgumentError } from "commander";
import { indexLookup, showVersion } from "../client/index-queries.ts";
import {
  exists,
  INDEX_ORIGIN_KEY,
  INDEX_VERIFIER_KEY,
  type IndexSyncReport,
  syncIndex,
} from "../client/local-index.ts";
import { LogClient } from "../client/log-client.ts";
import { requestsOfPackageJson, resolve } from "../client/resolve.ts";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import { parseVerifierKey } from "../log/index.ts";
import type { WitnessPolicy } from "../log/policy.ts";
import { rulesOf } from "../registry/ecosystem.ts";
import { diffSizes, type PackageDiff, sizeOfSnapshot } from "../registry/history.ts";
import { isImportedVersion } from "../registry/package-document.ts";
import { RegistryState } from "../registry/state.ts";
import { resolveCratesCommand, showCrateCommand } from "./crate-commands.ts";
import { defaultStateDir, parseCount, parseSeconds, parseTimeoutMs } from "./options.ts";
import { printJson, progressBar } from "./output.ts";
import {
  CLIENT_MAX_AGE,
  type RememberedPolicy,
  readRememberedPolicy,
  rememberPolicy,
  type WitnessFlags,
  witnessOptions,
  witnessPolicyOf,
} from "./witness-options.ts";

const indexOption = (cmd: Command) =>
  cmd.option("--index <file>", "the local index (default: $CAIRN_HOME/index.sqlite)");

function parseEcosystem(value: string): string {
  if (!ECOSYSTEMS.has(value))
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not one of ${[...ECOSYSTEMS.keys()].join(", ")}`,
    );
  return value;
}

/** Every query names its ecosystem the same way; npm's names and crates' may be the same. */
const queryOptions = (cmd: Command) =>
  indexOption(cmd).option(
    "-e, --ecosystem <id>",
    `the ecosystem asked about: ${[...ECOSYSTEMS.keys()].join(" or ")}`,
    parseEcosystem,
    "npm",
  );

function indexPath(flags: { index?: string }): string {
  return flags.index ?? join(defaultStateDir(), "index.sqlite");
}

/** Opens the index for a query; a missing one is an error that says what to run. */
async function openIndex(flags: { index?: string }): Promise<RegistryState> {
  const path = indexPath(flags);
  if (!(await exists(path)))
    throw new Error(`no local index at ${path}: run cairn sync --origin <url> --key <key> first`);
  return RegistryState.open(path, { readOnly: true, ecosystems: ECOSYSTEMS });
}

function formatReport(r: IndexSyncReport): string {
  const start =
    r.bootstrappedAt !== undefined
      ? `started from the SQLite snapshot at size ${r.bootstrappedAt}, `
      : "";
  const kib = (r.bytes / 1024).toFixed(1);
  return `${start}size ${r.fromSize} -> ${r.toSize}: ${r.toSize - r.fromSize} entries applied; fetched ${kib} KiB in ${r.requests} requests; snapshot ${r.snapshot ?? "-"}`;
}

/**
 * A version's published manifest, fetched from the origin the index syncs
 * from (or its mirrors) and checked against the size and SHA-256 the index
 * holds from the verified log.
 */
async function fetchManifest(
  state: RegistryState,
  ref: { sha256: string; size: number },
): Promise<Record<string, unknown>> {
  const origin = state.meta(INDEX_ORIGIN_KEY);
  const key = state.meta(INDEX_VERIFIER_KEY);
  if (!origin || !key) throw new Error("the index does not record its origin: run cairn sync");
  const client = await LogClient.open({
    origin,
    verifier: parseVerifierKey(key),
    stateDir: defaultStateDir(),
  });
  const bytes = await client.blob(ref);
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

/** The origin and key to sync from: the flags, else what the index recorded. */
function syncSource(
  path: string,
  flags: { origin?: string; key?: string } & WitnessFlags,
): { origin: string; key: string; policy?: WitnessPolicy } {
  let stored: { origin?: string; key?: string; policy?: RememberedPolicy } = {};
  try {
    // An index of an older schema still says where it syncs from; the sync rebuilds it.
    const state = RegistryState.open(path, {
      readOnly: true,
      ecosystems: ECOSYSTEMS,
      anySchema: true,
    });
    stored = {
      origin: state.meta(INDEX_ORIGIN_KEY),
      key: state.meta(INDEX_VERIFIER_KEY),
      policy: readRememberedPolicy((k) => state.meta(k)),
    };
    state.close();
  } catch {
    // No index yet: the flags must say.
  }
  const origin = flags.origin ?? stored.origin;
  const key = flags.key ?? stored.key;
  if (!origin || !key) throw new Error("the first sync needs --origin <url> and --key <key>");
  if (stored.key && stored.key !== key)
    throw new Error(`${path} follows another log (key ${stored.key}); use another --index`);
  return { origin, key, policy: witnessPolicyOf(flags, CLIENT_MAX_AGE, stored.policy) };
}

function remember(
  path: string,
  source: { origin: string; key: string },
  flags: WitnessFlags,
): void {
  const state = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
  state.setMeta(INDEX_ORIGIN_KEY, source.origin);
  state.setMeta(INDEX_VERIFIER_KEY, source.key);
  rememberPolicy((k, v) => state.setMeta(k, v), flags);
  state.close();
}

/** A log size, or a snapshot id the index has seen. */
function stateSize(state: RegistryState, arg: string): number {
  if (/^[0-9a-f]{64}$/.test(arg)) {
    const size = sizeOfSnapshot(state, arg);
    if (size === undefined) throw new Error(`snapshot ${arg} is not one this index has applied`);
    return size;
  }
  if (!/^\d+$/.test(arg)) throw new Error(`${arg} is neither a log size nor a snapshot id`);
  return Number(arg);
}

function formatDiff(d: PackageDiff): string {
  const parts: string[] = [];
  if (d.added.length > 0) parts.push(`added ${d.added.join(", ")}`);
  if (d.unpublished.length > 0) parts.push(`unpublished ${d.unpublished.join(", ")}`);
  for (const { version, message } of d.deprecated)
    parts.push(`deprecated ${version} (${JSON.stringify(message)})`);
  if (d.undeprecated.length > 0) parts.push(`undeprecated ${d.undeprecated.join(", ")}`);
  for (const { tag, from, to } of d.retagged) parts.push(`${tag}: ${from ?? "-"} -> ${to ?? "-"}`);
  if (d.ownersAdded.length > 0) parts.push(`owners + ${d.ownersAdded.join(", ")}`);
  if (d.ownersRemoved.length > 0) parts.push(`owners - ${d.ownersRemoved.join(", ")}`);
  if (d.yanked) parts.push(`yanked ${d.yanked.join(", ")}`);
  if (d.unyanked) parts.push(`unyanked ${d.unyanked.join(", ")}`);
  const mark = d.takenDown ? "-" : d.created ? "+" : "~";
  const what = d.takenDown ? " (taken down)" : d.created ? " (new)" : "";
  return `${mark} ${d.name}${what}${parts.length > 0 ? `: ${parts.join("; ")}` : ""}`;
}

export function registerIndexCommands(program: Command): void {
  queryOptions(
    program
      .command("diff")
      .description(
        "every package and version added, unpublished, deprecated, retagged, yanked or taken down between two states (offline)",
      )
      .argument("<from>", "a log size or snapshot id")
      .argument("[to]", "a log size or snapshot id (default: the index's current state)")
      .option("--json", "print JSON"),
  ).action(
    async (
      from: string,
      to: string | undefined,
      flags: { index?: string; ecosystem: string; json?: boolean },
    ) => {
      const state = await openIndex(flags);
      try {
        const diffs = diffSizes(
          state,
          stateSize(state, from),
          to === undefined ? state.logSize : stateSize(state, to),
        ).filter((d) => d.ecosystem === flags.ecosystem);
        if (flags.json) return printJson(diffs);
        for (const d of diffs) process.stdout.write(`${formatDiff(d)}\n`);
        process.stdout.write(`${diffs.length} packages changed\n`);
      } finally {
        state.close();
      }
    },
  );

  indexOption(
    witnessOptions(program.command("sync"))
      .description(
        "bring the local index up to the origin's signed log: from its newest SQLite snapshot the first time, then only new entries",
      )
      .option("--origin <url>", "the origin's base URL (remembered after the first sync)")
      .option("--key <verifier-key>", "the origin's verifier key (remembered after the first sync)")
      .option("--mirror <url...>", "mirrors to read from besides those on the origin's list")
      .option("--follow", "keep syncing in the background until interrupted")
      .option(
        "--interval <seconds>",
        "seconds between syncs with --follow",
        parseSeconds("interval"),
        30,
      )
      .option(
        "--timeout <ms>",
        "milliseconds before a request is abandoned",
        parseTimeoutMs,
        30_000,
      ),
  ).action(
    async (
      flags: {
        index?: string;
        origin?: string;
        key?: string;
        mirror?: string[];
        follow?: boolean;
        interval: number;
        timeout: number;
      } & WitnessFlags,
    ) => {
      const path = indexPath(flags);
      const source = syncSource(path, flags);
      const client = await LogClient.open({
        origin: source.origin,
        verifier: parseVerifierKey(source.key),
        policy: source.policy,
        stateDir: defaultStateDir(),
        mirrors: flags.mirror,
        timeoutMs: flags.timeout,
      });
      const once = async () => {
        let bar: ReturnType<typeof progressBar> | undefined;
        const report = await syncIndex(client, path, {
          onProgress: ({ size, toSize }) => {
            bar ??= progressBar("syncing", toSize, 16);
            bar.update(size, toSize);
          },
        });
        bar?.stop();
        process.stdout.write(`${formatReport(report)}\n`);
      };
      await once();
      remember(path, source, flags);
      if (!flags.follow) return;
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
      while (!stop.signal.aborted) {
        const waited = await sleep(flags.interval * 1000, true, { signal: stop.signal }).catch(
          () => false,
        );
        if (!waited) break;
        await once().catch((err: unknown) => {
          process.stderr.write(`cairn: sync failed, will retry: ${(err as Error).message}\n`);
        });
      }
    },
  );

  queryOptions(
    program
      .command("ls")
      .description("list every package in the local index (offline)")
      .argument("[prefix]", "only names starting with this, e.g. @babel/")
      .option("--contains <text>", "only names containing this")
      .option("--all", "include packages that were unpublished")
      .option("--limit <n>", "at most this many", parseCount("limit", 1))
      .option("--json", "print JSON"),
  ).action(
    async (
      prefix: string | undefined,
      flags: {
        index?: string;
        ecosystem: string;
        contains?: string;
        all?: boolean;
        limit?: number;
        json?: boolean;
      },
    ) => {
      const state = await openIndex(flags);
      try {
        // Rows are keyed as the ecosystem compares names (serde-json is serde_json).
        const { keyName } = rulesOf(ECOSYSTEMS, flags.ecosystem);
        const rows = state.table(flags.ecosystem).listPackages({
          ...flags,
          prefix: prefix === undefined ? undefined : keyName(prefix),
          contains: flags.contains === undefined ? undefined : keyName(flags.contains),
        });
        if (flags.json) return printJson(rows);
        for (const r of rows)
          process.stdout.write(
            `${r.name}@${r.latest ?? "-"}  ${r.versions} versions  ${r.modified}\n`,
          );
      } finally {
        state.close();
      }
    },
  );

  queryOptions(
    program
      .command("show")
      .description(
        "a version's manifest data from the local index (offline); --full fetches the manifest",
      )
      .argument(
        "<name[@spec]>",
        "a package, with a version, range or dist-tag (default latest); a crate with a version or cargo requirement (default its current version)",
      )
      .option(
        "--full",
        "also fetch the published manifest (package.json and readme) from the origin or a mirror, checked against the index's hash",
      )
      .option("--json", "print JSON"),
  ).action(
    async (
      request: string,
      flags: { index?: string; ecosystem: string; full?: boolean; json?: boolean },
    ) => {
      if (flags.ecosystem === "cargo") {
        if (flags.full) throw new Error("--full is for npm packages");
        const state = await openIndex(flags);
        try {
          return showCrateCommand(state, request, flags);
        } finally {
          state.close();
        }
      }
      const at = request.indexOf("@", 1);
      const name = at < 0 ? request : request.slice(0, at);
      const spec = at < 0 ? undefined : request.slice(at + 1);
      const state = await openIndex(flags);
      try {
        const { document, version, detail } = showVersion(state, name, spec);
        const full = flags.full ? await fetchManifest(state, detail.manifest) : undefined;
        const artifact = detail.artifact;
        const { sha512, sha1 } = isImportedVersion(detail) ? detail.integrity : detail.artifact;
        const shown = {
          name,
          version,
          description: detail.description,
          keywords: detail.keywords,
          published: isImportedVersion(detail) ? (detail.published ?? detail.time) : detail.time,
          publisher: detail.actor,
          logIndex: detail.index,
          ...(sha512 !== undefined ? { integrity: `sha512-${sha512}` } : {}),
          ...(sha1 !== undefined ? { shasum: sha1 } : {}),
          ...(artifact ? { tarball: { sha256: artifact.sha256, size: artifact.size } } : {}),
          ...(isImportedVersion(detail) ? { uplink: detail.uplink } : {}),
          manifest: detail.manifest,
          ...detail.resolution,
          ...(detail.deprecated !== undefined ? { deprecated: detail.deprecated } : {}),
          ...(detail.unpublished !== undefined ? { unpublished: detail.unpublished } : {}),
          distTags: document.distTags,
          owners: document.owners,
          ...(full ? { publishedManifest: full } : {}),
        };
        if (flags.json) return printJson(shown);
        const lines = [`${name}@${version}${detail.description ? `: ${detail.description}` : ""}`];
        if (detail.deprecated !== undefined) lines.push(`DEPRECATED: ${detail.deprecated}`);
        if (detail.unpublished !== undefined) lines.push(`UNPUBLISHED on ${detail.unpublished}`);
        lines.push(
          isImportedVersion(detail)
            ? `imported from uplink ${detail.uplink} on ${detail.time}, log entry ${detail.index}`
            : `published ${detail.time} by ${detail.actor}, log entry ${detail.index}`,
          `integrity ${sha512 !== undefined ? `sha512-${sha512}` : `sha1 ${sha1}`}`,
          artifact
            ? `tarball sha256 ${artifact.sha256} (${artifact.size} bytes)`
            : "tarball not fetched from the uplink yet",
          `dist-tags ${Object.entries(document.distTags)
            .map(([t, v]) => `${t}: ${v}`)
            .join(", ")}`,
          `owners ${document.owners.join(", ")}`,
        );
        for (const field of ["dependencies", "optionalDependencies", "peerDependencies"]) {
          const deps = detail.resolution[field] as Record<string, string> | undefined;
          if (!deps || Object.keys(deps).length === 0) continue;
          lines.push(`${field}:`);
          for (const [dep, range] of Object.entries(deps)) lines.push(`  ${dep} ${range}`);
        }
        if (full) {
          const { readme, ...manifest } = full;
          lines.push("published manifest:", JSON.stringify(manifest, null, 2));
          if (typeof readme === "string") lines.push("readme:", readme);
        }
        process.stdout.write(`${lines.join("\n")}\n`);
      } finally {
        state.close();
      }
    },
  );

  queryOptions(
    program
      .command("search")
      .description(
        "full-text search of names, descriptions and keywords in the local index (offline)",
      )
      .argument("<words...>")
      .option("--limit <n>", "at most this many", parseCount("limit", 1), 20)
      .option("--json", "print JSON"),
  ).action(
    async (
      words: string[],
      flags: { index?: string; ecosystem: string; limit: number; json?: boolean },
    ) => {
      const state = await openIndex(flags);
      try {
        const { total, capped, hits } = state
          .table(flags.ecosystem)
          .search.search(words.join(" "), 0, flags.limit);
        if (flags.json) return printJson({ total, capped, hits });
        for (const h of hits) process.stdout.write(`${h.name}@${h.version}  ${h.description}\n`);
        process.stdout.write(`${hits.length} of ${total}${capped ? "+" : ""} matches\n`);
      } finally {
        state.close();
      }
    },
  );

  queryOptions(
    program
      .command("resolve")
      .description(
        "the full dependency tree with npm's rules, from the local index (offline): name@range arguments or a package.json; with -e cargo, cargo's rules: name@req arguments or a Cargo.toml, printed as Cargo.lock's packages",
      )
      .argument("[requests...]", "name@range, name@tag or name (crates: name@req or name)")
      .option(
        "--package-json <file>",
        "resolve a package.json's dependencies and optionalDependencies",
      )
      .option("--dev", "with --package-json, include devDependencies")
      .option("--os <os>", "platform for optional dependencies", process.platform)
      .option("--cpu <cpu>", "architecture for optional dependencies", process.arch)
      .option("--cargo-toml <file>", "with -e cargo, resolve a Cargo.toml's dependencies")
      .option(
        "--cargo-lock <file>",
        "with -e cargo, keep a Cargo.lock's versions where they still fit, yanked ones too",
      )
      .option("--json", "print JSON"),
  ).action(
    async (
      args: string[],
      flags: {
        index?: string;
        ecosystem: string;
        packageJson?: string;
        dev?: boolean;
        os: string;
        cpu: string;
        cargoToml?: string;
        cargoLock?: string;
        json?: boolean;
      },
    ) => {
      if (flags.ecosystem === "cargo") {
        if (flags.packageJson !== undefined || flags.dev)
          throw new Error("--package-json and --dev are npm's: give a crate --cargo-toml");
        const state = await openIndex(flags);
        try {
          return await resolveCratesCommand(state, args, flags);
        } finally {
          state.close();
        }
      }
      if (flags.cargoToml !== undefined || flags.cargoLock !== undefined)
        throw new Error("--cargo-toml and --cargo-lock need --ecosystem cargo");
      let requests: Record<string, string> = {};
      let optionalRoots = new Set<string>();
      if (flags.packageJson) {
        const pkg = JSON.parse(await readFile(flags.packageJson, "utf8")) as Record<
          string,
          unknown
        >;
        ({ requests, optional: optionalRoots } = requestsOfPackageJson(pkg, { dev: flags.dev }));
      }
      for (const arg of args) {
        const at = arg.indexOf("@", 1);
        requests[at < 0 ? arg : arg.slice(0, at)] = at < 0 ? "latest" : arg.slice(at + 1);
      }
      if (Object.keys(requests).length === 0)
        throw new Error("nothing to resolve: give name@range arguments or --package-json");
      const state = await openIndex(flags);
      try {
        const result = resolve(requests, indexLookup(state), {
          os: flags.os,
          cpu: flags.cpu,
          optionalRoots,
        });
        if (flags.json)
          return printJson({
            roots: result.roots,
            nodes: Object.fromEntries(result.nodes),
            problems: result.problems,
          });
        for (const [key, node] of result.nodes) {
          const marks = [
            node.optional && "optional",
            node.peer && "peer",
            node.deprecated && "deprecated",
          ]
            .filter(Boolean)
            .join(", ");
          process.stdout.write(`${key}${marks ? `  (${marks})` : ""}\n`);
        }
        for (const p of result.problems)
          process.stderr.write(
            `${p.optional ? "skipped optional" : "unresolved"} ${p.name}@${p.spec} from ${p.from || "<root>"}: ${p.reason}\n`,
          );
        process.stdout.write(`${result.nodes.size} packages\n`);
        if (result.problems.some((p) => !p.optional)) process.exitCode = 1;
      } finally {
        state.close();
      }
    },
  );
}
