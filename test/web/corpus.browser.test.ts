/**
 * The web interface as a user meets it: the real `cairn serve` with the
 * corpus's 433 packages imported, a real `cairn mirror` and a real `cairn
 * proxy` in front of it, and a second mirror whose hash tiles were
 * tampered with on disk after its sync, all browsed in Chromium. Every page
 * is checked with axe and kept as a screenshot (test-artifacts/web/corpus-*).
 */
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { paths } from "../../src/web/paths.ts";
import { seriousViolations } from "../helpers/axe.ts";
import { launchBrowser, screenshot } from "../helpers/browser.ts";
import { type CairnServer, startCairnServer } from "../helpers/cairn-server.ts";
import { importCorpus } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { putJson, signUp } from "../helpers/registry-client.ts";
import { type ServeProcess, startServe } from "../helpers/serve.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";
import { HOSTILE_README } from "../helpers/web-readme-packages.ts";

/** Flips the first byte of every level-0 hash tile of a tree: every inclusion proof now fails. */
async function tamperHashTiles(treeDir: string): Promise<number> {
  const dir = join(treeDir, "tile", "0");
  let changed = 0;
  for (const name of await readdir(dir, { recursive: true })) {
    const file = join(dir, name);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch {
      continue; // a folder (`000.p`)
    }
    bytes[0] ^= 0xff;
    await writeFile(file, bytes);
    changed++;
  }
  return changed;
}

describe("the corpus registry in a browser: origin, mirror and proxy", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let origin: ServeProcess;
  let mirror: CairnServer;
  let tampered: CairnServer;
  let proxy: CairnServer;
  let browser: Browser & AsyncDisposable;

  const mirrorOf = async (name: string) => {
    const server = await startCairnServer([
      "mirror",
      "--from",
      origin.url,
      "--key",
      origin.verifierKey,
      "--data",
      join(dir.path, name),
      "--port",
      "0",
      "--no-durable",
    ]);
    await server.waitFor(/synced: /);
    return server;
  };

  before(async () => {
    dir = await tempDir();
    const data = join(dir.path, "origin");
    const imported = await importCorpus(data, "corpus");
    assert.equal(imported.code, 0, imported.stderr);
    origin = await startServe(["--data", data, "--no-durable", "--database-interval", "0"]);
    // A package whose readme attacks whoever reads it, published as npm publishes.
    const token = await signUp(origin.url, "mallory", "correct horse battery");
    const tgz = rawTgz([packageJson("readme-attack", "1.0.0")]);
    const published = await putJson(
      origin.url,
      "/readme-attack",
      token,
      publishBody({ name: "readme-attack", version: "1.0.0", readme: HOSTILE_README }, tgz),
    );
    assert.equal(published.status, 201, await published.text());
    [mirror, tampered] = await Promise.all([mirrorOf("mirror"), mirrorOf("tampered")]);
    assert.ok((await tamperHashTiles(join(dir.path, "tampered", "tree"))) > 0);
    proxy = await startCairnServer([
      "proxy",
      "--origin",
      origin.url,
      "--key",
      origin.verifierKey,
      "--data",
      join(dir.path, "proxy"),
      "--port",
      "0",
    ]);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await proxy?.stop();
    await tampered?.stop();
    await mirror?.stop();
    await origin?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** A new page that records every script error and dialog, for `visit`. */
  async function openPage(): Promise<Page & { problems: string[] }> {
    const page = await browser.newPage();
    // Readmes link images on other hosts: the test stays on loopback, and never waits on them.
    await page.route(
      (url) => url.hostname !== "127.0.0.1",
      (route) => route.abort(),
    );
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("dialog", (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    return Object.assign(page, { problems });
  }

  /** Goes to `path` on `server`, expects 200, checks axe and saves a screenshot. */
  async function visit(page: Page, server: { url: string }, path: string, shot: string) {
    const res = await page.goto(new URL(path, server.url).href);
    assert.equal(res?.status(), 200, path);
    assert.deepEqual(await seriousViolations(page), [], path);
    await screenshot(page, `corpus-${shot}`);
  }

  test("search finds a package as you type, and arrowing into it opens its page, on the origin and the mirror", async () => {
    const page = await openPage();
    for (const [role, server] of [
      ["origin", origin],
      ["mirror", mirror],
    ] as const) {
      await visit(page, server, "/", `home-${role}`);
      const box = page.locator("#q");
      await box.pressSequentially("semv");
      // The list says which text it answers: wait for it to answer this one.
      await page.waitForFunction(() => {
        const list = document.getElementById("q-suggestions");
        return (
          list?.dataset.query === (document.getElementById("q") as HTMLInputElement).value &&
          list.querySelectorAll("[role=option]").length > 0
        );
      });
      const names = await page.locator("#q-suggestions .suggestion-name").allTextContents();
      assert.equal(names[0], "semver", `${role}: ${names.join(", ")}`);
      await screenshot(page, `corpus-suggestions-${role}`);
      await box.press("ArrowDown");
      await Promise.all([
        page.waitForURL(new URL(paths.package("semver"), server.url).href),
        box.press("Enter"),
      ]);
      assert.match((await page.locator("h1").first().textContent()) ?? "", /semver/);
      await visit(page, server, paths.search("color"), `search-${role}`);
      assert.ok((await page.locator("main").textContent())?.includes("supports-color"), role);
    }
    assert.deepEqual(page.problems, []);
  });

  test("a package page shows its readme, versions and dependencies on the origin, the mirror and the proxy", async () => {
    const page = await openPage();
    for (const [role, server] of [
      ["origin", origin],
      ["mirror", mirror],
      ["proxy", proxy],
    ] as const) {
      await visit(page, server, paths.version("chalk", "4.1.2"), `package-${role}`);
      assert.match((await page.locator(".markdown-body").textContent()) ?? "", /chalk/i, role);
      const versions = await page.locator("table.versions tbody tr").allTextContents();
      assert.ok(
        versions.some((row) => row.includes("4.1.2")),
        role,
      );
      assert.ok(
        versions.some((row) => row.includes("5.6.2")),
        role,
      );
      for (const dep of ["ansi-styles", "supports-color"])
        assert.equal(
          await page.locator(`#dependencies a[href="${paths.package(dep)}"]`).count(),
          1,
          `${role}: ${dep}`,
        );
    }
    assert.deepEqual(page.problems, []);
  });

  test("the file browser opens a file, highlighted, from the mirror's copy", async () => {
    const page = await openPage();
    await visit(page, mirror, paths.files("semver", "7.8.6"), "files-folder");
    await page.getByRole("link", { name: "functions/", exact: true }).click();
    await page.getByRole("link", { name: "satisfies.js", exact: true }).click();
    assert.equal(
      new URL(page.url()).pathname,
      paths.files("semver", "7.8.6", "functions/satisfies.js"),
    );
    assert.ok(await page.locator("pre.code .hljs-keyword").first().isVisible());
    assert.deepEqual(await seriousViolations(page), []);
    await screenshot(page, "corpus-files-source");
    assert.deepEqual(page.problems, []);
  });

  test("a diff between two versions shows the changed files", async () => {
    const page = await openPage();
    await visit(page, origin, paths.diff("semver", "6.3.2", "7.8.6"), "diff");
    const changed = page.locator("details.file-diff", {
      has: page.locator("summary code", { hasText: /^package\.json$/ }),
    });
    assert.equal(await changed.count(), 1);
    assert.ok((await page.locator("main").textContent())?.includes("functions/satisfies.js"));
    assert.deepEqual(page.problems, []);
  });

  test("the inclusion proof verifies in the browser on every copy, and fails on a mirror with tampered tiles", async () => {
    const page = await openPage();
    const verdict = async (server: { url: string }, shot: string) => {
      await visit(page, server, paths.proof("semver", "7.8.6"), shot);
      const result = page.locator("#proof-result");
      await result.and(page.locator("[data-state]")).waitFor();
      return result.getAttribute("data-state");
    };
    assert.equal(await verdict(origin, "proof-origin"), "pass");
    assert.equal(await verdict(mirror, "proof-mirror"), "pass");
    assert.equal(await verdict(proxy, "proof-proxy"), "pass");
    assert.equal(await verdict(tampered, "proof-tampered"), "fail");
    assert.deepEqual(
      await page
        .locator('.proof-steps li[data-state="fail"]')
        .evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.step)),
      ["root"],
    );
  });

  test("a readme carrying scripts, javascript: links and event handlers runs nothing", async () => {
    const page = await openPage();
    for (const [role, server] of [
      ["origin", origin],
      ["mirror", mirror],
    ] as const) {
      await visit(page, server, paths.package("readme-attack"), `readme-attack-${role}`);
      const pwned = () => page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned);
      assert.equal(await pwned(), undefined, role);
      const at = page.url();
      for (const link of await page.locator(".markdown-body a").all()) {
        await link.click({ noWaitAfter: true }).catch(() => {});
        if (page.url() !== at) await page.goBack();
      }
      assert.equal(await pwned(), undefined, role);
    }
    assert.deepEqual(page.problems, []);
  });
});
