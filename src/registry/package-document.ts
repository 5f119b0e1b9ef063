/**
 * Package documents: for each package, one canonical JSON object holding
 * every version's resolution data and blob hashes, its dist-tags,
 * deprecations, unpublishes and owners, and the log index of the entries
 * behind them. A document is a pure function of the log prefix: `foldEntry`
 * applies one entry, and it is the only definition of what an entry does to
 * a package. The SQLite state stores documents as rows; snapshots hash them.
 *
 *   {"created":"…","distTags":{"latest":"1.0.0"},"ecosystem":"npm","modified":"…",
 *    "name":"left-pad","owners":["alice"],"updated":7,"v":1,
 *    "versions":{"1.0.0":{"actor":"alice","artifact":{…},"index":7,"manifest":{…},
 *                         "resolution":{…},"tag":"latest","time":"…"}}}
 */
import { canonicalJsonBytes } from "./canonical-json.ts";
import { checkByRules, checkEntryWith, type Ecosystem, type Ecosystems } from "./ecosystem.ts";
import {
  type Artifact,
  type BlobRef,
  checkVersionEntry,
  EntryError,
  type ImportEntry,
  ORIGIN_ACTOR,
  type PackageEntry,
  type PublishEntry,
  type VersionEntry,
} from "./entries.ts";
import { type RegistrySignature, withSignature } from "./registry-keys.ts";
import { checkNotTakenDown, foldTakedown, isTakenDownShape, type TakenDown } from "./takedown.ts";

/** A document holds every version of a package: a few MB for the largest. */
export const MAX_DOCUMENT_BYTES = 64 << 20;

type Identity = "v" | "kind" | "ecosystem" | "name" | "version";

/** What later entries did to a version. */
interface VersionStatus {
  /** Log index of the publish or import entry. */
  readonly index: number;
  readonly deprecated?: string;
  /** Time of the unpublish. */
  readonly unpublished?: string;
  /** Time of the yank still in force (a `yank` entry; absent once unyanked). */
  readonly yanked?: string;
  /** The takedown in force (takedown.ts); absent once restored. */
  readonly takenDown?: TakenDown;
  /** The origin's registry signatures, sorted by keyid (`signature` entries; absent in older logs). */
  readonly signatures?: readonly RegistrySignature[];
}

/** A publish entry without the fields its document already says. */
export type PublishedVersionDocument = Omit<PublishEntry, Identity> & VersionStatus;

/** An import entry without the fields its document already says, and its tarball once bound. */
export type ImportedVersionDocument = Omit<ImportEntry, Identity> &
  VersionStatus & { readonly artifact?: Artifact; readonly files?: BlobRef };

export type VersionDocument = PublishedVersionDocument | ImportedVersionDocument;

export function isImportedVersion(doc: VersionDocument): doc is ImportedVersionDocument {
  return Object.hasOwn(doc, "uplink");
}

/** Where a package's versions came from: none yet, published here, or an uplink. */
type Source =
  | { readonly kind: "none" }
  | { readonly kind: "local" }
  | { readonly kind: "uplink"; readonly uplink: string };

/**
 * Sources by versions object. Enumerating a map of thousands of versions
 * costs as much as copying it, and a batch folds many entries into one
 * package's (owned, reused) versions object; its source never changes.
 */
const sources = new WeakMap<object, Source>();

function sourceOf(doc: PackageDocument): Source {
  let source = sources.get(doc.versions);
  if (source === undefined) {
    source = { kind: "none" };
    // The fold keeps a package to one source, so its first version speaks for all.
    for (const key in doc.versions) {
      const version = doc.versions[key];
      source = isImportedVersion(version)
        ? { kind: "uplink", uplink: version.uplink }
        : { kind: "local" };
      break;
    }
    // Not "none": a versions object still empty may yet be filled in place.
    if (source.kind !== "none") sources.set(doc.versions, source);
  }
  return source;
}

/** The uplink a package's versions came from; undefined for a package published here. */
export function uplinkOf(doc: PackageDocument): string | undefined {
  const source = sourceOf(doc);
  return source.kind === "uplink" ? source.uplink : undefined;
}

export interface PackageDocument {
  readonly v: 1;
  readonly ecosystem: string;
  /** As published: one key holds every spelling the ecosystem's keyName folds together. */
  readonly name: string;
  readonly created: string;
  /** Time of the last entry that changed versions or tags. */
  readonly modified: string;
  /** Log index of the last entry about this package. */
  readonly updated: number;
  /** Time the whole package was unpublished, if it is. */
  readonly unpublished?: string;
  /** The takedown of the whole package in force, if any (takedown.ts). */
  readonly takenDown?: TakenDown;
  readonly distTags: Readonly<Record<string, string>>;
  /** Sorted. */
  readonly owners: readonly string[];
  readonly versions: Readonly<Record<string, VersionDocument>>;
}

/** The snapshot key of a package: `ecosystem/keyName(name)`. */
export function documentKey(
  doc: { readonly ecosystem: string; readonly name: string },
  rules: Ecosystem,
): string {
  return `${doc.ecosystem}/${rules.keyName(doc.name)}`;
}

export function encodeDocument(doc: PackageDocument): Uint8Array {
  return canonicalJsonBytes(doc);
}

export function versionDocument(entry: VersionEntry, index: number): VersionDocument {
  const { v: _v, kind: _k, ecosystem: _e, name: _n, version: _version, ...rest } = entry;
  return { ...rest, index };
}

/** The entry a version document of package `pkg` came from (an imported one with its bound artifact). */
export function versionEntryOf(
  pkg: { readonly ecosystem: string; readonly name: string },
  version: string,
  doc: VersionDocument,
): VersionEntry {
  const {
    index: _i,
    deprecated: _d,
    unpublished: _u,
    yanked: _y,
    takenDown: _t,
    signatures: _s,
    ...rest
  } = doc;
  const kind = isImportedVersion(doc) ? "import" : "publish";
  const { ecosystem, name } = pkg;
  return { v: 1, kind, ecosystem, name, version, ...rest } as VersionEntry;
}

/** The same hashes claimed, hash by hash (absent equals absent). */
function sameIntegrity(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}

function withoutVersion(tags: Readonly<Record<string, string>>, version: string) {
  return Object.fromEntries(Object.entries(tags).filter(([, v]) => v !== version));
}

/** A version's document; an own key only, so a version named `constructor` is just absent. */
function versionOf(doc: PackageDocument, version: string): VersionDocument | undefined {
  return Object.hasOwn(doc.versions, version) ? doc.versions[version] : undefined;
}

/**
 * The document after `entry` (at log index `index`). Unchanged version
 * objects are shared with `doc`, so a caller can tell which versions changed.
 *
 * With `owned`, the caller owns `doc.versions` (it came from an earlier
 * fold of the same batch, and nothing else holds it): a changed version is
 * then set in place rather than in a copy, so a batch that adds thousands
 * of versions to one package costs linear time, not quadratic. Every
 * check comes before the change, so a fold that throws changes nothing.
 *
 * `rules` are the entry's ecosystem's: the kinds it has, what its entries
 * carry, and what withdrawing a version does to its tags.
 */
export function foldEntry(
  doc: PackageDocument | undefined,
  entry: PackageEntry,
  index: number,
  rules: Ecosystem,
  owned = false,
): PackageDocument {
  if (entry.ecosystem !== rules.id)
    throw new EntryError("cannot-apply", `a ${entry.ecosystem} entry folded by ${rules.id} rules`);
  try {
    checkByRules(rules, entry, "read");
  } catch (err) {
    throw new EntryError("cannot-apply", (err as Error).message, { cause: err });
  }
  if (doc !== undefined && doc.name !== entry.name)
    throw new EntryError(
      "cannot-apply",
      `${entry.name} is the package published as ${doc.name}: the names are the same to ${rules.id}`,
    );
  const withVersion = (
    versions: Readonly<Record<string, VersionDocument>>,
    version: string,
    next: VersionDocument,
  ): Readonly<Record<string, VersionDocument>> => {
    if (!owned) return { ...versions, [version]: next };
    (versions as Record<string, VersionDocument>)[version] = next;
    return versions;
  };
  const base: PackageDocument = doc ?? {
    v: 1,
    ecosystem: entry.ecosystem,
    name: entry.name,
    created: entry.time,
    modified: entry.time,
    updated: index,
    distTags: {},
    owners: [],
    versions: {},
  };
  const touched = { ...base, updated: index, modified: entry.time };
  const uplink = doc && uplinkOf(doc);
  switch (entry.kind) {
    case "publish": {
      if (uplink !== undefined)
        throw new EntryError("cannot-apply", `${entry.name} is imported from uplink ${uplink}`);
      checkNotTakenDown(doc, entry.name);
      if (versionOf(base, entry.version) !== undefined)
        throw new EntryError("cannot-apply", `${entry.name}@${entry.version} is already published`);
      const { unpublished: _, ...live } = touched;
      const distTags = entry.tag ? { ...base.distTags, [entry.tag]: entry.version } : base.distTags;
      return {
        ...live,
        distTags,
        owners: base.owners.length > 0 ? base.owners : [entry.actor],
        versions: withVersion(base.versions, entry.version, versionDocument(entry, index)),
      };
    }
    case "import": {
      // An uplink never adds versions to a package published here (dependency confusion).
      if (doc !== undefined && sourceOf(doc).kind === "local")
        throw new EntryError("cannot-apply", `${entry.name} is published here, not imported`);
      checkNotTakenDown(doc, entry.name);
      const known = versionOf(base, entry.version);
      const imported = known !== undefined && isImportedVersion(known) ? known : undefined;
      // Until its tarball is bound, an imported version may be imported again: the upstream
      // corrected what it claimed, and the log shows both claims. Once bound, never.
      const correction =
        imported !== undefined &&
        imported.artifact === undefined &&
        imported.unpublished === undefined;
      // A version the upstream withdrew may come back with the same hashes (its bytes, bound or not).
      const reinstated =
        imported !== undefined &&
        imported.unpublished !== undefined &&
        sameIntegrity(imported.integrity, entry.integrity);
      if (known !== undefined && !correction && !reinstated)
        throw new EntryError("cannot-apply", `${entry.name}@${entry.version} is already known`);
      const { unpublished: _, ...live } = touched;
      const next = versionDocument(entry, index);
      const artifact = reinstated ? imported.artifact : undefined;
      const files = reinstated ? imported.files : undefined;
      return {
        ...live,
        versions: withVersion(
          base.versions,
          entry.version,
          artifact ? { ...next, artifact, ...(files ? { files } : {}) } : next,
        ),
      };
    }
    case "artifact": {
      const current = versionOf(base, entry.version);
      if (current === undefined || !isImportedVersion(current))
        throw new EntryError("cannot-apply", `${entry.name}@${entry.version} was not imported`);
      if (current.artifact !== undefined)
        throw new EntryError("cannot-apply", `${entry.name}@${entry.version} has its tarball`);
      if (!rules.artifactMatches(current.integrity, entry.artifact))
        throw new EntryError(
          "cannot-apply",
          `the tarball of ${entry.name}@${entry.version} does not match its imported integrity`,
        );
      const versions = withVersion(base.versions, entry.version, {
        ...current,
        artifact: entry.artifact,
        ...(entry.files ? { files: entry.files } : {}),
      });
      // The packument does not change: its integrity was the upstream's all along.
      return { ...base, updated: index, versions };
    }
    case "unpublish": {
      if (entry.version === undefined) {
        const versions = Object.fromEntries(
          Object.entries(base.versions).map(([v, d]) => [
            v,
            d.unpublished === undefined ? { ...d, unpublished: entry.time } : d,
          ]),
        );
        return { ...touched, unpublished: entry.time, distTags: {}, versions };
      }
      const current = versionOf(base, entry.version);
      if (current === undefined) return touched;
      const versions = withVersion(base.versions, entry.version, {
        ...current,
        unpublished: entry.time,
      });
      const distTags = withoutVersion(base.distTags, entry.version);
      rules.afterVersionRemoved(distTags, versions);
      return { ...touched, distTags, versions };
    }
    case "dist-tag": {
      const distTags = { ...base.distTags };
      if (entry.version === null) delete distTags[entry.tag];
      else distTags[entry.tag] = entry.version;
      return { ...touched, distTags };
    }
    case "deprecate": {
      const current = versionOf(base, entry.version);
      if (current === undefined) return touched;
      const { deprecated: _, ...rest } = current;
      const next = entry.message === "" ? rest : { ...rest, deprecated: entry.message };
      return { ...touched, versions: withVersion(base.versions, entry.version, next) };
    }
    case "yank": {
      const current = versionOf(base, entry.version);
      if (current === undefined) return touched;
      const { yanked: _, ...rest } = current;
      const next = entry.yanked ? { ...rest, yanked: entry.time } : rest;
      return { ...touched, versions: withVersion(base.versions, entry.version, next) };
    }
    case "signature": {
      // That the signature verifies is the caller's check: it needs the key set (state-batch.ts).
      if (entry.actor !== ORIGIN_ACTOR)
        throw new EntryError("cannot-apply", `a signature's actor must be ${ORIGIN_ACTOR}`);
      const current = versionOf(base, entry.version);
      if (current === undefined)
        throw new EntryError("cannot-apply", `${entry.name}@${entry.version} is not in the log`);
      const signatures = withSignature(current.signatures, { keyid: entry.keyid, sig: entry.sig });
      const versions = withVersion(base.versions, entry.version, { ...current, signatures });
      return { ...base, updated: index, versions };
    }
    case "owner": {
      const owners = new Set(base.owners);
      if (entry.action === "add") owners.add(entry.user);
      else owners.delete(entry.user);
      return { ...base, updated: index, owners: [...owners].sort() };
    }
    case "takedown":
    case "restore":
      return foldTakedown(base, touched, entry, index, rules, withVersion);
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function bad(message: string, cause?: unknown): EntryError {
  return new EntryError("bad-document", message, { cause });
}

function optionalString(value: Record<string, unknown>, field: string, what: string): void {
  if (value[field] !== undefined && typeof value[field] !== "string")
    throw bad(`${what}: ${field} must be a string`);
}

function isSignatureList(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (s) =>
        isRecord(s) &&
        Object.keys(s).sort().join() === "keyid,sig" &&
        typeof s.keyid === "string" &&
        typeof s.sig === "string",
    )
  );
}

const DOCUMENT_FIELDS = new Set([
  "v",
  "ecosystem",
  "name",
  "created",
  "modified",
  "updated",
  "unpublished",
  "takenDown",
  "distTags",
  "owners",
  "versions",
]);

/**
 * Parses a document fetched by its hash. It must be canonical JSON of the
 * document shape, each version a valid publish entry of its ecosystem, so
 * that what a reader serves from it is exactly what the snapshot committed to.
 */
export function decodeDocument(bytes: Uint8Array, ecosystems: Ecosystems): PackageDocument {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw bad("package document is not valid UTF-8 JSON", err);
  }
  if (
    !isRecord(value) ||
    value.v !== 1 ||
    typeof value.ecosystem !== "string" ||
    typeof value.name !== "string" ||
    Object.keys(value).some((k) => !DOCUMENT_FIELDS.has(k))
  )
    throw bad("not a package document");
  const what = `package document of ${JSON.stringify(value.name.slice(0, 256))}`;
  if (!ecosystems.has(value.ecosystem))
    throw bad(`${what}: no rules for ecosystem ${JSON.stringify(value.ecosystem.slice(0, 64))}`);
  const pkg = { ecosystem: value.ecosystem, name: value.name };
  for (const field of ["created", "modified"]) {
    if (typeof value[field] !== "string") throw bad(`${what}: ${field} must be a string`);
  }
  optionalString(value, "unpublished", what);
  if (Object.hasOwn(value, "takenDown") && !isTakenDownShape(value.takenDown))
    throw bad(`${what}: takenDown must be {actor, index, reason, time}`);
  if (!Number.isSafeInteger(value.updated) || (value.updated as number) < 0)
    throw bad(`${what}: updated must be a log index`);
  const { distTags, owners, versions } = value;
  if (!isRecord(distTags) || Object.values(distTags).some((v) => typeof v !== "string"))
    throw bad(`${what}: distTags must map tags to versions`);
  if (!Array.isArray(owners) || owners.some((o) => typeof o !== "string"))
    throw bad(`${what}: owners must be a list of names`);
  if (!isRecord(versions)) throw bad(`${what}: versions must be an object`);
  for (const [version, doc] of Object.entries(versions)) {
    if (!isRecord(doc) || !Number.isSafeInteger(doc.index) || (doc.index as number) < 0)
      throw bad(`${what}: version ${JSON.stringify(version.slice(0, 256))} needs a log index`);
    optionalString(doc, "deprecated", `${what}@${version}`);
    optionalString(doc, "unpublished", `${what}@${version}`);
    optionalString(doc, "yanked", `${what}@${version}`);
    if (Object.hasOwn(doc, "takenDown") && !isTakenDownShape(doc.takenDown))
      throw bad(`${what}@${version}: takenDown must be {actor, index, reason, time}`);
    if (doc.signatures !== undefined && !isSignatureList(doc.signatures))
      throw bad(`${what}@${version}: signatures must list keyid and sig strings`);
    try {
      checkVersionEntry(versionEntryOf(pkg, version, doc as unknown as VersionDocument), (e) =>
        checkEntryWith(ecosystems, e, "read"),
      );
    } catch (err) {
      throw bad(`${what}@${version}: ${(err as Error).message}`, err);
    }
  }
  const doc = value as unknown as PackageDocument;
  let encoded: Uint8Array;
  try {
    encoded = encodeDocument(doc);
  } catch (err) {
    // Lone surrogates in keys, say: JSON.parse takes them, the canonical form does not.
    throw bad(`${what} cannot be encoded canonically: ${(err as Error).message}`, err);
  }
  if (!Buffer.from(encoded).equals(bytes)) throw bad(`${what} is not in canonical form`);
  return doc;
}
