/** Readmes as npm renders them, sanitized: what survives and what never does. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  MAX_README_BYTES,
  packagePath,
  type RenderedReadme,
  readmeFile,
  renderReadme,
} from "../../src/web/readme.ts";
import { HOSTILE_README, SCOPED_README } from "../helpers/web-readme-packages.ts";

const LINKS = { file: (p: string) => `/files/${p}`, raw: (p: string) => `/raw/${p}` };

function htmlOf(rendered: RenderedReadme): string {
  assert.equal(rendered.kind, "html");
  return rendered.kind === "html" ? rendered.html : "";
}

test("GitHub-flavoured Markdown: tables, strikethrough, task lists, autolinks, highlighted fences, heading ids", () => {
  const out = htmlOf(renderReadme(SCOPED_README, LINKS));
  assert.match(out, /<table>/);
  assert.match(out, /<s>no<\/s>/);
  assert.match(out, /<ul class="contains-task-list">/);
  assert.match(
    out,
    /<li class="task-list-item"><input type="checkbox" class="task-list-item-checkbox" disabled checked aria-label="done" \/> tables/,
  );
  assert.match(
    out,
    /<input type="checkbox" class="task-list-item-checkbox" disabled aria-label="not done" \/> world peace/,
  );
  assert.match(out, /<code class="language-js"><span class="hljs-keyword">export<\/span>/);
  assert.match(
    out,
    /<a href="https:\/\/example.com\/docs" rel="nofollow noopener noreferrer">https:\/\/example.com\/docs<\/a>/,
  );
  assert.match(out, /<h1 id="user-content-weblib">@web\/lib<\/h1>/);
  // Relative links lead to the version's files, relative images to its raw bytes.
  assert.match(out, /<a href="\/files\/docs\/guide.md">the guide<\/a>/);
  assert.match(out, /<img alt="logo" src="\/raw\/logo.png" \/>/);
});

test("headings get GitHub's anchors, repeated ones numbered; in-page links follow the prefix", () => {
  const out = htmlOf(renderReadme("# Use it!\n## Use it!\n[up](#use-it)\n", LINKS));
  assert.match(out, /<h1 id="user-content-use-it">/);
  assert.match(out, /<h2 id="user-content-use-it-1">/);
  assert.match(out, /<a href="#user-content-use-it">up<\/a>/);
  // A raw id cannot take one of the page's own.
  assert.match(htmlOf(renderReadme('<div id="main">x</div>', LINKS)), /id="user-content-main"/);
});

test("a hostile readme keeps its text and loses every script, handler, frame, form and dangerous URL", () => {
  const out = htmlOf(renderReadme(HOSTILE_README, LINKS));
  assert.match(out, /Still here\./);
  assert.match(out, /mixed case/);
  for (const forbidden of [
    /<script/i,
    /<style/i,
    /<iframe/i,
    /<object/i,
    /<embed/i,
    /<form/i,
    /<meta/i,
    /<base/i,
    /<svg/i,
    /<body/i,
    /<button/i,
    /<input(?![^>]*type="checkbox")/i,
    /\son[a-z]+\s*=/i,
    // No URL attribute with a scheme that runs or embeds anything.
    /\s(href|src|srcset|action|formaction|xlink:href)\s*=\s*"\s*(javascript|vbscript|data):/i,
  ])
    assert.doesNotMatch(out, forbidden);
  // The links stay as text, without an href to run.
  assert.match(
    out,
    /<a rel="nofollow noopener noreferrer" id="user-content-mixed">mixed case<\/a>/,
  );
  // The Markdown link markdown-it refuses stays text.
  assert.match(out, /\[plain js\]\(javascript:/);
});

test("relative references resolve inside the package", () => {
  assert.deepEqual(packagePath("./docs/../lib/a%20b.js?x=1#L3"), {
    path: "lib/a b.js",
    fragment: "#L3",
  });
  assert.deepEqual(packagePath("/README.md"), { path: "README.md", fragment: "" });
  assert.deepEqual(packagePath("../../../etc/passwd"), { path: "etc/passwd", fragment: "" });
});

test("a readme over the cap is shown as text, cut at the cap", () => {
  const big = `# big\n${"x".repeat(MAX_README_BYTES)}`;
  const out = renderReadme(big, LINKS);
  assert.equal(out.kind, "text");
  assert.equal(out.kind === "text" && out.text.length, MAX_README_BYTES);
  assert.equal(out.kind === "text" && out.bytes, Buffer.byteLength(big));
});

test("the readme file is picked at the top level, Markdown first, in any case", () => {
  const files = (...paths: string[]) => paths.map((path) => ({ path }));
  assert.equal(readmeFile(files("README", "readme.markdown", "index.js"))?.path, "readme.markdown");
  assert.equal(readmeFile(files("Readme.md", "docs/README.md"))?.path, "Readme.md");
  assert.equal(readmeFile(files("README.txt"))?.path, "README.txt");
  assert.equal(readmeFile(files("docs/README.md", "readme-notes.md")), undefined);
});

test("a <picture>'s sources lead to the version's raw files; a bad candidate drops the srcset", () => {
  const out = htmlOf(
    renderReadme(
      '<picture><source media="(prefers-color-scheme: dark)" srcset="img/dark.png 2x"><source srcset="javascript:alert(1), https://x.example/a.png"><img src="img/light.png" alt="logo"></picture>',
      LINKS,
    ),
  );
  assert.match(
    out,
    /<source media="\(prefers-color-scheme: dark\)" srcset="\/raw\/img\/dark.png 2x" \/>/,
  );
  assert.match(out, /<source \/>/);
  assert.match(out, /<img alt="logo" src="\/raw\/img\/light.png" \/>/);
  assert.doesNotMatch(out, /javascript/);
});

test("an image without a text is named by its file, so it and a link around it can be read out", () => {
  const out = htmlOf(
    renderReadme(
      '[![](https://ci.example/badge%20one.svg?branch=main)](https://ci.example)\n\n<img src="media/logo.svg" width="300">\n\n![kept](x.png)\n',
      LINKS,
    ),
  );
  assert.match(
    out,
    /<img alt="badge one\.svg" src="https:\/\/ci\.example\/badge%20one\.svg\?branch=main"/,
  );
  assert.match(out, /alt="logo\.svg"/);
  assert.match(out, /alt="kept"/);
});
