/** `cairn proxy` (a local verifying npm endpoint) and `cairn verify` (audit a server's copy of the log). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { CARGO_INDEX_PREFIX } from "../cargo/read-api.ts";
import { auditTree } from "../client/audit.ts";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import { DirectorySource, HttpSource, parseVerifierKey } from "../log/index.ts";
import { treeUrl } from "../log/urls.ts";
import { checkFilesClaim } from "../npm/version-files.ts";
import type { PeerAsks } from "../peer/asking.ts";
import { startProxy } from "../proxy/server.ts";
import { RegistryState } from "../registry/state.ts";
import { DEFAULT_LOG_LEVEL, type LogLevel } from "../util/log-level.ts";
import {
  collectGateway,
  defaultStateDir,
  GATEWAY_HELP,
  LOG_LEVEL_HELP,
  parseConcurrency,
  parseCount,
  parseLogLevel,
  parsePort,
  parseSeconds,
  parseSize,
  parseTimeoutMs,
} from "./options.ts";
import { progressBar } from "./output.ts";
import {
  asksPeers,
  clientPopularity,
  collectPeer,
  DEFAULT_PEER_PORT,
  PEER_HELP,
  startPeerFetching,
} from "./peer-fetch.ts";
import type { SharingPeer } from "./sharing-peer.ts";
import {
  CLIENT_MAX_AGE,
  formatCosignature,
  SERVER_MAX_AGE,
  type WitnessFlags,
  witnessOptions,
  witnessPolicyOf,
} from "./witness-options.ts";

interface ProxyFlags extends WitnessFlags {
  origin: string;
  key: string;
  data: string;
  host: string;
  port: number;
  mirror?: string[];
  mirrorList: boolean;
  gateway: string[];
  maxLag: number;
  refresh: number;
  timeout: number;
  logLevel: LogLevel;
  full?: boolean;
  cacheMax?: number;
  readAhead: boolean;
  share?: boolean;
  sharePort: number;
  interface?: string;
  discovery: boolean;
  peer: string[];
  peers: boolean;
}

export function registerProxyCommands(program: Command): void {
  witnessOptions(program.command("proxy"))
    .description(
      "a local npm registry that reads from untrusted mirrors and serves only bytes verified against the origin's signed log",
    )
    .requiredOption(
      "--origin <url>",
      "the origin's base URL: only its checkpoint and mirror list are read from it",
    )
    .requiredOption("--key <verifier-key>", "the origin's verifier key (name+keyid+base64)")
    .option("--data <dir>", "verified checkpoint, derived state and blob cache", "./cairn-proxy")
    .option(
      "--full",
      "replay the whole log into a local state (and answer search) instead of reading each package through the signed snapshot",
    )
    .option(
      "--no-read-ahead",
      "do not read dependencies before npm or cargo asks for them (npm's with their manifests)",
    )
    .option(
      "--cache-max <size>",
      "the most the blob cache holds (e.g. 2G); past it the least recently used blobs go, and are fetched and verified again when next read",
      parseSize,
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", parsePort, 4875)
    .option("--mirror <url...>", "mirrors to read from besides those on the origin's list")
    .option("--no-mirror-list", "ignore the origin's mirror list")
    .option("--gateway <url>", GATEWAY_HELP, collectGateway, [])
    .option(
      "--max-lag <entries>",
      "how far a mirror may lag behind the origin and stay healthy",
      parseCount("lag"),
      256,
    )
    .option(
      "--refresh <seconds>",
      "least seconds between checkpoint checks",
      parseSeconds("refresh", 0),
      5,
    )
    .option(
      "--timeout <ms>",
      "milliseconds before a request to a source is abandoned",
      parseTimeoutMs,
      15_000,
    )
    .option("--log-level <level>", LOG_LEVEL_HELP, parseLogLevel, DEFAULT_LOG_LEVEL)
    .option(
      "--share",
      "serve the verified cache's shareable tarballs to LAN peers on --share-port, announced on mDNS, and fetch from peers",
    )
    .option(
      "--share-port <n>",
      `port the LAN peer server listens on, on all addresses (default ${DEFAULT_PEER_PORT})`,
      parsePort,
      DEFAULT_PEER_PORT,
    )
    .option("--interface <name|addr>", "the interface mDNS announces and browses on")
    .option("--no-discovery", "with --share: neither announce nor browse on mDNS")
    .option("--peer <url>", PEER_HELP, collectPeer, [])
    .option("--no-peers", "ask no LAN peer, not even with --share")
    .action(async (flags: ProxyFlags) => {
      const share = flags.share
        ? await (await import("../peer/share-store.ts")).ShareStore.open(join(flags.data, "cache"))
        : undefined;
      let peer: SharingPeer | undefined;
      const asking = asksPeers(flags);
      /** What peers may be asked for, learnt from each document the proxy reads. */
      let asks: PeerAsks | undefined;
      const proxy = await startProxy({
        ...(asking ? { onDocument: (doc) => asks?.learn(doc) } : {}),
        ...(share
          ? {
              // Kept (and in the share set) before the tarball is answered.
              onTarball: async (entry, bytes) => {
                if (!entry.artifact) return;
                const kept = await share
                  .keep(entry.name, entry.version, entry.artifact, bytes)
                  .catch(() => false);
                if (kept) await peer?.poll();
              },
            }
          : {}),
        origin: flags.origin,
        verifier: parseVerifierKey(flags.key),
        policy: witnessPolicyOf(flags, SERVER_MAX_AGE),
        dataDir: flags.data,
        host: flags.host,
        port: flags.port,
        mirrors: flags.mirror ?? [],
        useMirrorList: flags.mirrorList,
        gateways: flags.gateway,
        maxLag: flags.maxLag,
        refreshMs: flags.refresh * 1000,
        timeoutMs: flags.timeout,
        full: flags.full ?? false,
        ...(flags.cacheMax !== undefined ? { cacheMaxBytes: flags.cacheMax } : {}),
        ...(flags.readAhead ? { readAhead: "manifests" as const } : {}),
        logLevel: flags.logLevel,
        onProblem: (err) => process.stderr.write(`cairn proxy: ${err.message}\n`),
      });
      const cp = proxy.reader.client.checkpoint;
      const mirrors = proxy.reader.client.pool.mirrors.map((m) => m.url);
      process.stdout.write(
        `cairn proxy listening on ${proxy.url}\n` +
          `verified:     ${cp?.origin} size ${cp?.size}\n` +
          `mirrors:      ${mirrors.length > 0 ? mirrors.join(", ") : "(none: reading from the origin)"}\n` +
          `cargo index:  sparse+${proxy.url}${CARGO_INDEX_PREFIX.slice(1)}\n` +
          (flags.gateway.length > 0 ? `gateways:     ${flags.gateway.join(", ")}\n` : ""),
      );
      try {
        // Loaded only when sharing: a proxy that does not share needs no peer server or mDNS.
        if (share)
          peer = await (await import("./sharing-peer.ts")).startSharingPeer({
            reader: proxy.reader,
            share,
            host: "0.0.0.0",
            port: flags.sharePort,
            discovery: flags.discovery,
            peers: asking ? flags.peer : [],
            askPeers: asking,
            popularOnly: false,
            ...(flags.interface !== undefined ? { interface: flags.interface } : {}),
          });
        const fetching =
          !share && asking
            ? await startPeerFetching(
                proxy.reader,
                flags,
                proxy.reader.client.checkpoint?.origin ?? "",
              )
            : undefined;
        fetching?.asks.usePopularity(await clientPopularity(proxy.reader));
        if (asking) asks = peer?.asks ?? fetching?.asks;
        if (peer)
          process.stdout.write(
            `cairn proxy: sharing ${peer.sharing.blocks().size} blobs on ${peer.url}\n`,
          );
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        await fetching?.stop();
      } finally {
        await peer?.stop();
        await proxy.close();
      }
    });

  witnessOptions(program.command("verify"))
    .description(
      "audit a server's copy of the log: signature, consistency with the last verified checkpoint, every tile, bundle and blob",
    )
    .argument("<url-or-dir>", "the origin's or a mirror's base URL, or a directory holding a tree")
    .requiredOption("--key <verifier-key>", "the origin's verifier key (name+keyid+base64)")
    .option(
      "--state <dir>",
      "where the last verified checkpoint is kept (default: $CAIRN_HOME or ~/.cairn)",
    )
    .option(
      "--replay",
      "also replay every entry and check each snapshot entry against the state they give (a monitor)",
    )
    .option("--concurrency <n>", "bundles checked at once", parseConcurrency, 8)
    .option("--timeout <ms>", "milliseconds before a request is abandoned", parseTimeoutMs, 30_000)
    .action(
      async (
        location: string,
        flags: {
          key: string;
          state?: string;
          replay?: boolean;
          concurrency: number;
          timeout: number;
        } & WitnessFlags,
      ) => {
        const source = /^https?:\/\//i.test(location)
          ? new HttpSource(treeUrl(location), { timeoutMs: flags.timeout })
          : new DirectorySource(location);
        let bar: ReturnType<typeof progressBar> | undefined;
        const scratch = flags.replay ? await mkdtemp(join(tmpdir(), "cairn-replay-")) : undefined;
        const replay = scratch
          ? RegistryState.open(join(scratch, "state.sqlite"), { ecosystems: ECOSYSTEMS })
          : undefined;
        const result = await auditTree(source, parseVerifierKey(flags.key), {
          stateDir: flags.state ?? defaultStateDir(),
          policy: witnessPolicyOf(flags, CLIENT_MAX_AGE),
          replay,
          // Each version's file index, recomputed from its tarball as a mirror does.
          checkEntry: checkFilesClaim,
          concurrency: Math.max(1, flags.concurrency),
          onProgress: ({ bundles, totalBundles }) => {
            bar ??= progressBar("verifying", totalBundles, 16);
            bar.update(bundles, totalBundles);
          },
        });
        bar?.stop();
        const snapshot = replay?.snapshot;
        replay?.close();
        if (scratch) await rm(scratch, { recursive: true, force: true });
        const cp = result.checkpoint;
        for (const c of result.cosignatures ?? [])
          process.stdout.write(`${formatCosignature(c)}\n`);
        if (result.problems.length > 0) {
          for (const p of result.problems) process.stderr.write(`${p.message}\n`);
          throw new Error(`${source.name}: ${result.problems.length} problem(s) found`);
        }
        process.stdout.write(
          `ok: ${source.name} ${cp?.origin} size ${cp?.size}: signature, consistency, ` +
            `${result.bundles} entry bundles with their tiles and ${result.blobs} blobs verified\n`,
        );
        if (flags.replay)
          process.stdout.write(
            `replayed ${cp?.size} entries: every snapshot entry matches the state before it` +
              `${snapshot ? ` (latest: entry ${snapshot.index}, snapshot ${snapshot.id}, ${snapshot.packages} packages)` : ""}\n`,
          );
      },
    );
}
