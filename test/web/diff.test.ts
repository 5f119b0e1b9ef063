/**
 * Diffs on a real origin: two versions of a package (manifest fields,
 * added, removed and changed files, unified diffs), and two registry
 * states (every change between two log sizes or snapshot ids).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startMirror } from "../../src/mirror/server.ts";
import { ENTRIES_PER_PAGE } from "../../src/web/pages/changes.ts";
import { compareFiles } from "../../src/web/pages/diff.ts";
import { parseStateRef, paths } from "../../src/web/paths.ts";
import type { WebFile } from "../../src/web/source.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { BROWSER_ACCEPT, sparseProxy } from "../helpers/web.ts";
import { NAME, publishWebFiles } from "../helpers/web-packages.ts";

let origin: TestOrigin;
let base: string;
/** Log sizes: after both versions, and after the changes that follow them. */
let published: number;
let changed: number;

before(async () => {
  origin = await startTestOrigin();
  await publishWebFiles(origin);
  published = origin.registry.state.logSize;
  await origin.registry.setDistTag("alice", "npm", NAME, "beta", "1.0.0");
  await origin.registry.change("alice", "npm", NAME, [
    { kind: "deprecate", version: "1.0.0", message: "use 2" },
  ]);
  await origin.registry.change("alice", "npm", NAME, [
    { kind: "owner", user: "bob", action: "add" },
  ]);
  await origin.publish("web-other", "0.1.0");
  await origin.registry.change("alice", "npm", "web-other", [
    { kind: "unpublish", version: "0.1.0" },
  ]);
  changed = origin.registry.state.logSize;
  base = origin.url.replace(/\/$/, "");
});

after(() => origin[Symbol.asyncDispose]());

async function page(path: string): Promise<{ status: number; text: string; res: Response }> {
  const res = await fetch(`${base}${path}`, {
    headers: { accept: BROWSER_ACCEPT },
    redirect: "manual",
  });
  const text = await res.text();
  return { status: res.status, text: text.slice(text.indexOf('<main id="main">')), res };
}

test("file lists compare by path, SHA-256 and mode, reading no file", () => {
  const f = (path: string, sha: string, mode = 0o644): WebFile => ({
    path,
    sha256: sha.repeat(64),
    size: 1,
    mode,
  });
  const changes = compareFiles(
    [f("a", "1"), f("b", "2"), f("c", "3"), f("d", "4")],
    [f("a", "1"), f("b", "9"), f("d", "4", 0o755), f("e", "5")],
  );
  assert.deepEqual(
    changes.added.map((x) => x.path),
    ["e"],
  );
  assert.deepEqual(
    changes.removed.map((x) => x.path),
    ["c"],
  );
  assert.deepEqual(
    changes.changed.map((x) => x.path),
    ["b", "d"],
  );
  assert.equal(changes.unchanged, 1);
});

test("two versions: the manifest's changed fields, and the added, removed and changed files", async () => {
  const { status, text } = await page(paths.diff(NAME, "1.0.0", "2.0.0"));
  assert.equal(status, 200);
  assert.match(text, /<code>main<\/code><\/th><td class="before"><code>&quot;index\.js&quot;/);
  assert.match(text, /1 file added, 1 removed, 2 changed, 5 unchanged/);
  const added = text.slice(text.indexOf("<h3>Added</h3>"), text.indexOf("<h3>Removed</h3>"));
  assert.match(added, /href="\/-\/web\/package\/web-files\/v\/2\.0\.0\/files\/lib\/new\.js"/);
  const removed = text.slice(text.indexOf("<h3>Removed</h3>"), text.indexOf("<h3>Changed</h3>"));
  assert.match(removed, /href="\/-\/web\/package\/web-files\/v\/1\.0\.0\/files\/lib\/old\.js"/);
  const changedFiles = text.slice(text.indexOf("<h3>Changed</h3>"));
  assert.match(changedFiles, /<code>index\.js<\/code><span class="counts">/);
  assert.match(changedFiles, /<span class="del">- {2}return &quot;hello &quot; \+ name;<\/span>/);
  assert.match(changedFiles, /<span class="add">\+export const answer = 42;<\/span>/);
  assert.match(changedFiles, /<code>package\.json<\/code>/);
  // The form picks two versions with a plain GET; the handler sends it to the canonical URL.
  assert.match(text, /<form class="pick" method="get"/);
  const picked = await page(`${paths.diff(NAME, "1.0.0", "2.0.0")}?from=2.0.0&to=beta`);
  assert.equal(picked.status, 302);
  assert.equal(picked.res.headers.get("location"), paths.diff(NAME, "2.0.0", "1.0.0"));

  assert.equal((await page(paths.diff(NAME, "1.0.0", "1.0.0"))).status, 400);
  assert.equal((await page(paths.diff(NAME, "1.0.0", "7.0.0"))).status, 404);
});

test("what a diff page leaves out it names, with links to both versions' files", async () => {
  const numbered = (tag: string) =>
    Array.from({ length: 1500 }, (_, i) => `line ${i} of ${tag}\n`).join("");
  const big = (tag: string) => `// ${tag}\n${"x".repeat(300 * 1024)}\n`;
  const files = (tag: string) => [
    { name: "package/big.js", data: big(tag) },
    { name: "package/data.bin", data: Uint8Array.from([0, 1, tag.length]) },
    ...["a", "b", "c"].map((f) => ({ name: `package/${f}.txt`, data: numbered(`${f}${tag}`) })),
  ];
  await origin.publish("web-caps", "1.0.0", {}, files("one"));
  await origin.publish("web-caps", "1.0.1", {}, files("three"));
  const { status, text } = await page(paths.diff("web-caps", "1.0.0", "1.0.1"));
  assert.equal(status, 200);
  const entry = (path: string) => {
    const at = text.indexOf(`<code>${path}</code>`);
    return text.slice(at, text.indexOf('class="file-diff', at + 1));
  };
  assert.match(entry("big.js"), /not diffed here/);
  assert.match(entry("big.js"), /href="\/-\/web\/package\/web-caps\/v\/1\.0\.0\/files\/big\.js"/);
  assert.match(entry("big.js"), /href="\/-\/web\/package\/web-caps\/v\/1\.0\.1\/files\/big\.js"/);
  assert.match(entry("data.bin"), /binary/);
  // Three diffs of 3,000 lines each; the page renders at most 6,000 lines in all.
  assert.match(entry("a.txt"), /<pre class="diff"/);
  assert.match(entry("b.txt"), /diff left out/);
  assert.match(entry("c.txt"), /diff left out/);
});

test("a registry state is a log size or a snapshot id, nothing else", () => {
  assert.deepEqual(parseStateRef("0"), { kind: "size", size: 0 });
  assert.deepEqual(parseStateRef("120"), { kind: "size", size: 120 });
  assert.deepEqual(parseStateRef("a".repeat(64)), { kind: "snapshot", id: "a".repeat(64) });
  for (const bad of ["", "01", "-1", "1e3", "A".repeat(64), "a".repeat(63), "9".repeat(16)])
    assert.throws(() => parseStateRef(bad), { code: "bad-request" }, bad);
  assert.equal(paths.changes(3, "ab", 7), "/-/web/changes/3/ab?start=7");
});

test("two registry states: every change between them, by package, each linked to its entry", async () => {
  const { status, text } = await page(paths.changes(published, changed));
  assert.equal(status, 200);
  const own = text.slice(text.indexOf(`>${NAME}</a></h2>`), text.indexOf(">web-other</a></h2>"));
  assert.match(own, /moved dist-tag <code>beta<\/code> to <a [^>]*>1\.0\.0<\/a>/);
  assert.match(own, /deprecated <a [^>]*>1\.0\.0<\/a>: “use 2”/);
  assert.match(own, /added owner <code>bob<\/code>/);
  const other = text.slice(text.indexOf(">web-other</a></h2>"));
  assert.match(other, /published <a [^>]*>0\.1\.0<\/a> as <code>latest<\/code>/);
  assert.match(other, /<strong>unpublished<\/strong> 0\.1\.0/);
  assert.match(text, /2 packages changed/);
  assert.match(
    text,
    new RegExp(`<a class="index" href="${paths.entry(published)}">#${published}</a>`),
  );
  assert.match(text, /not checked on this page/);
  // The versions published before `published` are not changes of this range.
  assert.doesNotMatch(text, /published <a [^>]*>2\.0\.0<\/a>/);

  // A range that ends inside the log, not at its edge.
  const first = await page(paths.changes(0, published));
  assert.match(first.text, /published <a [^>]*>2\.0\.0<\/a> as <code>latest<\/code>/);
  assert.match(first.text, /snapshot of the state at size/);

  const later = await page(paths.changes(published, changed, changed - 1));
  assert.equal(later.status, 200);
  assert.doesNotMatch(later.text, /moved dist-tag/);

  // The newest snapshot id names the state after its entry: the log's end.
  const id = origin.registry.state.snapshot?.id;
  assert.ok(id);
  const bySnapshot = await page(paths.changes(published, id));
  assert.equal(bySnapshot.status, 200);
  assert.match(bySnapshot.text, /added owner <code>bob<\/code>/);

  assert.equal((await page(paths.changes(changed, published))).status, 400);
  assert.equal((await page(paths.changes(published, changed + 1000))).status, 404);
  assert.equal((await page(paths.changes(published, "f".repeat(64)))).status, 404);
  assert.equal((await page(paths.changes(published, "latest"))).status, 400);
  assert.equal((await page(paths.changes(published, changed, changed + 5))).status, 400);
});

test("a long range of entries pages on", async () => {
  const from = origin.registry.state.logSize;
  await Promise.all(
    Array.from({ length: 600 }, (_, i) =>
      origin.registry.setDistTag("alice", "npm", NAME, `t${i}`, "2.0.0"),
    ),
  );
  const to = origin.registry.state.logSize;
  const first = await page(paths.changes(from, to));
  assert.equal(first.status, 200);
  assert.match(
    first.text,
    new RegExp(`in entries ${from} to ${from + ENTRIES_PER_PAGE - 1}, on this page`),
  );
  const next = paths.changes(from, to, from + ENTRIES_PER_PAGE);
  assert.match(first.text, new RegExp(`<a href="${next.replace("?", "\\?")}">Later entries</a>`));
  assert.doesNotMatch(first.text, /Earlier entries/);
  const second = await page(next);
  assert.equal(second.status, 200);
  assert.match(second.text, /Earlier entries/);
  assert.doesNotMatch(second.text, /Later entries/);
  // Every tag move shows on exactly one of the two pages.
  const moves = (text: string) => text.match(/moved dist-tag <code>t\d+<\/code>/g)?.length ?? 0;
  assert.equal(moves(first.text) + moves(second.text), 600);
});

/** The pages a mirror or a proxy serves from what it verified. */
async function sameOn(url: string): Promise<void> {
  const at = url.replace(/\/$/, "");
  const get = async (path: string) => {
    const res = await fetch(`${at}${path}`, { headers: { accept: BROWSER_ACCEPT } });
    return { status: res.status, text: await res.text() };
  };
  const versions = await get(paths.diff(NAME, "1.0.0", "2.0.0"));
  assert.equal(versions.status, 200);
  assert.match(versions.text, /<span class="add">\+export const answer = 42;<\/span>/);
  const manifest = await get(paths.manifest(NAME, "2.0.0"));
  assert.match(manifest.text, /<div class="alert">/);
  const states = await get(paths.changes(published, changed));
  assert.equal(states.status, 200);
  assert.match(states.text, /added owner <code>bob<\/code>/);
  const raw = await fetch(`${at}${paths.raw(NAME, "2.0.0", "assets/icon.svg")}`);
  assert.equal(raw.headers.get("content-type"), "text/plain; charset=utf-8");
}

test("a mirror and a proxy show the same pages from what they verified", async () => {
  await using dir = await tempDir("cairn-web-copies-");
  const mirror = await startMirror({
    from: origin.url,
    verifier: origin.key.verifier,
    dataDir: join(dir.path, "mirror"),
    durable: false,
    host: "127.0.0.1",
    port: 0,
    intervalMs: 0,
  });
  try {
    await mirror.firstSync;
    await sameOn(mirror.url);
  } finally {
    await mirror.close();
  }
  const proxy = await sparseProxy(origin, join(dir.path, "proxy"));
  try {
    await sameOn(proxy.url);
  } finally {
    await proxy.close();
  }
});
