/**
 * What a package page shows, gathered from the server's reader: the
 * document, the version shown, its manifest as published and its files
 * (either may be unavailable on this server: the page says so rather than
 * fail), its readme, and its dependents where the whole registry is held.
 */
import { LRUCache } from "lru-cache";
import semver from "semver";
import { publishedAt, type VersionEntry } from "../../registry/entries.ts";
import { uplinkOf, type VersionDocument, versionEntryOf } from "../../registry/package-document.ts";
import {
  type RegistryState,
  type VersionOutline,
  versionDocumentOfRow,
} from "../../registry/state.ts";
import { isWithdrawn, type TakenDown } from "../../registry/takedown.ts";
import { takedownsOf } from "../../registry/withheld.ts";
import { isObject } from "../../util/is-object.ts";
import { WebError } from "../errors.ts";
import type { PageContext } from "../page.ts";
import { paths } from "../paths.ts";
import { type RenderedReadme, readmeFile, renderReadme } from "../readme.ts";
import type { VersionFiles } from "../source.ts";

/**
 * Rendered readmes by version: rendering a long readme (Markdown, highlighting, sanitizing)
 * takes tens of milliseconds, and a version's readme never changes.
 */
const readmes = new LRUCache<string, RenderedReadme>({
  maxSize: 64 << 20,
  sizeCalculation: (r) => Math.max(1, r.kind === "html" ? r.html.length : r.text.length),
});

/** Dependents listed by name on a page; the count says how many there are in all. */
export const DEPENDENTS_SHOWN = 100;

/** What old npm clients wrote for a package without a readme. */
const NO_README = "ERROR: No README data found!";

export interface VersionRow {
  readonly version: string;
  /** Its log index, deprecation and unpublish. */
  readonly doc: Omit<VersionOutline, "version" | "time">;
  readonly time: string;
  /** Dist-tags pointing at it. */
  readonly tags: readonly string[];
}

export interface ShownVersion extends VersionRow {
  readonly doc: VersionDocument;
}

/** The package as its page shows it: a document without the versions' entries. */
export interface PackageOutline {
  readonly ecosystem: string;
  readonly name: string;
  readonly distTags: Readonly<Record<string, string>>;
  readonly owners: readonly string[];
  readonly unpublished?: string;
  readonly takenDown?: TakenDown;
}

export interface PackageData {
  readonly doc: PackageOutline;
  /** Newest semver first. */
  readonly versions: readonly VersionRow[];
  readonly shown: ShownVersion;
  readonly latest: string | undefined;
  readonly entry: VersionEntry;
  /** The upstream its versions were imported from. */
  readonly uplink: string | undefined;
  /** The package, or the version shown, is unpublished or taken down. */
  readonly gone: boolean;
  /** The takedown of the version shown (or the whole package) in force, if any. */
  readonly takenDown: TakenDown | undefined;
  /** package.json as published; undefined when unpublished or not available here. */
  readonly manifest: Record<string, unknown> | undefined;
  readonly files: VersionFiles | undefined;
  readonly readme: RenderedReadme | undefined;
  /** The live version below the shown one, to diff against. */
  readonly previous: string | undefined;
  /** Undefined where this server does not hold the whole registry. */
  readonly dependents: { readonly count: number; readonly names: readonly string[] } | undefined;
}

/** Newest semver first; each version parsed once (sorting thousands compares each many times). */
function sortedNewest(outlines: readonly VersionOutline[]): VersionOutline[] {
  const keyed = outlines.map((o) => ({ o, v: semver.parse(o.version) }));
  keyed.sort((a, b) => (a.v && b.v ? b.v.compare(a.v) : b.o.index - a.o.index));
  return keyed.map((k) => k.o);
}

function versionRows(
  outlines: readonly VersionOutline[],
  distTags: Readonly<Record<string, string>>,
): VersionRow[] {
  const tags = new Map<string, string[]>();
  for (const [tag, version] of Object.entries(distTags))
    tags.set(version, [...(tags.get(version) ?? []), tag]);
  return sortedNewest(outlines).map(({ version, time, ...doc }) => ({
    version,
    time,
    doc,
    tags: (tags.get(version) ?? []).sort(),
  }));
}

/** The version a package's page shows: `latest`, else the newest live one, else the newest. */
function defaultVersion(
  distTags: Readonly<Record<string, string>>,
  rows: readonly VersionRow[],
): VersionRow | undefined {
  return (
    rows.find((r) => r.version === distTags.latest) ??
    rows.find((r) => r.doc.unpublished === undefined) ??
    rows[0]
  );
}

/** What the page lists, and a reader of one version's whole document. */
interface Loaded {
  readonly doc: PackageOutline;
  readonly uplink: string | undefined;
  readonly outlines: VersionOutline[];
  readonly version: (version: string) => VersionDocument | undefined;
}

/**
 * From the whole state when this server holds it: the list without
 * parsing every version's entry (thousands, for some packages); else from
 * the package's document, as the reader gives it.
 */
function takenDownPackage(state: RegistryState, name: string): { takenDown?: TakenDown } {
  const mark = takedownsOf(state.sql, "npm", name).get("");
  return mark ? { takenDown: mark } : {};
}

async function load(ctx: PageContext, name: string): Promise<Loaded | undefined> {
  // Asked of the reader first: an origin's uplink importer brings the package in, or up to date.
  if ((await ctx.source.packages.revision(name)) === undefined) return undefined;
  const state = ctx.source.state();
  const pkg = state?.table("npm").getPackage(name);
  if (state && pkg) {
    return {
      doc: {
        // The pages show npm packages; crates have no pages yet.
        ecosystem: "npm",
        name,
        distTags: state.table("npm").distTags(name),
        owners: state.table("npm").owners(name),
        ...(pkg.unpublished !== null ? { unpublished: pkg.unpublished } : {}),
        ...takenDownPackage(state, name),
      },
      uplink: state.table("npm").source(name)?.uplink,
      outlines: state.table("npm").versionOutlines(name),
      version: (version) => {
        const row = state.table("npm").version(name, version);
        return row && versionDocumentOfRow(row);
      },
    };
  }
  const doc = await ctx.source.packages.document(name);
  if (!doc) return undefined;
  return {
    doc,
    uplink: uplinkOf(doc),
    outlines: Object.entries(doc.versions).map(([version, v]) => ({
      version,
      index: v.index,
      time: publishedAt(versionEntryOf(doc, version, v)),
      ...(v.deprecated !== undefined ? { deprecated: v.deprecated } : {}),
      ...(v.unpublished !== undefined ? { unpublished: v.unpublished } : {}),
    })),
    version: (version) =>
      Object.hasOwn(doc.versions, version) ? doc.versions[version] : undefined,
  };
}

async function manifestOf(
  ctx: PageContext,
  entry: VersionEntry,
): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = JSON.parse(
      new TextDecoder().decode(await ctx.source.packages.manifest(entry)),
    );
    return isObject(value) ? value : undefined;
  } catch {
    // Not held here (a proxy without its source, a blob taken down): the page says so.
    return undefined;
  }
}

async function filesOf(ctx: PageContext, entry: VersionEntry): Promise<VersionFiles | undefined> {
  try {
    return await ctx.source.files(entry);
  } catch {
    // An imported version whose tarball has not come yet, or one this server cannot read.
    return undefined;
  }
}

/** The readme: the manifest's `readme`, else the README file among the version's files. */
async function readmeText(
  manifest: Record<string, unknown> | undefined,
  files: VersionFiles | undefined,
): Promise<string | undefined> {
  const field = manifest?.readme;
  if (typeof field === "string" && field.trim() !== "" && field !== NO_README) return field;
  const file = files && readmeFile(files.files);
  if (!file || !files) return undefined;
  try {
    return new TextDecoder().decode(await files.read(file));
  } catch {
    return undefined;
  }
}

async function readmeOf(
  name: string,
  version: string,
  entry: VersionEntry,
  manifest: Record<string, unknown> | undefined,
  files: VersionFiles | undefined,
): Promise<RenderedReadme | undefined> {
  // The manifest's hash names the version's content; what of it could be read here, not.
  const key = `${entry.manifest.sha256} ${manifest ? "m" : "-"}${files ? "f" : "-"} ${name}@${version}`;
  const cached = readmes.get(key);
  if (cached) return cached;
  const text = await readmeText(manifest, files);
  if (text === undefined) return undefined;
  const rendered = renderReadme(text, {
    file: (path) => paths.files(name, version, path),
    raw: (path) => paths.raw(name, version, path),
  });
  readmes.set(key, rendered);
  return rendered;
}

/** A dist-tag where a version was named: the version it points at. */
export interface TaggedVersion {
  readonly tagged: string;
}

export async function packageData(
  ctx: PageContext,
  name: string,
  version: string | undefined,
): Promise<PackageData | TaggedVersion> {
  await ctx.source.packages.beforeRead?.();
  const loaded = await load(ctx, name);
  if (!loaded) throw new WebError("not-found", `there is no package ${name} here`);
  const { doc } = loaded;
  const versions = versionRows(loaded.outlines, doc.distTags);
  const row =
    version === undefined
      ? defaultVersion(doc.distTags, versions)
      : versions.find((r) => r.version === version);
  if (!row && version !== undefined && Object.hasOwn(doc.distTags, version))
    return { tagged: doc.distTags[version] };
  const shownDoc = row && loaded.version(row.version);
  if (!row || !shownDoc)
    throw new WebError(
      "not-found",
      version === undefined ? `${name} has no versions` : `${name} has no version ${version}`,
    );
  const shown: ShownVersion = { ...row, doc: shownDoc };
  const entry = versionEntryOf(doc, shown.version, shown.doc);
  const takenDown = shown.doc.takenDown ?? doc.takenDown;
  // Nothing of a taken-down version is read: its manifest and files are withheld.
  const gone =
    doc.unpublished !== undefined || shown.doc.unpublished !== undefined || takenDown !== undefined;
  const [manifest, files] = gone
    ? [undefined, undefined]
    : await Promise.all([manifestOf(ctx, entry), filesOf(ctx, entry)]);
  const readme = gone ? undefined : await readmeOf(name, shown.version, entry, manifest, files);
  const state = ctx.source.state();
  const below = versions.slice(versions.indexOf(row) + 1);
  return {
    doc,
    versions,
    shown,
    latest: doc.distTags.latest,
    entry,
    uplink: loaded.uplink,
    gone,
    takenDown,
    manifest,
    files,
    readme,
    previous: below.find((r) => !isWithdrawn(r.doc))?.version,
    dependents: state && {
      count: state.table("npm").dependentCount(name),
      names: state.table("npm").dependents(name, DEPENDENTS_SHOWN),
    },
  };
}
