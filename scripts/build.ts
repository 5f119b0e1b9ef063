/**
 * `npm run build`: the package's dist/, bundled. Node's ES module loader
 * spends about a tenth of a `cairn install` resolving, reading and linking
 * some 230 modules one by one; a bundle loads a handful. Code splitting
 * keeps the CLI's lazy loading: a command's dynamic import() is a chunk of
 * its own, so `cairn install` still never loads the origin server.
 *
 * Every output lands in one flat folder: a worker's script is found beside
 * the module that starts it (src/util/sibling-module.ts), and in a bundle
 * that module is whichever chunk its code went into. The web interface's
 * assets go beside them too, where src/web/assets.ts looks.
 */
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const out = join(root, "dist");

/**
 * Dependencies left to node_modules: each finds files of its own relative
 * to its own module (@npmcli/run-script puts its node-gyp shim on a
 * script's PATH), which a bundle would move.
 */
const EXTERNAL = ["@npmcli/run-script"];

const REQUIRE_ON_FIRST_USE =
  "let __cairnRequire; " +
  "const require = (id) => (__cairnRequire ??= " +
  'process.getBuiltinModule("node:module").createRequire(import.meta.url))(id);';

rmSync(out, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: [
    "bin/cairn.ts",
    // Started by `new Worker(siblingModule(...))`: entries named as their sources are.
    "src/install/store-worker.ts",
    "src/origin/password-hash-worker.ts",
    "src/origin/database-export-worker.ts",
  ],
  outdir: out,
  entryNames: "[name]",
  chunkNames: "chunk-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22.16",
  external: EXTERNAL,
  // CommonJS dependencies call require() (for Node's built-ins): an ES module has none of its
  // own. Made on first use, and the built-in taken as it is: an import of it would build a facade.
  banner: { js: REQUIRE_ON_FIRST_USE },
  sourcemap: "linked",
  sourcesContent: false,
  logLevel: "warning",
  metafile: true,
});
cpSync(join(root, "src", "web", "assets"), join(out, "assets"), { recursive: true });

// On standard error: `npm pack --json` runs this first, and its standard output is the JSON.
const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith(".js"));
console.error(`dist/: ${files.length} modules`);
