/**
 * A version's package.json exactly as published (the manifest blob its
 * log entry names), and, first on the page, where it disagrees with the
 * package.json inside the tarball: the tarball is what installs and runs,
 * so what it says matters more than what the manifest claims. The origin
 * already refuses a publish whose dependencies, scripts or bin disagree;
 * what is left to see here is the rest (main, exports, metadata), and any
 * version an upstream served.
 */
import { sha256Hex } from "../../util/sha256.ts";
import { CodeView } from "../code-view.ts";
import { formatBytes } from "../format.ts";
import { HIGHLIGHT_LIMIT, htmlLines } from "../highlight.ts";
import { html, type VNode } from "../html.ts";
import { type FieldDifference, fieldDifferences } from "../manifest-fields.ts";
import type { PageContext, PageHandler } from "../page.ts";
import { type PackageView, paths } from "../paths.ts";
import { fileAt, type LoadedVersion, openVersion, textOf } from "../version-data.ts";
import { FieldTable } from "./field-table.ts";
import { VersionNav } from "./version-nav.ts";

type Obj = Record<string, unknown>;

const isObject = (value: unknown): value is Obj =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The package.json inside the version's tarball, or why it cannot be had. */
type Inner = { readonly json: Obj } | { readonly problem: string };

async function innerManifest(ctx: PageContext, loaded: LoadedVersion): Promise<Inner> {
  if (loaded.entry.artifact === undefined)
    return { problem: "its tarball has not been fetched from the upstream yet" };
  const files = await ctx.source.files(loaded.entry);
  const file = fileAt(files, "package.json");
  if (!file) return { problem: "the tarball holds no package.json" };
  const text = textOf(await files.read(file));
  if (text === undefined) return { problem: "the tarball's package.json is not UTF-8 text" };
  try {
    const json: unknown = JSON.parse(text);
    return isObject(json) ? { json } : { problem: "the tarball's package.json is not an object" };
  } catch {
    return { problem: "the tarball's package.json is not valid JSON" };
  }
}

function comparison(loaded: LoadedVersion, published: Obj, inner: Inner): VNode {
  const { name, version } = loaded;
  const tarballLink = html`<a href=${paths.files(name, version, "package.json")}>the package.json inside the tarball</a>`;
  if ("problem" in inner)
    return html`<section class="compare" aria-labelledby="compare">
      <h2 id="compare">Against the tarball</h2>
      <p class="notice">Not compared: ${inner.problem}.</p>
    </section>`;
  const differences = fieldDifferences(published, inner.json, { ignorePublishAdded: true });
  const install = differences.filter((d: FieldDifference) => d.install);
  const other = differences.filter((d: FieldDifference) => !d.install);
  const columns = { before: "The manifest says", after: "The tarball says" };
  return html`<section class="compare" aria-labelledby="compare">
    <h2 id="compare">Against the tarball</h2>
    ${
      differences.length === 0
        ? html`<p class="agree">The manifest agrees with ${tarballLink}.</p>`
        : null
    }
    ${
      install.length > 0
        ? html`<div class="alert">
            <p>
              <strong>The manifest and ${tarballLink} disagree on what installs, runs or loads.</strong>
              ${" "}npm installs from the manifest's dependencies and runs the tarball's files.
            </p>
            <${FieldTable}
              differences=${install}
              caption="Fields that change an install"
              ...${columns}
            />
          </div>`
        : null
    }
    ${
      other.length > 0
        ? html`<${FieldTable}
            differences=${other}
            caption="Other fields that differ"
            ...${columns}
          />`
        : null
    }
    <p class="muted">
      Left out: what npm adds when it publishes (fields starting with <code>_</code>,${" "}
      <code>dist</code>, <code>readme</code>, <code>readmeFilename</code>, <code>gitHead</code>,${" "}
      <code>maintainers</code>).
    </p>
  </section>`;
}

export const manifestPage: PageHandler<Extract<PackageView, { view: "manifest" }>> = async (
  ctx,
  view,
) => {
  const opened = await openVersion(ctx, view.name, view.version, (v) =>
    paths.manifest(view.name, v),
  );
  if ("redirect" in opened) return { kind: "redirect", location: opened.redirect };
  const { loaded } = opened;
  const bytes = await ctx.source.packages.manifest(loaded.entry);
  const published = JSON.parse(new TextDecoder().decode(bytes)) as Obj;
  const pretty = JSON.stringify(published, null, 2);
  const imported = loaded.entry.kind === "import";
  return {
    kind: "page",
    title: `package.json · ${loaded.name}@${loaded.version}`,
    body: html`<${VersionNav} name=${loaded.name} version=${loaded.version} current="manifest" />
      <h1>package.json</h1>
      <p>
        ${
          imported
            ? `The version document the upstream ${loaded.entry.uplink} served, as this registry recorded it`
            : "The manifest as published"
        }:
        ${" "}${formatBytes(bytes.length)}, SHA-256 <code class="hash">${sha256Hex(bytes)}</code>.${" "}
        <a href=${paths.manifestRaw(loaded.name, loaded.version)}>Its exact bytes</a>
      </p>
      ${comparison(loaded, published, await innerManifest(ctx, loaded))}
      <section aria-labelledby="manifest">
        <h2 id="manifest">The manifest</h2>
        <${CodeView} lines=${htmlLines(pretty, pretty.length <= HIGHLIGHT_LIMIT ? "json" : undefined)} />
      </section>`,
  };
};

export const manifestRawPage: PageHandler<Extract<PackageView, { view: "manifest-raw" }>> = async (
  ctx,
  view,
) => {
  const opened = await openVersion(ctx, view.name, view.version, (v) =>
    paths.manifestRaw(view.name, v),
  );
  if ("redirect" in opened) return { kind: "redirect", location: opened.redirect };
  return {
    kind: "raw",
    body: await ctx.source.packages.manifest(opened.loaded.entry),
    type: "application/json; charset=utf-8",
    filename: "package.json",
    immutable: true,
  };
};
