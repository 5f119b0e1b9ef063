/**
 * A package's page, for its latest version or any other: what the npm
 * website shows (readme, versions, dependencies, install commands, links,
 * owners, sizes), plus where it came from and links to its files,
 * manifest, proof and changes.
 *
 * An unpublished package or version answers 410 Gone: the name and version
 * existed (the log says so forever, and the page shows that history), but
 * their contents were withdrawn on purpose, which a 404 would hide.
 */
import { html, type VNode } from "../html.ts";
import type { PageContext, WebResult } from "../page.ts";
import { type PackageView, paths } from "../paths.ts";
import { type PackageData, packageData } from "./package-data.ts";
import { installCommands } from "./package-meta.ts";
import {
  Dependencies,
  Dependents,
  Details,
  Install,
  Readme,
  Time,
  Versions,
} from "./package-sections.ts";

function Notices(props: { data: PackageData }): VNode {
  const { doc, shown, takenDown } = props.data;
  return html`${
    takenDown !== undefined
      ? html`<div class="notice gone" role="note">
          <strong>Taken down.</strong> ${doc.takenDown !== undefined ? "This package" : `Version ${shown.version}`}
          ${" "}was taken down on <${Time} iso=${takenDown.time} />: ${takenDown.reason}
          ${" "}(<a href=${paths.entry(takenDown.index)}>log entry ${takenDown.index}</a>). Its files
          are withheld on every copy of this registry; the log keeps the record.
        </div>`
      : null
  }${
    doc.unpublished !== undefined
      ? html`<div class="notice gone" role="note">
          <strong>Unpublished.</strong> This package was unpublished on
          ${" "}<${Time} iso=${doc.unpublished} />. Its name and versions stay taken; the log keeps
          their history.
        </div>`
      : shown.doc.unpublished !== undefined
        ? html`<div class="notice gone" role="note">
            <strong>Unpublished.</strong> Version ${shown.version} was unpublished on
            ${" "}<${Time} iso=${shown.doc.unpublished} />; it can no longer be installed.
          </div>`
        : null
  }
  ${
    shown.doc.deprecated !== undefined
      ? html`<div class="notice deprecated" role="note">
          <strong>Deprecated.</strong> ${shown.doc.deprecated}
        </div>`
      : null
  }`;
}

function Header(props: { data: PackageData }): VNode {
  const { doc, shown, latest, uplink, manifest } = props.data;
  const description = shown.doc.description ?? manifest?.description;
  const keywords = shown.doc.keywords ?? [];
  return html`<header class="package-header">
    <h1><span class="package-name">${doc.name}</span></h1>
    <p class="package-badges">
      <span class="version-badge">${shown.version}</span>
      ${shown.tags.map((t) => html` <span class="tag">${t}</span>`)}
      ${
        latest !== undefined && latest !== shown.version
          ? html` <a href=${paths.package(doc.name)}>latest is ${latest}</a>`
          : null
      }
      ${uplink !== undefined ? html` <span class="badge upstream">imported from upstream ${uplink}</span>` : null}
      ${shown.doc.deprecated !== undefined ? html` <span class="badge deprecated">deprecated</span>` : null}
      ${props.data.gone ? html` <span class="badge gone">${props.data.takenDown ? "taken down" : "unpublished"}</span>` : null}
    </p>
    ${typeof description === "string" && description !== "" ? html`<p class="package-description">${description}</p>` : null}
    ${
      keywords.length > 0
        ? html`<ul class="keywords" aria-label="Keywords">
            ${keywords.map((k) => html`<li><a href=${paths.search(k)}>${k}</a></li>`)}
          </ul>`
        : null
    }
  </header>`;
}

export async function packagePage(
  ctx: PageContext,
  view: Extract<PackageView, { view: "overview" }>,
): Promise<WebResult> {
  const data = await packageData(ctx, view.name, view.version);
  // `/v/next` shows what `next` points at now, under the version's own URL.
  if ("tagged" in data)
    return { kind: "redirect", location: paths.version(view.name, data.tagged) };
  const { doc, shown } = data;
  const isLatest = view.version === undefined || view.version === data.latest;
  const spec = isLatest ? doc.name : `${doc.name}@${shown.version}`;
  const description = shown.doc.description;
  return {
    kind: "page",
    status: data.takenDown ? 451 : data.gone ? 410 : 200,
    title: view.version === undefined ? doc.name : `${doc.name}@${shown.version}`,
    ...(description ? { description } : {}),
    body: html`<article class="package">
      <${Header} data=${data} />
      <${Notices} data=${data} />
      <nav class="package-nav" aria-label="On this page">
        <a href="#readme">Readme</a>
        <a href="#dependencies">Dependencies</a>
        <a href="#dependents">Dependents</a>
        <a href="#versions">Versions</a>
        ${data.gone ? null : html`<a href="#install">Install</a>`}
      </nav>
      <div class="package-columns">
        <div class="package-main">
          <${Readme} readme=${data.readme} gone=${data.gone} />
          <${Dependencies} data=${data} />
          <${Dependents} data=${data} />
          <${Versions} data=${data} />
        </div>
        <aside class="package-aside" aria-label="Install and details">
          ${data.gone ? null : html`<${Install} commands=${installCommands(spec, ctx.base, ctx.source.verifierKey)} />`}
          <${Details} data=${data} />
        </aside>
      </div>
    </article>`,
  };
}
