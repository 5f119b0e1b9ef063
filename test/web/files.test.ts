/**
 * The file browser, raw files and the manifest page on a real origin:
 * folders and files, highlighting, binary files, raw bytes that a browser
 * can never run as a page, and the manifest compared with the package.json
 * inside the tarball.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { highlightAs, htmlLines, languageOf } from "../../src/web/highlight.ts";
import { fieldDifferences, isInstallScript } from "../../src/web/manifest-fields.ts";
import { parsePackagePath, paths } from "../../src/web/paths.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { BROWSER_ACCEPT } from "../helpers/web.ts";
import {
  BINARY,
  HOSTILE_HTML,
  HOSTILE_SVG,
  INDEX_2,
  NAME,
  publishWebFiles,
} from "../helpers/web-packages.ts";

let origin: TestOrigin;
let base: string;

before(async () => {
  origin = await startTestOrigin();
  await publishWebFiles(origin);
  base = origin.url.replace(/\/$/, "");
});

after(() => origin[Symbol.asyncDispose]());

async function page(path: string): Promise<{ status: number; text: string; res: Response }> {
  const res = await fetch(`${base}${path}`, {
    headers: { accept: BROWSER_ACCEPT },
    redirect: "manual",
  });
  return { status: res.status, text: await res.text(), res };
}

const main = (text: string) => text.slice(text.indexOf('<main id="main">'));

test("highlighting picks the language by name and splits spans that cross lines", () => {
  assert.equal(languageOf("lib/a.mjs"), "javascript");
  assert.equal(languageOf("Makefile"), "makefile");
  assert.equal(languageOf("types/index.d.ts"), "typescript");
  assert.equal(languageOf("LICENSE"), undefined);
  assert.equal(languageOf("x.constructor"), undefined);
  assert.equal(highlightAs("a.js", "const a = 1;\n"), "javascript");
  // A minified bundle's one long line is shown plain.
  assert.equal(highlightAs("a.min.js", `${"a;".repeat(3000)}\n`), undefined);
  const lines = htmlLines("/* a\n b */\nconst s = '<script>';\n", "javascript");
  assert.deepEqual(lines.slice(0, 2), [
    '<span class="hljs-comment">/* a</span>',
    '<span class="hljs-comment"> b */</span>',
  ]);
  assert.equal(lines.length, 3);
  assert.doesNotMatch(lines[2], /<script>/);
  assert.deepEqual(htmlLines("a<b\r\n\nc", undefined), ["a&lt;b", "", "c"]);
});

test("manifest fields compare key by key, install fields first, npm's own additions left out", () => {
  const published = {
    name: "p",
    version: "1.0.0",
    _id: "p@1.0.0",
    _npmVersion: "10.0.0",
    dist: { tarball: "x" },
    readme: "# p",
    gitHead: "abc",
    bin: { p: "cli.js" },
    description: "said",
    dependencies: { a: "^1.0.0", b: "^2.0.0" },
    scripts: { test: "t" },
  };
  const inner = {
    name: "p",
    version: "1.0.0",
    bin: "./cli.js",
    dependencies: { a: "^1.0.0", b: "^3.0.0", c: "1" },
    scripts: { test: "t", postinstall: "node steal.js" },
  };
  const differences = fieldDifferences(published, inner, { ignorePublishAdded: true });
  assert.deepEqual(
    differences.map((d) => [d.field, d.key, d.install]),
    [
      ["dependencies", "b", true],
      ["dependencies", "c", true],
      ["scripts", "postinstall", true],
      ["description", undefined, false],
    ],
  );
  assert.deepEqual(
    differences.map((d) => isInstallScript(d)),
    [false, false, true, false],
  );
  // Without the option, npm's additions are differences too.
  assert.ok(fieldDifferences(published, inner).some((d) => d.field === "_id"));
});

test("the manifest's raw bytes have a path of their own", () => {
  const url = paths.manifestRaw("@a/b", "1.0.0");
  assert.equal(url, "/-/web/package/@a/b/v/1.0.0/manifest/raw");
  assert.deepEqual(parsePackagePath(url.slice("/-/web/package/".length)), {
    view: "manifest-raw",
    name: "@a/b",
    version: "1.0.0",
  });
  assert.throws(() => parsePackagePath("x/v/1.0.0/manifest/other"), { code: "not-found" });
});

test("a folder lists its folders first, then its files, with sizes and the executable mark", async () => {
  const root = await page(paths.files(NAME, "2.0.0"));
  assert.equal(root.status, 200);
  const listing = main(root.text);
  const order = ["assets/", "bin/", "lib/", "index.js", "package.json"].map((n) =>
    listing.indexOf(`>${n}</a>`),
  );
  assert.ok(
    order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1])),
    String(order),
  );
  assert.match(listing, /3 folders, 2 files/);

  const bin = await page(paths.files(NAME, "2.0.0", "bin"));
  assert.match(
    main(bin.text),
    /cli\.js<\/a><\/td><td>40 B<\/td><td><span class="badge">executable/,
  );
  assert.match(main(bin.text), /<li><span aria-current="page">bin<\/span><\/li>/);

  assert.equal((await page(paths.files(NAME, "2.0.0", "nope"))).status, 404);
  assert.equal((await page(paths.files(NAME, "9.9.9"))).status, 404);
  assert.equal((await page(paths.files("no-such-package", "1.0.0"))).status, 404);
  const tagged = await page(paths.files(NAME, "latest", "lib"));
  assert.equal(tagged.status, 302);
  assert.equal(tagged.res.headers.get("location"), paths.files(NAME, "2.0.0", "lib"));
});

test("a text file shows highlighted with numbered, linkable lines, its hashes and links", async () => {
  const { status, text } = await page(paths.files(NAME, "2.0.0", "index.js"));
  assert.equal(status, 200);
  const body = main(text);
  const sha256 = createHash("sha256").update(INDEX_2).digest("hex");
  assert.match(body, new RegExp(`<code>${sha256}</code>`));
  assert.match(body, /<code>bafkrei[a-z2-7]{52}<\/code>/);
  assert.match(body, /<span class="line" id="L3"><a class="ln" href="#L3">3<\/a>/);
  assert.match(body, /<span class="hljs-keyword">export<\/span>/);
  assert.match(
    body,
    /href="\/-\/web\/package\/web-files\/v\/2\.0\.0\/raw\/index\.js" download="index\.js"/,
  );
});

test("a binary file is named binary with its size, and an .html file is shown as text", async () => {
  const binary = main((await page(paths.files(NAME, "2.0.0", "assets/logo.png"))).text);
  assert.match(binary, new RegExp(`Binary file, ${BINARY.length} bytes`));
  assert.doesNotMatch(binary, /class="code"/);
  const hostile = main((await page(paths.files(NAME, "2.0.0", "assets/page.html"))).text);
  assert.match(hostile, /&lt;<span class="hljs-name">script<\/span>&gt;/);
  assert.doesNotMatch(hostile, /<script>document/);
});

test("raw files come back as text/plain or an octet stream, sandboxed, nosniff, immutable", async () => {
  const cases = [
    { path: "assets/page.html", type: "text/plain; charset=utf-8", body: HOSTILE_HTML },
    { path: "assets/icon.svg", type: "text/plain; charset=utf-8", body: HOSTILE_SVG },
    { path: "index.js", type: "text/plain; charset=utf-8", body: INDEX_2 },
    { path: "assets/logo.png", type: "application/octet-stream", body: undefined },
  ];
  for (const c of cases) {
    const res = await fetch(`${base}${paths.raw(NAME, "2.0.0", c.path)}`, {
      headers: { accept: BROWSER_ACCEPT },
    });
    assert.equal(res.status, 200, c.path);
    assert.equal(res.headers.get("content-type"), c.type, c.path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.match(res.headers.get("content-security-policy") ?? "", /sandbox/);
    assert.match(res.headers.get("cache-control") ?? "", /immutable/);
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual(bytes, c.body === undefined ? BINARY : new TextEncoder().encode(c.body));
  }
  const missing = await fetch(`${base}${paths.raw(NAME, "2.0.0", "nope.js")}`);
  assert.equal(missing.status, 404);
});

test("the manifest page shows, first, where the manifest and the tarball's package.json disagree", async () => {
  const { status, text } = await page(paths.manifest(NAME, "2.0.0"));
  assert.equal(status, 200);
  const body = main(text);
  const alert = body.slice(body.indexOf('<div class="alert">'), body.indexOf("</div>"));
  assert.match(alert, /<code>main<\/code><\/th><td class="before"><code>&quot;lie\.js&quot;/);
  assert.match(body, /<code>description<\/code>/);
  // What npm adds at publish is not a disagreement.
  assert.doesNotMatch(body.slice(0, body.indexOf('id="manifest"')), /<code>_id<\/code><\/th>/);
  assert.ok(body.indexOf('class="alert"') < body.indexOf('<pre class="code"'));

  const agreeing = main((await page(paths.manifest(NAME, "1.0.0"))).text);
  assert.match(agreeing, /class="agree"/);
  assert.doesNotMatch(agreeing, /class="alert"/);

  const raw = await fetch(`${base}${paths.manifestRaw(NAME, "2.0.0")}`);
  assert.equal(raw.headers.get("content-type"), "application/json; charset=utf-8");
  assert.match(raw.headers.get("cache-control") ?? "", /immutable/);
  const bytes = new Uint8Array(await raw.arrayBuffer());
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  assert.match(body, new RegExp(`SHA-256 <code class="hash">${sha256}</code>`));
  assert.equal(JSON.parse(new TextDecoder().decode(bytes)).main, "lie.js");
});

test("a large file shows as plain text, a larger one only by its raw link", async () => {
  const line = "export const x = 1; // padding padding padding padding padding\n";
  await origin.publish("web-big", "1.0.0", {}, [
    { name: "package/plain.js", data: line.repeat(Math.ceil((600 * 1024) / line.length)) },
    { name: "package/huge.js", data: line.repeat(Math.ceil((2100 * 1024) / line.length)) },
  ]);
  const plain = main((await page(paths.files("web-big", "1.0.0", "plain.js"))).text);
  assert.match(plain, /Shown without highlighting/);
  assert.match(plain, /<span class="line" id="L9000">/);
  assert.doesNotMatch(plain, /hljs-/);
  const huge = main((await page(paths.files("web-big", "1.0.0", "huge.js"))).text);
  assert.match(huge, /too large to show here/);
  assert.match(huge, /none of its own/);
  assert.doesNotMatch(huge, /class="code"/);
  const raw = await fetch(`${base}${paths.raw("web-big", "1.0.0", "huge.js")}`);
  assert.equal(
    (await raw.arrayBuffer()).byteLength,
    line.length * Math.ceil((2100 * 1024) / line.length),
  );
});

test("an unpublished version's files and manifest are refused as gone", async () => {
  await origin.registry.change("alice", "npm", NAME, [{ kind: "unpublish", version: "1.0.0" }]);
  for (const path of [
    paths.files(NAME, "1.0.0"),
    paths.files(NAME, "1.0.0", "index.js"),
    paths.raw(NAME, "1.0.0", "index.js"),
    paths.manifest(NAME, "1.0.0"),
    paths.manifestRaw(NAME, "1.0.0"),
    paths.diff(NAME, "1.0.0", "2.0.0"),
  ]) {
    const { status, text } = await page(path);
    assert.equal(status, 410, path);
    assert.match(text, /was unpublished on/, path);
  }
});
