/**
 * What a LAN peer may share, decided from the verified registry state alone,
 * so that every peer holding the same checkpoint decides alike, and a peer
 * that asks applies the same rule before it asks (see the README's section
 * on peers' privacy for the reasoning).
 *
 * A version is shareable when its package has not opted out (any version's
 * entry says `"share": false`), the version and its package are not
 * unpublished, and it is the package's `latest`, or popular (its estimate
 * in the newest popularity sketch is at least the threshold, the published
 * one raised by the peer's own), or the latest of its release line: the
 * version a fresh resolution of any caret range in that line picks. A blob is shareable when a
 * shareable version the peer holds names it: the version's file index and
 * each file the index lists (from the install store), and its tarball with
 * the leaves and node blocks of the tarball's DAG (from the share store).
 */
import { readFile } from "node:fs/promises";
import semver from "semver";
import type { FileIndex } from "../install/package-files.ts";
import type { PackageStore } from "../install/store.ts";
import { storedIndexes } from "../install/store-maintenance.ts";
import type { BlobRef, PopularityEntry } from "../registry/entries.ts";
import type { PackageDocument, VersionDocument } from "../registry/package-document.ts";
import { CountMinSketch, popularityKey, popularityThreshold } from "../registry/popularity.ts";
import { MAX_BLOCK_SIZE, type UnixfsRoot } from "../store/block-index.ts";
import { sha256Hex } from "../util/sha256.ts";
import { rootOfHeld, type ShareStore } from "./share-store.ts";

export type ShareReason = "latest" | "popular" | "latest-in-line";
export type WithheldReason = "unknown" | "opted-out" | "unpublished" | "taken-down" | "unpopular";
export type ShareDecision =
  | { readonly share: true; readonly reason: ShareReason }
  | { readonly share: false; readonly reason: WithheldReason };

/** The newest popularity entry with its sketch, decoded. */
export interface Popularity {
  readonly entry: PopularityEntry;
  readonly sketch: CountMinSketch;
}

export interface SharePolicyOptions {
  /** The package's document as the peer's verified state holds it (the local index, a reader). */
  readonly document: (
    name: string,
  ) => Promise<PackageDocument | undefined> | PackageDocument | undefined;
  /** The newest popularity entry of the same state; without one only `latest` versions share. */
  readonly popularity?: Popularity;
  /** The peer's own threshold: it raises the published one, never lowers it. */
  readonly threshold?: number;
  /**
   * false: share popular versions only, not every package's latest nor the
   * latest of each release line (holding the latest of a package few use
   * still says that one uses it). Default true.
   */
  readonly latest?: boolean;
}

/** Whether a package opted out of sharing: any of its versions, live or not, says so. */
export function optedOut(doc: PackageDocument): boolean {
  return Object.values(doc.versions).some((v) => v.share === false);
}

function versionOf(doc: PackageDocument, version: string): VersionDocument | undefined {
  return Object.hasOwn(doc.versions, version) ? doc.versions[version] : undefined;
}

export class SharePolicy {
  readonly #document: SharePolicyOptions["document"];
  /** The newest popularity entry and sketch the policy reads, if any. */
  readonly popularity: Popularity | undefined;
  readonly #latest: boolean;
  /** The estimate at which a version is popular; undefined without a sketch. */
  readonly threshold: number | undefined;

  constructor(options: SharePolicyOptions) {
    this.#document = options.document;
    this.popularity = options.popularity;
    this.#latest = options.latest ?? true;
    this.threshold =
      options.popularity &&
      popularityThreshold(options.popularity.entry.threshold, options.threshold);
  }

  /** The package's document from the state the policy reads. */
  async document(name: string): Promise<PackageDocument | undefined> {
    return this.#document(name);
  }

  /** Whether `name@version` may be announced and served, and why (for `cairn peer status`). */
  async decide(name: string, version: string): Promise<ShareDecision> {
    const doc = await this.#document(name);
    return doc ? this.decideIn(doc, version) : { share: false, reason: "unknown" };
  }

  /** The same decision, given the package's document. */
  decideIn(doc: PackageDocument, version: string): ShareDecision {
    const v = versionOf(doc, version);
    if (v === undefined) return { share: false, reason: "unknown" };
    if (doc.takenDown !== undefined || v.takenDown !== undefined)
      return { share: false, reason: "taken-down" };
    if (optedOut(doc)) return { share: false, reason: "opted-out" };
    if (doc.unpublished !== undefined || v.unpublished !== undefined)
      return { share: false, reason: "unpublished" };
    if (this.#latest && doc.distTags.latest === version) return { share: true, reason: "latest" };
    if (this.popular(doc.name, version)) return { share: true, reason: "popular" };
    if (this.#latest && latestOfLines(doc).has(version))
      return { share: true, reason: "latest-in-line" };
    return { share: false, reason: "unpopular" };
  }

  /** Whether the newest sketch counts `name@version` as popular. */
  popular(name: string, version: string): boolean {
    if (!this.popularity || this.threshold === undefined) return false;
    return this.popularity.sketch.estimate(popularityKey("npm", name, version)) >= this.threshold;
  }
}

/**
 * The release line of a version, as a caret range spans it: its major, or
 * `0.<minor>` below 1.0.0. Undefined for a prerelease and for 0.0.x, where
 * a caret range matches one version only, so holding it is a pin.
 */
function releaseLine(version: string): string | undefined {
  const v = semver.parse(version);
  if (!v || v.prerelease.length > 0) return undefined;
  if (v.major > 0) return String(v.major);
  return v.minor > 0 ? `0.${v.minor}` : undefined;
}

const linesCache = new WeakMap<PackageDocument, ReadonlySet<string>>();

/** The highest live version of each release line of a package (cached per document object). */
export function latestOfLines(doc: PackageDocument): ReadonlySet<string> {
  const known = linesCache.get(doc);
  if (known) return known;
  const highest = new Map<string, string>();
  for (const [version, v] of Object.entries(doc.versions)) {
    if (v.unpublished !== undefined || v.takenDown !== undefined) continue;
    const line = releaseLine(version);
    if (line === undefined) continue;
    const top = highest.get(line);
    if (top === undefined || semver.gt(version, top)) highest.set(line, version);
  }
  const heads = new Set(highest.values());
  linesCache.set(doc, heads);
  return heads;
}

/**
 * Reads the sketch a popularity entry names, with `blob` (which fetches
 * or reads it); its SHA-256 and size are checked against the entry here
 * whatever `blob` checked, and hostile bytes throw a `bad-sketch` EntryError.
 */
export async function loadPopularity(
  entry: PopularityEntry,
  blob: (ref: BlobRef) => Promise<Uint8Array>,
): Promise<Popularity> {
  const bytes = await blob(entry.sketch);
  if (bytes.length !== entry.sketch.size || sha256Hex(bytes) !== entry.sketch.sha256)
    throw new Error(`the popularity sketch ${entry.sketch.sha256} does not match its entry`);
  return { entry, sketch: CountMinSketch.decode(bytes, entry.depth, entry.width) };
}

/** A blob a peer may serve from its install store. */
export interface SharedBlob {
  readonly sha256: string;
  readonly size: number;
  /** Where its bytes are on disk. */
  readonly path: string;
  /** The first shareable version found that names it, for `cairn peer status`. */
  readonly name: string;
  readonly version: string;
  readonly reason: ShareReason;
}

/** A version the store holds and what the policy decided for it. */
export interface HeldVersion {
  readonly name: string;
  readonly version: string;
  readonly decision: ShareDecision;
}

export interface ShareSet {
  /** By SHA-256: every blob some shareable held version names (tarballs only up to MAX_BLOCK_SIZE). */
  readonly blobs: ReadonlyMap<string, SharedBlob>;
  /** The DAG roots of shareable held tarballs over one chunk: their leaves and nodes are shared too. */
  readonly roots: readonly UnixfsRoot[];
  /** Each held version once (from either store), with the policy's decision. */
  readonly versions: readonly HeldVersion[];
}

/**
 * What the stores at hand may share under `policy`: only versions whose
 * stored tarball is the one the verified state names (its SHA-512 for the
 * install store's index, its SHA-256 for the share store's tarball), the
 * file index when its bytes are the `files` blob the log names, each file
 * the index lists, and the tarball itself.
 */
export async function shareSet(
  store: PackageStore | undefined,
  policy: SharePolicy,
  share?: ShareStore,
): Promise<ShareSet> {
  const blobs = new Map<string, SharedBlob>();
  const roots: UnixfsRoot[] = [];
  const versions = new Map<string, HeldVersion>();
  const decided = (name: string, version: string, decision: ShareDecision) => {
    const key = `${name}@${version}`;
    const known = versions.get(key);
    // Held in both stores: shared if either copy is the logged one.
    if (!known || (!known.decision.share && decision.share))
      versions.set(key, { name, version, decision });
  };
  for (const index of store ? await storedIndexes(store) : []) {
    const doc = await policy.document(index.name);
    const decision = decideHeld(policy, index, doc);
    decided(index.name, index.version, decision);
    if (!doc || !decision.share) continue;
    const held = { name: index.name, version: index.version, reason: decision.reason };
    const files = versionOf(doc, index.version)?.files;
    if (store && files) {
      const path = store.indexPath(index.tarball.integrity);
      const bytes = await readFile(path).catch(() => undefined);
      if (bytes && bytes.length === files.size && sha256Hex(bytes) === files.sha256)
        add(blobs, { sha256: files.sha256, size: files.size, path, ...held });
    }
    if (store)
      for (const file of index.files.values())
        add(blobs, { sha256: file.sha256, size: file.size, path: store.filePath(file), ...held });
  }
  for (const tarball of share ? await share.held() : []) {
    const doc = await policy.document(tarball.name);
    const logged = doc && versionOf(doc, tarball.version)?.artifact;
    const decision: ShareDecision =
      doc && logged?.sha256 === tarball.sha256 && logged.size === tarball.size
        ? policy.decideIn(doc, tarball.version)
        : { share: false, reason: "unknown" };
    decided(tarball.name, tarball.version, decision);
    if (!share || !decision.share) continue;
    const { name, version, sha256, size } = tarball;
    if (size <= MAX_BLOCK_SIZE)
      add(blobs, {
        sha256,
        size,
        path: share.pathOf(sha256),
        name,
        version,
        reason: decision.reason,
      });
    const root = logged?.unixfs === tarball.unixfs ? rootOfHeld(tarball) : undefined;
    if (root) roots.push(root);
  }
  const sorted = [...versions.values()].sort(
    (a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version),
  );
  return { blobs, roots, versions: sorted };
}

function add(blobs: Map<string, SharedBlob>, blob: SharedBlob): void {
  if (!blobs.has(blob.sha256)) blobs.set(blob.sha256, blob);
}

/** The policy's decision for a stored index, and "unknown" when its tarball is not the logged one. */
function decideHeld(
  policy: SharePolicy,
  index: FileIndex,
  doc: PackageDocument | undefined,
): ShareDecision {
  if (!doc) return { share: false, reason: "unknown" };
  const logged = versionOf(doc, index.version)?.artifact?.sha512;
  const stored = index.tarball.integrity.slice("sha512-".length);
  if (logged !== stored) return { share: false, reason: "unknown" };
  return policy.decideIn(doc, index.version);
}
