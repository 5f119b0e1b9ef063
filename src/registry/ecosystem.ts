/**
 * One ecosystem's rules, as the registry core applies them. The core folds
 * entries, encodes documents and builds snapshots for any ecosystem; what
 * a name, a version, an artifact's hashes or a resolution must look like,
 * and what follows when a version is withdrawn, is the ecosystem's. The
 * rules are pure (no I/O) and handed in by the layers above (the table of
 * every ecosystem is src/ecosystems/index.ts), so nothing here holds any
 * one ecosystem's assumptions.
 */
import {
  type Artifact,
  decodeEntry,
  type Entry,
  type EntryCheck,
  EntryError,
  encodeEntry,
  isPackageEntry,
  type PackageEntry,
} from "./entries.ts";
import type { PackageDocument, VersionDocument } from "./package-document.ts";

export type PackageEntryKind = PackageEntry["kind"];

/** An ecosystem whose clients read one index file per package (cargo's sparse index). */
export interface NativeIndex {
  /** The package's index file, or undefined when it has none to serve (no version left). */
  indexFile(doc: PackageDocument): Uint8Array | undefined;
  /** Where the index file of the package published as `name` lives (`se/rd/serde`). */
  indexPath(name: string): string;
}

export interface Ecosystem {
  /** The entries' `ecosystem` and the snapshot keys' prefix: "npm", "cargo". */
  readonly id: string;
  /** The name as snapshot keys hold it: one key per package however its name is spelled. */
  keyName(name: string): string;
  /** The package entry kinds that apply. */
  readonly kinds: ReadonlySet<PackageEntryKind>;
  /**
   * Everything the neutral envelope leaves open (name, version, artifact
   * hashes, integrity, resolution shapes); throws a `bad-field` EntryError.
   */
  checkEntry(entry: PackageEntry, check: EntryCheck): void;
  /**
   * The version that speaks for the package (npm: `latest`): dependents
   * count its dependencies, search describes it, listings show it.
   */
  current(doc: PackageDocument): string | undefined;
  /** After a version was withdrawn and its tags dropped: re-points the tags the ecosystem keeps. */
  afterVersionRemoved(
    distTags: Record<string, string>,
    versions: Readonly<Record<string, VersionDocument>>,
  ): void;
  /** Whether bound bytes' artifact hashes are what an uplink claimed for them. */
  artifactMatches(integrity: Readonly<Record<string, string>>, artifact: Artifact): boolean;
  /** The same-registry packages a version's resolution depends on. */
  dependencyNames(resolution: Readonly<Record<string, unknown>>): Iterable<string>;
  /** Its native index, if it has one: the snapshot then carries a signed view of it (index-view.ts). */
  readonly nativeIndex?: NativeIndex;
}

/** The ecosystems a registry serves, by id. */
export type Ecosystems = ReadonlyMap<string, Ecosystem>;

/** The rules of ecosystem `id`; a `cannot-apply` EntryError if there are none. */
export function rulesOf(ecosystems: Ecosystems, id: string): Ecosystem {
  const rules = ecosystems.get(id);
  if (!rules) throw new EntryError("cannot-apply", `no rules for ecosystem ${JSON.stringify(id)}`);
  return rules;
}

/**
 * Checks a package entry against its ecosystem's rules (kind and payload):
 * a `bad-field` EntryError if they refuse it or there are none.
 */
export function checkEntryWith(
  ecosystems: Ecosystems,
  entry: PackageEntry,
  check: EntryCheck,
): void {
  const rules = ecosystems.get(entry.ecosystem);
  if (!rules)
    throw new EntryError("bad-field", `unknown ecosystem ${JSON.stringify(entry.ecosystem)}`);
  checkByRules(rules, entry, check);
}

/** Checks a package entry of `rules`' ecosystem: its kind and payload (`bad-field`). */
export function checkByRules(rules: Ecosystem, entry: PackageEntry, check: EntryCheck): void {
  if (!rules.kinds.has(entry.kind))
    throw new EntryError("bad-field", `${rules.id} has no ${entry.kind} entries`);
  rules.checkEntry(entry, check);
}

/** Parses entry bytes as `decodeEntry` does, then checks a package entry by its ecosystem's rules. */
export function decodeEntryWith(bytes: Uint8Array, ecosystems: Ecosystems): Entry {
  const entry = decodeEntry(bytes);
  if (isPackageEntry(entry)) checkEntryWith(ecosystems, entry, "read");
  return entry;
}

/** The entry's bytes as `encodeEntry` gives them, a package entry checked by its ecosystem's rules too. */
export function encodeEntryWith(entry: Entry, ecosystems: Ecosystems): Uint8Array {
  const bytes = encodeEntry(entry);
  if (isPackageEntry(entry)) checkEntryWith(ecosystems, entry, "append");
  return bytes;
}
