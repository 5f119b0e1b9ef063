/**
 * Search in Chromium: suggestions as you type in the header box, chosen
 * with the arrow keys and Enter, or the mouse; the results page walked
 * with the arrow keys; no serious accessibility violation; screenshots in
 * light, dark and at phone width.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { seriousViolations } from "../helpers/axe.ts";
import { launchBrowser, screenshot } from "../helpers/browser.ts";
import { startTestOrigin } from "../helpers/origin.ts";

/** Waits until the suggestion list answers the box's text with `count` options. */
async function suggestionsShown(page: Page, count: number): Promise<string[]> {
  await page.waitForFunction((n) => {
    const list = document.getElementById("q-suggestions");
    const box = document.getElementById("q") as HTMLInputElement | null;
    return (
      list?.dataset.query === box?.value && list?.querySelectorAll("[role=option]").length === n
    );
  }, count);
  return page.locator("#q-suggestions .suggestion-name").allTextContents();
}

test("search as you type, keyboard and mouse, and the results page, in Chromium", async () => {
  await using origin = await startTestOrigin();
  await origin.publish("widget", "1.0.0", { description: "the widget", keywords: ["ui", "kit"] });
  await origin.publish("widget-extra", "2.1.0", { description: "more widget for your widget" });
  await origin.publish("@tools/widget", "0.3.0", { description: "a scoped widget" });
  await origin.publish("gadget", "1.0.0", { description: "works with every widget" });
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 404/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  const base = origin.url.replace(/\/$/, "");

  // Typing part of a name lists suggestions under the box, in rank order.
  await page.goto(`${base}/`);
  const box = page.locator("#q");
  assert.equal(await box.getAttribute("role"), "combobox");
  assert.equal(await box.getAttribute("aria-expanded"), "false");
  await box.pressSequentially("widg");
  assert.deepEqual(await suggestionsShown(page, 4), [
    "widget",
    "widget-extra",
    "@tools/widget",
    "gadget",
  ]);
  assert.equal(await box.getAttribute("aria-expanded"), "true");
  assert.equal(await box.getAttribute("aria-controls"), "q-suggestions");
  assert.equal(await page.locator("#q-suggestions").getAttribute("role"), "listbox");
  await box.press("ArrowDown");
  await box.press("ArrowDown");
  assert.equal(await box.getAttribute("aria-activedescendant"), "q-option-1");
  assert.equal(await page.locator("#q-option-1").getAttribute("aria-selected"), "true");
  await screenshot(page, "search-suggestions");
  // Escape closes the list; typing on opens it again.
  await box.press("Escape");
  assert.equal(await box.getAttribute("aria-expanded"), "false");
  assert.equal(await page.locator("#q-suggestions").isHidden(), true);
  await box.pressSequentially("et");
  assert.deepEqual((await suggestionsShown(page, 4)).slice(0, 1), ["widget"]);
  // ArrowDown then Enter opens the highlighted package's page.
  await box.press("ArrowDown");
  await Promise.all([page.waitForURL(`${base}/-/web/package/widget`), box.press("Enter")]);

  // A click on a suggestion opens its page too.
  await page.goto(`${base}/-/web/search`);
  await page.locator("#q").pressSequentially("@tools/");
  await suggestionsShown(page, 1);
  await Promise.all([
    page.waitForURL(`${base}/-/web/package/@tools/widget`),
    page.locator("#q-option-0").click(),
  ]);

  // Enter with nothing highlighted submits the search: the results page.
  await page.goto(`${base}/`);
  await page.locator("#q").fill("widget");
  await Promise.all([
    page.waitForURL(/\/-\/web\/search\?q=widget$/),
    page.locator("#q").press("Enter"),
  ]);
  assert.equal(await page.locator("#results > li").count(), 4);
  assert.equal(await page.locator("#results .badge").textContent(), "exact match");
  // Down from the box goes into the results, and on through them; up goes back.
  await page.locator("#q").focus();
  await page.locator("#q").press("ArrowDown");
  const focused = () => page.evaluate(() => document.activeElement?.textContent ?? "");
  assert.equal(await focused(), "widget");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  assert.equal(await focused(), "@tools/widget");
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("ArrowUp");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "q");
  await page.locator("#results a.result-name").first().focus();
  await screenshot(page, "search-results-light");
  assert.deepEqual(await seriousViolations(page), []);

  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "search-results-dark");
  assert.deepEqual(await seriousViolations(page), []);
  await page.locator("#q").fill("widg");
  await page.locator("#q").press("Backspace");
  await page.locator("#q").pressSequentially("g");
  await suggestionsShown(page, 4);
  await page.locator("#q").press("ArrowDown");
  await screenshot(page, "search-suggestions-dark");
  assert.deepEqual(await seriousViolations(page), []);

  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto(`${base}/-/web/search?q=widgte`);
  assert.match((await page.locator("main h1").textContent()) ?? "", /No packages match/);
  await screenshot(page, "search-empty-phone");
  assert.deepEqual(await seriousViolations(page), []);
  await page.goto(`${base}/-/web/search?q=widget`);
  await screenshot(page, "search-results-phone");
  assert.equal(
    await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    true,
    "no sideways scrolling at 375 px",
  );
  assert.deepEqual(problems, []);
});
