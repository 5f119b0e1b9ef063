/**
 * What the web interface reads, from whichever server mounts it: the
 * origin, a mirror or a proxy. Each server adapts what it holds
 * (src/npm/web-source.ts); the pages know nothing of where bytes live.
 * Package data comes through the same PackageReader the npm API uses, so a
 * mirror's pages show its own verified copy, and a proxy's what it
 * verified from its sources.
 */
import type { MirrorStanding } from "../client/mirror-health.ts";
import type { LogSource } from "../log/tile-reader.ts";
import type { BlobRef, VersionEntry } from "../registry/entries.ts";
import type { PackageReader } from "../registry/package-reader.ts";
import type { RegistryState } from "../registry/state.ts";

export type ServerRole = "origin" | "mirror" | "proxy";

/** One file of a version as it installs: its path inside the package folder. */
export interface WebFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  /** 0o644 or 0o755. */
  readonly mode: number;
}

/** A version's files: the list, and each file's bytes on demand (checked against its sha256). */
export interface VersionFiles {
  /** Sorted by path. */
  readonly files: readonly WebFile[];
  read(file: WebFile): Promise<Uint8Array>;
}

export interface WebSource {
  readonly role: ServerRole;
  readonly packages: PackageReader;
  /**
   * The whole registry state, where this server holds one (origin, mirror,
   * a full proxy): search, dependents, recent entries. Undefined for a
   * sparse proxy, which reads package by package; pages then say what
   * they cannot show. A function: a mirror's state appears after its first
   * sync.
   */
  state(): RegistryState | undefined;
  /** A version's files: its published file index, or its tarball unpacked. Throws if neither can be had. */
  files(entry: VersionEntry): Promise<VersionFiles>;
  /** A blob named by an entry, checked against ref.sha256. Throws if unavailable. */
  blob(ref: BlobRef): Promise<Uint8Array>;
  /**
   * The log's static tree as this server serves it (checkpoint, tiles,
   * entry bundles). Unchecked bytes: the proof page sends them to the
   * browser, which checks them itself.
   */
  readonly log: LogSource;
  /** The origin's verifier key (signed-note vkey) signatures are checked against. */
  readonly verifierKey: string;
  /** How each mirror of the origin's signed list stands (`cairn mirrors check`); undefined where none can be checked. */
  mirrors?(): Promise<readonly MirrorStanding[]>;
}
