/**
 * What the installer knows of the registry: each package as the resolver
 * sees it, each version's entry as the log binds it, and verified tarball
 * bytes. Documents come from a verified reader: sparse reads through the
 * signed snapshot (a new machine fetches only the packages its tree
 * needs), or the local index `cairn sync` keeps. Each is read once per
 * install, and fetched ahead as soon as a dependency names it.
 */
import pLimit from "p-limit";
import semver from "semver";
import type { ResolvablePackage, ResolvableVersion } from "../client/resolve.ts";
import { integrityOf } from "../npm/rules/integrity.ts";
import type { VersionEntry } from "../registry/entries.ts";
import type { PackageDocument } from "../registry/package-document.ts";
import { versionEntryOf } from "../registry/package-document.ts";
import type { PackageReader } from "../registry/package-reader.ts";
import { isWithdrawn, type TakenDown } from "../registry/takedown.ts";
import type { FileSource } from "./file-fetch.ts";
import { InstallError } from "./install-error.ts";

/** A version as an install records it: the entry the log holds and where. */
export interface LoggedVersion {
  readonly entry: VersionEntry;
  /** Index of the log entry that last changed it (the one binding its tarball). */
  readonly index: number;
  /** `sha512-…`, as npm's lockfile writes it; absent for an imported version with only a SHA-1. */
  readonly integrity?: string;
}

/** Documents and tarballs; and, from a reader that can fetch them, file indexes, files and deltas. */
export type DocumentReader = Pick<PackageReader, "document" | "tarball"> & Partial<FileSource>;

/**
 * For a registry that imports from uplinks on request: `absent` asks it to
 * import a package the log does not hold yet, and resolves true once the
 * reader's view includes whatever it imported; `unbound` fetches the
 * tarball of an imported version whose bytes the log does not bind yet
 * (the store checks them against the imported integrity).
 */
export interface OnDemandImports {
  absent(name: string): Promise<boolean>;
  unbound(entry: VersionEntry): Promise<Uint8Array>;
}

function takenDown(name: string, version: string | undefined, mark: TakenDown): InstallError {
  const what = version === undefined ? name : `${name}@${version}`;
  return new InstallError(
    "taken-down",
    `${what} was taken down: ${mark.reason} (log entry ${mark.index}, ${mark.time})`,
  );
}

/** Documents read at once: enough to keep a network busy, few enough not to flood a mirror. */
const DOCUMENT_READS = 32;

export class RegistrySource {
  readonly #reader: DocumentReader;
  readonly #documents = new Map<string, Promise<PackageDocument | undefined>>();
  readonly #limit = pLimit(DOCUMENT_READS);

  readonly #imports: OnDemandImports | undefined;

  constructor(reader: DocumentReader, imports?: OnDemandImports) {
    this.#reader = reader;
    this.#imports = imports;
  }

  /** Starts reading these packages now, so that the `get` that follows finds them on their way. */
  prefetch(names: readonly string[]): void {
    for (const name of names) void this.#document(name).catch(() => undefined);
  }

  /** The package as the resolver sees it: live versions, tags, deprecations. */
  async get(name: string): Promise<ResolvablePackage | undefined> {
    const doc = await this.#document(name);
    if (doc?.takenDown) throw takenDown(name, undefined, doc.takenDown);
    if (!doc || doc.unpublished !== undefined) return undefined;
    const versions: ResolvableVersion[] = [];
    for (const [version, v] of Object.entries(doc.versions)) {
      if (isWithdrawn(v)) continue;
      versions.push({ version, resolution: v.resolution, deprecated: v.deprecated ?? null });
    }
    return { name, distTags: doc.distTags, versions };
  }

  /** A version's entry as the log binds it; undefined when the registry has no such live version. */
  async version(name: string, version: string): Promise<LoggedVersion | undefined> {
    const doc = await this.#document(name);
    const v = doc?.versions[version];
    // Refused by name even when its files are in the store already: a lockfile pin is no exception.
    const mark = doc?.takenDown ?? v?.takenDown;
    if (mark) throw takenDown(name, version, mark);
    if (!doc || !v || v.unpublished !== undefined || doc.unpublished !== undefined)
      return undefined;
    const entry = versionEntryOf(doc, version, v);
    const { sha512 } = integrityOf(entry);
    return { entry, index: v.index, ...(sha512 ? { integrity: `sha512-${sha512}` } : {}) };
  }

  /**
   * The version the origin makes `version`'s deltas from: the highest live
   * one below it whose entry names a file index (file-deltas.ts's rule).
   */
  async previous(name: string, version: string): Promise<string | undefined> {
    const doc = await this.#document(name);
    if (!doc || !semver.valid(version)) return undefined;
    let best: string | undefined;
    for (const [v, d] of Object.entries(doc.versions)) {
      if (isWithdrawn(d) || !d.files || !semver.valid(v)) continue;
      if (semver.lt(v, version) && (best === undefined || semver.gt(v, best))) best = v;
    }
    return best;
  }

  /** Where a version's files can be fetched one by one, if the reader can. */
  get files(): FileSource | undefined {
    const reader = this.#reader;
    return reader.blob && reader.blobFromDelta ? (reader as FileSource) : undefined;
  }

  /** The tarball's bytes, checked against the entry's hashes by the reader. */
  tarball(entry: VersionEntry): Promise<Uint8Array> {
    if (entry.kind === "import" && !entry.artifact && this.#imports)
      return this.#imports.unbound(entry);
    return this.#reader.tarball(entry);
  }

  #document(name: string): Promise<PackageDocument | undefined> {
    let doc = this.#documents.get(name);
    if (!doc) {
      doc = this.#limit(async () => {
        const found = await this.#reader.document(name);
        if (found || !this.#imports || !(await this.#imports.absent(name))) return found;
        return this.#reader.document(name);
      });
      this.#documents.set(name, doc);
      // A failed read is not kept: the next ask tries again.
      doc.catch(() => this.#documents.delete(name));
    }
    return doc;
  }
}
