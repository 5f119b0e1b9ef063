/** The sections of a package page: readme, dependencies, dependents, versions, install, details. */
import { formatBytes } from "../format.ts";
import { html, type VNode } from "../html.ts";
import { paths } from "../paths.ts";
import { MAX_README_BYTES, type RenderedReadme } from "../readme.ts";
import type { PackageData, VersionRow } from "./package-data.ts";
import {
  bugsUrl,
  DEPENDENCY_KINDS,
  type Dependency,
  dependenciesOf,
  httpUrl,
  type InstallCommand,
  licenseOf,
  repositoryUrl,
} from "./package-meta.ts";

/** Past this many versions the list is folded in a <details>. */
const VERSIONS_OPEN = 20;

const UTC_ISO = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(\.\d+)?)?Z$/;

/** A UTC time to the minute; the log's times are ISO strings in UTC already. */
function timeElement(iso: string): VNode {
  const utc = UTC_ISO.exec(iso);
  let text = iso;
  if (utc) text = `${utc[1]} ${utc[2]} UTC`;
  else {
    const date = new Date(iso);
    if (!Number.isNaN(date.getTime()))
      text = `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  }
  return html`<time datetime=${iso}>${text}</time>`;
}

export function Time(props: { iso: string }): VNode {
  return timeElement(props.iso);
}

export function Readme(props: { readme: RenderedReadme | undefined; gone: boolean }): VNode {
  const { readme } = props;
  let body: VNode;
  if (readme === undefined)
    body = html`<p class="muted">
      ${props.gone ? "This version is unpublished; its readme is gone with it." : "No readme."}
    </p>`;
  else if (readme.kind === "text")
    body = html`<p class="notice">
        This readme is ${formatBytes(readme.bytes)}, too large to render: the first
        ${formatBytes(MAX_README_BYTES)} are shown as plain text.
      </p>
      <pre class="readme-text">${readme.text}</pre>`;
  else
    body = html`<div class="markdown-body" dangerouslySetInnerHTML=${{ __html: readme.html }} />`;
  return html`<section id="readme" class="readme" aria-labelledby="readme-h">
    <h2 id="readme-h">Readme</h2>
    ${body}
  </section>`;
}

function DependencyItem(props: { dep: Dependency }): VNode {
  const { dep } = props;
  const alias = dep.target !== undefined && dep.target !== dep.name;
  return html`<li>
    ${dep.target === undefined ? html`<span>${dep.name}</span>` : html`<a href=${paths.package(dep.target)}>${dep.name}</a>`}
    ${alias ? html` <span class="muted">→ ${dep.target}</span>` : null}
    ${dep.spec === "" ? null : html` <code>${dep.spec}</code>`}
    ${dep.optional ? html` <span class="tag">optional</span>` : null}
  </li>`;
}

export function Dependencies(props: { data: PackageData }): VNode {
  const { data } = props;
  // Without the manifest, the entry's resolution fields: everything but dev and bundled.
  const source = data.manifest ?? (data.shown.doc.resolution as Record<string, unknown>);
  const kinds = DEPENDENCY_KINDS.map((kind) => ({ kind, deps: dependenciesOf(source, kind) }));
  const any = kinds.some((k) => k.deps.length > 0);
  return html`<section id="dependencies" aria-labelledby="dependencies-h">
    <h2 id="dependencies-h">Dependencies</h2>
    ${
      data.manifest === undefined && !data.gone
        ? html`<p class="muted">
          The manifest is not available on this server: these are the dependencies its log
          entry records.
        </p>`
        : null
    }
    ${any ? null : html`<p class="muted">No dependencies.</p>`}
    ${kinds
      .filter((k) => k.deps.length > 0)
      .map(
        (k) => html`<div class="dependency-kind">
          <h3>${k.kind} <span class="count">${k.deps.length}</span></h3>
          <ul class="dependency-list">
            ${k.deps.map((dep) => html`<${DependencyItem} dep=${dep} />`)}
          </ul>
        </div>`,
      )}
  </section>`;
}

export function Dependents(props: { data: PackageData }): VNode {
  const { dependents } = props.data;
  let body: VNode;
  if (dependents === undefined)
    body = html`<p class="muted">
      Dependents need the whole registry; this server reads package by package.
    </p>`;
  else if (dependents.count === 0)
    body = html`<p class="muted">No package's latest version depends on this one.</p>`;
  else
    body = html`<p>
        ${`${dependents.count.toLocaleString("en")} ${dependents.count === 1 ? "package's" : "packages'"} latest version depends on it.`}
      </p>
      <ul class="dependent-list">
        ${dependents.names.map((n) => html`<li><a href=${paths.package(n)}>${n}</a></li>`)}
      </ul>
      ${
        dependents.count > dependents.names.length
          ? html`<p class="muted">and ${(dependents.count - dependents.names.length).toLocaleString("en")} more</p>`
          : null
      }`;
  return html`<section id="dependents" aria-labelledby="dependents-h">
    <h2 id="dependents-h">Dependents</h2>
    ${body}
  </section>`;
}

/** One row of the versions table: few nodes, as a package may have thousands of rows. */
function versionRow(name: string, r: VersionRow, shown: boolean): VNode {
  const notes =
    r.doc.unpublished === undefined && r.doc.deprecated === undefined
      ? null
      : html`${
          r.doc.unpublished === undefined
            ? null
            : html`<span class="bad">unpublished ${timeElement(r.doc.unpublished)}</span>`
        }${
          r.doc.deprecated === undefined
            ? null
            : html`<span class="deprecated-note">deprecated: ${r.doc.deprecated}</span>`
        }`;
  return html`<tr class=${shown ? "current" : undefined}>
    <td>
      <a href=${paths.version(name, r.version)} aria-current=${shown ? "page" : undefined}
        >${r.version}</a
      >${r.tags.length === 0 ? null : r.tags.map((t) => html` <span class="tag">${t}</span>`)}
    </td>
    <td>${timeElement(r.time)}</td>
    <td>${notes}</td>
  </tr>`;
}

function VersionTable(props: { name: string; rows: readonly VersionRow[]; shown: string }): VNode {
  return html`<div class="table-scroll">
    <table class="versions">
      <thead>
        <tr><th scope="col">Version</th><th scope="col">Published</th><th scope="col">Notes</th></tr>
      </thead>
      <tbody>
        ${props.rows.map((r) => versionRow(props.name, r, r.version === props.shown))}
      </tbody>
    </table>
  </div>`;
}

export function Versions(props: { data: PackageData }): VNode {
  const { doc, versions, shown } = props.data;
  const table = html`<${VersionTable} name=${doc.name} rows=${versions} shown=${shown.version} />`;
  const tags = Object.entries(doc.distTags).sort(([a], [b]) => (a < b ? -1 : 1));
  return html`<section id="versions" aria-labelledby="versions-h">
    <h2 id="versions-h">Versions <span class="count">${versions.length}</span></h2>
    ${
      tags.length > 0
        ? html`<h3>Dist-tags</h3>
          <ul class="dist-tags">
            ${tags.map(
              ([tag, v]) =>
                html`<li><span class="tag">${tag}</span> <a href=${paths.version(doc.name, v)}>${v}</a></li>`,
            )}
          </ul>`
        : null
    }
    <h3>History</h3>
    ${
      versions.length > VERSIONS_OPEN
        ? html`<details>
          <summary>All ${versions.length} versions, newest first</summary>
          ${table}
        </details>`
        : table
    }
  </section>`;
}

export function Install(props: { commands: readonly InstallCommand[] }): VNode {
  return html`<section id="install" class="install" aria-labelledby="install-h">
    <h2 id="install-h">Install</h2>
    ${props.commands.map(
      (c) => html`<div class="install-command">
        <h3>${c.client}</h3>
        <pre tabindex="0"><code>${c.lines.join("\n")}</code></pre>
      </div>`,
    )}
  </section>`;
}

function Link(props: { href: string | undefined; text?: string }): VNode | null {
  if (props.href === undefined) return null;
  return html`<a href=${props.href} rel="nofollow noopener noreferrer">
    ${props.text ?? props.href.replace(/^https?:\/\//, "")}
  </a>`;
}

function Fact(props: { term: string; children: unknown }): VNode | null {
  if (props.children === null || props.children === undefined) return null;
  return html`<div class="fact"><dt>${props.term}</dt><dd>${props.children}</dd></div>`;
}

export function Details(props: { data: PackageData }): VNode {
  const { data } = props;
  const { doc, shown, manifest, files, entry } = data;
  const name = doc.name;
  const version = shown.version;
  const repo = manifest && repositoryUrl(manifest.repository);
  const home = manifest && httpUrl(manifest.homepage);
  const bugs = manifest && bugsUrl(manifest.bugs);
  const unpacked = files?.files.reduce((sum, f) => sum + f.size, 0);
  return html`<section class="details" aria-labelledby="details-h">
    <h2 id="details-h">Details</h2>
    <dl>
      <${Fact} term="Version">${version}</${Fact}>
      <${Fact} term="License">${manifest ? (licenseOf(manifest) ?? "none given") : null}</${Fact}>
      <${Fact} term="Repository">${repo ? html`<${Link} href=${repo} />` : null}</${Fact}>
      <${Fact} term="Homepage">${home ? html`<${Link} href=${home} />` : null}</${Fact}>
      <${Fact} term="Issues">${bugs ? html`<${Link} href=${bugs} />` : null}</${Fact}>
      <${Fact} term="Published"><${Time} iso=${shown.time} /></${Fact}>
      <${Fact} term=${data.uplink ? "Imported by" : "Publisher"}>${shown.doc.actor}</${Fact}>
      <${Fact} term="Owners">
        ${doc.owners.length > 0 ? html`<ul class="owners">${doc.owners.map((o) => html`<li>${o}</li>`)}</ul>` : null}
      </${Fact}>
      <${Fact} term="Tarball">${entry.artifact ? formatBytes(entry.artifact.size) : null}</${Fact}>
      <${Fact} term="Unpacked">${unpacked === undefined ? null : formatBytes(unpacked)}</${Fact}>
      <${Fact} term="Files">${files ? files.files.length.toLocaleString("en") : null}</${Fact}>
      <${Fact} term="Log entry">${html`<a href=${paths.entry(shown.doc.index)}>#${shown.doc.index}</a>`}</${Fact}>
      <${Fact} term="Signed by">
        ${shown.doc.signatures ? html`<ul class="owners">${shown.doc.signatures.map((s) => html`<li><code>${s.keyid}</code></li>`)}</ul>` : null}
      </${Fact}>
    </dl>
    <ul class="version-links">
      ${data.gone ? null : html`<li><a href=${paths.files(name, version)}>Files</a></li>`}
      ${data.gone ? null : html`<li><a href=${paths.manifest(name, version)}>package.json</a></li>`}
      <li><a href=${paths.proof(name, version)}>Proof</a></li>
      ${
        data.previous
          ? html`<li>
            <a href=${paths.diff(name, data.previous, version)}>Changes since ${data.previous}</a>
          </li>`
          : null
      }
    </ul>
  </section>`;
}
