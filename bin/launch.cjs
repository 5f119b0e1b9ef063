// Loaded by cairn.cjs once Node is known to be new enough. A checkout runs
// its TypeScript sources; the installed package ships no sources and runs
// the bundle that `npm run build` put in dist/ (scripts/build.ts).
"use strict";

const { existsSync } = require("node:fs");
const { join } = require("node:path");
const { pathToFileURL } = require("node:url");

const root = join(__dirname, "..");
const fromSources = existsSync(join(root, "src"));
if (fromSources && !process.features.typescript) {
  console.error(
    `cairn: this checkout runs its TypeScript sources, which Node ${process.versions.node} cannot strip; ` +
      "run it as `npm run cairn -- <command>` (the project's pinned Node)",
  );
  process.exit(1);
}
const entry = fromSources ? join(root, "bin", "cairn.ts") : join(root, "dist", "cairn.js");
// V8's code cache on disk, on before the entry loads: the entry too is then compiled (and, from
// a checkout, stripped of its types) from the cache, so the type stripper is not even loaded.
require("node:module").enableCompileCache();
import(pathToFileURL(entry).href);
