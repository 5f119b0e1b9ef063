/**
 * npm packuments built from the registry state: the abbreviated form
 * (`application/vnd.npm.install-v1+json`, what installs read) from the log
 * entries' resolution fields alone, and the full form with each version's
 * published manifest. Unpublished versions are left out; tarball URLs are
 * built from the base URL the client used.
 */
import type { VersionEntry } from "../registry/entries.ts";
import type { PackageDocument } from "../registry/package-document.ts";
import { type PackageRow, type VersionRow, versionRowOf } from "../registry/state.ts";
import { sha256Hex } from "../util/sha256.ts";
import { tarballFileName } from "./publish.ts";
import { integrityOf } from "./rules/integrity.ts";

export interface PackageView {
  readonly pkg: PackageRow;
  readonly versions: readonly VersionRow[];
  readonly distTags: Readonly<Record<string, string>>;
  readonly owners: readonly string[];
}

/** The view of a package's document: its versions as rows, in log order. */
export function viewOfDocument(doc: PackageDocument): PackageView {
  const versions = Object.entries(doc.versions)
    .map(([version, v]) => versionRowOf(doc, version, v))
    .sort((a, b) => a.logIndex - b.logIndex);
  return {
    pkg: {
      name: doc.name,
      spelling: null,
      created: doc.created,
      modified: doc.modified,
      updated: doc.updated,
      unpublished: doc.unpublished ?? null,
    },
    versions,
    distTags: doc.distTags,
    owners: doc.owners,
  };
}

/**
 * The packument's `_rev`, in CouchDB's `<n>-<hex>` form: it changes with
 * every log entry that touches the package (the document's `updated` index),
 * so a write that echoes an older one was prepared from a stale copy.
 */
export function packumentRevision(view: PackageView): string {
  const { name, updated } = view.pkg;
  return `${updated + 1}-${sha256Hex(`${name}\n${updated}`).slice(0, 32)}`;
}

export function tarballUrl(baseUrl: string, name: string, version: string): string {
  return `${baseUrl.replace(/\/$/, "")}/${name}/-/${tarballFileName(name, version)}`;
}

/**
 * The upstream's hashes until an imported tarball is fetched: the same ones,
 * checked on fetch. The origin's registry signatures cover the integrity of
 * a tarball it bound, so only such a version carries them (npm's key order:
 * integrity, shasum, tarball, signatures).
 */
function dist(row: VersionRow, baseUrl: string) {
  const { entry } = row;
  const { sha512, sha1 } = integrityOf(entry);
  const signed = row.signatures !== undefined && entry.artifact?.sha512 !== undefined;
  return {
    ...(sha512 !== undefined ? { integrity: `sha512-${sha512}` } : {}),
    ...(sha1 !== undefined ? { shasum: sha1 } : {}),
    tarball: tarballUrl(baseUrl, entry.name, entry.version),
    ...(signed ? { signatures: row.signatures } : {}),
  };
}

function live(view: PackageView): VersionRow[] {
  return view.versions.filter((v) => v.unpublished === null && v.takenDown === undefined);
}

/**
 * Cairn's `takedowns` field of a full packument: each version taken down,
 * with its public reason and log entry (npm and the other clients ignore
 * fields they do not know). Absent when there are none.
 */
function takedowns(view: PackageView): Record<string, unknown> {
  const down = view.versions.filter((v) => v.takenDown !== undefined);
  if (down.length === 0) return {};
  return {
    takedowns: Object.fromEntries(
      down.map(({ version, takenDown: t }) => [
        version,
        { reason: t?.reason, time: t?.time, entry: t?.index },
      ]),
    ),
  };
}

export function abbreviatedPackument(view: PackageView, baseUrl: string): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const row of live(view)) {
    const { entry } = row;
    versions[row.version] = {
      name: entry.name,
      version: entry.version,
      ...entry.resolution,
      ...(row.deprecated !== null ? { deprecated: row.deprecated } : {}),
      dist: dist(row, baseUrl),
    };
  }
  return { name: view.pkg.name, modified: view.pkg.modified, "dist-tags": view.distTags, versions };
}

export async function fullPackument(
  view: PackageView,
  baseUrl: string,
  loadManifest: (entry: VersionEntry) => Promise<Record<string, unknown>>,
  ownerEmail: (user: string) => string | undefined = () => undefined,
): Promise<Record<string, unknown>> {
  const rows = live(view);
  const manifests = await Promise.all(rows.map((row) => loadManifest(row.entry)));
  const versions: Record<string, unknown> = {};
  const time: Record<string, string> = { created: view.pkg.created, modified: view.pkg.modified };
  rows.forEach((row, i) => {
    const { deprecated: _published, ...manifest } = manifests[i];
    versions[row.version] = {
      ...manifest,
      _id: `${row.name}@${row.version}`,
      ...(row.deprecated !== null ? { deprecated: row.deprecated } : {}),
      dist: dist(row, baseUrl),
    };
    time[row.version] = row.time;
  });
  const latest = view.distTags.latest;
  const latestManifest =
    latest === undefined ? undefined : manifests[rows.findIndex((r) => r.version === latest)];
  return {
    _id: view.pkg.name,
    _rev: packumentRevision(view),
    name: view.pkg.name,
    ...(latestManifest?.description !== undefined
      ? { description: latestManifest.description }
      : {}),
    "dist-tags": view.distTags,
    versions,
    time,
    maintainers: view.owners.map((name) => {
      const email = ownerEmail(name);
      return email ? { name, email } : { name };
    }),
    ...(latestManifest?.readme !== undefined ? { readme: latestManifest.readme } : {}),
    ...takedowns(view),
  };
}
