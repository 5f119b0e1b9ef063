/**
 * The CouchDB-style change feed npm's replicas follow: `GET
 * <feed>?since=<seq>&feed=longpoll&timeout=<ms>` answers, once something
 * changed (or the timeout passed), `{"results": [{"seq", "id", …}],
 * "last_seq"}`. Only the changed names and the new position matter here;
 * sequence values are opaque (numbers on CouchDB 1, strings on 2+).
 */
import { parseStrictJson } from "../util/strict-json.ts";
import { exchange } from "./exchange.ts";
import type { Uplink } from "./uplink.ts";
import { UpstreamError } from "./upstream-error.ts";

/** A page of changes is small JSON: ids and sequence values. */
const MAX_CHANGES_BYTES = 16 << 20;
const PAGE = 1000;

export interface Changes {
  /** Package names that changed. */
  readonly changed: readonly string[];
  /** Where to read from next. */
  readonly last: string;
}

function seq(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return typeof value === "string" && value.length <= 1024 ? value : undefined;
}

/** One long poll of the feed from `since` ("now" for the current end). */
export async function readChanges(
  uplink: Uplink,
  feed: string,
  since: string,
  signal?: AbortSignal,
): Promise<Changes> {
  const url = new URL(feed);
  url.searchParams.set("since", since);
  url.searchParams.set("limit", String(PAGE));
  url.searchParams.set("feed", "longpoll");
  // The upstream answers before our idle timer would give up on it.
  url.searchParams.set("timeout", String(Math.max(1000, Math.floor(uplink.timeoutMs / 2))));
  const text = await exchange(
    uplink,
    url,
    { accept: "application/json", "accept-encoding": "gzip" },
    [200],
    async (res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of res.body(MAX_CHANGES_BYTES)) chunks.push(chunk);
      return Buffer.concat(chunks).toString("utf8");
    },
    { signal },
  );
  const body: unknown = parseStrictJson(
    text,
    16,
    (reason) => new UpstreamError(uplink, "bad-json", `the change feed's answer: ${reason}`),
  );
  const results = (body as { results?: unknown }).results;
  const last = seq((body as { last_seq?: unknown }).last_seq);
  if (!Array.isArray(results) || last === undefined)
    throw new UpstreamError(
      uplink,
      "bad-response",
      "the change feed's answer has no results or last_seq",
    );
  const changed = results
    .map((r) => (r as { id?: unknown } | null)?.id)
    .filter((id): id is string => typeof id === "string");
  return { changed, last };
}
