/**
 * `cairn peer`: share this machine's verified packages with its LAN, and
 * `cairn peer status`: what it found, served, fetched and shares, and why.
 *
 * The peer serves the trustless gateway over its share set (the install
 * store's files and indexes, the share store's tarballs, of shareable
 * versions only) on `--port` (default 7475), announces itself on mDNS
 * (`_cairn._tcp`, nothing about content), keeps its checkpoint fresh, and
 * writes its status to `$CAIRN_HOME/peer/status.json`. SIGINT or SIGTERM
 * stops it: goodbyes sent, sockets closed, exit 0.
 */
import type { Command } from "commander";
import { PackageStore } from "../install/store.ts";
import { PeerAsks, peersIntoPool } from "../peer/asking.ts";
import { type Discovery, MdnsDiscovery, StaticDiscovery } from "../peer/discovery.ts";
import { startPeerServer } from "../peer/server.ts";
import { ShareStore } from "../peer/share-store.ts";
import { Sharing } from "../peer/sharing.ts";
import {
  type PeerStatus,
  readFetched,
  readStatus,
  renderStatus,
  writeStatus,
} from "../peer/status.ts";
import { openClientReader } from "./install.ts";
import {
  collectGateway,
  defaultStateDir,
  GATEWAY_HELP,
  parseCount,
  parsePort,
  parseSeconds,
  parseTimeoutMs,
} from "./options.ts";
import { collectPeer, defaultShareDir, PEER_HELP } from "./peer-fetch.ts";
import { defaultStoreDir } from "./store.ts";

/** The port a peer listens on unless told otherwise. */
export const DEFAULT_PEER_PORT = 7475;

interface PeerFlags {
  origin?: string;
  key?: string;
  mirror?: string[];
  mirrorList: boolean;
  gateway: string[];
  store?: string;
  port: number;
  host: string;
  interface?: string;
  maxUploadRate?: number;
  threshold?: number;
  popularOnly?: boolean;
  seedPopular?: number;
  peer: string[];
  discovery: boolean;
  refresh: number;
  timeout: number;
}

export function registerPeerCommands(program: Command): void {
  const peer = program
    .command("peer")
    .description(
      "share verified packages with the LAN (latest and popular versions only) until stopped",
    )
    .option("--origin <url>", "the origin's base URL (default: $CAIRN_ORIGIN)")
    .option("--key <verifier-key>", "the origin's verifier key (default: $CAIRN_KEY)")
    .option("--mirror <url...>", "mirrors to read from besides those on the origin's list")
    .option("--no-mirror-list", "ignore the origin's mirror list")
    .option("--gateway <url>", GATEWAY_HELP, collectGateway, [])
    .option("--store <dir>", "the install store (default: $CAIRN_HOME/store)")
    .option("--port <n>", "port to listen on", parsePort, DEFAULT_PEER_PORT)
    .option("--host <addr>", "address to listen on (default: all)", "0.0.0.0")
    .option("--interface <name|addr>", "the interface mDNS announces and browses on")
    .option(
      "--max-upload-rate <bytes/s>",
      "bytes per second all answers together may send (0: no cap; default 5 MiB/s)",
      parseCount("rate"),
    )
    .option(
      "--threshold <n>",
      "downloads per window a version needs to count as popular (raises the published one)",
      parseCount("threshold"),
    )
    .option("--popular-only", "share popular versions only, not every package's latest")
    .option(
      "--seed-popular <n>",
      "fetch, verify and hold the n most popular shareable versions not held yet",
      parseCount("count"),
    )
    .option("--peer <url>", PEER_HELP, collectPeer, [])
    .option("--no-discovery", "neither announce nor browse on mDNS")
    .option("--refresh <seconds>", "seconds between checkpoint checks", parseSeconds("refresh"), 60)
    .option(
      "--timeout <ms>",
      "milliseconds before a request to a source is abandoned",
      parseTimeoutMs,
      30_000,
    )
    .action(async (flags: PeerFlags) => {
      await runPeer(flags);
    });
  peer
    .command("status")
    .description("peers found, bytes served and fetched per peer, what is shared and why")
    .option("--json", "as JSON")
    .action(async (flags: { json?: boolean }) => {
      const home = defaultStateDir();
      const [status, fetched] = await Promise.all([readStatus(home), readFetched(home)]);
      process.stdout.write(
        flags.json
          ? `${JSON.stringify({ status: status ?? null, fetched })}\n`
          : `${renderStatus(status, fetched)}\n`,
      );
    });
}

/** How often the stores are looked at for new packages (a few stats). */
const STORE_POLL_MS = 1000;

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}

async function runPeer(flags: PeerFlags): Promise<void> {
  const origin = flags.origin ?? process.env.CAIRN_ORIGIN;
  const key = flags.key ?? process.env.CAIRN_KEY;
  if (!origin || !key)
    throw new Error(
      "no registry: pass --origin <url> --key <verifier-key>, or set CAIRN_ORIGIN and CAIRN_KEY",
    );
  const home = defaultStateDir();
  const reader = await openClientReader(origin, key, home, flags, "cairn peer");
  const discoveries: Discovery[] = [];
  let server: Awaited<ReturnType<typeof startPeerServer>> | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    await reader.update().catch((err: unknown) => {
      // A peer on a LAN cut off from the registry still shares under its last verified checkpoint.
      if (!reader.client.checkpoint) throw err;
      process.stderr.write(
        `cairn peer: no source gave a newer checkpoint (${(err as Error).message}); sharing under the verified checkpoint of size ${reader.client.checkpoint.size}\n`,
      );
    });
    const checkpoint = reader.client.checkpoint;
    if (!checkpoint) throw new Error("no verified checkpoint");
    const store = await PackageStore.open(flags.store ?? defaultStoreDir());
    const share = await ShareStore.open(defaultShareDir());
    const sharing = new Sharing({
      view: {
        checkpointSize: () => reader.client.checkpoint?.size,
        document: (name) => reader.document(name),
        popularity: async () => reader.snapshots?.popularity(),
        blob: (ref) => reader.blob(ref),
      },
      store,
      share,
      ...(flags.threshold !== undefined ? { threshold: flags.threshold } : {}),
      popularOnly: flags.popularOnly === true,
    });
    await sharing.refresh();
    server = await startPeerServer({
      host: flags.host,
      port: flags.port,
      limits:
        flags.maxUploadRate !== undefined ? { uploadBytesPerSecond: flags.maxUploadRate } : {},
      blocks: () => sharing.blocks(),
    });
    const url = `http://${flags.host.includes(":") ? `[${flags.host}]` : flags.host}:${server.port}/`;
    if (flags.peer.length > 0) discoveries.push(new StaticDiscovery(flags.peer));
    if (flags.discovery)
      discoveries.push(
        new MdnsDiscovery({
          logOrigin: checkpoint.origin,
          port: server.port,
          ...(flags.interface !== undefined ? { interface: flags.interface } : {}),
        }),
      );
    const asks = new PeerAsks(sharing.current.popularity);
    peersIntoPool(reader.client.pool, discoveries, asks.asks);
    await Promise.all(discoveries.map((d) => d.start()));
    const started = new Date().toISOString();
    const status = (): PeerStatus =>
      statusOf(sharing, server, discoveries, {
        url,
        started,
        origin: reader.client.checkpoint?.origin,
        popularOnly: flags.popularOnly === true,
        seeded: 0,
      });
    await writeStatus(home, status());
    process.stdout.write(`cairn peer: sharing ${sharing.blocks().size} blobs on ${url}\n`);
    let served = -1;
    const poll = async () => {
      const changed = await sharing.refresh().catch(() => false);
      let now = 0;
      for (const s of server?.served.values() ?? []) now += s.requests + s.bytes;
      if (changed || now !== served) {
        served = now;
        await writeStatus(home, status()).catch(() => undefined);
      }
    };
    timers.push(setInterval(() => void poll(), STORE_POLL_MS));
    timers.push(
      setInterval(() => {
        void reader
          .update()
          .then(poll)
          .catch((err: unknown) =>
            process.stderr.write(
              `cairn peer: checkpoint not refreshed: ${(err as Error).message}\n`,
            ),
          );
      }, flags.refresh * 1000),
    );
    for (const d of discoveries) {
      d.on("found", () => void writeStatus(home, status()).catch(() => undefined));
      d.on("lost", () => void writeStatus(home, status()).catch(() => undefined));
    }
    await stopSignal();
    for (const t of timers) clearInterval(t);
    await Promise.all(discoveries.map((d) => d.stop()));
    await server.close();
    await writeStatus(home, status()).catch(() => undefined);
  } finally {
    for (const t of timers) clearInterval(t);
    await Promise.all(discoveries.map((d) => d.stop().catch(() => undefined)));
    await server?.close().catch(() => undefined);
    await reader.close();
  }
}

function statusOf(
  sharing: Sharing,
  server: Awaited<ReturnType<typeof startPeerServer>> | undefined,
  discoveries: readonly Discovery[],
  at: { url: string; started: string; origin?: string; popularOnly: boolean; seeded: number },
): PeerStatus {
  const { set, threshold, checkpointSize } = sharing.current;
  const reasons: Record<string, number> = {};
  for (const v of set.versions) reasons[v.decision.reason] = (reasons[v.decision.reason] ?? 0) + 1;
  return {
    v: 1,
    pid: process.pid,
    url: at.url,
    started: at.started,
    updated: new Date().toISOString(),
    checkpoint: {
      ...(at.origin ? { origin: at.origin } : {}),
      ...(checkpointSize !== undefined ? { size: checkpointSize } : {}),
    },
    threshold: threshold ?? null,
    popularOnly: at.popularOnly,
    blocks: sharing.blocks().size,
    reasons,
    versions: set.versions.map((v) => ({
      name: v.name,
      version: v.version,
      share: v.decision.share,
      reason: v.decision.reason,
    })),
    peers: discoveries.flatMap((d) => d.peers()),
    served: [...(server?.served ?? new Map())].map(([address, s]) => ({ address, ...s })),
    seeded: at.seeded,
  };
}
