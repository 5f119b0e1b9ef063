/**
 * A sharing peer, as `cairn peer` and `cairn proxy --share` run it: the
 * share set kept current from a verified reader and the stores, the peer
 * server on its own port, the mDNS announcement (and browse), the listed
 * peers, the reader's pool asking peers first, and the status file.
 */
import { type FSWatcher, watch } from "node:fs";
import type { VerifyingReader } from "../client/verifying-reader.ts";
import type { PackageStore } from "../install/store.ts";
import { PeerAsks, peersIntoPool } from "../peer/asking.ts";
import { type Discovery, MdnsDiscovery, StaticDiscovery } from "../peer/discovery.ts";
import { type PeerServer, startPeerServer } from "../peer/server.ts";
import type { ShareStore } from "../peer/share-store.ts";
import { Sharing } from "../peer/sharing.ts";
import { type PeerStatus, writeStatus } from "../peer/status.ts";

export interface SharingPeerOptions {
  readonly reader: VerifyingReader;
  readonly store?: PackageStore;
  readonly share: ShareStore;
  readonly host: string;
  readonly port: number;
  readonly interface?: string;
  /** Announce and browse on mDNS. */
  readonly discovery: boolean;
  /** Peers listed by URL. */
  readonly peers: readonly string[];
  /** Whether the reader's pool asks the peers found (default true; false: only announce and serve). */
  readonly askPeers?: boolean;
  readonly threshold?: number;
  readonly popularOnly: boolean;
  readonly maxUploadRate?: number;
  /** Where the status file goes (`<home>/peer/status.json`); none without it. */
  readonly statusHome?: string;
}

export interface SharingPeer {
  /** The server's base URL, as listened on. */
  readonly url: string;
  readonly sharing: Sharing;
  readonly server: PeerServer;
  /** What the reader's pool may ask peers for; learns from every document read through `asks.learn`. */
  readonly asks: PeerAsks;
  /** Versions seeded so far (the status shows it). */
  seeded: number;
  /** Every peer URL the reader's pool was given (to count what came from peers). */
  used: ReadonlySet<string>;
  /** Looks at the stores (and checkpoint) again, and writes the status if anything changed. */
  poll(): Promise<void>;
  /** Goodbyes sent, sockets closed, the last status written. */
  stop(): Promise<void>;
}

/** How often the stores are looked at for new packages (a few stats). */
const STORE_POLL_MS = 1000;

export async function startSharingPeer(options: SharingPeerOptions): Promise<SharingPeer> {
  const { reader } = options;
  const sharing = new Sharing({
    view: {
      checkpointSize: () => reader.client.checkpoint?.size,
      document: (name) => reader.document(name),
      popularity: async () =>
        reader.snapshots ? reader.snapshots.popularity() : reader.state?.popularity?.entry,
      blob: (ref) => reader.blob(ref),
    },
    share: options.share,
    ...(options.store ? { store: options.store } : {}),
    ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
    popularOnly: options.popularOnly,
    storesChanged: () => reader.update(),
  });
  await sharing.refresh();
  const server = await startPeerServer({
    host: options.host,
    port: options.port,
    limits:
      options.maxUploadRate !== undefined ? { uploadBytesPerSecond: options.maxUploadRate } : {},
    blocks: () => sharing.blocks(),
  });
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${host}:${server.port}/`;
  const discoveries: Discovery[] = [];
  const timers: NodeJS.Timeout[] = [];
  const watchers: FSWatcher[] = [];
  const started = new Date().toISOString();
  const status = (): PeerStatus =>
    statusOf(peer, discoveries, started, reader.client.checkpoint?.origin, options.popularOnly);
  const save = async () => {
    if (options.statusHome !== undefined)
      await writeStatus(options.statusHome, status()).catch(() => undefined);
  };
  let served = -1;
  const peer: SharingPeer = {
    url,
    sharing,
    server,
    asks: new PeerAsks(sharing.current.popularity),
    seeded: 0,
    used: new Set(),
    poll: async () => {
      const changed = await sharing.refresh().catch(() => false);
      let now = 0;
      for (const s of server.served.values()) now += s.requests + s.bytes;
      if (changed || now !== served) {
        served = now;
        await save();
      }
    },
    stop: async () => {
      for (const t of timers) clearInterval(t);
      for (const w of watchers) w.close();
      await Promise.all(discoveries.map((d) => d.stop().catch(() => undefined)));
      await server.close();
      await save();
    },
  };
  try {
    const checkpoint = reader.client.checkpoint;
    if (options.peers.length > 0) discoveries.push(new StaticDiscovery(options.peers));
    if (options.discovery && checkpoint)
      discoveries.push(
        new MdnsDiscovery({
          logOrigin: checkpoint.origin,
          port: server.port,
          ...(options.interface !== undefined ? { interface: options.interface } : {}),
        }),
      );
    if (options.askPeers !== false)
      peer.used = peersIntoPool(reader.client.pool, discoveries, peer.asks.asks);
    for (const d of discoveries) {
      d.on("found", () => void save());
      d.on("lost", () => void save());
    }
    await Promise.all(discoveries.map((d) => d.start()));
    await save();
    timers.push(setInterval(() => void peer.poll(), STORE_POLL_MS));
    // A tarball kept by an install is shared at once, not at the next look.
    const watcher = watch(options.share.dir, () => void peer.poll());
    watcher.on("error", () => watcher.close());
    watchers.push(watcher);
    return peer;
  } catch (err) {
    await peer.stop();
    throw err;
  }
}

function statusOf(
  peer: SharingPeer,
  discoveries: readonly Discovery[],
  started: string,
  origin: string | undefined,
  popularOnly: boolean,
): PeerStatus {
  const { set, threshold, checkpointSize } = peer.sharing.current;
  const reasons: Record<string, number> = {};
  for (const v of set.versions) reasons[v.decision.reason] = (reasons[v.decision.reason] ?? 0) + 1;
  return {
    v: 1,
    pid: process.pid,
    url: peer.url,
    started,
    updated: new Date().toISOString(),
    checkpoint: {
      ...(origin !== undefined ? { origin } : {}),
      ...(checkpointSize !== undefined ? { size: checkpointSize } : {}),
    },
    threshold: threshold ?? null,
    popularOnly,
    blocks: peer.sharing.blocks().size,
    reasons,
    versions: set.versions.map((v) => ({
      name: v.name,
      version: v.version,
      share: v.decision.share,
      reason: v.decision.reason,
    })),
    peers: discoveries.flatMap((d) => d.peers()),
    served: [...peer.server.served].map(([address, s]) => ({ address, ...s })),
    seeded: peer.seeded,
  };
}
