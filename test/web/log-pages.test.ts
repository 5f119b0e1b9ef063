/**
 * The recent-entries page (paged, newest first, who published what) and
 * the mirrors page (the signed list and what `cairn mirrors check`
 * reports: one healthy mirror, one that does not answer), on the origin
 * and on a mirror; the check behind it runs once at a time and is kept.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { cachedCheck } from "../../src/npm/web-source.ts";
import { editMirrorList } from "../../src/origin/mirror-list-file.ts";
import { LOG_PAGE_SIZE } from "../../src/web/pages/log.ts";
import { paths } from "../../src/web/paths.ts";
import { seriousViolations } from "../helpers/axe.ts";
import { launchBrowser, screenshot } from "../helpers/browser.ts";
import { closedPortUrl } from "../helpers/loopback.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { servedMirror } from "../helpers/synced-mirror.ts";
import { BROWSER_ACCEPT } from "../helpers/web.ts";

async function page(base: string, path: string): Promise<string> {
  const res = await fetch(new URL(path, base), { headers: { accept: BROWSER_ACCEPT } });
  assert.equal(res.status, 200, path);
  return res.text();
}

/** The entry indexes a log page lists, in order. */
function indexes(html: string): number[] {
  return [...html.matchAll(/<td data-label="Index"><a href="\/-\/web\/entry\/(\d+)">/g)].map((m) =>
    Number(m[1]),
  );
}

test("the log page lists who published what, newest first, a page at a time", async () => {
  await using origin = await startTestOrigin();
  const count = LOG_PAGE_SIZE / 2 + 1;
  for (let i = 0; i < count; i++) await origin.publish(`log-pkg-${i}`, `1.0.${i}`);
  const size = Number(
    (await (await fetch(new URL("/-/cairn/checkpoint", origin.url))).text()).split("\n")[1],
  );
  assert.ok(size > LOG_PAGE_SIZE);

  const first = await page(origin.url, paths.log());
  assert.deepEqual(
    indexes(first),
    Array.from({ length: LOG_PAGE_SIZE }, (_, i) => size - 1 - i),
  );
  const last = count - 1;
  assert.match(
    first,
    new RegExp(
      `<td data-label="Who">alice</td><td data-label="Kind">publish</td><td data-label="What"><a href="${paths.package(`log-pkg-${last}`)}">log-pkg-${last}</a>@<a href="${paths.version(`log-pkg-${last}`, `1.0.${last}`)}">1.0.${last}</a></td>`,
    ),
  );
  assert.match(
    first,
    /<td data-label="Who"><span class="muted">registry<\/span><\/td><td data-label="Kind">snapshot<\/td>/,
  );
  const older = size - LOG_PAGE_SIZE;
  assert.ok(first.includes(`href="${paths.log(older)}" rel="next"`));
  assert.ok(!first.includes('rel="prev"'));

  const second = await page(origin.url, paths.log(older));
  assert.deepEqual(
    indexes(second),
    Array.from({ length: older }, (_, i) => older - 1 - i),
  );
  assert.ok(second.includes(`href="${paths.log()}" rel="prev"`));
  assert.ok(!second.includes('rel="next"'));
  assert.deepEqual(indexes(await page(origin.url, paths.log(0))), []);
});

test("the mirrors page shows the signed list and each mirror's health, on the origin and on a mirror", async () => {
  await using origin = await startTestOrigin();
  await origin.publish("mirrored", "1.0.0");
  assert.match(await page(origin.url, paths.mirrors()), /This registry publishes no mirror list\./);

  await using mirror = await servedMirror(origin);
  await using browser = await launchBrowser();
  const gone = await closedPortUrl();
  await editMirrorList(origin.treeDir, origin.key, () => [mirror.url, gone]);
  await origin.publish("mirrored", "1.0.1");
  // The mirror relays the list (and learns the new entries) on its next sync.
  await mirror.sync();

  for (const base of [origin.url, mirror.url]) {
    const html = await page(base, paths.mirrors());
    assert.match(html, /signed with the registry&#39;s key|signed with the registry's key/);
    assert.match(html, /names 2 mirrors/);
    const healthy = new RegExp(
      `<tr data-mirror="${mirror.url}">.*?<td data-label="Answers" class="ok">yes \\(\\d+ ms\\)</td>.*?<td data-label="Consistent" class="ok">yes</td>`,
      "s",
    );
    assert.match(html, healthy, base);
    const down = new RegExp(
      `<tr data-mirror="${gone}">.*?<td data-label="Answers" class="bad">no \\(unavailable\\)</td>.*?<td data-label="Consistent" class="muted">unknown</td>`,
      "s",
    );
    assert.match(html, down, base);
    assert.match(html, /<h2>Problems<\/h2>/);
  }
  // Both copies list the same entries.
  assert.deepEqual(
    indexes(await page(mirror.url, paths.log())),
    indexes(await page(origin.url, paths.log())),
  );

  const tab = await browser.newPage();
  for (const [name, path] of [
    ["mirrors", paths.mirrors()],
    ["log", paths.log()],
  ] as const) {
    await tab.emulateMedia({ colorScheme: "light" });
    await tab.setViewportSize({ width: 1280, height: 800 });
    assert.equal((await tab.goto(new URL(path, origin.url).href))?.status(), 200);
    await screenshot(tab, `${name}-light`);
    assert.deepEqual(await seriousViolations(tab), [], name);
    await tab.emulateMedia({ colorScheme: "dark" });
    await screenshot(tab, `${name}-dark`);
    assert.deepEqual(await seriousViolations(tab), [], `${name} dark`);
    await tab.setViewportSize({ width: 375, height: 800 });
    await screenshot(tab, `${name}-phone`);
    assert.equal(
      await tab.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      true,
      `${name}: nothing runs off a phone's screen`,
    );
    assert.deepEqual(await seriousViolations(tab), [], `${name} phone`);
  }
});

test("a mirror check runs once at a time, serves its result a while, and a slow one is not waited for", async () => {
  let runs = 0;
  let finish: (value: string) => void = () => {};
  const check = cachedCheck(
    () => {
      runs++;
      return new Promise<string>((resolve) => {
        finish = resolve;
      });
    },
    60_000,
    50,
  );
  const a = check();
  const b = check();
  await assert.rejects(a, { code: "not-available" });
  await assert.rejects(b, { code: "not-available" });
  assert.equal(runs, 1, "concurrent views share one check");
  const c = check();
  assert.equal(runs, 1, "a view while the check runs joins it");
  finish("standings");
  assert.equal(await c, "standings");
  assert.equal(await check(), "standings");
  assert.equal(runs, 1, "the result is kept");

  let failures = 0;
  const failing = cachedCheck(async () => {
    failures++;
    throw new Error("origin down");
  }, 60_000);
  await assert.rejects(failing(), /origin down/);
  await assert.rejects(failing(), /origin down/);
  assert.equal(failures, 1, "a failure is kept too");
});
