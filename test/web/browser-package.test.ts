/**
 * Package pages in Chromium: the readme, versions and dependencies show,
 * in light, dark and at phone width, with no serious accessibility
 * violation; and a hostile readme runs nothing, on load or when its links
 * are clicked.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { paths } from "../../src/web/paths.ts";
import { seriousViolations } from "../helpers/axe.ts";
import { launchBrowser, screenshot } from "../helpers/browser.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { publishWebPackages } from "../helpers/web-readme-packages.ts";

/** Console errors and page errors, less missing resources (the readme's image is not in the package). */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource"))
      problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  return problems;
}

describe("package pages in a browser", () => {
  let origin: TestOrigin;
  let browser: Browser & AsyncDisposable;
  before(async () => {
    origin = await startTestOrigin();
    await publishWebPackages(origin);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser.close();
    await origin[Symbol.asyncDispose]();
  });

  test("the page shows the readme, versions and dependencies, light, dark and on a phone", async () => {
    const page = await browser.newPage();
    const problems = watch(page);
    const res = await page.goto(new URL(paths.package("@web/lib"), origin.url).href);
    assert.equal(res?.status(), 200);
    assert.equal(await page.locator(".markdown-body table").isVisible(), true);
    assert.equal(await page.locator(".markdown-body .hljs-keyword").first().isVisible(), true);
    assert.equal(await page.locator("table.versions tbody tr").count(), 1);
    assert.equal(await page.locator("#dependencies h3").count(), 5);
    assert.equal(
      await page.locator('#dependencies a[href="/-/web/package/web-other"]').textContent(),
      "other-alias",
    );
    // The page's own ids stay the page's: the readme's heading is prefixed.
    assert.equal(await page.locator("#user-content-weblib").count(), 1);
    await screenshot(page, "package-light");
    assert.deepEqual(await seriousViolations(page), []);

    await page.emulateMedia({ colorScheme: "dark" });
    await screenshot(page, "package-dark");
    assert.deepEqual(await seriousViolations(page), []);

    await page.setViewportSize({ width: 375, height: 800 });
    await page.emulateMedia({ colorScheme: "light" });
    // Nothing wider than the phone: no sideways scrolling of the whole page.
    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      "the page fits 375 px",
    );
    await screenshot(page, "package-phone");

    await page.goto(new URL(paths.package("web-dep"), origin.url).href);
    assert.equal(await page.locator("table.versions tbody tr").count(), 3);
    assert.equal(await page.locator("#dependents li").count(), 2);
    await page.setViewportSize({ width: 1280, height: 800 });
    await screenshot(page, "package-versions");
    assert.deepEqual(await seriousViolations(page), []);

    // A deprecated version says so before anything else; dark, where the notice must stay readable.
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto(new URL(paths.version("web-dep", "1.0.0"), origin.url).href);
    assert.equal(await page.locator(".notice.deprecated").isVisible(), true);
    await screenshot(page, "package-deprecated-dark");
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("a hostile readme runs nothing on load or when its links are clicked", async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on("dialog", async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    const url = new URL(paths.package("web-hostile"), origin.url).href;
    const res = await page.goto(url);
    assert.equal(res?.status(), 200);
    await page.waitForLoadState("load");
    const pwned = () => page.evaluate(() => (window as unknown as { pwned?: string }).pwned);
    assert.equal(await pwned(), undefined);
    assert.match((await page.locator(".markdown-body").textContent()) ?? "", /Still here\./);
    assert.equal(await page.locator("main iframe, main form, main object, main embed").count(), 0);
    await screenshot(page, "package-hostile");

    const links = page.locator(".markdown-body a");
    const count = await links.count();
    assert.ok(count >= 6, `${count} links`);
    for (let i = 0; i < count; i++) {
      await links.nth(i).click();
      // A link that led anywhere would leave this page.
      assert.equal(page.url().split("#")[0], url);
    }
    await page.locator(".markdown-body img").first().hover();
    assert.equal(await pwned(), undefined);
    assert.deepEqual(dialogs, []);
    await page.close();
  });
});
