/**
 * Recent log entries, newest first (`/-/web/log?before=<index>`): who
 * published what, when. Read from the tree this server serves, as every
 * copy holds it; each row links to the entry's page, where the browser
 * proves it.
 */
import { decodeEntry, type Entry } from "../../registry/entries.ts";
import { WebError } from "../errors.ts";
import { html, type VNode } from "../html.ts";
import type { PageContext, WebResult } from "../page.ts";
import { paths } from "../paths.ts";
import { rawLog, readEntries, readServedCheckpoint } from "../raw-log.ts";
import { parseEntryIndex } from "./proof.ts";

/** Entries on one page. */
export const LOG_PAGE_SIZE = 50;

export async function logPage(ctx: PageContext): Promise<WebResult> {
  const log = rawLog(ctx.source.log);
  const { size } = await readServedCheckpoint(log);
  const asked = ctx.query.before;
  const before = asked === undefined ? size : parseEntryIndex(asked);
  if (before > size) throw new WebError("not-found", `the log has ${size} entries`);
  const start = Math.max(0, before - LOG_PAGE_SIZE);
  const rows = (await readEntries(log, size, start, before)).reverse();
  const newer = before < size ? Math.min(size, before + LOG_PAGE_SIZE) : undefined;
  return {
    kind: "page",
    title: before === size ? "Recent log entries" : `Log entries before ${before}`,
    description: "Who published what, when: the registry's signed log, newest first",
    body: html`<section class="log">
      <h1>${before === size ? "Recent log entries" : `Log entries before ${before}`}</h1>
      <p>
        Every change to the registry is an entry in its signed, append-only log; the log holds${" "}
        ${size.toLocaleString("en")} entries. Each entry's page proves, in your browser, that the
        log includes it.
      </p>
      ${
        rows.length === 0
          ? html`<p>No entries here.</p>`
          : html`<table class="log-entries stack">
                <caption class="visually-hidden">
                  Log entries ${start} to ${before - 1}, newest first
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Index</th>
                    <th scope="col">Time (UTC)</th>
                    <th scope="col">Who</th>
                    <th scope="col">Kind</th>
                    <th scope="col">What</th>
                  </tr>
                </thead>
                <tbody>
                  ${rows.map((r) => row(r.index, r.bytes))}
                </tbody>
              </table>`
      }
      <nav class="pager" aria-label="Log pages">
        ${newer === undefined ? null : html`<a href=${paths.log(newer === size ? undefined : newer)} rel="prev">Newer entries</a>`}
        ${start > 0 ? html`<a href=${paths.log(start)} rel="next">Older entries</a>` : null}
      </nav>
    </section>`,
  };
}

function row(index: number, bytes: Uint8Array): VNode {
  let entry: Entry;
  try {
    entry = decodeEntry(bytes);
  } catch {
    return html`<tr>
      <td data-label="Index"><a href=${paths.entry(index)}>${index}</a></td>
      <td colspan="4" class="bad">does not decode as a registry entry</td>
    </tr>`;
  }
  return html`<tr>
    <td data-label="Index"><a href=${paths.entry(index)}>${index}</a></td>
    <td data-label="Time">
      <time datetime=${entry.time}>${entry.time.replace("T", " ").replace(/\.\d+Z$/, "")}</time>
    </td>
    <td data-label="Who">
      ${"actor" in entry ? entry.actor : html`<span class="muted">registry</span>`}
    </td>
    <td data-label="Kind">${entry.kind}</td>
    <td data-label="What">${what(entry)}</td>
  </tr>`;
}

/** The package and version an entry is about, linked; a registry entry says what it records. */
function what(entry: Entry): VNode | string {
  switch (entry.kind) {
    case "snapshot":
      return `snapshot of ${entry.packages.toLocaleString("en")} package${entry.packages === 1 ? "" : "s"} at size ${entry.size}`;
    case "database":
      return `database copy at size ${entry.size}`;
    case "popularity":
      return `download counts (${entry.total.toLocaleString("en")})`;
    case "key":
      return `key rotation ${entry.sequence}`;
    case "registry-keys":
      return `${entry.ecosystem} registry keys (${entry.keys.length})`;
    case "owner":
      return html`<a href=${paths.package(entry.name)}>${entry.name}</a>: ${entry.action}${" "}
        ${entry.user}`;
    case "dist-tag":
      return html`<a href=${paths.package(entry.name)}>${entry.name}</a>: ${entry.tag} →${" "}
        ${entry.version ?? "removed"}`;
    case "unpublish":
    case "takedown":
    case "restore":
      if (entry.version === undefined)
        return html`<a href=${paths.package(entry.name)}>${entry.name}</a> (every version)`;
      return html`<a href=${paths.package(entry.name)}>${entry.name}</a>@${entry.version}`;
    default:
      return html`<a href=${paths.package(entry.name)}>${entry.name}</a>@<a
          href=${paths.version(entry.name, entry.version)}
          >${entry.version}</a
        >`;
  }
}
