import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  findWorkspaces,
  matchesWorkspace,
  workspacePatterns,
} from "../../src/install/workspaces.ts";

test("workspace globs: * is one folder name, ** any depth, dot-folders only by name", () => {
  assert.ok(matchesWorkspace("packages/*", "packages/a"));
  assert.ok(matchesWorkspace("./packages/*/", "packages/a"));
  assert.ok(!matchesWorkspace("packages/*", "packages/a/b"));
  assert.ok(!matchesWorkspace("packages/*", "packages/.hidden"));
  assert.ok(matchesWorkspace("packages/**", "packages/a/b"));
  assert.ok(matchesWorkspace("apps/web-*", "apps/web-admin"));
  assert.ok(!matchesWorkspace("apps/web-*", "apps/api"));
  assert.ok(matchesWorkspace("tools", "tools"));
  assert.deepEqual(workspacePatterns({ workspaces: { packages: ["a/*", 3] } }), ["a/*"]);
  assert.deepEqual(workspacePatterns({ workspaces: "a/*" }), []);
});

async function project(files: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-ws-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(
      join(dir, path),
      typeof content === "string" ? content : JSON.stringify(content),
    );
  }
  return dir;
}

test("the folders a project's globs match, with a package.json, minus negated ones", async (t) => {
  const dir = await project({
    "packages/a/package.json": { name: "a", version: "1.0.0" },
    "packages/b/package.json": { name: "@s/b", version: "2.0.0" },
    "packages/skip/package.json": { name: "skip" },
    "packages/empty/readme.md": "no package.json",
    "packages/a/node_modules/x/package.json": { name: "x" },
  });
  t.after(() => rm(dir, { recursive: true, force: true }));
  const found = await findWorkspaces(dir, { workspaces: ["packages/**", "!packages/skip"] });
  assert.deepEqual(
    found.map((w) => [w.folder, w.manifest.name]),
    [
      ["packages/a", "a"],
      ["packages/b", "@s/b"],
    ],
  );
});

test("a nameless workspace, two with one name, or a broken package.json are refused by code", async (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [{ "p/a/package.json": { version: "1.0.0" } }, "workspace-unnamed"],
    [
      { "p/a/package.json": { name: "x" }, "p/b/package.json": { name: "x" } },
      "workspace-duplicate",
    ],
    [{ "p/a/package.json": "{not json" }, "workspace-bad-manifest"],
    [{ "p/a/package.json": "[]" }, "workspace-bad-manifest"],
  ];
  for (const [files, code] of cases) {
    const dir = await project(files);
    t.after(() => rm(dir, { recursive: true, force: true }));
    await assert.rejects(findWorkspaces(dir, { workspaces: ["p/*"] }), { code });
  }
});
