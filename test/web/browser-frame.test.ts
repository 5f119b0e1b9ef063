/** The frame in a real browser: the page loads its assets under the page's own CSP, with no errors. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { seriousViolations } from "../helpers/axe.ts";
import { launchBrowser, screenshot } from "../helpers/browser.ts";
import { startTestOrigin } from "../helpers/origin.ts";

test("the home page loads in Chromium without a console error or a CSP violation", async () => {
  await using origin = await startTestOrigin();
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  const res = await page.goto(origin.url);
  assert.equal(res?.status(), 200);
  assert.equal(await page.locator("main h1").count(), 1);
  // The stylesheet applied: the header is a flex row.
  assert.equal(
    await page.locator("header.site").evaluate((e) => getComputedStyle(e).display),
    "flex",
  );
  await screenshot(page, "home");
  assert.deepEqual(problems, []);
  assert.deepEqual(await seriousViolations(page), []);
});
