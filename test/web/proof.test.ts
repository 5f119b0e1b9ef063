/**
 * Transparency pages: an entry's inclusion proof checked in Chromium on the
 * origin and on a mirror whose tree on disk was tampered with after its
 * sync (a hash tile, the checkpoint's signature, an entry bundle), each
 * failing at its own step; the material the server embeds; bad indexes.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { paths } from "../../src/web/paths.ts";
import { seriousViolations } from "../helpers/axe.ts";
import { launchBrowser, screenshot } from "../helpers/browser.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { servedMirror } from "../helpers/synced-mirror.ts";
import { BROWSER_ACCEPT, sparseProxy } from "../helpers/web.ts";

interface Material {
  readonly checkpoint: string;
  readonly index: number;
  readonly entry: string;
  readonly proof: string[];
  readonly tiles: string[];
  readonly bundle: string;
  readonly expect: { kind: string; name?: string; version?: string } | null;
}

async function material(base: string, path: string): Promise<Material> {
  const res = await fetch(new URL(path, base), { headers: { accept: BROWSER_ACCEPT } });
  assert.equal(res.status, 200, path);
  const text = await res.text();
  const m = /<script type="application\/json" id="proof-material">(.*?)<\/script>/s.exec(text);
  assert.ok(m, "the page embeds its material");
  return JSON.parse(m[1]);
}

/** Loads a proof page and waits for the browser's verdict: its state and text. */
async function verdict(page: Page, url: string): Promise<{ state: string; text: string }> {
  const res = await page.goto(url);
  assert.equal(res?.status(), 200, url);
  const result = page.locator("#proof-result");
  await result.and(page.locator("[data-state]")).waitFor();
  return {
    state: (await result.getAttribute("data-state")) ?? "",
    text: (await result.textContent()) ?? "",
  };
}

async function failedStep(page: Page): Promise<string[]> {
  return page
    .locator('.proof-steps li[data-state="fail"]')
    .evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.step ?? ""));
}

/** Rewrites a file of the tree in place; returns a function that puts it back. */
async function tamper(file: string, change: (bytes: Buffer) => void): Promise<() => Promise<void>> {
  const original = await readFile(file);
  const changed = Buffer.from(original);
  change(changed);
  assert.notDeepEqual(changed, original);
  await writeFile(file, changed);
  return () => writeFile(file, original);
}

test("Chromium verifies a version's proof on the origin and on a mirror, and names the step a tampered tree fails", async () => {
  await using origin = await startTestOrigin();
  await origin.publish("proof-a", "1.0.0", { description: "first" });
  await origin.publish("proof-b", "2.0.0", { description: "second" });
  await using mirror = await servedMirror(origin);
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });

  const proofPath = paths.proof("proof-b", "2.0.0");
  const onOrigin = await verdict(page, new URL(proofPath, origin.url).href);
  assert.equal(onOrigin.state, "pass", onOrigin.text);
  assert.match(onOrigin.text, /^Verified in your browser/);
  assert.equal(
    await page.locator('.proof-steps li[data-state="pass"]').count(),
    6,
    "every step passed",
  );
  assert.match(
    (await page.locator('[data-step="checkpoint"] .step-detail').textContent()) ?? "",
    /size \d+, root [A-Za-z0-9+/]{43}=/,
  );
  assert.match(
    (await page.locator("main").textContent()) ?? "",
    /Cosignatures \(witnesses\)\s*none/,
  );
  await screenshot(page, "proof-light");
  assert.deepEqual(await seriousViolations(page), []);
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "proof-dark");
  assert.deepEqual(await seriousViolations(page), []);
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 375, height: 800 });
  await screenshot(page, "proof-phone");
  assert.equal(
    await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    true,
    "nothing runs off a phone's screen",
  );
  await page.setViewportSize({ width: 1280, height: 800 });

  const mat = await material(mirror.url, proofPath);
  const onMirror = await verdict(page, new URL(paths.entry(mat.index), mirror.url).href);
  assert.equal(onMirror.state, "pass", onMirror.text);

  // A hash the proof uses, flipped on the mirror's disk after its sync.
  const level0 = mat.tiles.find((t) => t.startsWith("tile/0/"));
  assert.ok(level0, `the proof reads a level-0 tile (${mat.tiles})`);
  const sibling = mat.index === 0 ? 1 : 0;
  let restore = await tamper(join(mirror.mirror.treeDir, level0), (b) => {
    b[sibling * 32] ^= 0x01;
  });
  const badTile = await verdict(page, new URL(proofPath, mirror.url).href);
  assert.equal(badTile.state, "fail", badTile.text);
  assert.match(badTile.text, /^Verification FAILED: root/);
  assert.deepEqual(await failedStep(page), ["root"]);
  await screenshot(page, "proof-failed");
  await restore();

  // The checkpoint's signature, one base64 letter changed past the key ID.
  restore = await tamper(join(mirror.mirror.treeDir, "checkpoint"), (b) => {
    const at = b.lastIndexOf(" ") + 20;
    b[at] = b[at] === 0x41 ? 0x42 : 0x41;
  });
  const badSignature = await verdict(page, new URL(proofPath, mirror.url).href);
  assert.equal(badSignature.state, "fail", badSignature.text);
  assert.match(badSignature.text, /^Verification FAILED: signature/);
  assert.deepEqual(await failedStep(page), ["signature"]);
  await restore();

  // The entry itself, changed in its bundle: its leaf hash no longer leads to the root.
  const entry = Buffer.from(mat.entry, "base64");
  restore = await tamper(join(mirror.mirror.treeDir, mat.bundle), (b) => {
    const at = b.indexOf(entry) + entry.indexOf('"actor":"alice"') + '"actor":"'.length;
    b[at] = "m".charCodeAt(0);
  });
  const badEntry = await verdict(page, new URL(proofPath, mirror.url).href);
  assert.equal(badEntry.state, "fail", badEntry.text);
  assert.match(badEntry.text, /^Verification FAILED: root/);
  await restore();

  // A bundle cut short no longer parses: the page still comes, and the browser fails at the leaf.
  restore = await tamper(join(mirror.mirror.treeDir, mat.bundle), (b) => {
    b.writeUInt16BE(0xffff, 0);
  });
  const cutBundle = await verdict(page, new URL(proofPath, mirror.url).href);
  assert.equal(cutBundle.state, "fail", cutBundle.text);
  assert.match(cutBundle.text, /^Verification FAILED: leaf: this server could not read the entry/);
  await restore();

  // A registry entry (the snapshot after the publish and its registry signature) proves as well.
  const snapshot = await verdict(page, new URL(paths.entry(mat.index + 2), mirror.url).href);
  assert.equal(snapshot.state, "pass", snapshot.text);
  assert.match(
    (await page.locator('[data-step="entry"] .step-detail').textContent()) ?? "",
    /^a snapshot entry, by the registry/,
  );

  const again = await verdict(page, new URL(proofPath, mirror.url).href);
  assert.equal(again.state, "pass", again.text);
  assert.deepEqual(problems, []);

  // A browser without Ed25519 in WebCrypto is told so, not told the proof holds.
  const old = await browser.newPage();
  await old.addInitScript(() => {
    const importKey = crypto.subtle.importKey.bind(crypto.subtle);
    crypto.subtle.importKey = ((...args: Parameters<SubtleCrypto["importKey"]>) =>
      (args[2] as { name?: string }).name === "Ed25519"
        ? Promise.reject(new DOMException("no Ed25519", "NotSupportedError"))
        : importKey(...args)) as SubtleCrypto["importKey"];
  });
  const unsupported = await verdict(old, new URL(proofPath, origin.url).href);
  assert.equal(unsupported.state, "unsupported", unsupported.text);
  assert.match(unsupported.text, /^Not verified: this browser's WebCrypto has no Ed25519/);
});

test("the proof page carries its material without JavaScript, and bad indexes are refused", async () => {
  await using origin = await startTestOrigin();
  await origin.publish("proof-c", "1.0.0");
  const base = origin.url;
  const get = (path: string) => fetch(new URL(path, base), { headers: { accept: BROWSER_ACCEPT } });

  const html = await (await get(paths.proof("proof-c", "1.0.0"))).text();
  assert.match(html, /Verification needs JavaScript/);
  assert.match(html, /<script type="module" src="\/-\/web\/assets\/proof\.[0-9a-f]+\.js">/);
  const mat = await material(base, paths.proof("proof-c", "1.0.0"));
  assert.deepEqual(mat.expect, { kind: "publish", name: "proof-c", version: "1.0.0" });
  const entry = JSON.parse(Buffer.from(mat.entry, "base64").toString("utf8"));
  assert.equal(entry.name, "proof-c");
  const served = await (await fetch(new URL("/-/cairn/checkpoint", base))).text();
  assert.equal(mat.checkpoint, served, "the checkpoint exactly as served");

  const size = Number(served.split("\n")[1]);
  for (const [path, status] of [
    [`${paths.entry(0).slice(0, -1)}-1`, 400],
    [`${paths.entry(0).slice(0, -1)}abc`, 400],
    [`${paths.entry(0).slice(0, -1)}01`, 400],
    [`${paths.entry(0).slice(0, -1)}1e3`, 400],
    [paths.entry(size), 404],
    [paths.entry(size + 1000), 404],
    [paths.proof("proof-c", "9.9.9"), 404],
    [paths.proof("no-such-package", "1.0.0"), 404],
    [`${paths.log()}?before=x`, 400],
    [paths.log(size + 1), 404],
  ] as const) {
    const res = await get(path);
    assert.equal(res.status, status, path);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/, path);
  }
  assert.equal((await get(paths.entry(size - 1))).status, 200);
});

test("a proxy sends the origin's tree as it is: the same checkpoint, entry and proof", async () => {
  await using origin = await startTestOrigin();
  await origin.publish("proof-d", "1.0.0");
  await origin.publish("proof-d", "1.0.1");
  await using dir = await tempDir("cairn-proof-proxy-");
  const proxy = await sparseProxy(origin, dir.path);
  try {
    const path = paths.proof("proof-d", "1.0.0");
    assert.deepEqual(await material(proxy.url, path), await material(origin.url, path));
    const log = await (
      await fetch(new URL(paths.log(), proxy.url), { headers: { accept: BROWSER_ACCEPT } })
    ).text();
    assert.match(log, /proof-d<\/a>@<a href="[^"]+">1\.0\.1<\/a>/);
    const mirrors = await (
      await fetch(new URL(paths.mirrors(), proxy.url), { headers: { accept: BROWSER_ACCEPT } })
    ).text();
    assert.match(mirrors, /This registry publishes no mirror list\./);
  } finally {
    await proxy.close();
  }
});
