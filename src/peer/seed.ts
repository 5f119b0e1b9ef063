/**
 * Seeding: a peer may hold popular content it does not itself need, so
 * that the LAN has it when someone does. The sketch cannot list what is
 * popular (it only answers for a key), so the candidates are every live
 * version of every package the registry lists, each looked up in the
 * sketch; the `count` with the highest estimates that are shareable under
 * the popular rule alone are fetched (verified against the log, as every
 * download is) and kept in the share store. Reading every document costs
 * as much as a sync; `maxDocuments` bounds it.
 */
import type { VersionEntry } from "../registry/entries.ts";
import { type PackageDocument, versionEntryOf } from "../registry/package-document.ts";
import { popularityKey } from "../registry/popularity.ts";
import { type Popularity, SharePolicy } from "./policy.ts";
import type { ShareStore } from "./share-store.ts";

export interface SeedOptions {
  /** Every package name the registry lists. */
  readonly names: AsyncIterable<string>;
  readonly document: (name: string) => Promise<PackageDocument | undefined>;
  readonly popularity: Popularity;
  /** The peer's own threshold. */
  readonly threshold?: number;
  /** How many versions to hold. */
  readonly count: number;
  readonly share: ShareStore;
  /** The tarball's bytes, verified against the entry's hashes. */
  readonly tarball: (entry: VersionEntry) => Promise<Uint8Array>;
  /** Documents read at most (default 100,000). */
  readonly maxDocuments?: number;
  /** True once the peer is stopping: seeding ends at the next step. */
  readonly stopped?: () => boolean;
}

export interface SeedReport {
  /** Versions fetched and kept now. */
  readonly seeded: readonly string[];
  /** Versions among the most popular already held. */
  readonly held: number;
  readonly failed: readonly { readonly spec: string; readonly error: string }[];
}

interface Candidate {
  readonly estimate: number;
  readonly entry: VersionEntry;
}

/** The `count` most popular shareable versions, most popular first. */
async function mostPopular(options: SeedOptions): Promise<Candidate[]> {
  const policy = new SharePolicy({
    document: () => undefined,
    popularity: options.popularity,
    ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
    latest: false,
  });
  const best: Candidate[] = [];
  let documents = 0;
  for await (const name of options.names) {
    if (++documents > (options.maxDocuments ?? 100_000) || options.stopped?.()) break;
    const doc = await options.document(name);
    if (!doc) continue;
    for (const [version, v] of Object.entries(doc.versions)) {
      if (!v.artifact || !policy.decideIn(doc, version).share) continue;
      const estimate = options.popularity.sketch.estimate(popularityKey("npm", name, version));
      if (best.length >= options.count && estimate <= best[best.length - 1].estimate) continue;
      best.push({ estimate, entry: versionEntryOf(doc, version, v) });
      best.sort((a, b) => b.estimate - a.estimate);
      if (best.length > options.count) best.pop();
    }
  }
  return best;
}

export async function seedPopular(options: SeedOptions): Promise<SeedReport> {
  if (options.count === 0) return { seeded: [], held: 0, failed: [] };
  const held = new Set(
    (await options.share.held()).map((h) => `${h.name}@${h.version}:${h.sha256}`),
  );
  const seeded: string[] = [];
  const failed: { spec: string; error: string }[] = [];
  let already = 0;
  for (const { entry } of await mostPopular(options)) {
    if (options.stopped?.()) break;
    const spec = `${entry.name}@${entry.version}`;
    const artifact = entry.artifact;
    if (!artifact) continue;
    if (held.has(`${spec}:${artifact.sha256}`)) {
      already++;
      continue;
    }
    try {
      const bytes = await options.tarball(entry);
      await options.share.keep(entry.name, entry.version, artifact, bytes);
      seeded.push(spec);
    } catch (err) {
      failed.push({ spec, error: (err as Error).message });
    }
  }
  return { seeded, held: already, failed };
}
