/**
 * What the file, manifest and diff pages read about one version: its
 * package's document, its entry, its files and their text. A version that
 * was unpublished is refused with `gone`: its files are no longer served,
 * and a copy that still holds them must not look as if it did not know.
 */

import type { VersionEntry } from "../registry/entries.ts";
import {
  type PackageDocument,
  type VersionDocument,
  versionEntryOf,
} from "../registry/package-document.ts";
import { WebError } from "./errors.ts";
import type { PageContext } from "./page.ts";
import type { VersionFiles, WebFile } from "./source.ts";

export interface LoadedVersion {
  readonly name: string;
  readonly version: string;
  readonly doc: PackageDocument;
  readonly entry: VersionEntry;
}

export async function readDocument(ctx: PageContext, name: string): Promise<PackageDocument> {
  await ctx.source.packages.beforeRead?.();
  const doc = await ctx.source.packages.document(name);
  if (!doc) throw new WebError("not-found", `no package ${name} in this registry`);
  return doc;
}

/** The exact version a dist-tag names, when `version` is a tag rather than a version. */
export function taggedVersion(doc: PackageDocument, version: string): string | undefined {
  if (Object.hasOwn(doc.versions, version)) return undefined;
  return Object.hasOwn(doc.distTags, version) ? doc.distTags[version] : undefined;
}

/** A page's version, or the page to go to instead when the URL names a dist-tag (`latest`). */
export type OpenedVersion = { readonly loaded: LoadedVersion } | { readonly redirect: string };

export async function openVersion(
  ctx: PageContext,
  name: string,
  version: string,
  pageOf: (exact: string) => string,
): Promise<OpenedVersion> {
  const doc = await readDocument(ctx, name);
  const exact = taggedVersion(doc, version);
  if (exact !== undefined) return { redirect: pageOf(exact) };
  return { loaded: liveVersion(doc, version) };
}

function versionDocumentOf(doc: PackageDocument, version: string): VersionDocument {
  if (!Object.hasOwn(doc.versions, version))
    throw new WebError("not-found", `${doc.name} has no version ${version}`);
  return doc.versions[version];
}

/** The version's entry; refused if the version (or the whole package) was unpublished. */
export function liveVersion(doc: PackageDocument, version: string): LoadedVersion {
  const versionDoc = versionDocumentOf(doc, version);
  const down = versionDoc.takenDown ?? doc.takenDown;
  if (down !== undefined)
    throw new WebError(
      "withheld",
      `${doc.name}@${version} was taken down on ${down.time}: ${down.reason} (log entry ${down.index})`,
    );
  const unpublished = versionDoc.unpublished ?? doc.unpublished;
  if (unpublished !== undefined)
    throw new WebError(
      "gone",
      `${doc.name}@${version} was unpublished on ${unpublished}: its files and manifest are no longer served`,
    );
  return { name: doc.name, version, doc, entry: versionEntryOf(doc, version, versionDoc) };
}

/** The version's files; refused for a version imported from an upstream whose tarball is not here yet. */
export async function filesOf(ctx: PageContext, loaded: LoadedVersion): Promise<VersionFiles> {
  if (loaded.entry.artifact === undefined)
    throw new WebError(
      "not-available",
      `the tarball of ${loaded.name}@${loaded.version} has not been fetched from its upstream yet: its files show once a client installs it`,
    );
  return ctx.source.files(loaded.entry);
}

/** The file at `path`, if the version has one. */
export function fileAt(files: VersionFiles, path: string): WebFile | undefined {
  return files.files.find((f) => f.path === path);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The bytes as text: valid UTF-8 without a NUL byte; undefined for anything else (binary). */
export function textOf(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}
