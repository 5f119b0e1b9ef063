/**
 * The project model: package.json and npm's workspaces, found as npm finds
 * them (the real npm locks a workspace project and Cairn reads the same
 * workspaces, writes the lockfile back as npm did, and finds it in sync).
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { InstallError, type InstallErrorCode } from "../../src/install/install-error.ts";
import { lockfileDisagreement } from "../../src/install/lock-sync.ts";
import { readLockfile, writeLockfile } from "../../src/install/lockfile.ts";
import { npmStringify } from "../../src/install/npm-json.ts";
import { parseManifest, readProject, workspacePatterns } from "../../src/install/project.ts";
import { npmSandbox } from "../helpers/npm-sandbox.ts";

const refusal = (code: InstallErrorCode) => (err: unknown) =>
  err instanceof InstallError && err.code === code;

async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** A workspace project: patterns with a negation and a globstar, and folders the patterns must not take. */
async function monorepo(root: string): Promise<void> {
  await writeJson(join(root, "package.json"), {
    name: "mono",
    version: "1.0.0",
    workspaces: ["packages/*", "!packages/skip", "./tools/**"],
    // An alias: npm records the real name under the alias's folder.
    dependencies: { debug: "^4.4.0", dbg: "npm:debug@^4.4.0" },
  });
  await writeJson(join(root, "packages/a/package.json"), {
    name: "a",
    version: "1.0.0",
    dependencies: { ms: "^2.1.0" },
  });
  await writeJson(join(root, "packages/b/package.json"), {
    name: "@s/b",
    version: "0.1.0",
    devDependencies: { a: "^1.0.0", semver: "^6.0.0" },
  });
  await writeJson(join(root, "packages/skip/package.json"), { name: "skip", version: "1.0.0" });
  await mkdir(join(root, "packages/empty"), { recursive: true });
  await writeJson(join(root, "packages/.hidden/package.json"), { name: "hidden" });
  await writeJson(join(root, "tools/x/y/package.json"), { version: "2.0.0" });
  await writeJson(join(root, "tools/node_modules/z/package.json"), { name: "z" });
}

describe("the project", () => {
  const sandbox = npmSandbox();

  test("workspaces: globs, negation, folders with a package.json, node_modules and dot folders left out", async () => {
    const root = join(sandbox.dir, "mono");
    await monorepo(root);
    const project = await readProject(root);
    assert.equal(project.root.name, "mono");
    assert.deepEqual(
      project.workspaces.map((w) => `${w.location} ${w.name}`),
      ["packages/a a", "packages/b @s/b", "tools/x/y y"],
    );
  });

  test("the real npm locks the same workspaces; Cairn writes its lockfile back and finds it in sync", async () => {
    const root = join(sandbox.dir, "mono-npm");
    await monorepo(root);
    const locked = await sandbox.npm(root, ["install", "--package-lock-only", "--ignore-scripts"]);
    assert.equal(locked.code, 0, locked.stderr);
    const text = await readFile(join(root, "package-lock.json"), "utf8");
    const { tree } = readLockfile(text);
    const project = await readProject(root);
    const folders = [...tree.packages.values()].filter((p) => !p.location.includes("node_modules"));
    assert.deepEqual(
      folders.map((p) => `${p.location} ${p.name}`),
      project.workspaces.map((w) => `${w.location} ${w.name}`),
    );
    const lock = JSON.parse(text) as { packages: Record<string, Record<string, unknown>> };
    for (const entry of Object.values(lock.packages))
      if (entry.link !== true) delete entry.resolved;
    assert.equal(writeLockfile(tree), npmStringify(lock));
    assert.equal(tree.packages.get("node_modules/dbg")?.name, "debug");
    assert.equal(lockfileDisagreement(project, tree), undefined);

    // A workspace's own dependency changed past what is locked for it.
    const b = join(root, "packages/b/package.json");
    const pkg = JSON.parse(await readFile(b, "utf8")) as {
      devDependencies: Record<string, string>;
    };
    pkg.devDependencies.semver = "^7.0.0";
    await writeJson(b, pkg);
    assert.match(
      lockfileDisagreement(await readProject(root), tree) ?? "",
      /^Invalid: .*semver@\^7/,
    );
  });

  test("npm's pattern rules: ./ and / dropped, a later pattern brings back what an earlier ! took", () => {
    assert.deepEqual(workspacePatterns(["./a/*", "!a/b", "a/b"]), {
      patterns: ["a/*", "a/b"],
      negated: [],
    });
    assert.deepEqual(workspacePatterns({ packages: ["/p/*", "!p/x"] }), {
      patterns: ["p/*"],
      negated: ["p/x"],
    });
  });

  test("refuses what npm refuses, and workspaces outside the project", async () => {
    assert.throws(() => workspacePatterns("packages/*"), refusal("bad-workspaces"));
    assert.throws(() => workspacePatterns(["packages/*", 3]), refusal("bad-workspaces"));
    assert.throws(() => workspacePatterns(["../elsewhere/*"]), refusal("unsafe-path"));
    assert.throws(() => workspacePatterns(["packages/../../x"]), refusal("unsafe-path"));
    const twins = join(sandbox.dir, "twins");
    await writeJson(join(twins, "package.json"), { workspaces: ["p/*"] });
    await writeJson(join(twins, "p/one/package.json"), { name: "same" });
    await writeJson(join(twins, "p/two/package.json"), { name: "same" });
    await assert.rejects(readProject(twins), refusal("bad-workspaces"));
  });

  test("refuses a package.json that is not JSON or has dependency fields of the wrong shape", () => {
    assert.throws(() => parseManifest("{"), refusal("not-json"));
    assert.throws(() => parseManifest('"x"'), refusal("not-json"));
    assert.throws(() => parseManifest('{"dependencies": ["a"]}'), refusal("bad-field"));
    assert.throws(() => parseManifest('{"devDependencies": {"a": 1}}'), refusal("bad-field"));
    assert.throws(() => parseManifest('{"name": 7}'), refusal("bad-field"));
    assert.throws(
      () => parseManifest(`{"x": "${"a".repeat(9 * 1024 * 1024)}"}`),
      refusal("too-large"),
    );
  });
});
