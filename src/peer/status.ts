/**
 * `cairn peer status`: what a peer found, served, fetched and shares, and
 * why. The LAN port answers blocks only, so the status is never served:
 * the running peer writes it to `$CAIRN_HOME/peer/status.json` (private
 * to the user, like the rest of CAIRN_HOME), and installs that fetch from
 * peers add their counts to `$CAIRN_HOME/peer/fetched.json`. A file, not a
 * loopback port: nothing more listens, other users of the machine cannot
 * read it, and the last status outlives the peer.
 */
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { replaceFile } from "../util/durable-file.ts";
import type { PeerInfo } from "./discovery.ts";
import type { ShareDecision } from "./policy.ts";

export interface PeerStatus {
  readonly v: 1;
  readonly pid: number;
  readonly url: string;
  readonly started: string;
  readonly updated: string;
  /** The verified checkpoint the set was decided at. */
  readonly checkpoint: { readonly origin?: string; readonly size?: number };
  /** The popularity threshold applied; null without a popularity entry (latest versions and latest of each line only). */
  readonly threshold: number | null;
  readonly popularOnly: boolean;
  /** Blocks shared: whole blobs and the leaves and nodes of large tarballs. */
  readonly blocks: number;
  /** Held versions by decision reason: shared (latest, popular, latest-in-line) and withheld (the rest). */
  readonly reasons: Readonly<Record<string, number>>;
  readonly versions: readonly {
    readonly name: string;
    readonly version: string;
    readonly share: boolean;
    readonly reason: ShareDecision["reason"];
  }[];
  readonly peers: readonly PeerInfo[];
  readonly served: readonly { readonly address: string; requests: number; bytes: number }[];
  /** Seeding: versions fetched for others, and the last failure. */
  readonly seeded: number;
}

/** Fetches from one peer, over every install that recorded them. */
export interface FetchedFrom {
  readonly url: string;
  requests: number;
  bytes: number;
  failures: number;
}

function statusDir(home: string): string {
  return join(home, "peer");
}

async function writeAtomically(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await replaceFile(path, Buffer.from(data), false);
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch {
    return undefined;
  }
}

export function writeStatus(home: string, status: PeerStatus): Promise<void> {
  return writeAtomically(join(statusDir(home), "status.json"), `${JSON.stringify(status)}\n`);
}

export async function readStatus(home: string): Promise<PeerStatus | undefined> {
  const value = await readJson(join(statusDir(home), "status.json"));
  return typeof value === "object" && value !== null && (value as PeerStatus).v === 1
    ? (value as PeerStatus)
    : undefined;
}

export async function readFetched(home: string): Promise<FetchedFrom[]> {
  const value = await readJson(join(statusDir(home), "fetched.json"));
  if (!Array.isArray(value)) return [];
  return value.filter(
    (f): f is FetchedFrom =>
      typeof f?.url === "string" &&
      [f.requests, f.bytes, f.failures].every((n) => Number.isSafeInteger(n) && n >= 0),
  );
}

/**
 * Adds one install's counts per peer. Read, add, replace: two installs
 * finishing at the same instant may lose one's counts, never corrupt the file.
 */
export async function addFetched(home: string, counts: readonly FetchedFrom[]): Promise<void> {
  if (counts.length === 0) return;
  const all = new Map((await readFetched(home)).map((f) => [f.url, f]));
  for (const c of counts) {
    const known = all.get(c.url) ?? { url: c.url, requests: 0, bytes: 0, failures: 0 };
    known.requests += c.requests;
    known.bytes += c.bytes;
    known.failures += c.failures;
    all.set(c.url, known);
  }
  await writeAtomically(
    join(statusDir(home), "fetched.json"),
    `${JSON.stringify([...all.values()])}\n`,
  );
}

/** Whether the process that wrote a status still runs. */
export function running(status: PeerStatus): boolean {
  try {
    process.kill(status.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** The status as text, for a terminal. */
export function renderStatus(
  status: PeerStatus | undefined,
  fetched: readonly FetchedFrom[],
): string {
  const lines: string[] = [];
  if (!status) lines.push("no peer has run here (start one with cairn peer)");
  else {
    const state = running(status) ? "running" : `not running (last status ${status.updated})`;
    lines.push(`peer: ${state} on ${status.url}, since ${status.started}`);
    lines.push(
      `checkpoint: ${status.checkpoint.origin ?? "(none)"} size ${status.checkpoint.size ?? "-"}; ` +
        (status.threshold === null
          ? "no popularity entry: latest versions and the latest of each release line only"
          : `popular at ${status.threshold} downloads`) +
        (status.popularOnly ? "; popular versions only" : ""),
    );
    const reasons = Object.entries(status.reasons)
      .map(([r, n]) => `${n} ${r}`)
      .join(", ");
    lines.push(`shared: ${status.blocks} blocks; versions held: ${reasons || "none"}`);
    for (const v of status.versions)
      lines.push(`  ${v.share ? "shared  " : "withheld"} ${v.name}@${v.version} (${v.reason})`);
    if (status.seeded > 0) lines.push(`seeded: ${status.seeded} popular versions`);
    lines.push(`peers found: ${status.peers.length}`);
    for (const p of status.peers) lines.push(`  ${p.id} ${p.url}`);
    lines.push(`served: ${status.served.length} addresses`);
    for (const s of status.served)
      lines.push(`  ${s.address}: ${s.requests} requests, ${mib(s.bytes)}`);
  }
  lines.push(`fetched from peers: ${fetched.length}`);
  for (const f of fetched)
    lines.push(`  ${f.url}: ${f.requests} requests, ${mib(f.bytes)}, ${f.failures} failures`);
  return lines.join("\n");
}
