/**
 * A real browser for the web interface's tests: the system's Chromium
 * (Debian's `chromium`, which .ci/run installs; CAIRN_CHROMIUM names
 * another), driven by playwright-core, which downloads no browser of its
 * own. Screenshots go to test-artifacts/web/ (CAIRN_TEST_ARTIFACTS moves
 * it), kept after the run for people to look at.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { PROJECT_ROOT } from "./shared.ts";

const CANDIDATES = ["chromium", "chromium-browser", "google-chrome"];

/** The browser binary: CAIRN_CHROMIUM, else the first of CANDIDATES on PATH. */
export function chromiumPath(): string {
  const chosen = process.env.CAIRN_CHROMIUM;
  if (chosen) return chosen;
  for (const name of CANDIDATES) {
    try {
      return execFileSync("which", [name], { encoding: "utf8" }).trim();
    } catch {
      // Not this one.
    }
  }
  throw new Error(
    `no Chromium found (looked for ${CANDIDATES.join(", ")}; set CAIRN_CHROMIUM): .ci/run installs Debian's chromium`,
  );
}

export async function launchBrowser(): Promise<Browser & AsyncDisposable> {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    // Root in CI: Chromium's sandbox needs user namespaces it may not have there.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  return Object.assign(browser, { [Symbol.asyncDispose]: () => browser.close() });
}

export const ARTIFACTS_DIR =
  process.env.CAIRN_TEST_ARTIFACTS ?? join(PROJECT_ROOT, "test-artifacts");

/** Saves a full-page screenshot as test-artifacts/web/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = join(ARTIFACTS_DIR, "web");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
