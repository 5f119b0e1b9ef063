import assert from "node:assert/strict";
import { lstat, mkdir, mkdtemp, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type BinLink, binLinks, normalizeBin } from "../../src/install/bin-links.ts";
import { planTree } from "../../src/install/ideal-tree.ts";
import { registryPackage as p } from "../helpers/corpus-packages.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { servePackuments } from "../helpers/packument-registry.ts";

test("bin names and targets are normalised as npm-normalize-package-bin does", () => {
  assert.deepEqual(
    [...normalizeBin({ name: "@scope/cli", bin: "./bin/cli.js" })],
    [["cli", "bin/cli.js"]],
  );
  const odd = normalizeBin({
    name: "x",
    bin: {
      "a/b": "../../escape.js",
      "c:d": "ok.js",
      "..": "x.js",
      e: "",
      f: 3,
      "win\\g": "w\\g.js",
    },
  });
  assert.deepEqual(Object.fromEntries(odd), { b: "escape.js", d: "ok.js", g: "w/g.js" });
  assert.deepEqual([...normalizeBin({ name: "x", directories: { bin: "./bin" } })], []);
  assert.deepEqual([...normalizeBin({ bin: "cli.js" })], []);
});

const PACKAGES = [
  p("@scope/cli", { "1.0.0": { bin: "./bin/cli.js" } }),
  p("alpha", { "1.0.0": { bin: { shared: "./bin/a.js", alpha: "bin/alpha.js" } } }),
  p("alpha-two", { "1.0.0": { bin: { shared: "bin/b.js" } } }),
  p("host", { "1.0.0": { bin: { host: "h1.js" } }, "2.0.0": { bin: { host: "h2.js" } } }),
  p("user", { "1.0.0": { dependencies: { host: "^2.0.0" } } }),
  p("dirs", { "1.0.0": { directories: { bin: "./bin" } } }),
];
const PROJECT = {
  name: "app",
  version: "1.0.0",
  dependencies: {
    "@scope/cli": "1",
    alpha: "1",
    "alpha-two": "1",
    host: "^1",
    user: "1",
    dirs: "1",
  },
};

function view(links: readonly BinLink[]): Record<string, string> {
  return Object.fromEntries(links.map((l) => [`${l.dir}/${l.name}`, l.link]));
}

async function plannedLinks(): Promise<BinLink[]> {
  const byName = new Map(PACKAGES.map((pkg) => [pkg.name, pkg]));
  const plan = await planTree(PROJECT, { get: (name) => byName.get(name) });
  return binLinks(plan, plan.skipped);
}

test("each package links its bins beside it; at a conflict the first in npm's order wins", async () => {
  assert.deepEqual(view(await plannedLinks()), {
    "node_modules/.bin/alpha": "../alpha/bin/alpha.js",
    "node_modules/.bin/cli": "../@scope/cli/bin/cli.js",
    "node_modules/.bin/host": "../host/h1.js",
    "node_modules/.bin/shared": "../alpha/bin/a.js",
    "node_modules/user/node_modules/.bin/host": "../host/h2.js",
  });
});

/** Every `.bin` symlink under `dir`, as `location -> link text`. */
async function binDirs(dir: string, base = ""): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  const modules = join(dir, base, "node_modules");
  let names: string[];
  try {
    names = await readdir(modules);
  } catch {
    return found;
  }
  for (const name of names) {
    const at = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (name === ".bin") {
      for (const bin of await readdir(join(dir, at)))
        found[`${at}/${bin}`] = await readlink(join(dir, at, bin));
    } else if (name.startsWith("@")) {
      for (const scoped of await readdir(join(dir, at)))
        Object.assign(found, await binDirs(dir, `${at}/${scoped}`));
    } else if ((await lstat(join(dir, at))).isDirectory()) {
      Object.assign(found, await binDirs(dir, at));
    }
  }
  return found;
}

test("npm 11 makes the same links in a real install", async (t) => {
  const registry = await servePackuments(PACKAGES);
  const dir = await mkdtemp(join(tmpdir(), "cairn-bins-"));
  t.after(async () => {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });
  const project = join(dir, "project");
  await mkdir(project);
  await writeFile(join(project, "package.json"), JSON.stringify(PROJECT));
  const npmrc = await writeNpmrc(dir, registry.url);
  const result = await runNpm(["install", "--ignore-scripts"], project, npmrc, join(dir, "cache"));
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await binDirs(project), view(await plannedLinks()));
});
