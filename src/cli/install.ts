/**
 * `cairn install` (`i`), `cairn ci` and `cairn uninstall`: the verifying
 * installer. The registry is the origin named by --origin and --key (or
 * CAIRN_ORIGIN and CAIRN_KEY, or the origin the local index syncs from);
 * packages are read through the signed snapshot, or from the local index
 * when `cairn sync` made one; bytes come from mirrors first, then the
 * origin, and every one is checked against the log.
 */
import { join } from "node:path";
import type { Command } from "commander";
import { exists, INDEX_ORIGIN_KEY, INDEX_VERIFIER_KEY } from "../client/local-index.ts";
import type { VerifyingReader } from "../client/verifying-reader.ts";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import type { OmitKind } from "../install/ideal-tree.ts";
import {
  type InstallProgress,
  type InstallReport,
  install,
  type Layout,
} from "../install/install.ts";
import { InstallError } from "../install/install-error.ts";
import { type OnDemandImports, RegistrySource } from "../install/registry-source.ts";
import { PackageStore } from "../install/store.ts";
import { shapeKey } from "../install/up-to-date.ts";
import { HttpSource } from "../log/index.ts";
import type { ShareStore } from "../peer/share-store.ts";
import type { VersionEntry } from "../registry/entries.ts";
import { stateReads } from "../registry/package-reader.ts";
import { RegistryState } from "../registry/state.ts";
import { openClientReader } from "./client-reader.ts";
import {
  collectGateway,
  defaultStateDir,
  GATEWAY_HELP,
  parseTimeoutMs,
  userUmask,
} from "./options.ts";
import {
  asksPeers,
  clientPopularity,
  defaultShareDir,
  type PeerFetching,
  peerFetchOptions,
  recordSources,
  type SourceReport,
  sourcesLine,
  sourcesOf,
  startPeerFetching,
} from "./peer-fetch.ts";
import { defaultStoreDir } from "./store.ts";
import {
  CLIENT_MAX_AGE,
  readRememberedPolicy,
  type WitnessFlags,
  witnessOptions,
  witnessPolicyOf,
} from "./witness-options.ts";

interface InstallFlags extends WitnessFlags {
  origin?: string;
  key?: string;
  mirror?: string[];
  mirrorList: boolean;
  gateway: string[];
  index?: string;
  sparse?: boolean;
  store?: string;
  omit?: string[];
  production?: boolean;
  layout: string;
  ignoreScripts?: boolean;
  saveDev?: boolean;
  saveExact?: boolean;
  timeout: number;
  share?: boolean;
  peer: string[];
  peers: boolean;
  interface?: string;
  report?: string;
}

const OMIT: readonly OmitKind[] = ["dev", "optional", "peer"];

function commonOptions(cmd: Command): Command {
  return witnessOptions(peerFetchOptions(cmd))
    .option(
      "--origin <url>",
      "the origin's base URL (default: $CAIRN_ORIGIN, or the local index's)",
    )
    .option(
      "--key <verifier-key>",
      "the origin's verifier key (default: $CAIRN_KEY, or the local index's)",
    )
    .option("--mirror <url...>", "mirrors to read from besides those on the origin's list")
    .option("--no-mirror-list", "ignore the origin's mirror list")
    .option("--gateway <url>", GATEWAY_HELP, collectGateway, [])
    .option(
      "--index <file>",
      "the local index to resolve from (default: $CAIRN_HOME/index.sqlite when it exists)",
    )
    .option(
      "--sparse",
      "read each package through the signed snapshot even when a local index exists",
    )
    .option("--store <dir>", "the package store (default: $CAIRN_HOME/store)")
    .option(
      "--omit <type...>",
      "leave out dev, optional or peer dependencies (the lockfile keeps them)",
    )
    .option("--production", "the same as --omit dev")
    .option(
      "--layout <layout>",
      "node_modules as npm lays it out (hoisted) or as pnpm does (isolated)",
      "hoisted",
    )
    .option("--ignore-scripts", "run no lifecycle script, not even the project's own")
    .option(
      "--timeout <ms>",
      "milliseconds before a request to a source is abandoned",
      parseTimeoutMs,
      30_000,
    )
    .option(
      "--share",
      "keep verified tarballs for LAN peers (served by cairn peer) and fetch from peers found on mDNS",
    )
    .option("--interface <name|addr>", "the interface to look for peers on (with --share)");
}

export function registerInstallCommands(program: Command): void {
  commonOptions(
    program
      .command("install")
      .alias("i")
      .description(
        "install the project's dependencies, or add packages to it, verifying every byte against the log",
      )
      .argument("[packages...]", "packages to add, as name or name@range"),
  )
    .option("-D, --save-dev", "add the packages to devDependencies")
    .option("-E, --save-exact", "save the exact version instead of a ^ range")
    .action(async (packages: string[], flags: InstallFlags) => {
      await runInstall(flags, { add: packages.map(parseRequest) });
    });
  commonOptions(
    program
      .command("ci")
      .description(
        "install exactly what package-lock.json holds; fail if it disagrees with package.json",
      ),
  ).action(async (flags: InstallFlags) => {
    await runInstall(flags, { frozen: true });
  });
  commonOptions(
    program
      .command("uninstall")
      .aliases(["remove", "rm", "un"])
      .description("remove packages from package.json and node_modules")
      .argument("<packages...>", "package names"),
  ).action(async (packages: string[], flags: InstallFlags) => {
    await runInstall(flags, { remove: packages });
  });
}

/** `name`, `name@range`, `@scope/name@range`. */
function parseRequest(request: string): { name: string; spec: string } {
  const at = request.indexOf("@", 1);
  return at < 0
    ? { name: request, spec: "latest" }
    : { name: request.slice(0, at), spec: request.slice(at + 1) };
}

function omitted(flags: InstallFlags): OmitKind[] {
  const omit = new Set<OmitKind>(flags.production ? ["dev"] : []);
  for (const value of flags.omit ?? []) {
    if (!OMIT.includes(value as OmitKind))
      throw new InstallError("bad-field", `--omit ${value}: not one of ${OMIT.join(", ")}`);
    omit.add(value as OmitKind);
  }
  return [...omit].sort();
}

async function runInstall(
  flags: InstallFlags,
  what: {
    add?: { name: string; spec: string }[];
    remove?: string[];
    frozen?: boolean;
  },
): Promise<void> {
  if (flags.layout !== "hoisted" && flags.layout !== "isolated")
    throw new InstallError("bad-field", `--layout ${flags.layout}: hoisted or isolated`);
  // The project's files are the user's: made with their umask, not the private one cairn keeps.
  process.umask(userUmask());
  const home = defaultStateDir();
  const indexPath = flags.index ?? join(home, "index.sqlite");
  if (flags.index !== undefined && !(await exists(indexPath)))
    throw new InstallError("no-project", `no local index at ${indexPath}`);
  let index =
    !flags.sparse && (await exists(indexPath))
      ? RegistryState.open(indexPath, { readOnly: true, ecosystems: ECOSYSTEMS })
      : undefined;
  const origin = flags.origin ?? process.env.CAIRN_ORIGIN ?? index?.meta(INDEX_ORIGIN_KEY);
  const key = flags.key ?? process.env.CAIRN_KEY ?? index?.meta(INDEX_VERIFIER_KEY);
  // An index of another registry (or signed by another key) says nothing about this one.
  if (
    index &&
    (index.meta(INDEX_ORIGIN_KEY) !== origin || index.meta(INDEX_VERIFIER_KEY) !== key)
  ) {
    index.close();
    index = undefined;
  }
  if (!origin || !key) {
    index?.close();
    throw new InstallError(
      "no-project",
      "no registry to install from: pass --origin <url> --key <verifier-key>, set CAIRN_ORIGIN and CAIRN_KEY, or run cairn sync",
    );
  }
  const policy = witnessPolicyOf(
    flags,
    CLIENT_MAX_AGE,
    index && readRememberedPolicy((k) => index?.meta(k)),
  );
  const started = performance.now();
  const reader = await openClientReader(origin, key, home, flags, "cairn", {
    syncCacheReads: true,
    policy,
  });
  const progress = terminalProgress();
  const asking = asksPeers(flags);
  let peers: PeerFetching | undefined;
  let sources: SourceReport[] = [];
  try {
    // Peers answer while the checkpoint is checked: started under the stored one's log, when there is one.
    const stored = reader.client.checkpoint?.origin;
    if (asking && stored !== undefined) peers = await startPeerFetching(reader, flags, stored);
    // The fresh checkpoint is fetched and verified while the install reads the project, its
    // lockfile and the store; every read from the registry waits for it.
    const updated = (async () => {
      await reader.update().catch((err: unknown) => {
        const held = reader.client.checkpoint;
        // Offline on a LAN: what the verified checkpoint names can still come from peers, checked
        // alike; never one past the witness policy's maximum age, which a freeze would outlive.
        if (!asking || !held || !reader.client.isFresh()) throw err;
        process.stderr.write(
          `cairn: no source gave a newer checkpoint (${(err as Error).message}); installing under the checkpoint verified before (${held.origin}, size ${held.size})\n`,
        );
      });
      if (asking)
        peers ??= await startPeerFetching(reader, flags, reader.client.checkpoint?.origin ?? "");
      // Only a client asking peers needs it; reading it may cost a request.
      if (peers) peers.asks.usePopularity(await clientPopularity(reader));
    })();
    updated.catch(() => undefined);
    const share = flags.share
      ? await (await import("../peer/share-store.ts")).ShareStore.open(defaultShareDir())
      : undefined;
    const documents = index ? stateReads(index) : reader;
    const verified =
      <A extends unknown[], R>(read: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        await updated;
        return read(...args);
      };
    const source = new RegistrySource(
      {
        document: verified(async (name) => {
          const doc = await documents.document(name);
          peers?.asks.learn(doc);
          return doc;
        }),
        tarball: verified((entry) => reader.tarball(entry)),
        blob: verified((ref) => reader.blob(ref)),
        blobFromDelta: verified((base, target) => reader.blobFromDelta(base, target)),
      },
      // Read through the log, a package an uplink could give is absent until the origin imports it.
      index ? undefined : onDemandImports(origin, reader),
    );
    const store = await PackageStore.open(flags.store ?? defaultStoreDir());
    const omit = omitted(flags);
    const installing = install({
      projectDir: process.cwd(),
      store,
      source,
      ...(what.frozen ? { frozen: true } : {}),
      omit,
      layout: flags.layout as Layout,
      ignoreScripts: flags.ignoreScripts === true,
      ...(what.add?.length ? { add: what.add } : {}),
      ...(what.remove?.length ? { remove: what.remove } : {}),
      saveDev: flags.saveDev === true,
      saveExact: flags.saveExact === true,
      stampOptions: shapeKey({
        frozen: what.frozen === true,
        omit,
        layout: flags.layout,
        ignoreScripts: flags.ignoreScripts === true,
      }),
      onProgress: progress.update,
      ...(share ? { onTarball: keepFor(share) } : {}),
    });
    // A failed update fails every read: its own error says more than the install's.
    const report = await installing.catch(async (err: unknown) => {
      await updated;
      throw err;
    });
    await updated;
    progress.stop();
    sources = sourcesOf(reader.client.pool, peers?.used ?? new Set());
    const lines = [summary(report, performance.now() - started, index !== undefined)];
    if (peers || flags.gateway.length > 0) lines.push(sourcesLine(sources));
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    progress.stop();
    if (sources.length === 0) sources = sourcesOf(reader.client.pool, peers?.used ?? new Set());
    await peers?.stop();
    if (asking || flags.report !== undefined) await recordSources(sources, home, flags.report);
    await reader.close();
    index?.close();
  }
}

/** Keeps each verified tarball in the share store; a failure to keep one is said, not fatal. */
function keepFor(share: ShareStore): (entry: VersionEntry, tarball: Uint8Array) => Promise<void> {
  return async (entry, tarball) => {
    if (!entry.artifact) return;
    await share.keep(entry.name, entry.version, entry.artifact, tarball).catch((err: unknown) => {
      process.stderr.write(
        `cairn: ${entry.name}@${entry.version} not kept for sharing: ${(err as Error).message}\n`,
      );
    });
  };
}

/** How long the origin may take to import a package it was asked for, and to answer. */
const ON_DEMAND_IMPORT_MS = 5 * 60_000;

/** The most bytes taken for one tarball the origin fetches from its uplink for us. */
const MAX_IMPORTED_TARBALL = 512 * 1024 * 1024;

/**
 * An origin that imports from uplinks on request: a package the log does
 * not hold is asked for through npm's API (which imports it, and reads its
 * dependencies ahead), then read again through a fresh checkpoint; an
 * imported version's tarball is fetched through the origin, which binds
 * it, and checked by the store against the integrity the log holds.
 */
function onDemandImports(origin: string, reader: VerifyingReader): OnDemandImports {
  // The origin answers once it has imported the package from its uplink: a wait far longer than a read's.
  const api = new HttpSource(new URL(".", origin).href, { timeoutMs: ON_DEMAND_IMPORT_MS });
  let pending: Promise<void> | undefined;
  let current: Promise<void> = Promise.resolve();
  // Every caller gets an update that starts after its call; callers meanwhile share one.
  const refresh = (): Promise<void> => {
    if (pending) return pending;
    const next = current
      .catch(() => undefined)
      .then(() => {
        pending = undefined;
        return reader.update();
      });
    pending = next;
    current = next;
    return next;
  };
  return {
    absent: async (name) => {
      // Only whether the origin has it counts: the body is read through (not kept) to free the connection.
      const body = api.stream(name.replace("/", "%2f"), Number.MAX_SAFE_INTEGER, {
        accept: "application/vnd.npm.install-v1+json",
      });
      const found = await (async () => {
        for await (const _ of body);
      })().then(
        () => true,
        () => false,
      );
      if (!found) return false;
      await refresh();
      return true;
    },
    unbound: async (entry) => {
      // The publishing module (and what it loads) only for the rare version the log does not bind yet.
      const { tarballFileName } = await import("../npm/publish.ts");
      const url = new URL(`${entry.name}/-/${tarballFileName(entry.name, entry.version)}`, origin);
      const res = await fetch(url);
      const declared = Number(res.headers.get("content-length") ?? 0);
      if (res.status !== 200 || !res.body || declared > MAX_IMPORTED_TARBALL)
        throw new InstallError(
          "fetch-failed",
          `${entry.name}@${entry.version}: the origin answered ${res.status} for its tarball`,
        );
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += chunk.length;
        if (size > MAX_IMPORTED_TARBALL)
          throw new InstallError(
            "too-large",
            `${entry.name}@${entry.version}: the tarball passes ${MAX_IMPORTED_TARBALL} bytes`,
          );
        chunks.push(chunk);
      }
      return Buffer.concat(chunks);
    },
  };
}

function summary(report: InstallReport, ms: number, fromIndex: boolean): string {
  const parts = [
    `${report.packages} packages in ${(ms / 1000).toFixed(2)} s`,
    `${report.fetched} fetched (${(report.fetchedBytes / 1024 / 1024).toFixed(1)} MiB), the rest from the store`,
    `${report.linked} linked${report.removed > 0 ? `, ${report.removed} removed` : ""}`,
    report.fromLockfile
      ? "from package-lock.json"
      : `resolved ${fromIndex ? "from the local index" : "through the signed snapshot"}`,
  ];
  const lines = [parts.join("; ")];
  if (report.scripts.ran.length > 0)
    lines.push(`ran install scripts of ${report.scripts.ran.join(", ")}`);
  if (report.scripts.skipped.length > 0)
    lines.push(
      `skipped install scripts of ${report.scripts.skipped.join(", ")} (trust them in package.json's trustedDependencies)`,
    );
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  return lines.join("\n");
}

/** One status line on a terminal (resolving, fetching with bytes, linking); nothing otherwise. */
function terminalProgress(): { update: (p: InstallProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  let shown = false;
  return {
    update: (p) => {
      const counts = p.total > 0 ? ` ${p.done}/${p.total}` : "";
      const bytes = p.bytes > 0 ? ` (${(p.bytes / 1024 / 1024).toFixed(1)} MiB)` : "";
      process.stderr.write(`\r\x1b[2K${p.phase}${counts}${bytes}`);
      shown = true;
    },
    stop: () => {
      if (shown) process.stderr.write("\r\x1b[2K");
      shown = false;
    },
  };
}
