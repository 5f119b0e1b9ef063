/**
 * What every server of the registry reads packages through (the origin, a
 * mirror, a verifying proxy): documents, versions and checked blobs, from
 * whatever holds them. The npm API is one frontend over it.
 */

import type { BlobStore } from "../store/blobs.ts";
import { BlobError, boundArtifact, verifyIntegrity } from "./blob-check.ts";
import type { BlobRef, RegistryKeysEntry, VersionEntry } from "./entries.ts";
import type { PackageDocument } from "./package-document.ts";
import type { SearchIndex } from "./search.ts";
import type { RegistryState, VersionRow } from "./state.ts";

export interface PackageReader {
  /** A token that changes whenever the package's document does; undefined if the registry has no such package. */
  revision(name: string): Promise<string | undefined>;
  /** The package's document; undefined if the registry has no such package. */
  document(name: string): Promise<PackageDocument | undefined>;
  /** One version of a package (a tarball request), where the reader can find it without the whole document. */
  version(name: string, version: string): Promise<VersionRow | undefined>;
  /** The newest npm registry key set in the log (npm's /-/npm/v1/keys), undefined while it has none. */
  registryKeys(): Promise<RegistryKeysEntry | undefined>;
  /** Full-text search, when the reader holds the whole registry. */
  readonly search?: SearchIndex;
  /** A manifest blob's bytes, checked against ref.sha256 (throw if unavailable). */
  manifest(entry: VersionEntry): Promise<Uint8Array>;
  /** A tarball's bytes, checked against the entry's artifact sha256 and sha512 before it is returned (throw if unavailable or wrong). */
  tarball(entry: VersionEntry): Promise<Uint8Array>;
  /**
   * The email an owner gave at sign-up, shown beside the owner's name in full
   * packuments as npm's registry does (`npm owner ls` prints it). Only the
   * origin has users; copies leave it out, and the log never holds it.
   */
  ownerEmail?(user: string): string | undefined;
  /** Why a package's data may be out of date (an uplink that cannot be reached), for a response header. */
  staleness?(name: string): string | undefined;
  /** Optional: called before each packument/tarball/search read, so a proxy can bring its state up to date first. */
  beforeRead?(): Promise<void>;
}

/** The reads of a PackageReader, from a derived state that holds the whole registry. */
export function stateReads(
  state: RegistryState,
): Pick<PackageReader, "revision" | "document" | "version" | "search" | "registryKeys"> {
  return {
    revision: async (name) => {
      const pkg = state.table("npm").getPackage(name);
      return pkg && String(pkg.updated);
    },
    document: async (name) => state.table("npm").document(name),
    version: async (name, version) => state.table("npm").version(name, version),
    search: state.table("npm").search,
    registryKeys: async () => state.registryKeys?.entry,
  };
}

/**
 * A whole PackageReader over a derived state and the blob store beside it
 * (the origin's, a mirror's).
 */
export function storeReads(state: RegistryState, blobs: BlobStore): PackageReader {
  const stored = async (entry: VersionEntry, ref: BlobRef, what: string) => {
    const bytes = await blobs.get(ref.sha256);
    // The store answers undefined for a file whose bytes no longer match its name too.
    if (!bytes)
      throw new BlobError(
        "missing",
        `${what} blob of ${entry.name}@${entry.version} is missing or damaged on this server`,
      );
    return bytes;
  };
  return {
    ...stateReads(state),
    manifest: (entry) => stored(entry, entry.manifest, "manifest"),
    tarball: async (entry) => {
      const artifact = boundArtifact(entry);
      const bytes = await stored(entry, artifact, "tarball");
      // The store checked the SHA-256 on reading; npm checks the SHA-512 too.
      verifyIntegrity(artifact, bytes);
      return bytes;
    },
  };
}
