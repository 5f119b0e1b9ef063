/**
 * Two versions of a package compared: their manifests field by field (and
 * as a unified diff of the pretty JSON), then their files: added, removed,
 * and changed, found by comparing the SHA-256 each file list holds before
 * any byte is read; changed text files get unified diffs. What a page
 * renders is capped (files read, size of each, lines in all); whatever is
 * left out is named, with links to both versions' file views.
 */
import pLimit from "p-limit";
import semver from "semver";
import type { PackageDocument } from "../../registry/package-document.ts";
import { WebError } from "../errors.ts";
import { formatBytes, plural } from "../format.ts";
import { html, type VNode } from "../html.ts";
import { fieldDifferences } from "../manifest-fields.ts";
import type { PageContext, PageHandler } from "../page.ts";
import { type PackageView, paths } from "../paths.ts";
import type { VersionFiles, WebFile } from "../source.ts";
import { DiffView, diffTexts, type TextDiff } from "../unified-diff.ts";
import {
  filesOf,
  type LoadedVersion,
  liveVersion,
  readDocument,
  taggedVersion,
  textOf,
} from "../version-data.ts";
import { FieldTable } from "./field-table.ts";

/** A file larger than this on either side is linked, not diffed. */
export const DIFF_FILE_LIMIT = 256 * 1024;
/** Changed files whose bytes a page reads at most. */
export const DIFF_FILES = 100;
/** Diff lines a page renders in all; later files are listed without their diff. */
export const DIFF_LINES = 6000;
/** Added or removed files a page lists by name, each. */
const LISTED_FILES = 500;
/** A file's diff longer than this starts collapsed. */
const OPEN_LINES = 150;
/** Files read at once (a proxy fetches each from its sources). */
const READ_CONCURRENCY = 8;

type Obj = Record<string, unknown>;

interface ChangedFile {
  readonly path: string;
  readonly before: WebFile;
  readonly after: WebFile;
}

/** What became of one changed file on the page. */
type FileOutcome =
  | { readonly kind: "diff"; readonly diff: TextDiff }
  | { readonly kind: "binary" }
  | { readonly kind: "too-large" }
  | { readonly kind: "too-different" }
  | { readonly kind: "mode-only" }
  | { readonly kind: "not-shown" };

export interface FileChanges {
  readonly added: readonly WebFile[];
  readonly removed: readonly WebFile[];
  readonly changed: readonly ChangedFile[];
  readonly unchanged: number;
}

/** Compares two file lists by path and SHA-256 (and mode): no file is read. */
export function compareFiles(before: readonly WebFile[], after: readonly WebFile[]): FileChanges {
  const old = new Map(before.map((f) => [f.path, f]));
  const now = new Map(after.map((f) => [f.path, f]));
  const changed: ChangedFile[] = [];
  let unchanged = 0;
  for (const [path, f] of now) {
    const was = old.get(path);
    if (!was) continue;
    if (was.sha256 === f.sha256 && was.mode === f.mode) unchanged++;
    else changed.push({ path, before: was, after: f });
  }
  return {
    added: after.filter((f) => !old.has(f.path)),
    removed: before.filter((f) => !now.has(f.path)),
    changed,
    unchanged,
  };
}

async function manifestOf(ctx: PageContext, loaded: LoadedVersion): Promise<Obj> {
  const bytes = await ctx.source.packages.manifest(loaded.entry);
  return JSON.parse(new TextDecoder().decode(bytes)) as Obj;
}

/** The readme is one long string: a diff of it says nothing the package page does not show better. */
function prettyWithoutReadme(manifest: Obj): string {
  const { readme: _r, ...rest } = manifest;
  return `${JSON.stringify(rest, null, 2)}\n`;
}

function liveVersions(doc: PackageDocument): string[] {
  return Object.keys(doc.versions)
    .filter((v) => doc.versions[v].unpublished === undefined)
    .sort((a, b) => (semver.valid(a) && semver.valid(b) ? semver.rcompare(a, b) : a < b ? 1 : -1));
}

function PickForm(props: {
  readonly doc: PackageDocument;
  readonly from: string;
  readonly to: string;
}): VNode {
  const { doc, from, to } = props;
  const versions = liveVersions(doc);
  const select = (
    id: string,
    label: string,
    chosen: string,
  ) => html`<label for=${id}>${label}</label>
    <select id=${id} name=${id}>
      ${versions.map((v) => html`<option value=${v} selected=${v === chosen}>${v}</option>`)}
    </select>`;
  return html`<form class="pick" method="get" action=${paths.diff(doc.name, from, to)}>
    ${select("from", "From", from)} ${select("to", "To", to)}
    <button type="submit">Compare</button>
  </form>`;
}

async function outcomes(
  before: VersionFiles,
  after: VersionFiles,
  changed: readonly ChangedFile[],
): Promise<FileOutcome[]> {
  const limit = pLimit(READ_CONCURRENCY);
  const diffOf = async (c: ChangedFile): Promise<FileOutcome> => {
    const [a, b] = await Promise.all([before.read(c.before), after.read(c.after)]);
    const x = textOf(a);
    const y = textOf(b);
    if (x === undefined || y === undefined) return { kind: "binary" };
    const diff = diffTexts(x, y);
    return diff ? { kind: "diff", diff } : { kind: "too-different" };
  };
  let toRead = DIFF_FILES;
  const read = changed.map((c): FileOutcome | Promise<FileOutcome> => {
    if (c.before.sha256 === c.after.sha256) return { kind: "mode-only" };
    if (c.before.size > DIFF_FILE_LIMIT || c.after.size > DIFF_FILE_LIMIT)
      return { kind: "too-large" };
    if (toRead-- <= 0) return { kind: "not-shown" };
    return limit(() => diffOf(c));
  });
  // Past the page's budget of lines, a diff is computed but not shown: the budget is in page weight.
  let budget = DIFF_LINES;
  return (await Promise.all(read)).map((outcome) => {
    if (outcome.kind !== "diff") return outcome;
    if (outcome.diff.lines > budget) return { kind: "not-shown" };
    budget -= outcome.diff.lines;
    return outcome;
  });
}

function ChangedEntry(props: {
  readonly file: ChangedFile;
  readonly outcome: FileOutcome;
  readonly from: LoadedVersion;
  readonly to: LoadedVersion;
}): VNode {
  const { file, outcome, from, to } = props;
  const links = html`<span class="links">
    Open in${" "}<a href=${paths.files(from.name, from.version, file.path)}>${from.version}</a>
    <a href=${paths.files(to.name, to.version, file.path)}>${to.version}</a>
  </span>`;
  if (outcome.kind === "diff") {
    const { diff } = outcome;
    return html`<details class="file-diff" open=${diff.lines <= OPEN_LINES}>
      <summary>
        <code>${file.path}</code>
        <span class="counts"><span class="plus">+${diff.added}</span> <span class="minus">−${diff.removed}</span></span>
      </summary>
      ${links}
      <${DiffView} diff=${diff} />
    </details>`;
  }
  const why: Record<Exclude<FileOutcome["kind"], "diff">, string> = {
    binary: `binary, ${formatBytes(file.before.size)} → ${formatBytes(file.after.size)}`,
    "too-large": `over ${formatBytes(DIFF_FILE_LIMIT)}, not diffed here (${formatBytes(file.before.size)} → ${formatBytes(file.after.size)})`,
    "too-different": "too different to diff here",
    "mode-only": `mode ${file.before.mode.toString(8)} → ${file.after.mode.toString(8)}, same bytes`,
    "not-shown": "diff left out: this page shows only so much",
  };
  return html`<div class="file-diff plain">
    <code>${file.path}</code> <span class="muted">${why[outcome.kind]}</span> ${links}
  </div>`;
}

function FileList(props: {
  readonly title: string;
  readonly files: readonly WebFile[];
  readonly version: LoadedVersion;
  readonly sign: string;
}): VNode | null {
  if (props.files.length === 0) return null;
  const { name, version } = props.version;
  const more = props.files.length - LISTED_FILES;
  return html`<h3>${props.title}</h3>
    <ul class="file-list">
      ${props.files.slice(0, LISTED_FILES).map(
        (f) => html`<li>
          <span aria-hidden="true" class=${props.sign === "+" ? "plus" : "minus"}>${props.sign}</span>
          <a href=${paths.files(name, version, f.path)}>${f.path}</a>
          <span class="muted">${formatBytes(f.size)}</span>
        </li>`,
      )}
      ${
        more > 0
          ? html`<li>
              and ${plural(more, "more file")}: see the files of${" "}
              <a href=${paths.files(name, version)}>${version}</a>
            </li>`
          : null
      }
    </ul>`;
}

export const diffPage: PageHandler<Extract<PackageView, { view: "diff" }>> = async (ctx, view) => {
  const picked = { from: ctx.query.from ?? view.from, to: ctx.query.to ?? view.to };
  const doc = await readDocument(ctx, view.name);
  const exact = {
    from: taggedVersion(doc, picked.from) ?? picked.from,
    to: taggedVersion(doc, picked.to) ?? picked.to,
  };
  if (exact.from !== view.from || exact.to !== view.to)
    return { kind: "redirect", location: paths.diff(view.name, exact.from, exact.to) };
  const from = liveVersion(doc, view.from);
  const to = liveVersion(doc, view.to);
  if (from.version === to.version) throw new WebError("bad-request", "pick two different versions");
  const [manifestBefore, manifestAfter, filesBefore, filesAfter] = await Promise.all([
    manifestOf(ctx, from),
    manifestOf(ctx, to),
    filesOf(ctx, from),
    filesOf(ctx, to),
  ]);
  const fields = fieldDifferences(manifestBefore, manifestAfter, { ignorePublishAdded: true });
  const manifestDiff = diffTexts(
    prettyWithoutReadme(manifestBefore),
    prettyWithoutReadme(manifestAfter),
  );
  const changes = compareFiles(filesBefore.files, filesAfter.files);
  const shown = await outcomes(filesBefore, filesAfter, changes.changed);
  const title = `${view.name} ${view.from} → ${view.to}`;
  return {
    kind: "page",
    title,
    body: html`<p class="version-nav"><a class="pkg" href=${paths.package(view.name)}>${view.name}</a></p>
      <h1>${view.from} → ${view.to}</h1>
      <${PickForm} doc=${doc} from=${view.from} to=${view.to} />
      <section aria-labelledby="manifest-changes">
        <h2 id="manifest-changes">Manifest</h2>
        ${
          fields.length === 0
            ? html`<p>No field of the manifest changed (beyond what npm adds at publish).</p>`
            : html`<${FieldTable}
                differences=${fields}
                caption="Fields that changed"
                before=${view.from}
                after=${view.to}
              />`
        }
        ${
          manifestDiff && manifestDiff.lines > 0
            ? html`<details class="file-diff">
                <summary>Both manifests as JSON, diffed${" "}<span class="muted">(readme left out)</span></summary>
                <${DiffView} diff=${manifestDiff} />
              </details>`
            : null
        }
      </section>
      <section aria-labelledby="file-changes">
        <h2 id="file-changes">Files</h2>
        <p>
          ${plural(changes.added.length, "file")} added, ${changes.removed.length} removed,${" "}
          ${changes.changed.length} changed, ${changes.unchanged} unchanged.
        </p>
        <${FileList} title="Added" files=${changes.added} version=${to} sign="+" />
        <${FileList} title="Removed" files=${changes.removed} version=${from} sign="−" />
        ${
          changes.changed.length > 0
            ? html`<h3>Changed</h3>
                ${changes.changed.map(
                  (file, i) =>
                    html`<${ChangedEntry} file=${file} outcome=${shown[i]} from=${from} to=${to} />`,
                )}`
            : null
        }
      </section>`,
  };
};
