/**
 * Fetching from LAN peers for the commands that read the registry
 * (`cairn install`/`ci` with `--share` or `--peer`, `cairn proxy --share`),
 * and saying where the bytes came from (`--report <file>`, the summary).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import type { SourcePool } from "../client/source-pool.ts";
import type { VerifyingReader } from "../client/verifying-reader.ts";
import type { PeerAsks } from "../peer/asking.ts";
import type { Discovery } from "../peer/discovery.ts";
import type { Popularity } from "../peer/policy.ts";
import { defaultStateDir } from "./options.ts";

export interface PeerFetchFlags {
  share?: boolean;
  peer: string[];
  /** false with --no-peers. */
  peers: boolean;
  interface?: string;
}

/** The port a peer listens on unless told otherwise. */
export const DEFAULT_PEER_PORT = 7475;

/** The share store's place: `$CAIRN_HOME/share`. */
export function defaultShareDir(): string {
  return join(defaultStateDir(), "share");
}

export function collectPeer(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

export const PEER_HELP =
  "a peer's base URL to fetch from (repeatable); asked only for shareable blobs";

/** The options of a command that may fetch from peers. */
export function peerFetchOptions(cmd: Command): Command {
  return cmd
    .option("--peer <url>", PEER_HELP, collectPeer, [])
    .option("--no-peers", "ask no LAN peer, not even with --share")
    .option("--report <file>", "write where the bytes came from as JSON");
}

/** Whether peers are asked: with --share or --peer, unless --no-peers (asking reveals wants). */
export function asksPeers(flags: PeerFetchFlags): boolean {
  return flags.peers && (flags.share === true || flags.peer.length > 0);
}

/** The newest popularity entry's sketch under the reader's checkpoint; none if it cannot be read. */
export async function clientPopularity(reader: VerifyingReader): Promise<Popularity | undefined> {
  try {
    const entry = await reader.snapshots?.popularity();
    if (!entry) return undefined;
    const { loadPopularity } = await import("../peer/policy.ts");
    return await loadPopularity(entry, (ref) => reader.blob(ref));
  } catch {
    return undefined;
  }
}

export interface PeerFetching {
  /** Learns the shareable blobs of a verified document (call for every document read). */
  readonly asks: PeerAsks;
  /** Every peer URL the pool was given. */
  readonly used: ReadonlySet<string>;
  stop(): Promise<void>;
}

/**
 * Starts finding peers (the listed ones at once; with --share an mDNS
 * browse too, whose answers join the pool as they come: nothing waits for
 * them) and puts them in the reader's pool as its first tier. Until
 * `asks.usePopularity` is called, only latest versions are asked for.
 */
export async function startPeerFetching(
  reader: VerifyingReader,
  flags: PeerFetchFlags,
  logOrigin: string,
): Promise<PeerFetching> {
  // Loaded only when peers are asked: no part of an install that asks none.
  const { PeerAsks, peersIntoPool } = await import("../peer/asking.ts");
  const { MdnsDiscovery, StaticDiscovery } = await import("../peer/discovery.ts");
  const asks = new PeerAsks();
  const discoveries: Discovery[] = [];
  if (flags.peer.length > 0) discoveries.push(new StaticDiscovery(flags.peer));
  if (flags.share)
    discoveries.push(
      new MdnsDiscovery({
        logOrigin,
        ...(flags.interface !== undefined ? { interface: flags.interface } : {}),
      }),
    );
  const used = peersIntoPool(reader.client.pool, discoveries, asks.asks);
  await Promise.all(discoveries.map((d) => d.start()));
  return {
    asks,
    used,
    stop: async () => {
      await Promise.all(discoveries.map((d) => d.stop()));
    },
  };
}

export type SourceKind = "peer" | "mirror" | "gateway" | "origin";

export interface SourceReport {
  readonly url: string;
  readonly kind: SourceKind;
  readonly requests: number;
  readonly bytes: number;
  readonly failures: number;
}

/** Every source the pool counted, with its kind. */
export function sourcesOf(pool: SourcePool, peers: ReadonlySet<string>): SourceReport[] {
  const gateways = new Set(pool.gateways.map((g) => g.url));
  return [...pool.stats()].map(([url, s]) => ({
    url,
    kind:
      url === pool.origin.url
        ? "origin"
        : peers.has(url)
          ? "peer"
          : gateways.has(url)
            ? "gateway"
            : "mirror",
    ...s,
  }));
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** One line: the bytes each kind of source gave, e.g. `bytes from: peers 3.1 MiB (2), origin 0.1 MiB`. */
export function sourcesLine(sources: readonly SourceReport[]): string {
  const kinds: SourceKind[] = ["peer", "mirror", "gateway", "origin"];
  const parts = kinds.flatMap((kind) => {
    const of = sources.filter((s) => s.kind === kind && (s.requests > 0 || s.failures > 0));
    if (of.length === 0) return [];
    const bytes = of.reduce((n, s) => n + s.bytes, 0);
    const failures = of.reduce((n, s) => n + s.failures, 0);
    const label = kind === "origin" ? "origin" : `${kind}s (${of.length})`;
    return [`${label} ${mib(bytes)}${failures > 0 ? `, ${failures} failed` : ""}`];
  });
  return `bytes from: ${parts.join("; ") || "none"}`;
}

/** Writes `--report` and adds the peers' counts to the peer status. */
export async function recordSources(
  sources: readonly SourceReport[],
  home: string,
  reportFile: string | undefined,
): Promise<void> {
  if (reportFile !== undefined)
    await writeFile(reportFile, `${JSON.stringify({ sources }, null, 2)}\n`);
  const { addFetched } = await import("../peer/status.ts");
  await addFetched(
    home,
    sources
      .filter((s) => s.kind === "peer")
      .map(({ url, requests, bytes, failures }) => ({ url, requests, bytes, failures })),
  ).catch(() => undefined);
}
