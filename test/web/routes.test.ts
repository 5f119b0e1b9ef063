/**
 * The web interface's frame on a real origin: a browser gets pages, npm's
 * own requests get exactly what they got before, and errors come back as
 * pages with the status the one table gives.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { prefersHtml } from "../../src/web/accept.ts";
import { parsePackagePath, paths } from "../../src/web/paths.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { BROWSER_ACCEPT } from "../helpers/web.ts";

const NPM = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

test("only a request that prefers HTML is a browser's", () => {
  assert.equal(prefersHtml(BROWSER_ACCEPT), true);
  assert.equal(prefersHtml(NPM), false);
  assert.equal(prefersHtml("*/*"), false);
  assert.equal(prefersHtml(undefined), false);
  assert.equal(prefersHtml("application/json, text/html;q=0.5"), false);
  assert.equal(prefersHtml("text/html;q=0"), false);
});

test("package paths round-trip through their builder and parser", () => {
  const cases = [
    { view: "overview", name: "left-pad" },
    { view: "overview", name: "@scope/pkg", version: "1.0.0-beta.1+build" },
    { view: "files", name: "@scope/pkg", version: "1.0.0", path: "lib/a b/%.js" },
    { view: "raw", name: "x", version: "2.0.0", path: "index.js" },
    { view: "manifest", name: "x", version: "2.0.0" },
    { view: "proof", name: "@a/b", version: "0.0.1" },
    { view: "diff", name: "@a/b", from: "1.0.0", to: "2.0.0" },
  ] as const;
  for (const c of cases) {
    const url =
      c.view === "overview"
        ? "version" in c
          ? paths.version(c.name, c.version)
          : paths.package(c.name)
        : c.view === "files"
          ? paths.files(c.name, c.version, c.path)
          : c.view === "raw"
            ? paths.raw(c.name, c.version, c.path)
            : c.view === "diff"
              ? paths.diff(c.name, c.from, c.to)
              : paths[c.view](c.name, c.version);
    const rest = url.slice("/-/web/package/".length);
    assert.deepEqual(parsePackagePath(rest), c, url);
  }
  assert.deepEqual(parsePackagePath("%40scope%2Fpkg"), { view: "overview", name: "@scope/pkg" });
  assert.throws(() => parsePackagePath("x/v/1.0.0/nope"), { name: "WebError", code: "not-found" });
  assert.throws(() => parsePackagePath("%E0%A4%A"), { name: "WebError", code: "bad-request" });
});

test("a browser gets the home page and package redirects; npm gets JSON as before", async () => {
  await using origin = await startTestOrigin();
  await origin.publish("web-frame", "1.0.0", { description: "a package" });
  const base = origin.url.replace(/\/$/, "");

  const home = await fetch(`${base}/`, { headers: { accept: BROWSER_ACCEPT } });
  assert.equal(home.status, 200);
  assert.match(home.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(home.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  const text = await home.text();
  assert.match(text, /^<!doctype html><html lang="en">/);
  assert.match(text, /<main id="main">/);
  assert.match(text, /The log holds <strong>\d+<\/strong> entries/);

  const npmRoot = await fetch(`${base}/`, { headers: { accept: NPM } });
  assert.equal(npmRoot.status, 404);
  assert.equal((await npmRoot.json()).code, "not-found");

  const visit = await fetch(`${base}/web-frame`, {
    headers: { accept: BROWSER_ACCEPT },
    redirect: "manual",
  });
  assert.equal(visit.status, 302);
  assert.equal(visit.headers.get("location"), "/-/web/package/web-frame");
  assert.equal(visit.headers.get("cache-control"), "no-store");

  const packument = await fetch(`${base}/web-frame`, { headers: { accept: NPM } });
  assert.equal(packument.status, 200);
  assert.equal((await packument.json()).name, "web-frame");
  const tarball = await fetch(`${base}/web-frame/-/web-frame-1.0.0.tgz`, {
    headers: { accept: BROWSER_ACCEPT },
  });
  assert.equal(tarball.status, 200);
  assert.equal(tarball.headers.get("content-type"), "application/octet-stream");

  const missing = await fetch(`${base}/-/web/package/web-frame/v/1.0.0/nope`, {
    headers: { accept: BROWSER_ACCEPT },
  });
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /<h1>Not found<\/h1>/);
  const bad = await fetch(`${base}/-/web/package/%E0%A4%A`);
  assert.equal(bad.status, 400);
});

test("assets are served by hashed name, compressed, immutable", async () => {
  await using origin = await startTestOrigin();
  const base = origin.url.replace(/\/$/, "");
  const page = await (await fetch(`${base}/`, { headers: { accept: BROWSER_ACCEPT } })).text();
  const css = page.match(/href="(\/-\/web\/assets\/site\.[0-9a-f]{10}\.css)"/)?.[1];
  assert.ok(css, "the page links its stylesheet by hashed name");
  const res = await fetch(`${base}${css}`, { headers: { "accept-encoding": "br" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.match(await res.text(), /prefers-color-scheme: dark/);
  const none = await fetch(`${base}/-/web/assets/site.0000000000.css`);
  assert.equal(none.status, 404);
});

test("every page's first load stays under 100 KB of compressed JavaScript and CSS", async () => {
  await using origin = await startTestOrigin();
  await origin.publish("web-budget", "1.0.0", { description: "a package" });
  const base = origin.url.replace(/\/$/, "");
  const pages = [
    "/",
    paths.package("web-budget"),
    paths.files("web-budget", "1.0.0", "package.json"),
    paths.proof("web-budget", "1.0.0"),
    paths.search("web"),
  ];
  for (const path of pages) {
    const html = await (
      await fetch(`${base}${path}`, { headers: { accept: BROWSER_ACCEPT } })
    ).text();
    const assets = [...html.matchAll(/(?:href|src)="(\/-\/web\/assets\/[^"]+\.(?:css|js))"/g)].map(
      (m) => m[1],
    );
    assert.ok(assets.length >= 2, `${path} loads its stylesheet and script`);
    let bytes = 0;
    for (const asset of assets) {
      // What travels: the gzip form, which every browser takes (undici would inflate it, so count raw).
      const res = await fetch(`${base}${asset}`, { headers: { "accept-encoding": "gzip" } });
      assert.equal(res.headers.get("content-encoding"), "gzip");
      bytes += Number(res.headers.get("content-length"));
    }
    assert.ok(bytes > 0 && bytes < 100 * 1024, `${path}: ${bytes} bytes of JS and CSS`);
  }
});
