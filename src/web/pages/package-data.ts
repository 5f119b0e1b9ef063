/**
 * What a package page shows, gathered from the server's reader: the
 * document, the version shown, its manifest as published and its files
 * (either may be unavailable on this server: the page says so rather than
 * fail), its readme, and its dependents where the whole registry is held.
 */
import semver from "semver";
import { publishedAt, type VersionEntry } from "../../registry/entries.ts";
import {
  type PackageDocument,
  uplinkOf,
  type VersionDocument,
  versionEntryOf,
} from "../../registry/package-document.ts";
import { isObject } from "../../registry/resolution.ts";
import { WebError } from "../errors.ts";
import type { PageContext } from "../page.ts";
import { paths } from "../paths.ts";
import { type RenderedReadme, readmeFile, renderReadme } from "../readme.ts";
import type { VersionFiles } from "../source.ts";

/** Dependents listed by name on a page; the count says how many there are in all. */
export const DEPENDENTS_SHOWN = 100;

/** What old npm clients wrote for a package without a readme. */
const NO_README = "ERROR: No README data found!";

export interface VersionRow {
  readonly version: string;
  readonly doc: VersionDocument;
  readonly time: string;
  /** Dist-tags pointing at it. */
  readonly tags: readonly string[];
}

export interface PackageData {
  readonly doc: PackageDocument;
  /** Newest semver first. */
  readonly versions: readonly VersionRow[];
  readonly shown: VersionRow;
  readonly latest: string | undefined;
  readonly entry: VersionEntry;
  /** The upstream its versions were imported from. */
  readonly uplink: string | undefined;
  /** The package, or the version shown, is unpublished. */
  readonly gone: boolean;
  /** package.json as published; undefined when unpublished or not available here. */
  readonly manifest: Record<string, unknown> | undefined;
  readonly files: VersionFiles | undefined;
  readonly readme: RenderedReadme | undefined;
  /** The live version below the shown one, to diff against. */
  readonly previous: string | undefined;
  /** Undefined where this server does not hold the whole registry. */
  readonly dependents: { readonly count: number; readonly names: readonly string[] } | undefined;
}

function byNewest(a: string, b: string): number {
  const valid = semver.valid(a) !== null && semver.valid(b) !== null;
  return valid ? semver.rcompare(a, b) : a < b ? 1 : a > b ? -1 : 0;
}

function versionRows(doc: PackageDocument): VersionRow[] {
  const tags = new Map<string, string[]>();
  for (const [tag, version] of Object.entries(doc.distTags))
    tags.set(version, [...(tags.get(version) ?? []), tag]);
  return Object.keys(doc.versions)
    .sort(byNewest)
    .map((version) => {
      const vdoc = doc.versions[version];
      return {
        version,
        doc: vdoc,
        time: publishedAt(versionEntryOf(doc.name, version, vdoc)),
        tags: (tags.get(version) ?? []).sort(),
      };
    });
}

/** The version a package's page shows: `latest`, else the newest live one, else the newest. */
function defaultVersion(doc: PackageDocument, rows: readonly VersionRow[]): VersionRow | undefined {
  const latest = doc.distTags.latest;
  return (
    rows.find((r) => r.version === latest) ??
    rows.find((r) => r.doc.unpublished === undefined) ??
    rows[0]
  );
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

export async function packageData(
  ctx: PageContext,
  name: string,
  version: string | undefined,
): Promise<PackageData> {
  await ctx.source.packages.beforeRead?.();
  const doc = await ctx.source.packages.document(name);
  if (!doc) throw new WebError("not-found", `there is no package ${name} here`);
  const versions = versionRows(doc);
  const shown =
    version === undefined
      ? defaultVersion(doc, versions)
      : versions.find((r) => r.version === version);
  if (!shown)
    throw new WebError(
      "not-found",
      version === undefined ? `${name} has no versions` : `${name} has no version ${version}`,
    );
  const entry = versionEntryOf(name, shown.version, shown.doc);
  const gone = doc.unpublished !== undefined || shown.doc.unpublished !== undefined;
  const [manifest, files] = gone
    ? [undefined, undefined]
    : await Promise.all([manifestOf(ctx, entry), filesOf(ctx, entry)]);
  const text = gone ? undefined : await readmeText(manifest, files);
  const state = ctx.source.state();
  const below = versions.slice(versions.indexOf(shown) + 1);
  return {
    doc,
    versions,
    shown,
    latest: doc.distTags.latest,
    entry,
    uplink: uplinkOf(doc),
    gone,
    manifest,
    files,
    readme:
      text === undefined
        ? undefined
        : renderReadme(text, {
            file: (path) => paths.files(name, shown.version, path),
            raw: (path) => paths.raw(name, shown.version, path),
          }),
    previous: below.find((r) => r.doc.unpublished === undefined)?.version,
    dependents: state && {
      count: state.dependentCount(name),
      names: state.dependents(name, DEPENDENTS_SHOWN),
    },
  };
}
