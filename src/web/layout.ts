/**
 * The frame every page shares: a skip link, a header with the search box
 * (a plain GET form, so it works without JavaScript) and the site's
 * sections, the page in `<main>`, and a footer. Themes follow the system
 * (site.css); the site script adds search-as-you-type.
 */
import { assetFile } from "./assets.ts";
import { type Children, html, type VNode } from "./html.ts";
import { paths } from "./paths.ts";
import type { ServerRole } from "./source.ts";

export interface SiteInfo {
  readonly role: ServerRole;
  /** The log's origin line (the checkpoint's first line): which registry this is. */
  readonly logName: string;
}

export interface LayoutProps {
  readonly site: SiteInfo;
  readonly title: string;
  readonly description?: string;
  /** Text already in the search box (the search page). */
  readonly query?: string;
  /** Scripts beyond the site's own, by asset name. */
  readonly scripts?: readonly string[];
  readonly children: Children;
}

const ROLE_NOTE: Record<ServerRole, string> = {
  origin: "origin",
  mirror: "mirror: every byte checked against the origin's signed log",
  proxy: "verifying proxy: every byte checked against the origin's signed log",
};

export function Layout(props: LayoutProps): VNode {
  const { site, title } = props;
  const scripts = ["site.js", ...(props.scripts ?? [])];
  return html`<html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      <title>${title} · Cairn</title>
      ${props.description ? html`<meta name="description" content=${props.description} />` : null}
      <link rel="icon" type="image/svg+xml" href=${paths.asset(assetFile("icon.svg"))} />
      <link rel="stylesheet" href=${paths.asset(assetFile("site.css"))} />
      ${scripts.map((s) => html`<script type="module" src=${paths.asset(assetFile(s))}></script>`)}
    </head>
    <body>
      <a class="skip" href="#main">Skip to content</a>
      <header class="site">
        <a class="brand" href=${paths.home()}>Cairn</a>
        <form class="search" role="search" action=${paths.search()} method="get">
          <label class="visually-hidden" for="q">Search packages</label>
          <input
            id="q"
            name="q"
            type="search"
            placeholder="Search packages"
            autocomplete="off"
            spellcheck="false"
            value=${props.query ?? ""}
            data-suggest=${paths.searchJson()}
          />
        </form>
        <nav aria-label="Registry">
          <a href=${paths.log()}>Log</a>
          <a href=${paths.mirrors()}>Mirrors</a>
        </nav>
      </header>
      <main id="main">${props.children}</main>
      <footer class="site">
        <p>
          <span class="role">${ROLE_NOTE[site.role]}</span> · log${" "}
          <code>${site.logName}</code>
        </p>
      </footer>
    </body>
  </html>`;
}
