/**
 * The search page and the suggestions the header box asks for as you type
 * (assets/site.js). Ranking is the registry's (src/registry/search.ts):
 * exact name, name prefix, name after its scope, then description and
 * keywords. A sparse proxy holds no index: its page says so with a 501
 * (what a script asking it should learn) and still leads a person to the
 * package page when the text is a package name.
 */
import type { SearchHit, SearchIndex } from "../../registry/search.ts";
import { TOTAL_CAP } from "../../registry/search.ts";
import { WebError } from "../errors.ts";
import { html, type VNode } from "../html.ts";
import type { PageContext, WebResult } from "../page.ts";
import { paths } from "../paths.ts";

export const PAGE_SIZE = 20;
const DEFAULT_SUGGESTIONS = 8;
const MAX_SUGGESTIONS = 20;
/** Longer text is cut before it is searched or shown: no name is longer than 214. */
const MAX_QUERY = 256;

/** npm's rule for a package name, as a name that could be fetched directly. */
const PACKAGE_NAME = /^(?:@[a-z0-9-*~][a-z0-9-*._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

export function isPackageName(text: string): boolean {
  return text.length <= 214 && PACKAGE_NAME.test(text);
}

function searchText(ctx: PageContext): string {
  return (ctx.query.q ?? "").slice(0, MAX_QUERY);
}

function wholeNumber(raw: string | undefined, fallback: number, what: string): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d{1,6}$/.test(raw)) throw new WebError("bad-request", `${what} must be a whole number`);
  return Number(raw);
}

/** The index this server searches, brought up to date first; undefined on a sparse proxy. */
async function searchIndex(ctx: PageContext): Promise<SearchIndex | undefined> {
  const index = ctx.source.packages.search ?? ctx.source.state()?.table("npm").search;
  if (index) await ctx.source.packages.beforeRead?.();
  return index;
}

export async function searchPage(ctx: PageContext): Promise<WebResult> {
  const text = searchText(ctx);
  const q = text.trim();
  const index = await searchIndex(ctx);
  if (!index) return sparsePage(q);
  if (q === "") return { kind: "page", title: "Search", query: "", body: emptyQuery() };
  const lastPage = Math.ceil(TOTAL_CAP / PAGE_SIZE);
  const page = Math.min(wholeNumber(ctx.query.page, 1, "the page") || 1, lastPage);
  const result = index.search(q, (page - 1) * PAGE_SIZE, PAGE_SIZE);
  if (result.hits.length === 0 && page === 1)
    return {
      kind: "page",
      title: `No packages match ${q}`,
      query: q,
      body: noResults(q, index.nearby(q, 6)),
    };
  const pages = Math.min(lastPage, Math.ceil(result.total / PAGE_SIZE));
  const counted = result.capped
    ? `${TOTAL_CAP.toLocaleString("en")}+ packages`
    : `${result.total.toLocaleString("en")} ${result.total === 1 ? "package" : "packages"}`;
  return {
    kind: "page",
    title: `Search: ${q}`,
    query: q,
    body: html`<section class="search-page" aria-labelledby="search-heading">
      <h1 id="search-heading">Packages matching <q>${q}</q></h1>
      <p class="muted" id="search-count">${counted}${pages > 1 ? `, page ${page} of ${pages}` : ""}</p>
      <ol class="results" id="results" start=${(page - 1) * PAGE_SIZE + 1} aria-describedby="search-count">
        ${result.hits.map(resultItem)}
      </ol>
      ${pager(q, page, pages)}
    </section>`,
  };
}

function resultItem(hit: SearchHit): VNode {
  const badge = hit.match === "exact" ? "exact match" : undefined;
  return html`<li class="result">
    <h2 class="result-title">
      <a class="result-name" href=${paths.package(hit.name)}>${hit.name}</a>
      ${badge ? html` <span class="badge">${badge}</span>` : null}
      <span class="result-version muted"> ${hit.version}</span>
    </h2>
    ${hit.description ? html`<p class="result-description">${hit.description}</p>` : null}
    ${
      hit.keywords.length > 0
        ? html`<ul class="keywords" aria-label="Keywords">
            ${hit.keywords
              .slice(0, 10)
              .map((k) => html`<li><a href=${paths.search(k)}>${k}</a></li>`)}
          </ul>`
        : null
    }
    <p class="result-meta muted">
      published <time datetime=${hit.date}>${hit.date.slice(0, 10)}</time>${
        hit.publisher ? ` by ${hit.publisher}` : ""
      }
    </p>
  </li>`;
}

function pager(q: string, page: number, pages: number): VNode | null {
  if (pages <= 1) return null;
  return html`<nav class="pager" aria-label="Result pages">
    ${page > 1 ? html`<a rel="prev" href=${paths.search(q, page - 1)}>Previous</a>` : null}
    <span class="muted">Page ${page} of ${pages}</span>
    ${page < pages ? html`<a rel="next" href=${paths.search(q, page + 1)}>Next</a>` : null}
  </nav>`;
}

const TIPS = html`<ul class="tips">
  <li>Type the start of a name: <code>reac</code> finds <code>react</code> and <code>react-dom</code>.</li>
  <li>Scoped packages: <code>@types/</code> lists a scope; <code>babel/core</code> finds <code>@babel/core</code>.</li>
  <li>Words from a description or keyword match too: <code>date format</code>.</li>
  <li>Every word must match: fewer words find more.</li>
</ul>`;

function emptyQuery(): VNode {
  return html`<section class="search-page" aria-labelledby="search-heading">
    <h1 id="search-heading">Search packages</h1>
    <form class="search-big" role="search" action=${paths.search()} method="get">
      <label for="search-big-q">Name, description or keyword</label>
      <input id="search-big-q" name="q" type="search" autocomplete="off" spellcheck="false" />
      <button type="submit">Search</button>
    </form>
    ${TIPS}
  </section>`;
}

function noResults(q: string, nearby: readonly string[]): VNode {
  return html`<section class="search-page search-empty" aria-labelledby="search-heading">
    <h1 id="search-heading">No packages match <q>${q}</q></h1>
    ${
      nearby.length > 0
        ? html`<h2>Did you mean</h2>
            <ul class="nearby">
              ${nearby.map((name) => html`<li><a href=${paths.package(name)}>${name}</a></li>`)}
            </ul>`
        : null
    }
    <h2>Tips</h2>
    ${TIPS}
  </section>`;
}

function sparsePage(q: string): WebResult {
  const name = q.toLowerCase();
  return {
    kind: "page",
    status: 501,
    title: "Search is not available here",
    query: q,
    body: html`<section class="search-page search-empty" aria-labelledby="search-heading">
      <h1 id="search-heading">Search is not available on this server</h1>
      <p>
        This proxy reads the registry package by package and holds no index to search. A
        package's page still opens by its name.
      </p>
      ${
        q !== "" && isPackageName(name)
          ? html`<p><a class="direct" href=${paths.package(name)}>Open the package <code>${name}</code></a></p>`
          : html`<p>Type a package's full name in the box above, such as <code>left-pad</code> or <code>@scope/name</code>.</p>`
      }
    </section>`,
  };
}

/** The small JSON the header box lists as you type. */
export async function searchSuggestions(ctx: PageContext): Promise<WebResult> {
  const q = searchText(ctx).trim();
  const size = Math.min(
    MAX_SUGGESTIONS,
    Math.max(1, wholeNumber(ctx.query.size, DEFAULT_SUGGESTIONS, "size")),
  );
  const index = await searchIndex(ctx);
  if (!index)
    throw new WebError(
      "not-available",
      "search needs the whole registry; this server reads it package by package",
    );
  const result = q === "" ? { total: 0, capped: false, hits: [] } : index.search(q, 0, size);
  return {
    kind: "json",
    body: {
      q,
      total: result.total,
      capped: result.capped,
      hits: result.hits.map((h) => ({
        name: h.name,
        version: h.version,
        description: h.description.slice(0, 160),
        match: h.match,
        url: paths.package(h.name),
      })),
    },
  };
}
