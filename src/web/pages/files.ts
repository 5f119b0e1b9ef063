/**
 * A version's files as it installs them: a folder's entries (folders
 * first), a file's source with highlighting and linkable line numbers,
 * and its raw bytes. Raw bytes are only ever text/plain or an octet
 * stream (routes.ts adds a sandbox policy and nosniff): a package's
 * `.html` or `.svg` file is shown, never run as a page of this site.
 */
import { LRUCache } from "lru-cache";
import { MAX_BLOCK_SIZE } from "../../store/block-index.ts";
import { rawCid } from "../../store/cid.ts";
import { CodeView } from "../code-view.ts";
import { WebError } from "../errors.ts";
import { formatBytes, plural } from "../format.ts";
import {
  HIGHLIGHT_LIMIT,
  highlightAs,
  htmlLines,
  type Language,
  languageOf,
} from "../highlight.ts";
import { html, type VNode } from "../html.ts";
import type { PageContext, PageHandler } from "../page.ts";
import { type PackageView, paths } from "../paths.ts";
import type { VersionFiles, WebFile } from "../source.ts";
import { fileAt, filesOf, type LoadedVersion, openVersion, textOf } from "../version-data.ts";
import { VersionNav } from "./version-nav.ts";

/** Past this a file is not shown in the page at all, only linked raw. */
export const SHOW_LIMIT = 2 * 1024 * 1024;

const EXECUTABLE = 0o111;

interface Folder {
  readonly name: string;
  readonly files: number;
  readonly size: number;
}

interface Listing {
  readonly folders: readonly Folder[];
  readonly files: readonly WebFile[];
}

/** The entries directly under `folder` ("" for the package's root); undefined if there is no such folder. */
export function listFolder(files: readonly WebFile[], folder: string): Listing | undefined {
  const prefix = folder === "" ? "" : `${folder}/`;
  const folders = new Map<string, { files: number; size: number }>();
  const direct: WebFile[] = [];
  for (const file of files) {
    if (!file.path.startsWith(prefix)) continue;
    const rest = file.path.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash < 0) {
      direct.push(file);
      continue;
    }
    const name = rest.slice(0, slash);
    const held = folders.get(name) ?? { files: 0, size: 0 };
    folders.set(name, { files: held.files + 1, size: held.size + file.size });
  }
  if (folder !== "" && direct.length === 0 && folders.size === 0) return undefined;
  return {
    folders: [...folders]
      .map(([name, f]) => ({ name, ...f }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    files: direct,
  };
}

const baseName = (path: string) => path.slice(path.lastIndexOf("/") + 1);

function Breadcrumbs(props: { readonly loaded: LoadedVersion; readonly path: string }): VNode {
  const { name, version } = props.loaded;
  const parts = props.path === "" ? [] : props.path.split("/");
  const root = html`<a href=${paths.files(name, version)}>${name}@${version}</a>`;
  return html`<nav class="crumbs" aria-label="Breadcrumb">
    <ol>
      <li>${parts.length === 0 ? html`<span aria-current="page">${name}@${version}</span>` : root}</li>
      ${parts.map((part, i) => {
        const here = parts.slice(0, i + 1).join("/");
        return html`<li>
          ${
            i === parts.length - 1
              ? html`<span aria-current="page">${part}</span>`
              : html`<a href=${paths.files(name, version, here)}>${part}</a>`
          }
        </li>`;
      })}
    </ol>
  </nav>`;
}

function folderBody(loaded: LoadedVersion, path: string, listing: Listing): VNode {
  const { name, version } = loaded;
  const total = listing.files.reduce((sum, f) => sum + f.size, 0);
  const inFolders = listing.folders.reduce((sum, f) => sum + f.size, 0);
  const child = (entry: string) => (path === "" ? entry : `${path}/${entry}`);
  return html`<${VersionNav} name=${name} version=${version} current="files" />
    <${Breadcrumbs} loaded=${loaded} path=${path} />
    <h1>${path === "" ? "Files" : `${baseName(path)}/`}</h1>
    <p class="muted">
      ${plural(listing.folders.length, "folder")}, ${plural(listing.files.length, "file")} ·
      ${" "}${formatBytes(total + inFolders)}
    </p>
    <table class="listing">
      <thead>
        <tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Kind</th></tr>
      </thead>
      <tbody>
        ${listing.folders.map(
          (f) => html`<tr class="folder">
            <td><a href=${paths.files(name, version, child(f.name))}>${f.name}/</a></td>
            <td>${formatBytes(f.size)}</td>
            <td class="muted">folder of ${plural(f.files, "file")}</td>
          </tr>`,
        )}
        ${listing.files.map(
          (f) => html`<tr>
            <td><a href=${paths.files(name, version, f.path)}>${baseName(f.path)}</a></td>
            <td>${formatBytes(f.size)}</td>
            <td>
              ${(f.mode & EXECUTABLE) !== 0 ? html`<span class="badge">executable</span>` : html`<span class="muted">file</span>`}
            </td>
          </tr>`,
        )}
      </tbody>
    </table>`;
}

/** Highlighted files by content and language: a file's bytes never change under its SHA-256. */
const highlighted = new LRUCache<string, readonly string[]>({
  maxSize: 32 * 1024 * 1024,
  sizeCalculation: (lines) => lines.reduce((sum, line) => sum + line.length, 1),
});

function linesOf(file: WebFile, text: string, language: Language | undefined): readonly string[] {
  if (language === undefined) return htmlLines(text, undefined);
  const key = `${file.sha256}:${language}`;
  let lines = highlighted.get(key);
  if (!lines) {
    lines = htmlLines(text, language);
    highlighted.set(key, lines);
  }
  return lines;
}

function contentOf(file: WebFile, bytes: Uint8Array | undefined, raw: string): VNode {
  if (bytes === undefined)
    return html`<p class="notice">
      This file is ${formatBytes(file.size)}, too large to show here: <a href=${raw}>open it raw</a>.
    </p>`;
  const text = textOf(bytes);
  if (text === undefined)
    return html`<p class="notice">
      Binary file, ${file.size.toLocaleString("en")} bytes: <a href=${raw}>open it raw</a>.
    </p>`;
  const language = highlightAs(file.path, text);
  const note =
    language === undefined && languageOf(file.path) !== undefined
      ? html`<p class="muted">
          Shown without highlighting: it is over ${formatBytes(HIGHLIGHT_LIMIT)} or minified.
        </p>`
      : null;
  return html`${note}<${CodeView} lines=${linesOf(file, text, language)} />`;
}

function fileBody(loaded: LoadedVersion, file: WebFile, bytes: Uint8Array | undefined): VNode {
  const { name, version } = loaded;
  const raw = paths.raw(name, version, file.path);
  const language = languageOf(file.path);
  return html`<${VersionNav} name=${name} version=${version} current="files" />
    <${Breadcrumbs} loaded=${loaded} path=${file.path} />
    <h1>${baseName(file.path)}</h1>
    <dl class="facts">
      <div><dt>Size</dt><dd>${file.size.toLocaleString("en")} bytes (${formatBytes(file.size)})</dd></div>
      <div>
        <dt>Mode</dt>
        <dd>${(file.mode & EXECUTABLE) !== 0 ? "executable (0755)" : "0644"}</dd>
      </div>
      <div><dt>SHA-256</dt><dd><code>${file.sha256}</code></dd></div>
      <div>
        <dt>IPFS CID</dt>
        <dd>
          ${
            file.size <= MAX_BLOCK_SIZE
              ? html`<code>${rawCid(file.sha256)}</code>`
              : html`<span class="muted">none of its own: over one block, it travels in its tarball</span>`
          }
        </dd>
      </div>
      ${language ? html`<div><dt>Language</dt><dd>${language}</dd></div>` : null}
    </dl>
    <p class="actions">
      <a href=${raw}>Raw</a>
      <a href=${raw} download=${baseName(file.path)}>Download</a>
    </p>
    ${contentOf(file, bytes, raw)}`;
}

async function openFiles(
  ctx: PageContext,
  view: { readonly name: string; readonly version: string },
  pageOf: (exact: string) => string,
): Promise<{ redirect: string } | { loaded: LoadedVersion; files: VersionFiles }> {
  const opened = await openVersion(ctx, view.name, view.version, pageOf);
  if ("redirect" in opened) return opened;
  return { loaded: opened.loaded, files: await filesOf(ctx, opened.loaded) };
}

export const filesPage: PageHandler<Extract<PackageView, { view: "files" }>> = async (
  ctx,
  view,
) => {
  const path = view.path.replace(/\/+$/, "");
  const opened = await openFiles(ctx, view, (v) => paths.files(view.name, v, path));
  if ("redirect" in opened) return { kind: "redirect", location: opened.redirect };
  const { loaded, files } = opened;
  const title = `${path === "" ? "Files" : path} · ${loaded.name}@${loaded.version}`;
  const file = path === "" ? undefined : fileAt(files, path);
  if (file) {
    const bytes = file.size <= SHOW_LIMIT ? await files.read(file) : undefined;
    return { kind: "page", title, body: fileBody(loaded, file, bytes) };
  }
  const listing = listFolder(files.files, path);
  if (!listing)
    throw new WebError(
      "not-found",
      `${loaded.name}@${loaded.version} has no file or folder ${path}`,
    );
  return { kind: "page", title, body: folderBody(loaded, path, listing) };
};

export const rawPage: PageHandler<Extract<PackageView, { view: "raw" }>> = async (ctx, view) => {
  const opened = await openFiles(ctx, view, (v) => paths.raw(view.name, v, view.path));
  if ("redirect" in opened) return { kind: "redirect", location: opened.redirect };
  const { loaded, files } = opened;
  const file = fileAt(files, view.path);
  if (!file)
    throw new WebError("not-found", `${loaded.name}@${loaded.version} has no file ${view.path}`);
  const body = await files.read(file);
  return {
    kind: "raw",
    body,
    // Never the type its name suggests: text is shown as text, anything else downloaded.
    type: textOf(body) === undefined ? "application/octet-stream" : "text/plain; charset=utf-8",
    filename: baseName(file.path),
    immutable: true,
  };
};
