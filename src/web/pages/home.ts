/** The front page: what this server is, how big its log is, where to look next. */
import { html } from "../html.ts";
import type { PageContext, WebResult } from "../page.ts";
import { paths } from "../paths.ts";
import { readServedCheckpoint } from "../raw-log.ts";

export async function homePage(ctx: PageContext): Promise<WebResult> {
  let size: number | undefined;
  try {
    size = (await readServedCheckpoint(ctx.source.log)).size;
  } catch {
    // No log yet (a mirror before its first sync): the page says so.
  }
  return {
    kind: "page",
    title: "Packages anyone can check",
    body: html`<section class="home">
      <h1>Find a package, read what it holds, check that it is what the log says.</h1>
      <p>
        Type in the search box above. Every package page shows the manifest as published, every
        file of every version, the changes between versions, and a proof, checked in your
        browser, that the version is in the registry's signed log.
      </p>
      <p>
        ${
          size === undefined
            ? "This server holds no log yet."
            : html`The log holds <strong>${size.toLocaleString("en")}</strong> entries.`
        }
        ${" "}<a href=${paths.log()}>Recent entries</a> · <a href=${paths.mirrors()}>Mirrors</a>
      </p>
    </section>`,
  };
}
