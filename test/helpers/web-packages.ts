/**
 * Small packages for the web interface's file, manifest and diff pages:
 * `web-files` 1.0.0 and 2.0.0 differ by an added, a removed and a changed
 * file; both hold a binary file, an executable bin, and an `.html` and an
 * `.svg` file that must never run; 2.0.0's published manifest claims a
 * `main` and a `description` its tarball's package.json does not say.
 */
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import type { TestOrigin } from "./origin.ts";
import { publishBody } from "./publish-body.ts";
import { type RawTarEntry, rawTgz } from "./tar.ts";

export const NAME = "web-files";

/** Bytes no UTF-8 decoder accepts, with a NUL: a binary file. */
export const BINARY = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0xff]);

export const HOSTILE_HTML = "<!doctype html><script>document.title = 'ran'</script><p>hi</p>\n";
export const HOSTILE_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg"><script>document.title = "ran"</script></svg>\n';

const SHARED: readonly RawTarEntry[] = [
  { name: "package/bin/cli.js", data: "#!/usr/bin/env node\nconsole.log('cli');\n" },
  { name: "package/assets/logo.png", data: BINARY },
  { name: "package/assets/page.html", data: HOSTILE_HTML },
  { name: "package/assets/icon.svg", data: HOSTILE_SVG },
  { name: "package/lib/util.js", data: "export const util = 1;\n" },
];

const INDEX_1 = `/* The entry point. */
export function greet(name) {
  return "hello " + name;
}

export const answer = 41;
`;

export const INDEX_2 = `/* The entry point. */
export function greet(name) {
  return \`hello \${name}\`;
}

export const answer = 42;
`;

const BASE = { bin: { [NAME]: "bin/cli.js" }, dependencies: { "left-pad": "^1.0.0" } };

/** Publishes a version whose declared manifest is `declared` over a tarball whose package.json is `inner`. */
async function publishRaw(
  origin: TestOrigin,
  version: string,
  inner: Record<string, unknown>,
  declared: Record<string, unknown>,
  files: readonly RawTarEntry[],
): Promise<void> {
  const tgz = rawTgz([
    {
      name: "package/package.json",
      data: JSON.stringify({ name: NAME, version, ...inner }, null, 2),
    },
    ...files,
  ]);
  await publishNpm(origin.registry, {
    actor: "alice",
    ...(await parsePublish(NAME, publishBody({ name: NAME, version, ...declared }, tgz))),
  });
}

export async function publishWebFiles(origin: TestOrigin): Promise<void> {
  await publishRaw(origin, "1.0.0", { ...BASE, main: "index.js" }, { ...BASE, main: "index.js" }, [
    { name: "package/index.js", data: INDEX_1 },
    { name: "package/lib/old.js", data: "export const old = true;\n" },
    ...SHARED,
  ]);
  await publishRaw(
    origin,
    "2.0.0",
    { ...BASE, main: "index.js", scripts: { test: "node --test" } },
    { ...BASE, main: "lie.js", description: "claimed only in the manifest" },
    [
      { name: "package/index.js", data: INDEX_2 },
      { name: "package/lib/new.js", data: "export const fresh = true;\n" },
      ...SHARED,
    ],
  );
}
