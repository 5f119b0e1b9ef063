/**
 * What an upstream packument changes in Cairn's copy of a package, as log
 * entries: an `import` for each version not seen before, then the
 * deprecations, dist-tag moves and removals that bring the copy level with
 * the upstream. A pure function of the packument, the package's document
 * and the time, so it can be tested without a network.
 *
 * The packument is hostile input. A version Cairn cannot represent exactly
 * (not canonical semver, no usable integrity, resolution fields npm itself
 * would not read, a manifest too deep or too large) is left out and
 * reported, never half-imported: a client cannot install what it cannot
 * verify. Versions once seen are never imported again, even after the
 * upstream removes them (their numbers stay burnt, as on npm).
 */
import semver from "semver";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import { distTagProblem } from "../npm/rules/dist-tag-name.ts";
import { resolutionOf, searchFields, shareField } from "../npm/rules/projection.ts";
import { checkResolution } from "../npm/rules/resolution.ts";
import {
  CanonicalJsonError,
  canonicalJsonBytes,
  type JsonValue,
} from "../registry/canonical-json.ts";
import { encodeEntryWith } from "../registry/ecosystem.ts";
import {
  type DistTagEntry,
  EntryError,
  type ImportEntry,
  MAX_MESSAGE_LENGTH,
  type PackageEntry,
  type UpstreamIntegrity,
  uplinkActor,
} from "../registry/entries.ts";
import {
  isImportedVersion,
  type PackageDocument,
  type VersionDocument,
} from "../registry/package-document.ts";
import { isWithdrawn, type TakenDown } from "../registry/takedown.ts";
import { sha256Hex } from "../util/sha256.ts";

/** A version document larger than this is not imported (npm's own are a few KB). */
export const MAX_IMPORTED_MANIFEST_BYTES = 1 << 20;

export interface ImportPlan {
  readonly entries: PackageEntry[];
  /** The manifests the import entries name, to be stored first. */
  readonly manifests: Uint8Array[];
  /** Versions left out, with the reason, for the origin's log. */
  readonly skipped: { readonly version: string; readonly reason: string }[];
}

type Obj = Record<string, unknown>;

export function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const SHA512_SRI = /^sha512-([A-Za-z0-9+/]{86}==)$/;
const SHA1_HEX = /^[0-9a-f]{40}$/;

/** The hashes a version's `dist` offers; an SRI string may list several, space-separated. */
export function upstreamIntegrity(dist: unknown): UpstreamIntegrity | undefined {
  if (!isObject(dist)) return undefined;
  let sha512: string | undefined;
  if (typeof dist.integrity === "string" && dist.integrity.length < 4096) {
    for (const part of dist.integrity.trim().split(/\s+/)) {
      const match = SHA512_SRI.exec(part.split("?")[0]);
      if (match) sha512 = match[1];
    }
  }
  const sha1 =
    typeof dist.shasum === "string" && SHA1_HEX.test(dist.shasum) ? dist.shasum : undefined;
  if (sha512 === undefined && sha1 === undefined) return undefined;
  return { ...(sha512 !== undefined ? { sha512 } : {}), ...(sha1 !== undefined ? { sha1 } : {}) };
}

/** An upstream time as an entry writes it, if it is one. */
function isoTime(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > 64) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  return /^\d{4}-/.test(iso) ? iso : undefined;
}

/** A deprecation message as an entry can hold it: cut at the cap, never inside a surrogate pair. */
function deprecation(value: unknown): string {
  if (typeof value !== "string") return "";
  const cut = value.toWellFormed().slice(0, MAX_MESSAGE_LENGTH);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** The resolution fields of an upstream version; `deprecated` travels as deprecate entries. */
function importedResolution(manifest: Obj): Record<string, JsonValue> {
  const { deprecated: _, ...resolution } = resolutionOf(manifest);
  return resolution;
}

/** Why a version cannot be imported as it stands. */
class Unrepresentable extends Error {}

interface Imported {
  readonly entry: ImportEntry;
  readonly manifest: Uint8Array;
}

function importVersion(
  name: string,
  version: string,
  manifest: unknown,
  packument: Obj,
  uplink: string,
  now: string,
): Imported {
  if (semver.valid(version) !== version)
    throw new Unrepresentable("not a canonical semver version");
  if (!isObject(manifest)) throw new Unrepresentable("its document is not an object");
  if (manifest.version !== undefined && manifest.version !== version)
    throw new Unrepresentable(`its document says version ${String(manifest.version).slice(0, 64)}`);
  if (manifest.name !== undefined && manifest.name !== name)
    throw new Unrepresentable("its document names another package");
  const integrity = upstreamIntegrity(manifest.dist);
  if (!integrity)
    throw new Unrepresentable("it has no sha512 integrity or sha1 shasum to check it by");
  const resolution = importedResolution(manifest);
  checkResolution(resolution);
  const bytes = canonicalJsonBytes(manifest as JsonValue);
  if (bytes.length > MAX_IMPORTED_MANIFEST_BYTES)
    throw new Unrepresentable(`its document is ${bytes.length} bytes`);
  const time = isObject(packument.time) ? packument.time : {};
  const published = isoTime(time[version]);
  const entry: ImportEntry = {
    v: 1,
    kind: "import",
    ecosystem: "npm",
    name,
    version,
    time: now,
    actor: uplinkActor(uplink),
    uplink,
    ...(published !== undefined ? { published } : {}),
    integrity,
    manifest: { sha256: sha256Hex(bytes), size: bytes.length },
    resolution,
    ...searchFields(manifest),
    ...shareField(manifest),
  };
  encodeEntryWith(entry, ECOSYSTEMS);
  return { entry, manifest: bytes };
}

/**
 * Whether the upstream now claims other hashes for a version imported but
 * never fetched: the only change to a known version an import may make.
 */
function corrected(current: VersionDocument, manifest: unknown): boolean {
  if (!isImportedVersion(current) || current.artifact || current.unpublished !== undefined)
    return false;
  const claimed = isObject(manifest) ? upstreamIntegrity(manifest.dist) : undefined;
  return (
    claimed !== undefined &&
    (claimed.sha512 !== current.integrity.sha512 || claimed.sha1 !== current.integrity.sha1)
  );
}

/**
 * Whether the upstream serves again, with the same hashes, a version it
 * had withdrawn: the same bytes may come back (a removal by mistake), other
 * bytes never do.
 */
function reinstated(current: VersionDocument, manifest: unknown): boolean {
  return current.unpublished !== undefined && sameUpstreamHashes(current, manifest);
}

/** Whether the upstream claims for a version the hashes it was imported with. */
function sameUpstreamHashes(current: VersionDocument, manifest: unknown): boolean {
  if (!isImportedVersion(current)) return false;
  const claimed = isObject(manifest) ? upstreamIntegrity(manifest.dist) : undefined;
  return (
    claimed !== undefined &&
    claimed.sha512 === current.integrity.sha512 &&
    claimed.sha1 === current.integrity.sha1
  );
}

/**
 * A removal of the whole package: the upstream answers that it does not
 * have it. It is a takedown by the uplink, with the reason in public, so
 * mirrors drop its bytes; the uplink restores it if the upstream has it again.
 */
export function planRemoval(
  doc: PackageDocument | undefined,
  uplink: string,
  now: string,
): PackageEntry[] {
  if (doc === undefined || isWithdrawn(doc)) return [];
  const base = {
    v: 1,
    ecosystem: "npm",
    name: doc.name,
    time: now,
    actor: uplinkActor(uplink),
  } as const;
  return [{ ...base, kind: "takedown", reason: `withdrawn by uplink ${uplink}: ${GONE_UPSTREAM}` }];
}

const GONE_UPSTREAM = "the upstream no longer has it";

/** A takedown the uplink itself made (an upstream withdrawal), which it may restore. */
function ownTakedown(mark: TakenDown | undefined, uplink: string): boolean {
  return mark !== undefined && mark.actor === uplinkActor(uplink);
}

/**
 * The entries that bring `doc` (the package as Cairn has it, undefined if
 * never imported) level with `packument` from `uplink`.
 */
export function planImport(
  name: string,
  packument: Obj,
  doc: PackageDocument | undefined,
  uplink: string,
  now: string,
  options: { readonly corrections?: boolean } = {},
): ImportPlan {
  const base = { v: 1, ecosystem: "npm", name, time: now, actor: uplinkActor(uplink) } as const;
  const upstream = isObject(packument.versions) ? packument.versions : {};
  const known = doc?.versions ?? {};
  const entries: PackageEntry[] = [];
  const back = `the upstream has it again`;
  // The upstream has the package again after the uplink took it down: restore it first.
  const packageMark = doc?.takenDown;
  const packageBack = ownTakedown(packageMark, uplink);
  // Taken down by a moderator: nothing the upstream says changes it.
  if (packageMark !== undefined && !packageBack) return { entries, manifests: [], skipped: [] };
  if (packageBack) entries.push({ ...base, kind: "restore", reason: back });
  /** A version's takedown still in force once that restore applies. */
  const markOf = (v: VersionDocument) =>
    packageBack && v.takenDown?.index === packageMark?.index ? undefined : v.takenDown;
  const restores: PackageEntry[] = [];
  const manifests: Uint8Array[] = [];
  const skipped: { version: string; reason: string }[] = [];
  const imported: ImportEntry[] = [];
  for (const [version, manifest] of Object.entries(upstream)) {
    const current = Object.hasOwn(known, version) ? known[version] : undefined;
    // Withdrawn upstream and served again with the same hashes: the uplink's own takedown undone.
    if (current !== undefined && ownTakedown(markOf(current), uplink)) {
      if (sameUpstreamHashes(current, manifest))
        restores.push({ ...base, kind: "restore", version, reason: back });
      continue;
    }
    // Taken down by a moderator: the upstream's copy never brings it back.
    if (current !== undefined && markOf(current) !== undefined) continue;
    if (
      current !== undefined &&
      !(options.corrections && corrected(current, manifest)) &&
      !reinstated(current, manifest)
    )
      continue;
    try {
      const result = importVersion(name, version, manifest, packument, uplink, now);
      imported.push(result.entry);
      manifests.push(result.manifest);
    } catch (err) {
      const expected =
        err instanceof Unrepresentable ||
        err instanceof EntryError ||
        err instanceof CanonicalJsonError;
      if (!expected) throw err;
      skipped.push({ version: version.slice(0, 256), reason: err.message });
    }
  }
  // In the upstream's publish order, so the log reads as its history did.
  imported.sort(
    (a, b) =>
      (a.published ?? "").localeCompare(b.published ?? "") || semver.compare(a.version, b.version),
  );
  entries.push(...imported, ...restores);

  // Which versions are live once the imports and restores apply, and their current deprecations.
  const live = new Map<string, string>();
  for (const [version, v] of Object.entries(known))
    if (v.unpublished === undefined && markOf(v) === undefined && isImportedVersion(v))
      live.set(version, v.deprecated ?? "");
  for (const entry of imported) live.set(entry.version, "");
  for (const entry of restores)
    if (entry.kind === "restore" && entry.version !== undefined)
      live.set(entry.version, known[entry.version]?.deprecated ?? "");

  for (const [version, current] of live) {
    if (!Object.hasOwn(upstream, version)) continue;
    const message = deprecation((upstream[version] as Obj).deprecated);
    if (message !== current) entries.push({ ...base, kind: "deprecate", version, message });
  }

  const removed = [...live.keys()].filter((v) => !Object.hasOwn(upstream, v));
  for (const version of removed) {
    const reason = `withdrawn by uplink ${uplink}: ${GONE_UPSTREAM}`;
    entries.push({ ...base, kind: "takedown", version, reason });
    live.delete(version);
  }

  entries.push(...planTags(packument, doc, live, base));
  return { entries, manifests, skipped };
}

/** Tag moves: each upstream tag on a live version, and removals of tags the upstream dropped. */
function planTags(
  packument: Obj,
  doc: PackageDocument | undefined,
  live: ReadonlyMap<string, string>,
  base: Omit<DistTagEntry, "kind" | "tag" | "version">,
): DistTagEntry[] {
  const upstream = isObject(packument["dist-tags"]) ? packument["dist-tags"] : {};
  const current = doc?.distTags ?? {};
  const wanted: Record<string, string> = {};
  for (const [tag, version] of Object.entries(upstream)) {
    if (typeof version !== "string" || !live.has(version) || distTagProblem(tag)) continue;
    wanted[tag] = version;
  }
  // npm's rule when the upstream names no usable latest: the highest live release.
  if (wanted.latest === undefined && live.size > 0) {
    const versions = [...live.keys()];
    const releases = versions.filter((v) => semver.prerelease(v) === null);
    wanted.latest = semver.rsort(releases.length > 0 ? releases : versions)[0];
  }
  const entries: DistTagEntry[] = [];
  for (const [tag, version] of Object.entries(wanted)) {
    if (current[tag] !== version) entries.push({ ...base, kind: "dist-tag", tag, version });
  }
  for (const tag of Object.keys(current)) {
    if (tag !== "latest" && !Object.hasOwn(wanted, tag))
      entries.push({ ...base, kind: "dist-tag", tag, version: null });
  }
  return entries;
}
