/**
 * Every change between two registry states, `cairn diff` in a browser: the
 * log entries in [from, to), grouped by package, a page of entries at a
 * time. A state is a log size or a snapshot id (resolved through the
 * state this server holds). The entries are read from this server's copy
 * of the log and decoded without being checked here: each links to its
 * entry page, whose inclusion proof the browser checks against the signed
 * checkpoint.
 */
import type { LogSource } from "../../log/tile-reader.ts";
import { TILE_WIDTH } from "../../log/tiles.ts";
import {
  decodeEntry,
  type Entry,
  isPackageEntry,
  type PackageEntry,
} from "../../registry/entries.ts";
import { sizeOfSnapshot } from "../../registry/history.ts";
import { WebError } from "../errors.ts";
import { plural } from "../format.ts";
import { html, type VNode } from "../html.ts";
import type { PageContext, WebResult } from "../page.ts";
import { parseStateRef, paths, type StateRef } from "../paths.ts";
import { readEntries as readRawEntries, readServedCheckpoint } from "../raw-log.ts";

/** Entries one page lists: two bundles' worth, a few hundred rows. */
export const ENTRIES_PER_PAGE = 2 * TILE_WIDTH;

/** One log entry as read: decoded, or why it would not decode. */
type ReadEntry =
  | { readonly index: number; readonly entry: Entry }
  | { readonly index: number; readonly problem: string };

/** Entries [start, end) of a log of `treeSize` entries, each decoded or why it would not. */
async function readEntries(
  log: LogSource,
  start: number,
  end: number,
  treeSize: number,
): Promise<ReadEntry[]> {
  return (await readRawEntries(log, treeSize, start, end)).map(({ index, bytes }) => {
    try {
      return { index, entry: decodeEntry(bytes) };
    } catch (err) {
      return { index, problem: (err as Error).message };
    }
  });
}

function sizeOf(ctx: PageContext, ref: StateRef): number {
  if (ref.kind === "size") return ref.size;
  const state = ctx.source.state();
  const size = state && sizeOfSnapshot(state, ref.id);
  if (size === undefined)
    throw new WebError(
      "not-found",
      `this server does not know snapshot ${ref.id}: it names the newest snapshot by id, older states by their log size (a snapshot entry describes the state at its own index, and the log page lists them)`,
    );
  return size;
}

function Version(props: { readonly name: string; readonly version: string }): VNode {
  return html`<a href=${paths.version(props.name, props.version)}>${props.version}</a>`;
}

/** What one package entry did, in words. */
function packageChange(entry: PackageEntry): VNode {
  const { name } = entry;
  switch (entry.kind) {
    case "publish":
      return html`published <${Version} name=${name} version=${entry.version} />${
        entry.tag ? html` as <code>${entry.tag}</code>` : null
      }`;
    case "import":
      return html`imported <${Version} name=${name} version=${entry.version} /> from ${entry.uplink}`;
    case "artifact":
      return html`bound the tarball of <${Version} name=${name} version=${entry.version} />`;
    case "unpublish":
      return entry.version === undefined
        ? html`<strong>unpublished the whole package</strong>`
        : html`<strong>unpublished</strong> ${entry.version}`;
    case "deprecate":
      return entry.message === ""
        ? html`undeprecated <${Version} name=${name} version=${entry.version} />`
        : html`deprecated <${Version} name=${name} version=${entry.version} />: “${entry.message}”`;
    case "dist-tag":
      return entry.version === null
        ? html`removed dist-tag <code>${entry.tag}</code>`
        : html`moved dist-tag <code>${entry.tag}</code> to <${Version} name=${name} version=${entry.version} />`;
    case "owner":
      return html`${entry.action === "add" ? "added owner" : "removed owner"} <code>${entry.user}</code>`;
    case "yank":
      return html`${entry.yanked ? "yanked" : "unyanked"} <${Version} name=${name} version=${entry.version} />`;
    case "takedown":
    case "restore":
      return html`<strong>${entry.kind === "takedown" ? "took down" : "restored"}</strong> ${
        entry.version ?? "the whole package"
      }: “${entry.reason}”`;
    case "signature":
      return html`signed <${Version} name=${name} version=${entry.version} /> with registry key <code>${entry.keyid}</code>`;
  }
}

function registryChange(entry: Exclude<Entry, PackageEntry>): VNode {
  switch (entry.kind) {
    case "snapshot":
      return html`snapshot of the state at size ${entry.size} (${plural(entry.packages, "package")}):
        id <code class="id">${entry.root.sha256}</code>`;
    case "database":
      return html`SQLite copy of the state at size ${entry.size}`;
    case "popularity":
      return html`download counts from ${entry.window.from} to ${entry.window.to}`;
    case "key":
      return html`key rotation ${entry.sequence}`;
    case "registry-keys":
      return html`${entry.ecosystem} registry keys: ${entry.keys.map((k) => k.keyid).join(", ")}`;
  }
}

function EntryLink(props: { readonly index: number }): VNode {
  return html`<a class="index" href=${paths.entry(props.index)}>#${props.index}</a>`;
}

function byPackage(entries: readonly ReadEntry[]) {
  const packages = new Map<string, { index: number; entry: PackageEntry }[]>();
  const registry: { index: number; entry: Exclude<Entry, PackageEntry> }[] = [];
  const broken: { index: number; problem: string }[] = [];
  for (const read of entries) {
    if ("problem" in read) broken.push(read);
    else if (isPackageEntry(read.entry)) {
      const list = packages.get(read.entry.name) ?? [];
      list.push({ index: read.index, entry: read.entry });
      packages.set(read.entry.name, list);
    } else registry.push({ index: read.index, entry: read.entry as Exclude<Entry, PackageEntry> });
  }
  const sorted = [...packages].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { packages: sorted, registry, broken };
}

function Pager(props: {
  readonly params: { readonly from: string; readonly to: string };
  readonly from: number;
  readonly to: number;
  readonly start: number;
  readonly end: number;
}): VNode | null {
  const { params, from, to, start, end } = props;
  if (start === from && end === to) return null;
  const previous = Math.max(from, start - ENTRIES_PER_PAGE);
  return html`<nav class="pager" aria-label="Pages of entries">
    ${start > from ? html`<a href=${paths.changes(params.from, params.to, previous)}>Earlier entries</a>` : null}
    ${end < to ? html`<a href=${paths.changes(params.from, params.to, end)}>Later entries</a>` : null}
  </nav>`;
}

function PickStates(props: { readonly from: string; readonly to: string }): VNode {
  return html`<form class="pick" method="get" action=${paths.changes(props.from, props.to)}>
    <label for="from">From</label>
    <input id="from" name="from" value=${props.from} size="12" spellcheck="false" />
    <label for="to">To</label>
    <input id="to" name="to" value=${props.to} size="12" spellcheck="false" />
    <button type="submit">Compare</button>
  </form>`;
}

function parseStart(text: string | undefined, from: number, to: number): number {
  if (text === undefined) return from;
  if (!/^(0|[1-9]\d{0,14})$/.test(text)) throw new WebError("bad-request", "start is a log index");
  const start = Number(text);
  if (start < from || (start >= to && start !== from))
    throw new WebError("bad-request", `start must be within [${from}, ${to})`);
  return start;
}

export async function changesPage(
  ctx: PageContext,
  params: { readonly from: string; readonly to: string },
): Promise<WebResult> {
  const { query } = ctx;
  if (query.from !== undefined || query.to !== undefined)
    return {
      kind: "redirect",
      location: paths.changes((query.from ?? params.from).trim(), (query.to ?? params.to).trim()),
    };
  const treeSize = (await readServedCheckpoint(ctx.source.log)).size;
  const from = sizeOf(ctx, parseStateRef(params.from));
  const to = sizeOf(ctx, parseStateRef(params.to));
  if (from > to)
    throw new WebError(
      "bad-request",
      `the first state (${from}) must not come after the second (${to})`,
    );
  if (to > treeSize)
    throw new WebError("not-found", `the log here holds ${treeSize} entries, not ${to}`);
  const start = parseStart(query.start, from, to);
  const end = Math.min(to, start + ENTRIES_PER_PAGE);
  const { packages, registry, broken } = byPackage(
    await readEntries(ctx.source.log, start, end, treeSize),
  );
  const pager = html`<${Pager} params=${params} from=${from} to=${to} start=${start} end=${end} />`;
  return {
    kind: "page",
    title: `Changes ${from} → ${to}`,
    body: html`<h1>Changes from size ${from} to ${to}</h1>
      <${PickStates} from=${params.from} to=${params.to} />
      <p>
        ${plural(to - from, "log entry", "log entries")}:${" "}
        ${plural(packages.length, "package")} changed${
          to - from > end - start ? ` (in entries ${start} to ${end - 1}, on this page)` : ""
        }.
      </p>
      <p class="notice">
        Read from this server's copy of the log and not checked on this page: each entry's page
        (its <code>#index</code>) checks it against the signed checkpoint in your browser.
      </p>
      ${pager}
      ${
        packages.length > 0
          ? html`<ul class="changes">
              ${packages.map(
                ([name, list]) => html`<li>
                  <h2><a href=${paths.package(name)}>${name}</a></h2>
                  <ul>
                    ${list.map(
                      ({ index, entry }) => html`<li>
                        <${EntryLink} index=${index} /> ${packageChange(entry)}
                        <span class="muted"> · ${entry.actor} · ${entry.time}</span>
                      </li>`,
                    )}
                  </ul>
                </li>`,
              )}
            </ul>`
          : null
      }
      ${
        registry.length > 0
          ? html`<h2>Registry entries</h2>
              <ul class="changes-registry">
                ${registry.map(
                  ({ index, entry }) => html`<li>
                    <${EntryLink} index=${index} /> ${registryChange(entry)}
                    <span class="muted"> · ${entry.time}</span>
                  </li>`,
                )}
              </ul>`
          : null
      }
      ${
        broken.length > 0
          ? html`<h2>Entries that do not decode</h2>
              <ul>
                ${broken.map(
                  ({ index, problem }) => html`<li><${EntryLink} index=${index} /> ${problem}</li>`,
                )}
              </ul>`
          : null
      }
      ${pager}`,
  };
}
