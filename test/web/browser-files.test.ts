/**
 * The file browser, manifest page and diffs in Chromium: a file opens
 * highlighted with linkable lines, a diff between two versions shows the
 * changed file and its form works without script, raw .html and .svg
 * files never run, and every page passes axe in light, dark and at phone
 * width (screenshots in test-artifacts/web/).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { paths } from "../../src/web/paths.ts";
import { seriousViolations } from "../helpers/axe.ts";
import { launchBrowser, screenshot } from "../helpers/browser.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { NAME, publishWebFiles } from "../helpers/web-packages.ts";

/** Light and dark at desktop width, then light at a phone's: each screenshotted and checked with axe. */
async function lookAt(page: Page, name: string): Promise<void> {
  for (const [scheme, width] of [
    ["light", 1200],
    ["dark", 1200],
    ["light", 375],
  ] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize({ width, height: 800 });
    await screenshot(page, `${name}-${width === 375 ? "phone" : scheme}`);
    assert.deepEqual(await seriousViolations(page), [], `${name} ${scheme} ${width}`);
  }
  await page.setViewportSize({ width: 1200, height: 800 });
  await page.emulateMedia({ colorScheme: "light" });
}

test("files, manifests and diffs in Chromium", async () => {
  await using origin = await startTestOrigin();
  await publishWebFiles(origin);
  const base = origin.url.replace(/\/$/, "");
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));

  // The folder, then a file opened from it.
  await page.goto(`${base}${paths.files(NAME, "2.0.0")}`);
  await lookAt(page, "files-folder");
  await page.getByRole("link", { name: "index.js" }).click();
  await page.waitForURL(/\/files\/index\.js$/);
  const keyword = page.locator("pre.code .hljs-keyword").first();
  assert.equal(await keyword.textContent(), "export");
  const colour = (selector: string) =>
    page
      .locator(selector)
      .first()
      .evaluate((e) => getComputedStyle(e).color);
  assert.notEqual(await colour("pre.code .hljs-keyword"), await colour("pre.code .hljs-string"));
  // A line number links to its line, which the page marks.
  await page.locator('a.ln[href="#L3"]').click();
  assert.ok(page.url().endsWith("#L3"));
  assert.notEqual(
    await page.locator("#L3").evaluate((e) => getComputedStyle(e).backgroundColor),
    await page.locator("#L2").evaluate((e) => getComputedStyle(e).backgroundColor),
  );
  await lookAt(page, "files-source");

  await page.goto(`${base}${paths.manifest(NAME, "2.0.0")}`);
  assert.match((await page.locator(".alert").textContent()) ?? "", /lie\.js/);
  await lookAt(page, "manifest");

  // The diff, then another pair picked with the form (a GET, no script needed).
  await page.goto(`${base}${paths.diff(NAME, "1.0.0", "2.0.0")}`);
  const changed = page.locator("details.file-diff", {
    has: page.locator("summary code", { hasText: /^index\.js$/ }),
  });
  assert.ok(await changed.locator("pre.diff .add").first().isVisible());
  await lookAt(page, "diff");
  await page.selectOption("#from", "2.0.0");
  await page.selectOption("#to", "1.0.0");
  await page.getByRole("button", { name: "Compare" }).click();
  await page.waitForURL(/\/diff\/2\.0\.0\/1\.0\.0$/);
  assert.match((await page.locator("h1").textContent()) ?? "", /2\.0\.0 → 1\.0\.0/);

  await page.goto(`${base}${paths.changes(0, origin.registry.state.logSize)}`);
  assert.ok(await page.getByRole("heading", { name: NAME }).isVisible());
  await lookAt(page, "changes");

  // A package's .html and .svg files are shown as text: their scripts never run.
  for (const file of ["assets/page.html", "assets/icon.svg"]) {
    await page.goto(`${base}${paths.raw(NAME, "2.0.0", file)}`);
    assert.notEqual(await page.title(), "ran", file);
    assert.match((await page.locator("body").textContent()) ?? "", /<script>/, file);
  }
  assert.deepEqual(problems, []);
});
