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
import type { VerifyingReader } from "../client/verifying-reader.ts";
import { PackageStore } from "../install/store.ts";
import { seedPopular } from "../peer/seed.ts";
import { ShareStore } from "../peer/share-store.ts";
import { readFetched, readStatus, renderStatus } from "../peer/status.ts";
import { openClientReader } from "./client-reader.ts";
import {
  collectGateway,
  defaultStateDir,
  GATEWAY_HELP,
  parseCount,
  parsePort,
  parseSeconds,
  parseTimeoutMs,
} from "./options.ts";
import {
  collectPeer,
  DEFAULT_PEER_PORT,
  defaultShareDir,
  PEER_HELP,
  recordSources,
  sourcesOf,
} from "./peer-fetch.ts";
import { type SharingPeer, startSharingPeer } from "./sharing-peer.ts";
import { defaultStoreDir } from "./store.ts";
import {
  CLIENT_MAX_AGE,
  type WitnessFlags,
  witnessOptions,
  witnessPolicyOf,
} from "./witness-options.ts";

interface PeerFlags extends WitnessFlags {
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
  const peer = witnessOptions(program.command("peer"))
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
    .option("--host <addr>", "address to listen on (all of them by default)", "0.0.0.0")
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
    .option(
      "--popular-only",
      "share popular versions only, not every package's latest nor the latest of each release line",
    )
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
  const reader = await openClientReader(origin, key, home, flags, "cairn peer", {
    policy: witnessPolicyOf(flags, CLIENT_MAX_AGE),
  });
  let peer: SharingPeer | undefined;
  let refresher: NodeJS.Timeout | undefined;
  try {
    await reader.update().catch((err: unknown) => {
      // A peer on a LAN cut off from the registry still shares under its last verified checkpoint.
      if (!reader.client.checkpoint) throw err;
      process.stderr.write(
        `cairn peer: no source gave a newer checkpoint (${(err as Error).message}); sharing under the verified checkpoint of size ${reader.client.checkpoint.size}\n`,
      );
    });
    const share = await ShareStore.open(defaultShareDir());
    peer = await startSharingPeer({
      reader,
      store: await PackageStore.open(flags.store ?? defaultStoreDir()),
      share,
      host: flags.host,
      port: flags.port,
      discovery: flags.discovery,
      peers: flags.peer,
      popularOnly: flags.popularOnly === true,
      statusHome: home,
      ...(flags.interface !== undefined ? { interface: flags.interface } : {}),
      ...(flags.threshold !== undefined ? { threshold: flags.threshold } : {}),
      ...(flags.maxUploadRate !== undefined ? { maxUploadRate: flags.maxUploadRate } : {}),
    });
    process.stdout.write(
      `cairn peer: sharing ${peer.sharing.blocks().size} blobs on ${peer.url}\n`,
    );
    const running = peer;
    refresher = setInterval(() => {
      void reader
        .update()
        .then(() => running.poll())
        .catch((err: unknown) =>
          process.stderr.write(`cairn peer: checkpoint not refreshed: ${(err as Error).message}\n`),
        );
    }, flags.refresh * 1000);
    let stopping = false;
    const seeding =
      flags.seedPopular === undefined
        ? undefined
        : seed(reader, running, share, {
            count: flags.seedPopular,
            ...(flags.threshold !== undefined ? { threshold: flags.threshold } : {}),
            stopped: () => stopping,
          }).then(async (n) => {
            running.seeded += n;
            await running.poll();
            // Said once the new tarballs are in the share set.
            process.stderr.write(`cairn peer: seeded ${n} popular versions\n`);
          });
    await stopSignal();
    stopping = true;
    await seeding;
  } finally {
    clearInterval(refresher);
    await peer?.stop();
    // What seeding fetched from other peers, for `cairn peer status`.
    if (peer) await recordSources(sourcesOf(reader.client.pool, peer.used), home, undefined);
    await reader.close();
  }
}

/** Seeds the most popular shareable versions (see seed.ts), saying what it did; resolves with how many it kept. */
async function seed(
  reader: VerifyingReader,
  { sharing, asks }: SharingPeer,
  share: ShareStore,
  options: { count: number; threshold?: number; stopped: () => boolean },
): Promise<number> {
  const popularity = sharing.current.popularity;
  const snapshots = reader.snapshots;
  if (!popularity || !snapshots) {
    process.stderr.write("cairn peer: nothing to seed: the log has no popularity entry yet\n");
    return 0;
  }
  try {
    const report = await seedPopular({
      ...options,
      names: snapshots.names("npm"),
      document: async (name) => {
        const doc = await reader.document(name);
        asks.learn(doc);
        return doc;
      },
      popularity,
      share,
      tarball: (entry) => reader.tarball(entry),
    });
    for (const f of report.failed)
      process.stderr.write(`cairn peer: could not seed ${f.spec}: ${f.error}\n`);
    return report.seeded.length;
  } catch (err) {
    process.stderr.write(`cairn peer: seeding stopped: ${(err as Error).message}\n`);
    return 0;
  }
}
