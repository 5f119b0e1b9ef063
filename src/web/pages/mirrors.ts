/**
 * The origin's signed mirror list and how each mirror stands
 * (`/-/web/mirrors`): what `cairn mirrors check` reports. The server
 * runs the check (WebSource.mirrors: one at a time, its result kept a
 * while), so a page view never makes it hammer the mirrors.
 */
import { type MirrorStanding, standingVerdict } from "../../client/mirror-health.ts";
import { isLogError } from "../../log/errors.ts";
import {
  MAX_MIRROR_LIST_BYTES,
  MIRROR_LIST_PATH,
  type MirrorList,
  openMirrorList,
} from "../../log/mirror-list.ts";
import { parseVerifierKey } from "../../log/note.ts";
import { html, type VNode } from "../html.ts";
import type { PageContext, WebResult } from "../page.ts";

type ListState =
  | { readonly kind: "none" }
  | { readonly kind: "bad"; readonly why: string }
  | { readonly kind: "list"; readonly list: MirrorList };

async function readList(ctx: PageContext): Promise<ListState> {
  let raw: Uint8Array;
  try {
    raw = await ctx.source.log.read(MIRROR_LIST_PATH, MAX_MIRROR_LIST_BYTES);
  } catch (err) {
    if (isLogError(err, "not-found")) return { kind: "none" };
    throw err;
  }
  try {
    return { kind: "list", list: openMirrorList(raw, parseVerifierKey(ctx.source.verifierKey)) };
  } catch (err) {
    return { kind: "bad", why: (err as Error).message };
  }
}

type Health =
  | { readonly kind: "unchecked"; readonly why: string }
  | { readonly kind: "checked"; readonly standings: readonly MirrorStanding[] };

async function health(ctx: PageContext): Promise<Health> {
  if (!ctx.source.mirrors) return { kind: "unchecked", why: "This server does not check mirrors." };
  try {
    return { kind: "checked", standings: await ctx.source.mirrors() };
  } catch (err) {
    return { kind: "unchecked", why: `The check did not finish: ${(err as Error).message}` };
  }
}

export async function mirrorsPage(ctx: PageContext): Promise<WebResult> {
  const list = await readList(ctx);
  const checked =
    list.kind === "list" && list.list.mirrors.length > 0 ? await health(ctx) : undefined;
  return {
    kind: "page",
    title: "Mirrors",
    description: "The registry's signed list of mirrors and how each one stands",
    body: html`<section class="mirrors">
      <h1>Mirrors</h1>
      <p>
        Mirrors serve copies of the registry's log and files. Clients check every byte against the
        origin's signed log, so a mirror can be slow or stale but cannot lie unnoticed.
      </p>
      ${listPart(list)} ${checked ? healthPart(checked) : null}
    </section>`,
  };
}

function listPart(state: ListState): VNode {
  switch (state.kind) {
    case "none":
      return html`<p>This registry publishes no mirror list.</p>`;
    case "bad":
      return html`<p class="bad">The mirror list this server holds does not verify: ${state.why}</p>`;
    case "list":
      return html`<p>
        The list is signed with the registry's key; it was updated${" "}
        <time datetime=${state.list.updated}>${state.list.updated}</time> and names
        ${" "}${state.list.mirrors.length === 0 ? "no mirrors" : `${state.list.mirrors.length} mirror${state.list.mirrors.length === 1 ? "" : "s"}`}.
      </p>`;
  }
}

function healthPart(health: Health): VNode {
  if (health.kind === "unchecked") return html`<p>${health.why}</p>`;
  return html`<table class="mirror-health stack">
        <caption>
          Each mirror's checkpoint, checked against the origin's
        </caption>
        <thead>
          <tr>
            <th scope="col">Mirror</th>
            <th scope="col">Answers</th>
            <th scope="col">Size</th>
            <th scope="col">Behind (entries)</th>
            <th scope="col">Behind (seconds)</th>
            <th scope="col">Consistent</th>
          </tr>
        </thead>
        <tbody>
          ${health.standings.map(standingRow)}
        </tbody>
      </table>
    ${problems(health.standings)}`;
}

const dash = (n: number | undefined) => (n === undefined ? "–" : n.toLocaleString("en"));

function standingRow(s: MirrorStanding): VNode {
  const { answered, consistent } = standingVerdict(s);
  return html`<tr data-mirror=${s.url}>
    <td data-label="Mirror"><a href=${s.url}>${s.url}</a></td>
    <td data-label="Answers" class=${answered ? "ok" : "bad"}>
      ${answered ? `yes (${s.ms} ms)` : `no (${s.error?.code})`}
    </td>
    <td data-label="Size">${dash(s.size)}</td>
    <td data-label="Behind (entries)">${dash(s.behindEntries)}</td>
    <td data-label="Behind (seconds)">${dash(s.behindSeconds)}</td>
    <td
      data-label="Consistent"
      class=${consistent === "yes" ? "ok" : consistent === "unknown" ? "muted" : "bad"}>
      ${consistent}
    </td>
  </tr>`;
}

function problems(standings: readonly MirrorStanding[]): VNode | null {
  const failed = standings.filter((s) => s.error);
  if (failed.length === 0) return null;
  return html`<h2>Problems</h2>
    <ul class="mirror-problems">
      ${failed.map((s) => html`<li><code>${s.error?.message}</code></li>`)}
    </ul>`;
}
