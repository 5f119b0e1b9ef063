/** The line above a version's pages: which package and version, and its other pages. */
import { html, type VNode } from "../html.ts";
import { paths } from "../paths.ts";

export type VersionPage = "files" | "manifest" | "proof";

export function VersionNav(props: {
  readonly name: string;
  readonly version: string;
  readonly current: VersionPage;
}): VNode {
  const { name, version, current } = props;
  const link = (page: VersionPage, href: string, label: string) =>
    html`<a href=${href} aria-current=${page === current ? "page" : undefined}>${label}</a>`;
  return html`<nav class="version-nav" aria-label="This version">
    <a class="pkg" href=${paths.package(name)}>${name}</a>
    <a class="ver" href=${paths.version(name, version)}>${version}</a>
    <span class="tabs">
      ${link("files", paths.files(name, version), "Files")}
      ${link("manifest", paths.manifest(name, version), "Manifest")}
      ${link("proof", paths.proof(name, version), "Proof")}
    </span>
  </nav>`;
}
