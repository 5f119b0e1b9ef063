/**
 * The search page and its suggestions on a real origin, and on a sparse
 * proxy that holds no index; npm's own search still answers in its shape.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { BROWSER_ACCEPT, sparseProxy } from "../helpers/web.ts";

interface Suggestions {
  q: string;
  total: number;
  capped: boolean;
  hits: { name: string; version: string; description: string; match: string; url: string }[];
}

describe("search pages", () => {
  let origin: TestOrigin;
  let base: string;
  const page = async (query: string) => {
    const res = await fetch(`${base}/-/web/search${query}`, {
      headers: { accept: BROWSER_ACCEPT },
    });
    return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
  };

  before(async () => {
    origin = await startTestOrigin();
    base = origin.url.replace(/\/$/, "");
    await origin.publish("widget", "1.0.0", { description: "the widget", keywords: ["ui"] });
    // Two versions: more popular than widget by the state's measure (live versions).
    await origin.publish("widget-extra", "2.0.0", { description: "more of it" });
    await origin.publish("widget-extra", "2.1.0", { description: "more of it" });
    await origin.publish("@tools/widget", "0.3.0", { description: "a scoped one" });
    await origin.publish("gadget", "1.0.0", {
      description: "works with every widget <script>alert(1)</script>",
      keywords: ["widget-ish", "<b>"],
    });
  });
  after(() => origin[Symbol.asyncDispose]());

  test("results in rank order, with the exact match marked, links, versions and keywords", async () => {
    const { status, text, type } = await page("?q=widget");
    assert.equal(status, 200);
    assert.match(type ?? "", /^text\/html/);
    const order = [...text.matchAll(/class="result-name" href="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(order, [
      "/-/web/package/widget",
      "/-/web/package/widget-extra",
      "/-/web/package/@tools/widget",
      "/-/web/package/gadget",
    ]);
    assert.equal(text.match(/class="badge"/g)?.length, 1, "one exact match badge");
    assert.match(text, /exact match/);
    assert.match(text, /4 packages/);
    assert.match(text, /2\.1\.0/);
    assert.match(text, /<time datetime="\d{4}-\d\d-\d\dT/);
    assert.match(text, /href="\/-\/web\/search\?q=ui"/);
    // The box keeps the text; nothing from a description becomes markup.
    assert.match(text, /id="q"[^>]*value="widget"/);
    assert.doesNotMatch(text, /<script>alert/);
    assert.match(text, /&lt;script>alert\(1\)&lt;\/script>|&lt;script&gt;alert/);
    assert.doesNotMatch(text, /<b>/);
  });

  test("an empty query shows a search form and tips; an unmatched one suggests names nearby", async () => {
    const empty = await page("");
    assert.equal(empty.status, 200);
    assert.match(empty.text, /<h1[^>]*>Search packages<\/h1>/);
    assert.match(empty.text, /babel\/core/);
    const none = await page("?q=widgte");
    assert.equal(none.status, 200);
    assert.match(none.text, /No packages match/);
    assert.match(none.text, /Did you mean/);
    assert.match(none.text, /href="\/-\/web\/package\/widget"/);
    const nothing = await page("?q=qqqqqqqqqq");
    assert.doesNotMatch(nothing.text, /Did you mean/);
    assert.match(nothing.text, /Tips/);
  });

  test("paging past the end, hostile text and a bad page number", async () => {
    const far = await page("?q=widget&page=999");
    assert.equal(far.status, 200);
    const hostile = await page(`?q=${encodeURIComponent(`"*^${"x".repeat(10_000)}\0`)}`);
    assert.equal(hostile.status, 200);
    assert.match(hostile.text, /No packages match/);
    const bad = await page("?q=widget&page=two");
    assert.equal(bad.status, 400);
    assert.match(bad.text, /must be a whole number/);
  });

  test("suggestions: small JSON in rank order, sized, empty for no text", async () => {
    const res = await fetch(`${base}/-/web/search.json?q=wid&size=2`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Suggestions;
    assert.deepEqual(
      body.hits.map((h) => [h.name, h.match, h.url]),
      [
        ["widget-extra", "prefix", "/-/web/package/widget-extra"],
        ["widget", "prefix", "/-/web/package/widget"],
      ],
    );
    assert.equal(body.total, 4, "gadget matches by its description");
    const none = (await (await fetch(`${base}/-/web/search.json?q=`)).json()) as Suggestions;
    assert.deepEqual(none.hits, []);
    const bad = await fetch(`${base}/-/web/search.json?q=w&size=-1`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, "bad-request");
  });

  test("npm's search answers in its shape, in the same order", async () => {
    const res = await fetch(`${base}/-/v1/search?text=widget&size=10`);
    const body = (await res.json()) as {
      objects: { package: { name: string; scope: string }; score: { final: number } }[];
      total: number;
    };
    assert.deepEqual(
      body.objects.map((o) => o.package.name),
      ["widget", "widget-extra", "@tools/widget", "gadget"],
    );
    assert.equal(body.total, 4);
    assert.equal(body.objects[2].package.scope, "tools");
    assert.equal(body.objects[0].score.final, 1);
  });

  test("a sparse proxy says it cannot search, and leads to a package by its name", async () => {
    await using dir = await tempDir();
    const proxy = await sparseProxy(origin, dir.path);
    try {
      const res = await fetch(new URL("-/web/search?q=Widget", proxy.url), {
        headers: { accept: BROWSER_ACCEPT },
      });
      assert.equal(res.status, 501);
      const text = await res.text();
      assert.match(text, /Search is not available on this server/);
      assert.match(text, /class="direct" href="\/-\/web\/package\/widget"/);
      const json = await fetch(new URL("-/web/search.json?q=widget", proxy.url));
      assert.equal(json.status, 501);
      assert.equal(((await json.json()) as { code: string }).code, "not-available");
    } finally {
      await proxy.close();
    }
  });
});
