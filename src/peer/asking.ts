/**
 * Fetching from LAN peers without telling them more than sharing would:
 * a client asks peers only for blobs its own share policy calls shareable
 * (computed from the documents it verified, with the same popularity
 * entry), so its questions reveal no version a peer could not announce
 * holding. Peers are gateways of the source pool's first tier: one is
 * asked at a time, in random order, never all at once; a peer that serves
 * a wrong byte is set aside like a lying mirror, and named.
 */
import type { GatewayBlobRef } from "../client/gateway-source.ts";
import type { SourcePool } from "../client/source-pool.ts";
import type { PackageDocument } from "../registry/package-document.ts";
import type { Discovery, PeerInfo } from "./discovery.ts";
import { type Popularity, SharePolicy } from "./policy.ts";

export class PeerAsks {
  #policy: SharePolicy;
  /** SHA-256 of each blob a shareable version names: its tarball and its file index. */
  readonly #allowed = new Set<string>();

  constructor(popularity?: Popularity) {
    this.#policy = policyWith(popularity);
  }

  /** Decides documents learnt from now on with this popularity entry (known once the checkpoint is). */
  usePopularity(popularity: Popularity | undefined): void {
    this.#policy = policyWith(popularity);
  }

  /** Learns the shareable blobs of a verified document's versions. */
  learn(doc: PackageDocument | undefined): void {
    if (!doc) return;
    for (const [version, v] of Object.entries(doc.versions)) {
      if (!this.#policy.decideIn(doc, version).share) continue;
      if (v.artifact) this.#allowed.add(v.artifact.sha256);
      if (v.files) this.#allowed.add(v.files.sha256);
    }
  }

  /** The pool's `asks` predicate for the peer tier. */
  readonly asks = (ref: GatewayBlobRef): boolean => this.#allowed.has(ref.sha256);
}

function policyWith(popularity: Popularity | undefined): SharePolicy {
  return new SharePolicy({ document: () => undefined, ...(popularity ? { popularity } : {}) });
}

/**
 * Keeps the pool's peer tier equal to the peers the discoveries know:
 * peers found later join, peers lost leave (their counts and any penalty
 * stay). Returns every peer URL ever used, for a report.
 */
export function peersIntoPool(
  pool: SourcePool,
  discoveries: readonly Discovery[],
  asks: (ref: GatewayBlobRef) => boolean,
): Set<string> {
  const used = new Set<string>();
  const update = () => {
    const urls = discoveries.flatMap((d) => d.peers()).map((p: PeerInfo) => p.url);
    for (const url of urls) used.add(url.replace(/\/+$/, ""));
    pool.setGateways(urls, "peer", asks);
  };
  for (const d of discoveries) {
    d.on("found", update);
    d.on("lost", update);
  }
  update();
  return used;
}
