import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { planTree } from "../../src/install/ideal-tree.ts";
import { isolatedLayout } from "../../src/install/isolated.ts";
import type { ProjectTree } from "../../src/install/tree.ts";
import { registryPackage as p } from "../helpers/corpus-packages.ts";

const PACKAGES = [
  p("a", { "1.0.0": { dependencies: { b: "^1.0.0" } } }),
  p("b", { "1.0.0": {}, "2.0.0": { dependencies: { "@s/c": "1" } } }),
  p("@s/c", { "1.0.0": { peerDependencies: { b: "*" } } }),
  p("plugin", { "1.0.0": { peerDependencies: { host: "^2.0.0" } } }),
  p("host", { "2.0.0": {} }),
];
const PROJECT = {
  name: "app",
  version: "1.0.0",
  dependencies: { a: "1", b: "^2", plugin: "1", alias: "npm:b@^1" },
};

async function plan(): Promise<ProjectTree> {
  const byName = new Map(PACKAGES.map((pkg) => [pkg.name, pkg]));
  return planTree(PROJECT, { get: (name) => byName.get(name) });
}

test("each version gets one folder in the store, and its dependencies are links beside it", async () => {
  const layout = isolatedLayout(await plan());
  assert.deepEqual(Object.fromEntries(layout.folders), {
    "node_modules/@s/c": "node_modules/.cairn/@s+c@1.0.0/node_modules/@s/c",
    "node_modules/a": "node_modules/.cairn/a@1.0.0/node_modules/a",
    "node_modules/a/node_modules/b": "node_modules/.cairn/b@1.0.0/node_modules/b",
    "node_modules/alias": "node_modules/.cairn/b@1.0.0/node_modules/b",
    "node_modules/b": "node_modules/.cairn/b@2.0.0/node_modules/b",
    "node_modules/host": "node_modules/.cairn/host@2.0.0/node_modules/host",
    "node_modules/plugin": "node_modules/.cairn/plugin@1.0.0/node_modules/plugin",
  });
  const links = Object.fromEntries(layout.links.map((l) => [l.path, l.link]));
  assert.deepEqual(links, {
    "node_modules/a": ".cairn/a@1.0.0/node_modules/a",
    "node_modules/alias": ".cairn/b@1.0.0/node_modules/b",
    "node_modules/b": ".cairn/b@2.0.0/node_modules/b",
    "node_modules/plugin": ".cairn/plugin@1.0.0/node_modules/plugin",
    "node_modules/.cairn/@s+c@1.0.0/node_modules/b": "../../b@2.0.0/node_modules/b",
    "node_modules/.cairn/a@1.0.0/node_modules/b": "../../b@1.0.0/node_modules/b",
    "node_modules/.cairn/b@2.0.0/node_modules/@s/c": "../../../@s+c@1.0.0/node_modules/@s/c",
    "node_modules/.cairn/plugin@1.0.0/node_modules/host": "../../host@2.0.0/node_modules/host",
  });
});

test("built on disk, Node finds from each package the version the hoisted plan gives it", async (t) => {
  const tree = await plan();
  const layout = isolatedLayout(tree);
  const dir = await mkdtemp(join(tmpdir(), "cairn-isolated-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "package.json"), JSON.stringify(PROJECT));
  for (const [location, folder] of layout.folders) {
    const { name, version } = tree.packages.get(location) as { name: string; version: string };
    await mkdir(join(dir, folder), { recursive: true });
    await writeFile(join(dir, folder, "package.json"), JSON.stringify({ name, version }));
  }
  for (const link of layout.links) {
    await mkdir(dirname(join(dir, link.path)), { recursive: true });
    await symlink(link.link, join(dir, link.path));
  }
  const versionFrom = async (from: string, name: string) => {
    const require = createRequire(join(dir, from, "package.json"));
    return JSON.parse(await readFile(require.resolve(`${name}/package.json`), "utf8")).version;
  };
  // The project's own dependencies, and each package's, as the hoisted plan resolves them.
  assert.equal(await versionFrom("", "b"), "2.0.0");
  assert.equal(await versionFrom("", "alias"), "1.0.0");
  const a = layout.folders.get("node_modules/a") as string;
  assert.equal(await versionFrom(a, "b"), "1.0.0");
  const b2 = layout.folders.get("node_modules/b") as string;
  assert.equal(await versionFrom(b2, "@s/c"), "1.0.0");
  const c = layout.folders.get("node_modules/@s/c") as string;
  assert.equal(await versionFrom(c, "b"), "2.0.0");
  const plugin = layout.folders.get("node_modules/plugin") as string;
  assert.equal(await versionFrom(plugin, "host"), "2.0.0");
  // Isolation: a package does not see what it does not declare.
  await assert.rejects(versionFrom(a, "host"), { code: "MODULE_NOT_FOUND" });
});
