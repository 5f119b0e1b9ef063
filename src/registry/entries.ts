/**
 * Log entries: one canonical JSON object (RFC 8785) per registry change.
 * An entry carries what resolution needs and hashes of everything else,
 * never the tarball. A package entry has `v`, `kind`, `ecosystem`, `name`,
 * `time` and `actor`; a registry entry (`snapshot`, `database`, `popularity`) has `v`,
 * `kind`, `time` and `size`, the log size it describes. Parsing is strict
 * (no unknown fields, exact types), so an entry has one encoding and a
 * monitor can recompute it.
 *
 *   {"actor":"alice","artifact":{"sha1":"…","sha256":"…","sha512":"…","size":1234},
 *    "ecosystem":"npm","kind":"publish","manifest":{"sha256":"…","size":890},
 *    "name":"left-pad","resolution":{"dependencies":{}},"tag":"latest",
 *    "time":"2026-11-21T06:00:00.000Z","v":1,"version":"1.3.0"}
 *
 * A `publish` (and an `artifact`) entry may name the version's file index
 * as `files` (`{"sha256":"…","size":…}`): the bytes src/npm/file-index.ts
 * defines, computed from the tarball as npm installs it, so that anyone
 * holding the tarball can recompute and check them. Each file the index
 * lists is a blob too, `blob/sha256/<its sha256>`, of its raw bytes.
 * Entries written before the field existed have none, and replay as they
 * did.
 *
 * A `publish` or `import` entry may say `"share": false`: the version's
 * package.json (for an import, the upstream's version document) has
 * `"cairn": {"share": false}`, and LAN peers never announce or serve the
 * package's files (src/peer/policy.ts). Absent means shareable, so entries
 * written before the field existed replay unchanged; `true` is never
 * written, so a version has one encoding.
 *
 * A `yank` entry (`"yanked": true`, or false to undo it) takes a version
 * out of what resolvers pick without withdrawing its files, as cargo's
 * registries do; an ecosystem's rules say whether it has the kind (npm's
 * do not, so no npm document ever names a yank).
 *
 * A `popularity` entry (a registry entry) names a count-min sketch of the
 * downloads of each version during `window` (src/registry/popularity.ts),
 * with the threshold the origin calls popular:
 *
 *   {"depth":4,"kind":"popularity","size":120,"sketch":{"sha256":"…","size":2113},
 *    "threshold":100,"time":"…","total":5120,"v":1,"width":65536,
 *    "window":{"from":"…","to":"…"}}
 *
 * Registry signatures (src/registry/registry-keys.ts): a `registry-keys`
 * entry (a registry entry) lists an ecosystem's whole key set, as npm's
 * `/-/npm/v1/keys` serves it, and a `signature` entry (actor `cairn:origin`)
 * carries the origin's signature on one version; a snapshot may name the
 * newest key set as `keys`, its log index. Logs from before them replay
 * unchanged:
 *
 *   {"actor":"cairn:origin","ecosystem":"npm","keyid":"SHA256:…","kind":"signature",
 *    "name":"left-pad","sig":"MEUCIQ…","time":"…","v":1,"version":"1.3.0"}
 *
 * A tarball larger than one chunk (1 MiB) names its IPFS UnixFS root as
 * `artifact.unixfs` (`"bafybei…"`): the CIDv1 of its file DAG under the
 * IPIP-0499 `unixfs-v1-2025` profile (src/store/unixfs.ts), so a client
 * can fetch it from any IPFS gateway or peer without fetching it whole
 * first. A smaller tarball has none: its CID is the raw CID of its
 * `sha256` (src/store/cid.ts). The field rides in the artifact to every
 * package document and version a client reads; anyone holding the tarball
 * recomputes it, and mirrors and `cairn verify` refuse a wrong one
 * (src/registry/artifact-dag.ts). Entries written before the field existed
 * have none and replay as they did.
 *
 * The files a file index lists get no CID of their own (the index format
 * is unchanged, so indexes already published still recompute byte for
 * byte): a stored blob of up to 2 MiB, the trustless gateway's block
 * limit, is served as one raw block under the raw CID of its `sha256`
 * (src/store/block-index.ts). That is every file but four of the corpus's
 * 15,976; a version with a larger file (typescript's 6 and 9 MB ones, a
 * 2.1 MB native binding) is cheaper fetched whole, as its tarball's DAG,
 * than as its large files.
 */
import { MAX_ENTRY_SIZE } from "../log/index.ts";
import { type BlockAddress, CHUNK_SIZE, cidOf, DAG_PB_CODEC, parseCid } from "../store/cid.ts";
import { isObject } from "../util/is-object.ts";
import { CanonicalJsonError, canonicalJsonBytes, type JsonValue } from "./canonical-json.ts";
import { EntryError } from "./entry-error.ts";
import { checkLoggedResolution } from "./logged-resolution.ts";

export { EntryError, type EntryErrorCode } from "./entry-error.ts";

import { isSketchShape, MAX_SKETCH_DEPTH, MAX_SKETCH_WIDTH } from "./popularity.ts";
import { isShardCount, MAX_SHARDS } from "./snapshot.ts";

export const ENTRY_FORMAT_VERSION = 1;

export interface EntryBase {
  readonly v: 1;
  /** Whose rules the entry follows (src/registry/ecosystem.ts): "npm". */
  readonly ecosystem: string;
  readonly name: string;
  /** RFC 3339 UTC with milliseconds, as Date.toISOString writes it. */
  readonly time: string;
  /** The user who made the change. */
  readonly actor: string;
}

export interface BlobRef {
  /** Lowercase hex SHA-256 of the blob. */
  readonly sha256: string;
  readonly size: number;
}

/**
 * A package's bytes. Besides its SHA-256 it may carry the hashes its
 * ecosystem's clients check (npm requires both): `sha512` base64 (npm
 * `integrity`), `sha1` hex (npm `shasum`).
 */
export interface Artifact extends BlobRef {
  readonly sha512?: string;
  readonly sha1?: string;
  /** The UnixFS root CID, for a tarball over one chunk only; absent in older entries. */
  readonly unixfs?: string;
}

export interface PublishEntry extends EntryBase {
  readonly kind: "publish";
  readonly version: string;
  /** The dist-tag the publish sets (npm publish --tag; "latest" by default). */
  readonly tag?: string;
  readonly artifact: Artifact;
  /** The full manifest (package.json as published), as a blob. */
  readonly manifest: BlobRef;
  /** The version's file index (src/npm/file-index.ts), as a blob; absent in older entries. */
  readonly files?: BlobRef;
  /** The manifest fields resolution needs (dependencies, bin, engines, os, cpu…). */
  readonly resolution: { readonly [field: string]: JsonValue };
  /** What search needs, so any copy of the log can index it without the manifests. */
  readonly description?: string;
  readonly keywords?: readonly string[];
  /** false: the package opted out of LAN sharing (package.json `"cairn": {"share": false}`). */
  readonly share?: false;
}

export interface UnpublishEntry extends EntryBase {
  readonly kind: "unpublish";
  /** Absent: the whole package. */
  readonly version?: string;
}

export interface DistTagEntry extends EntryBase {
  readonly kind: "dist-tag";
  readonly tag: string;
  /** null removes the tag. */
  readonly version: string | null;
}

export interface DeprecateEntry extends EntryBase {
  readonly kind: "deprecate";
  readonly version: string;
  /** The empty string undeprecates. */
  readonly message: string;
}

export interface OwnerEntry extends EntryBase {
  readonly kind: "owner";
  readonly user: string;
  readonly action: "add" | "rm";
}

/** Takes a version out of what resolvers pick (`yanked: false` puts it back); it stays fetchable. */
export interface YankEntry extends EntryBase {
  readonly kind: "yank";
  readonly version: string;
  readonly yanked: boolean;
}

/** What an upstream advertised for a version's bytes: hash name to value, as its ecosystem names them. */
export type UpstreamIntegrity = Readonly<Record<string, string>>;

/**
 * A version seen on an uplink: what the upstream's packument said about
 * it when Cairn fetched it. The entry proves that Cairn saw this name,
 * version, resolution data and integrity on that uplink at `time` (and
 * that the upstream claimed `published` as its publish time), not that the
 * upstream's author published it. The tarball is fetched later, on first
 * request, and bound by an `artifact` entry once its bytes match
 * `integrity`; from then on every copy checks it exactly as a published one.
 */
export interface ImportEntry extends EntryBase {
  readonly kind: "import";
  readonly version: string;
  /** The configured name of the uplink it came from. */
  readonly uplink: string;
  /** The upstream's `time[version]`, kept so release-age gates behave as upstream. */
  readonly published?: string;
  readonly integrity: UpstreamIntegrity;
  /** The upstream's version document (its packument's `versions[version]`), as a blob. */
  readonly manifest: BlobRef;
  readonly resolution: { readonly [field: string]: JsonValue };
  readonly description?: string;
  readonly keywords?: readonly string[];
  /** false: the upstream's version document opted out of LAN sharing, as for a publish. */
  readonly share?: false;
}

/**
 * Binds an imported version's tarball: the bytes the origin fetched from
 * the uplink, stored by SHA-256, whose SHA-512 and SHA-1 match what the
 * `import` entry recorded.
 */
export interface ArtifactEntry extends EntryBase {
  readonly kind: "artifact";
  readonly version: string;
  readonly artifact: Artifact;
  /** The version's file index, as for a publish, when the origin computed it. */
  readonly files?: BlobRef;
}

/**
 * A moderator (or an uplink whose upstream withdrew it) takes a version, or
 * with no `version` the whole package, out of every copy of the registry:
 * its bytes are withheld (src/registry/withheld.ts) and servers answer 451
 * with `reason`, which the log keeps in public for good. A `restore` undoes
 * it, and says why too.
 *
 *   {"actor":"carol","ecosystem":"npm","kind":"takedown","name":"evil-pkg",
 *    "reason":"Malware: reads ~/.npmrc","time":"…","v":1,"version":"1.0.2"}
 */
export interface TakedownEntry extends EntryBase {
  readonly kind: "takedown" | "restore";
  /** Absent: the whole package, and publishes of new versions are refused while it stands. */
  readonly version?: string;
  readonly reason: string;
}

/**
 * The origin's registry signature over a version (npm's `dist.signatures`,
 * src/registry/registry-keys.ts): `sig` is base64 DER ECDSA over
 * `${name}@${version}:${integrity}` by the registry key `keyid`. The actor
 * is always ORIGIN_ACTOR; replay checks the signature once, on arrival.
 */
export interface SignatureEntry extends EntryBase {
  readonly kind: "signature";
  readonly version: string;
  readonly keyid: string;
  readonly sig: string;
}

export type PackageEntry =
  | PublishEntry
  | SignatureEntry
  | ImportEntry
  | ArtifactEntry
  | UnpublishEntry
  | DistTagEntry
  | DeprecateEntry
  | OwnerEntry
  | YankEntry
  | TakedownEntry;

interface RegistryEntryBase {
  readonly v: 1;
  readonly time: string;
  /** The log size the entry describes: the state after entries [0, size). */
  readonly size: number;
}

/**
 * Commits to the registry's state after every earlier entry: `root` is the
 * snapshot root file (its SHA-256 is the snapshot id). The origin appends
 * one at the end of every batch, so the last entry under a checkpoint is one.
 */
export interface SnapshotEntry extends RegistryEntryBase {
  readonly kind: "snapshot";
  readonly root: BlobRef;
  readonly shards: number;
  readonly packages: number;
  /** Log index of the newest `database` entry before this one, so a new client finds it. */
  readonly database?: number;
  /** Log index of the newest `popularity` entry before this one, likewise. */
  readonly popularity?: number;
  /** Log index of the newest `registry-keys` entry before this one, likewise. */
  readonly keys?: number;
  /**
   * The meta file of each native index view (index-view.ts), by ecosystem:
   * present for an ecosystem with a native index and at least one package in it.
   */
  readonly indexes?: Readonly<Record<string, BlobRef>>;
}

/** Names a published SQLite copy of the derived index at log size `size` (zstd-compressed). */
export interface DatabaseEntry extends RegistryEntryBase {
  readonly kind: "database";
  readonly blob: BlobRef;
  /** Size of the uncompressed database file. */
  readonly rawSize: number;
  readonly schema: number;
}

/**
 * Names the origin's count of downloads per version over `window`: a
 * count-min sketch blob (zstd of depth × width uint32 counters), the
 * downloads it counts, and the estimate at which a version is popular.
 */
export interface PopularityEntry extends RegistryEntryBase {
  readonly kind: "popularity";
  readonly window: { readonly from: string; readonly to: string };
  readonly sketch: BlobRef;
  readonly depth: number;
  readonly width: number;
  readonly total: number;
  readonly threshold: number;
}

/**
 * Rotates the log's checkpoint key (or its root set): `note` is the signed
 * rotation note of src/log/key-rotation.ts, number `sequence` of the chain.
 */
export interface KeyEntry extends RegistryEntryBase {
  readonly kind: "key";
  readonly sequence: number;
  readonly note: string;
}

/** One registry key as npm's `/-/npm/v1/keys` lists it. */
export interface RegistryKey {
  /** null while the key signs; once set, signatures on versions published from then on are refused. */
  readonly expires: string | null;
  /** Base64 of the DER SubjectPublicKeyInfo. */
  readonly key: string;
  readonly keyid: string;
  readonly keytype: "ecdsa-sha2-nistp256";
  readonly scheme: "ecdsa-sha2-nistp256";
}

/**
 * The whole registry key set of an ecosystem (npm's `/-/npm/v1/keys` body,
 * `keys` exactly): signed into the log by the log key, which binds the
 * registry keys to it. A later one keeps every earlier key (src/registry/registry-keys.ts).
 */
export interface RegistryKeysEntry extends RegistryEntryBase {
  readonly kind: "registry-keys";
  readonly ecosystem: string;
  readonly keys: readonly RegistryKey[];
}

export type RegistryEntry =
  | SnapshotEntry
  | DatabaseEntry
  | PopularityEntry
  | KeyEntry
  | RegistryKeysEntry;
export type Entry = PackageEntry | RegistryEntry;
export type EntryKind = Entry["kind"];

/**
 * A version as the state holds it: its publish entry, or its import entry
 * with the artifact a later `artifact` entry bound (absent until the
 * origin has fetched the tarball).
 */
export type VersionEntry = PublishEntry | ImportedVersion;

export interface ImportedVersion extends ImportEntry {
  readonly artifact?: Artifact;
  readonly files?: BlobRef;
}

const UPLINK_ACTOR = "uplink:";

/** The actor of the origin's own package entries (signatures): no user name has a colon. */
export const ORIGIN_ACTOR = "cairn:origin";

/** The actor of an uplink's entries: a form no user name can take (user names have no colon). */
export function uplinkActor(uplink: string): string {
  return `${UPLINK_ACTOR}${uplink}`;
}

/** The uplink an actor stands for, if it is one. */
export function uplinkOfActor(actor: string): string | undefined {
  return actor.startsWith(UPLINK_ACTOR) ? actor.slice(UPLINK_ACTOR.length) : undefined;
}

/** The tarball a version's entry names, if its bytes are known. */
export function artifactOf(entry: VersionEntry): Artifact | undefined {
  return entry.artifact;
}

/** When the version was published: by its upstream, for an imported one. */
export function publishedAt(entry: VersionEntry): string {
  return entry.kind === "import" ? (entry.published ?? entry.time) : entry.time;
}

/** A blob a package entry names; a tarball also carries the npm hashes it must match. */
export interface NamedBlob {
  readonly ref: BlobRef;
  readonly artifact?: Artifact;
}

/**
 * The blobs an entry names that every copy of the tree holds: a package
 * entry's, and a popularity entry's sketch (a snapshot's files and a
 * database are copied their own ways).
 */
export function blobsNamedBy(entry: Entry | { readonly kind: "void" }): NamedBlob[] {
  switch (entry.kind) {
    case "publish":
      return [
        { ref: entry.manifest },
        { ref: entry.artifact, artifact: entry.artifact },
        ...filesOf(entry),
      ];
    case "import":
      return [{ ref: entry.manifest }];
    case "artifact":
      return [{ ref: entry.artifact, artifact: entry.artifact }, ...filesOf(entry)];
    case "popularity":
      return [{ ref: entry.sketch }];
    default:
      return [];
  }
}

/** The file index blob an entry names, if any (the files it lists are derived from the tarball). */
function filesOf(entry: PublishEntry | ArtifactEntry): NamedBlob[] {
  return entry.files ? [{ ref: entry.files }] : [];
}

export function isPackageEntry(entry: Entry): entry is PackageEntry {
  return (
    entry.kind !== "snapshot" &&
    entry.kind !== "database" &&
    entry.kind !== "popularity" &&
    entry.kind !== "key" &&
    entry.kind !== "registry-keys"
  );
}

const HEX64 = /^[0-9a-f]{64}$/;
/** The extra hashes an artifact may carry, in their one spelling each. */
export const ARTIFACT_HASHES: Readonly<Record<string, RegExp>> = {
  sha1: /^[0-9a-f]{40}$/,
  sha512: /^[A-Za-z0-9+/]{86}==$/,
};
const NO_CONTROL_CHARACTERS = /^[^\p{Cc}]*$/u;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const PACKAGE_BASE = ["v", "kind", "ecosystem", "name", "time", "actor"];
const REGISTRY_BASE = ["v", "kind", "time", "size"];
const FIELDS: Record<EntryKind, { base: string[]; required: string[]; optional: string[] }> = {
  publish: {
    base: PACKAGE_BASE,
    required: ["version", "artifact", "manifest", "resolution"],
    optional: ["tag", "files", "description", "keywords", "share"],
  },
  import: {
    base: PACKAGE_BASE,
    required: ["version", "uplink", "integrity", "manifest", "resolution"],
    optional: ["published", "description", "keywords", "share"],
  },
  artifact: { base: PACKAGE_BASE, required: ["version", "artifact"], optional: ["files"] },
  unpublish: { base: PACKAGE_BASE, required: [], optional: ["version"] },
  "dist-tag": { base: PACKAGE_BASE, required: ["tag", "version"], optional: [] },
  deprecate: { base: PACKAGE_BASE, required: ["version", "message"], optional: [] },
  owner: { base: PACKAGE_BASE, required: ["user", "action"], optional: [] },
  yank: { base: PACKAGE_BASE, required: ["version", "yanked"], optional: [] },
  takedown: { base: PACKAGE_BASE, required: ["reason"], optional: ["version"] },
  restore: { base: PACKAGE_BASE, required: ["reason"], optional: ["version"] },
  signature: { base: PACKAGE_BASE, required: ["version", "keyid", "sig"], optional: [] },
  snapshot: {
    base: REGISTRY_BASE,
    required: ["root", "shards", "packages"],
    optional: ["database", "popularity", "keys", "indexes"],
  },
  "registry-keys": { base: REGISTRY_BASE, required: ["ecosystem", "keys"], optional: [] },
  database: { base: REGISTRY_BASE, required: ["blob", "rawSize", "schema"], optional: [] },
  popularity: {
    base: REGISTRY_BASE,
    required: ["window", "sketch", "depth", "width", "total", "threshold"],
    optional: [],
  },
  key: { base: REGISTRY_BASE, required: ["sequence", "note"], optional: [] },
};

/** Search metadata in an entry is bounded, so a publish cannot bloat the log. */
export const MAX_DESCRIPTION_LENGTH = 1024;
export const MAX_KEYWORDS = 32;
export const MAX_KEYWORD_LENGTH = 64;
/** The longest package name of any ecosystem (npm's); user names follow the same rule. */
export const MAX_NAME_LENGTH = 214;
export const MAX_VERSION_LENGTH = 256;
export const MAX_TAG_LENGTH = 128;
/** A deprecation message, in a deprecate entry or a manifest's `deprecated`. */
export const MAX_MESSAGE_LENGTH = 1024;

/** A takedown's or restore's public reason. */
export const MAX_REASON_LENGTH = 1024;

/** An uplink's configured name ("npm", "corp-mirror"). */
export const MAX_UPLINK_NAME_LENGTH = 64;

/** Every string field's cap (other than the search fields, and the hashes, whose patterns fix them). */
const MAX_LENGTH: Record<string, number> = {
  name: MAX_NAME_LENGTH,
  actor: MAX_NAME_LENGTH,
  user: MAX_NAME_LENGTH,
  version: MAX_VERSION_LENGTH,
  tag: MAX_TAG_LENGTH,
  message: MAX_MESSAGE_LENGTH,
  reason: MAX_REASON_LENGTH,
  uplink: MAX_UPLINK_NAME_LENGTH,
  note: 16 * 1024,
};

type Obj = Record<string, unknown>;

/** An ecosystem id: short, lowercase, as snapshot keys and URLs carry it. */
const ECOSYSTEM_ID = /^[a-z][a-z0-9-]{0,15}$/;

function bad(message: string): EntryError {
  return new EntryError("bad-field", message);
}

/**
 * How strictly an entry is checked. `append`: the exact schema of its
 * kind, every string and resolution field capped, as nothing else may be
 * appended. `read`: what any version of Cairn could have appended and is
 * safe to apply (the same shapes for every field a fold reads, resolution
 * values as opaque JSON at most MAX_LOGGED_RESOLUTION_DEPTH deep, lengths
 * bounded by the entry size), so a log written before a cap existed
 * replays exactly as it did. This module checks the envelope every
 * ecosystem shares; the rest is the ecosystem's (`Ecosystem.checkEntry`).
 */
export type EntryCheck = "append" | "read";

/** A non-empty, well-formed string, within its field's cap when appending (`empty` allows ""). */
function str(o: Obj, key: string, check: EntryCheck, pattern?: RegExp, empty = false): string {
  const value = o[key];
  if (
    typeof value !== "string" ||
    (value.length === 0 && !empty) ||
    (check === "append" && value.length > (MAX_LENGTH[key] ?? 128)) ||
    !value.isWellFormed() ||
    (pattern && !pattern.test(value))
  ) {
    throw bad(`entry field ${key} is missing or malformed`);
  }
  return value;
}

/** A version, bounded; which versions an ecosystem accepts is its own rule. */
function version(o: Obj, check: EntryCheck): string {
  const value = str(o, "version", check);
  if (value.length > MAX_VERSION_LENGTH)
    throw bad(`entry field version is over ${MAX_VERSION_LENGTH} characters`);
  return value;
}

function count(o: Obj, key: string, min = 0): number {
  const value = o[key];
  if (!Number.isSafeInteger(value) || (value as number) < min)
    throw bad(`entry field ${key} must be an integer of at least ${min}`);
  return value as number;
}

/** A snapshot's index views: at least one, by ecosystem id, each a meta file. */
function checkIndexes(value: unknown): void {
  if (!isObject(value) || Object.keys(value).length === 0)
    throw bad("entry field indexes must be an object naming at least one index");
  for (const [ecosystem, ref] of Object.entries(value)) {
    if (!ECOSYSTEM_ID.test(ecosystem))
      throw bad(`entry field indexes names ${shown(ecosystem)}, which is not an ecosystem id`);
    checkBlobRef(ref, `indexes.${ecosystem}`, false);
  }
}

/** An artifact may also carry unixfs and ARTIFACT_HASHES; which hashes is its ecosystem's rule. */
function checkBlobRef(value: unknown, what: string, artifact: boolean): void {
  if (!isObject(value)) throw bad(`entry field ${what} must be an object`);
  const optional = (key: string) =>
    artifact && (key === "unixfs" || Object.hasOwn(ARTIFACT_HASHES, key));
  if (
    Object.keys(value)
      .filter((key) => !optional(key))
      .sort()
      .join() !== "sha256,size"
  ) {
    throw bad(
      `entry field ${what} must have exactly sha256, size${artifact ? " (and maybe unixfs, sha1, sha512)" : ""}`,
    );
  }
  str(value, "sha256", "read", HEX64);
  if (!Number.isSafeInteger(value.size) || (value.size as number) < 0) {
    throw bad(`entry field ${what}.size must be a non-negative integer`);
  }
  if (!artifact) return;
  for (const [hash, pattern] of Object.entries(ARTIFACT_HASHES))
    if (Object.hasOwn(value, hash)) str(value, hash, "read", pattern);
  if (Object.hasOwn(value, "unixfs")) checkUnixfsField(value, what);
}

/** A dag-pb CIDv1 in its one canonical spelling (base32), on a tarball over one chunk. */
function checkUnixfsField(value: Obj, what: string): void {
  const cid = value.unixfs;
  let address: BlockAddress | undefined;
  try {
    address = typeof cid === "string" ? parseCid(cid) : undefined;
  } catch {
    address = undefined;
  }
  if (address?.codec !== DAG_PB_CODEC || cidOf(address.sha256, DAG_PB_CODEC) !== cid)
    throw bad(`entry field ${what}.unixfs must be a dag-pb CIDv1 in base32`);
  if ((value.size as number) <= CHUNK_SIZE)
    throw bad(`entry field ${what}.unixfs is only for a tarball over ${CHUNK_SIZE} bytes`);
}

/** Hash names to values; which hashes is the ecosystem's rule. */
function checkIntegrity(value: unknown): void {
  if (!isObject(value)) throw bad("entry field integrity must be an object");
  for (const key of Object.keys(value)) str(value, key, "read");
}

function checkSearchFields(value: Obj): void {
  if (Object.hasOwn(value, "description")) {
    const d = value.description;
    if (typeof d !== "string" || d.length > MAX_DESCRIPTION_LENGTH || !d.isWellFormed())
      throw bad(
        `entry field description must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters`,
      );
  }
  if (Object.hasOwn(value, "keywords")) {
    const k = value.keywords;
    if (
      !Array.isArray(k) ||
      k.length > MAX_KEYWORDS ||
      k.some(
        (w) =>
          typeof w !== "string" ||
          w.length === 0 ||
          w.length > MAX_KEYWORD_LENGTH ||
          !w.isWellFormed(),
      )
    )
      throw bad(
        `entry field keywords must list at most ${MAX_KEYWORDS} words of 1 to ${MAX_KEYWORD_LENGTH} characters`,
      );
  }
}

/** `share` is absent or false: true is the default and never written. */
function checkShare(value: Obj): void {
  if (Object.hasOwn(value, "share") && value.share !== false)
    throw bad("entry field share may only be false (absent means shareable)");
}

/** npm's keyid form: `SHA256:` and the unpadded base64 of a SHA-256. */
const KEYID = /^SHA256:[A-Za-z0-9+/]{43}$/;
/** Base64 of a DER ECDSA P-256 signature (at most 72 bytes). */
const SIGNATURE = /^(?=.{8,96}$)[A-Za-z0-9+/]+={0,2}$/;
/** Base64 of a P-256 SubjectPublicKeyInfo (91 bytes, so 124 characters ending in "=="). */
const SPKI = /^[A-Za-z0-9+/]{121}[AQgw]==$/;
const KEY_FIELDS = "expires,key,keyid,keytype,scheme";
/** Keys a key set may list: rotations keep every old key. */
export const MAX_REGISTRY_KEYS = 64;

/** The shape of a key set; that each key is P-256 and matches its keyid is checked on apply. */
function checkRegistryKeys(value: unknown, check: EntryCheck): void {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_REGISTRY_KEYS)
    throw bad(`entry field keys must list 1 to ${MAX_REGISTRY_KEYS} keys`);
  for (const key of value) {
    if (!isObject(key) || Object.keys(key).sort().join() !== KEY_FIELDS)
      throw bad(`each registry key must have exactly ${KEY_FIELDS}`);
    if (key.expires !== null) str(key, "expires", check, ISO_TIME);
    str(key, "key", check, SPKI);
    str(key, "keyid", check, KEYID);
    if (key.keytype !== "ecdsa-sha2-nistp256" || key.scheme !== "ecdsa-sha2-nistp256")
      throw bad("a registry key's keytype and scheme must be ecdsa-sha2-nistp256");
  }
}

/** A popularity window: `{from, to}`, two times with from not after to. */
function checkWindow(value: unknown, check: EntryCheck): void {
  if (!isObject(value) || Object.keys(value).sort().join() !== "from,to")
    throw bad("entry field window must have exactly from and to");
  const from = str(value, "from", check, ISO_TIME);
  const to = str(value, "to", check, ISO_TIME);
  if (from > to) throw bad("a popularity window must not end before it starts");
}

/**
 * Checks a version entry as a document holds it (an imported one with its
 * artifact, if bound): the envelope here, the rest by `payload` (the
 * ecosystem's checkEntry), which sees a bound artifact as an artifact
 * entry's.
 */
export function checkVersionEntry(
  value: unknown,
  payload?: (entry: PackageEntry) => void,
): VersionEntry {
  if (isObject(value) && value.kind === "import" && Object.hasOwn(value, "artifact")) {
    const { artifact, files, ...imported } = value;
    checkBlobRef(artifact, "artifact", true);
    if (Object.hasOwn(value, "files")) checkBlobRef(files, "files", false);
    const entry = checkEntry(imported) as ImportEntry;
    if (payload) {
      payload(entry);
      const { v, ecosystem, name, time, actor, version } = entry;
      const bound = artifact as Artifact;
      payload({ v, kind: "artifact", ecosystem, name, time, actor, version, artifact: bound });
    }
    return value as unknown as ImportedVersion;
  }
  const entry = checkEntry(value);
  if (entry.kind !== "publish" && entry.kind !== "import")
    throw bad(`a version cannot come from a ${entry.kind} entry`);
  payload?.(entry as PackageEntry);
  return entry;
}

/** Checks that `value` is a well-formed entry (see EntryCheck); returns it typed. */
export function checkEntry(value: unknown, check: EntryCheck = "read"): Entry {
  if (!isObject(value)) throw bad("entry must be a JSON object");
  if (value.v !== ENTRY_FORMAT_VERSION) throw bad(`unsupported entry version ${shown(value.v)}`);
  const kind = value.kind as EntryKind;
  const fields = typeof kind === "string" && Object.hasOwn(FIELDS, kind) ? FIELDS[kind] : undefined;
  if (!fields) throw bad(`unknown entry kind ${shown(value.kind)}`);
  str(value, "time", check, ISO_TIME);
  if (fields.base === PACKAGE_BASE) {
    str(value, "ecosystem", check, ECOSYSTEM_ID);
    str(value, "name", check);
    str(value, "actor", check);
  } else {
    count(value, "size");
  }
  const allowed = new Set([...fields.base, ...fields.required, ...fields.optional]);
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) throw bad(`unexpected field ${shown(key)} in a ${kind} entry`);
  }
  for (const key of fields.required) {
    if (!Object.hasOwn(value, key)) throw bad(`a ${kind} entry needs ${key}`);
  }
  switch (kind) {
    case "publish":
      version(value, check);
      if (Object.hasOwn(value, "tag")) str(value, "tag", check);
      checkBlobRef(value.artifact, "artifact", true);
      checkBlobRef(value.manifest, "manifest", false);
      if (Object.hasOwn(value, "files")) checkBlobRef(value.files, "files", false);
      checkLoggedResolution(value.resolution);
      checkSearchFields(value);
      checkShare(value);
      break;
    case "import":
      version(value, check);
      str(value, "uplink", check);
      if (Object.hasOwn(value, "published")) str(value, "published", check, ISO_TIME);
      checkIntegrity(value.integrity);
      checkBlobRef(value.manifest, "manifest", false);
      checkLoggedResolution(value.resolution);
      checkSearchFields(value);
      checkShare(value);
      break;
    case "artifact":
      version(value, check);
      checkBlobRef(value.artifact, "artifact", true);
      if (Object.hasOwn(value, "files")) checkBlobRef(value.files, "files", false);
      break;
    case "unpublish":
      if (Object.hasOwn(value, "version")) version(value, check);
      break;
    case "dist-tag":
      str(value, "tag", check);
      if (value.version !== null) version(value, check);
      break;
    case "deprecate":
      version(value, check);
      str(value, "message", check, undefined, true);
      break;
    case "owner":
      str(value, "user", check);
      if (value.action !== "add" && value.action !== "rm")
        throw bad("owner action must be add or rm");
      break;
    case "takedown":
    case "restore":
      if (Object.hasOwn(value, "version")) version(value, check);
      // Shown on every copy's pages and 451 answers: one line of plain text.
      str(value, "reason", check, NO_CONTROL_CHARACTERS);
      break;
    case "yank":
      version(value, check);
      if (typeof value.yanked !== "boolean") throw bad("entry field yanked must be true or false");
      break;
    case "snapshot":
      checkBlobRef(value.root, "root", false);
      if (!isShardCount(count(value, "shards", 1)))
        throw bad(`a snapshot's shard count must be a power of two up to ${MAX_SHARDS}`);
      count(value, "packages");
      if (Object.hasOwn(value, "database")) count(value, "database");
      if (Object.hasOwn(value, "popularity")) count(value, "popularity");
      if (Object.hasOwn(value, "keys")) count(value, "keys");
      if (Object.hasOwn(value, "indexes")) checkIndexes(value.indexes);
      break;
    case "signature":
      version(value, check);
      str(value, "keyid", check, KEYID);
      str(value, "sig", check, SIGNATURE);
      break;
    case "registry-keys":
      str(value, "ecosystem", check, ECOSYSTEM_ID);
      checkRegistryKeys(value.keys, check);
      break;
    case "database":
      checkBlobRef(value.blob, "blob", false);
      count(value, "rawSize");
      count(value, "schema", 1);
      break;
    case "popularity":
      checkWindow(value.window, check);
      checkBlobRef(value.sketch, "sketch", false);
      if (!isSketchShape(count(value, "depth", 1), count(value, "width", 1)))
        throw bad(
          `a sketch may have at most ${MAX_SKETCH_DEPTH} rows of at most ${MAX_SKETCH_WIDTH} counters`,
        );
      count(value, "total");
      count(value, "threshold", 1);
      break;
    case "key":
      count(value, "sequence", 1);
      str(value, "note", check);
      break;
  }
  return value as unknown as Entry;
}

/** A value quoted for an error message, cut short. */
function shown(value: unknown): string {
  // Never String() an array or object: that recurses over values of any depth.
  const text =
    typeof value === "object" && value !== null
      ? Array.isArray(value)
        ? "an array"
        : "an object"
      : String(value);
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/** Canonical bytes of a checked entry (whose depth the schema bounds). */
function canonicalEntryBytes(entry: Entry): Uint8Array {
  try {
    return canonicalJsonBytes(entry);
  } catch (err) {
    if (err instanceof CanonicalJsonError) throw bad(err.message);
    throw err;
  }
}

/** The entry's bytes in the log: canonical JSON, at most 65,535 bytes. */
export function encodeEntry(entry: Entry): Uint8Array {
  checkEntry(entry, "append");
  const bytes = canonicalEntryBytes(entry);
  if (bytes.length > MAX_ENTRY_SIZE) {
    throw new EntryError(
      "too-large",
      `entry for ${isPackageEntry(entry) ? entry.name : entry.kind} is ${bytes.length} bytes, over the ${MAX_ENTRY_SIZE}-byte limit`,
    );
  }
  return bytes;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Parses entry bytes from the log; they must be valid, canonical JSON. */
export function decodeEntry(bytes: Uint8Array): Entry {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new EntryError("not-json", "entry is not valid UTF-8 JSON", { cause: err });
  }
  const entry = checkEntry(value);
  const canonical = canonicalEntryBytes(entry);
  if (Buffer.compare(Buffer.from(canonical), Buffer.from(bytes)) !== 0) {
    throw new EntryError("not-canonical", "entry is not in canonical form");
  }
  return entry;
}
