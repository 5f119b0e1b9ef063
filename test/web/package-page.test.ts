/**
 * Package pages on a real origin, its mirror, and an origin importing from
 * an uplink: what each page says, fetched as a browser would.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startOrigin } from "../../src/npm/origin-server.ts";
import { bugsUrl, httpUrl, licenseOf, repositoryUrl } from "../../src/web/pages/package-meta.ts";
import { paths } from "../../src/web/paths.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin, testOriginConfig } from "../helpers/origin.ts";
import { servedMirror } from "../helpers/synced-mirror.ts";
import { BROWSER_ACCEPT, sparseProxy } from "../helpers/web.ts";
import { publishWebPackages } from "../helpers/web-readme-packages.ts";

async function page(base: string, path: string): Promise<{ status: number; main: string }> {
  const res = await fetch(new URL(path, base), { headers: { accept: BROWSER_ACCEPT } });
  const text = await res.text();
  const main = text.slice(text.indexOf("<main"), text.indexOf("</main>") + 7);
  return { status: res.status, main };
}

/** The rows of the versions table, in order: each row's version. */
function versionOrder(main: string): string[] {
  const table = main.slice(main.indexOf('<table class="versions">'));
  return [...table.matchAll(/<tr[^>]*><td><a href="[^"]*"[^>]*>([^<]+)<\/a>/g)].map((m) => m[1]);
}

test("repository, homepage and bug links: shorthands normalised, only http(s) linked", () => {
  const cases: [unknown, string | undefined][] = [
    ["git+https://github.com/a/b.git", "https://github.com/a/b"],
    ["git://github.com/a/b.git", "https://github.com/a/b"],
    ["git+ssh://git@github.com/a/b.git", "https://github.com/a/b"],
    ["git@gitlab.com:a/b.git", "https://gitlab.com/a/b"],
    ["github:a/b", "https://github.com/a/b"],
    ["gitlab:a/b", "https://gitlab.com/a/b"],
    ["bitbucket:a/b", "https://bitbucket.org/a/b"],
    ["a/b", "https://github.com/a/b"],
    [{ type: "git", url: "https://github.com/a/b" }, "https://github.com/a/b"],
    [
      { type: "git", url: "https://github.com/a/mono.git", directory: "packages/x" },
      "https://github.com/a/mono/tree/HEAD/packages/x",
    ],
    ["javascript:alert(1)", undefined],
    ["file:///etc/passwd", undefined],
    [42, undefined],
  ];
  for (const [input, expected] of cases) assert.equal(repositoryUrl(input), expected, `${input}`);
  assert.equal(httpUrl("https://example.com/x"), "https://example.com/x");
  assert.equal(httpUrl("JavaScript:alert(1)"), undefined);
  assert.equal(bugsUrl({ url: "http://bugs.example/", email: "a@b" }), "http://bugs.example/");
  assert.equal(bugsUrl({ email: "a@b" }), undefined);
  assert.equal(licenseOf({ license: "MIT" }), "MIT");
  assert.equal(licenseOf({ license: { type: "ISC" } }), "ISC");
  assert.equal(
    licenseOf({ licenses: [{ type: "MIT" }, { type: "Apache-2.0" }] }),
    "MIT OR Apache-2.0",
  );
  assert.equal(licenseOf({}), undefined);
});

describe("package pages", () => {
  let origin: TestOrigin;
  let base: string;
  before(async () => {
    origin = await startTestOrigin();
    await publishWebPackages(origin);
    base = origin.url;
  });
  after(() => origin[Symbol.asyncDispose]());

  test("a scoped package's latest: readme, every kind of dependency, install, links, sizes", async () => {
    const { status, main } = await page(base, paths.package("@web/lib"));
    assert.equal(status, 200);
    assert.match(main, /<h1><span class="package-name">@web\/lib<\/span><\/h1>/);
    assert.match(
      main,
      /<span class="version-badge">1\.0\.0<\/span> <span class="tag">latest<\/span>/,
    );
    assert.match(main, /A library with every kind of dependency/);
    assert.match(main, /<a href="\/-\/web\/search\?q=fixture">fixture<\/a>/);
    // The readme, rendered.
    assert.match(main, /<div class="markdown-body"><h1 id="user-content-weblib">/);
    assert.match(main, /<td><s>no<\/s> yes<\/td>/);
    // Each kind, linked; the alias to the package it names; the optional peer marked.
    for (const kind of [
      "dependencies",
      "devDependencies",
      "peerDependencies",
      "optionalDependencies",
      "bundleDependencies",
    ])
      assert.match(main, new RegExp(`<h3>${kind} <span class="count">`));
    assert.match(
      main,
      /<a href="\/-\/web\/package\/web-other">other-alias<\/a> <span class="muted">→ web-other<\/span> <code>npm:web-other@\^3\.0\.0<\/code>/,
    );
    assert.match(
      main,
      /<a href="\/-\/web\/package\/web-dev-only">web-dev-only<\/a> <code>\^9\.0\.0<\/code>/,
    );
    assert.match(main, /web-peer-opt<\/a> <code>\*<\/code> <span class="tag">optional<\/span>/);
    // Install commands against this server.
    const registry = base.endsWith("/") ? base : `${base}/`;
    for (const line of [
      `npm install @web/lib --registry ${registry}`,
      `pnpm add @web/lib --registry ${registry}`,
      `yarn config set npmRegistryServer ${registry}`,
      `bun add @web/lib --registry ${registry}`,
      `cairn install @web/lib --origin ${registry} --key ${origin.key.verifierKey}`,
    ])
      assert.ok(main.includes(line), line);
    // Details: license, links (the javascript: bugs URL is no link), owners, publisher, sizes.
    assert.match(main, /<dt>License<\/dt><dd>MIT<\/dd>/);
    assert.match(
      main,
      /<a href="https:\/\/github.com\/example\/lib" rel="nofollow noopener noreferrer">/,
    );
    assert.match(main, /<a href="https:\/\/example.com\/lib" rel="nofollow noopener noreferrer">/);
    assert.doesNotMatch(main, /<dt>Issues<\/dt>|javascript:/);
    assert.match(main, /<dt>Owners<\/dt><dd><ul class="owners"><li>alice<\/li><\/ul>/);
    assert.match(main, /<dt>Publisher<\/dt><dd>alice<\/dd>/);
    assert.match(main, /<dt>Tarball<\/dt><dd>\d+ B<\/dd>/);
    assert.match(main, /<dt>Files<\/dt><dd>3<\/dd>/);
    // The registry key whose signature npm checks (dist.signatures).
    assert.match(
      main,
      /<dt>Signed by<\/dt><dd><ul class="owners"><li><code>SHA256:[A-Za-z0-9+/]{43}<\/code>/,
    );
    for (const href of [
      paths.files("@web/lib", "1.0.0"),
      paths.manifest("@web/lib", "1.0.0"),
      paths.proof("@web/lib", "1.0.0"),
    ])
      assert.ok(main.includes(`href="${href}"`), href);
    // The one-segment form of a scoped name reaches the same page.
    assert.equal((await page(base, "/-/web/package/%40web%2Flib")).main, main);
  });

  test("versions newest first with their tags, deprecations and unpublishes; dependents", async () => {
    const { status, main } = await page(base, paths.package("web-dep"));
    assert.equal(status, 200);
    assert.deepEqual(versionOrder(main), ["2.0.0-beta.1", "1.1.0", "1.0.0"]);
    assert.match(main, /2\.0\.0-beta\.1<\/a> <span class="tag">next<\/span>/);
    assert.match(main, /deprecated: use 1\.1\.0: 1\.0\.0 leaks memory/);
    assert.match(main, /2 packages' latest version depends on it\./);
    assert.match(
      main,
      /<li><a href="\/-\/web\/package\/@web\/lib">@web\/lib<\/a><\/li><li><a href="\/-\/web\/package\/web-other">/,
    );
    // The latest version is diffed with the one below it.
    assert.ok(main.includes(`href="${paths.diff("web-dep", "1.0.0", "1.1.0")}"`));

    const old = await page(base, paths.version("web-dep", "1.0.0"));
    assert.equal(old.status, 200);
    assert.match(
      old.main,
      /<div class="notice deprecated" role="note"><strong>Deprecated\.<\/strong> use 1\.1\.0: 1\.0\.0 leaks memory<\/div>/,
    );
    assert.match(old.main, /<a href="\/-\/web\/package\/web-dep">latest is 1\.1\.0<\/a>/);
    assert.match(old.main, /npm install web-dep@1\.0\.0 --registry/);

    // A dist-tag in a version's place leads to the version it points at.
    const tagged = await fetch(new URL(paths.version("web-dep", "next"), base), {
      headers: { accept: BROWSER_ACCEPT },
      redirect: "manual",
    });
    assert.equal(tagged.status, 302);
    assert.equal(tagged.headers.get("location"), paths.version("web-dep", "2.0.0-beta.1"));
  });

  test("an unpublished version or package answers 410 with its history; unknown ones 404", async () => {
    const live = await page(base, paths.package("web-gone"));
    assert.equal(live.status, 200);
    assert.deepEqual(versionOrder(live.main), ["1.1.0", "1.0.0"]);
    assert.match(live.main, /<span class="bad">unpublished <time/);

    const gone = await page(base, paths.version("web-gone", "1.1.0"));
    assert.equal(gone.status, 410);
    assert.match(
      gone.main,
      /<div class="notice gone" role="note"><strong>Unpublished\.<\/strong> Version 1\.1\.0 was unpublished/,
    );
    assert.doesNotMatch(gone.main, /npm install/);

    const withdrawn = await page(base, paths.package("web-withdrawn"));
    assert.equal(withdrawn.status, 410);
    assert.match(withdrawn.main, /<strong>Unpublished\.<\/strong> This package was unpublished/);
    assert.deepEqual(versionOrder(withdrawn.main), ["1.0.0"]);

    assert.equal((await page(base, paths.package("web-nothing"))).status, 404);
    assert.equal((await page(base, paths.version("web-dep", "9.9.9"))).status, 404);
  });

  test("a readme from the tarball's file; a hostile readme loses its scripts", async () => {
    const fromFile = await page(base, paths.package("web-file-readme"));
    assert.match(fromFile.main, /<h1 id="user-content-from-the-file">From the file<\/h1>/);
    const hostile = await page(base, paths.package("web-hostile"));
    assert.equal(hostile.status, 200);
    assert.match(hostile.main, /Still here\./);
    assert.doesNotMatch(hostile.main, /<script|<iframe|<style|<form|<meta|<base|\son[a-z]+=/i);
  });

  test("a mirror shows the same pages from its own verified copy", async () => {
    await using mirror = await servedMirror(origin);
    for (const path of [
      paths.package("@web/lib"),
      paths.package("web-dep"),
      paths.version("web-gone", "1.1.0"),
    ]) {
      const there = await page(origin.url, path);
      const here = await page(mirror.url, path);
      assert.equal(here.status, there.status, path);
      assert.match(here.main, /<span class="package-name">/, path);
      assert.equal(here.main, there.main.replaceAll(origin.url, mirror.url), path);
    }
  });

  test("a sparse proxy shows the same pages from the documents it reads, and says dependents need the registry", async () => {
    await using dir = await tempDir("cairn-web-proxy-");
    const proxy = await sparseProxy(origin, dir.path);
    try {
      assert.equal(proxy.reader.state, undefined);
      const withoutDependents = (main: string) =>
        main.replace(/<section id="dependents".*?<\/section>/, "");
      for (const path of [paths.package("@web/lib"), paths.package("web-dep")]) {
        const there = await page(origin.url, path);
        const here = await page(proxy.url, path);
        assert.equal(here.status, 200, path);
        assert.equal(
          withoutDependents(here.main),
          withoutDependents(there.main.replaceAll(origin.url, proxy.url)),
          path,
        );
        assert.match(
          here.main,
          /Dependents need the whole registry; this server reads package by package\./,
        );
      }
    } finally {
      await proxy.close();
    }
  });
});

test("a package an uplink holds is imported by a visit to its page, which says where it came from", async () => {
  await using upstream = await startTestOrigin();
  await upstream.publish("web-upstream", "1.0.0", { description: "from afar" });
  await using dir = await tempDir("cairn-web-downstream-");
  const downstream = await startOrigin(
    testOriginConfig(join(dir.path, "data"), { uplinks: { up: { url: upstream.url } } }),
  );
  try {
    // The page's visit imports it, as npm's request would.
    const { status, main } = await page(downstream.url, paths.package("web-upstream"));
    assert.equal(status, 200);
    assert.match(main, /<span class="badge upstream">imported from upstream up<\/span>/);
    assert.match(main, /from afar/);
  } finally {
    await downstream.close();
  }
});
