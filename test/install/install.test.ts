/**
 * The install pipeline in process, against a real origin read through the
 * verifying reader: trusted and untrusted scripts, bins, adding and
 * removing packages, omitted dev dependencies, workspaces, and lockfiles
 * the log or package.json contradict.
 */
import assert from "node:assert/strict";
import { lstat, mkdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { VerifyingReader } from "../../src/client/verifying-reader.ts";
import { type InstallOptions, install, STAMP_PATH } from "../../src/install/install.ts";
import { RegistrySource } from "../../src/install/registry-source.ts";
import { PackageStore } from "../../src/install/store.ts";
import { shapeKey } from "../../src/install/up-to-date.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";

const writeMarker = (file: string) =>
  `node -e "require('fs').writeFileSync('${file}', process.env.npm_lifecycle_event)"`;

describe("the install pipeline", () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let reader: VerifyingReader;
  let store: PackageStore;

  before(async () => {
    origin = await startTestOrigin();
    dir = await tempDir("cairn-install-");
    await origin.publish("builder", "1.0.0", { scripts: { postinstall: writeMarker("built") } });
    await origin.publish("untrusted", "1.0.0", { scripts: { postinstall: writeMarker("built") } });
    await origin.publish("tool", "1.0.0", { bin: { tool: "cli.js" } }, [
      { name: "package/cli.js", data: "#!/usr/bin/env node\nconsole.log('tool ran')\n" },
    ]);
    await origin.publish("tool", "1.1.0", { bin: { tool: "cli.js" } }, [
      { name: "package/cli.js", data: "#!/usr/bin/env node\nconsole.log('tool 1.1 ran')\n" },
    ]);
    await origin.publish("lib", "2.0.0", { dependencies: { tool: "^1.0.0" } });
    await origin.publish("devtool", "1.0.0");
    await origin.publish("failer", "1.0.0", { scripts: { postinstall: "exit 3" } });
    await origin.publish("wrapper", "1.0.0", { dependencies: { builder: "1.0.0" } });
    await origin.publish("uses-tool", "1.0.0", {
      dependencies: { tool: "1.0.0" },
      scripts: { postinstall: "tool > tool-output" },
    });
    reader = await VerifyingReader.open({
      origin: origin.url,
      verifier: origin.key.verifier,
      dataDir: join(dir.path, "reader"),
      useMirrorList: false,
      cacheTarballs: false,
      syncCacheReads: true,
    });
    await reader.update();
    store = await PackageStore.open(join(dir.path, "store"));
  });

  after(async () => {
    await reader.close();
    await origin[Symbol.asyncDispose]();
    await dir[Symbol.asyncDispose]();
  });

  async function project(name: string, manifest: object): Promise<string> {
    const path = join(dir.path, name);
    await mkdir(path, { recursive: true });
    await writeFile(join(path, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    return path;
  }

  function run(projectDir: string, options: Partial<InstallOptions> = {}) {
    return install({
      projectDir,
      store,
      source: new RegistrySource(reader),
      stampOptions: shapeKey({ frozen: false, omit: [], layout: "hoisted", ignoreScripts: false }),
      scriptOutput: "pipe",
      ...options,
    });
  }

  const exists = (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    );

  test("trusted packages' scripts run, the others are named and skipped; bins are linked and run", async () => {
    const path = await project("scripts", {
      name: "scripts",
      dependencies: { builder: "^1.0.0", untrusted: "^1.0.0", tool: "^1.0.0" },
      trustedDependencies: ["builder"],
    });
    const report = await run(path);
    assert.deepEqual(report.scripts.ran, ["builder@1.0.0"]);
    assert.deepEqual(report.scripts.skipped, ["untrusted"]);
    assert.equal(await readFile(join(path, "node_modules/builder/built"), "utf8"), "postinstall");
    assert.equal(await exists(join(path, "node_modules/untrusted/built")), false);
    const bin = await stat(join(path, "node_modules/.bin/tool"));
    assert.ok((bin.mode & 0o111) !== 0, "the bin is executable");
    // Nothing was fetched twice: a second project takes every package from the store.
    const again = await run(await project("scripts-again", { dependencies: { tool: "^1.0.0" } }));
    assert.equal(again.fetched, 0);
  });

  test("a store file damaged after the install that stored it is caught by the next install's check, and repaired", async () => {
    const first = await project("stored-now", { dependencies: { devtool: "1.0.0" } });
    assert.equal((await run(first)).fetched, 1);
    const index = await store.findIndex("devtool", "1.0.0");
    assert.ok(index);
    const file = index.files.get("package.json");
    assert.ok(file);
    const original = await readFile(join(first, "node_modules/devtool/package.json"));
    // The same store handle: the package is now one the store held before this install.
    await rm(store.filePath(file));
    await writeFile(store.filePath(file), "{}");
    const second = await project("held-before", { dependencies: { devtool: "1.0.0" } });
    assert.equal((await run(second)).fetched, 0);
    assert.deepEqual(await readFile(join(second, "node_modules/devtool/package.json")), original);
    assert.deepEqual(await readFile(store.filePath(file)), original);
  });

  test("install <pkg> saves ^version and lays it out; uninstall removes it and its files", async () => {
    const path = await project("edit", { name: "edit", version: "1.0.0" });
    await run(path, { add: [{ name: "lib", spec: "latest" }] });
    const saved = JSON.parse(await readFile(join(path, "package.json"), "utf8"));
    assert.deepEqual(saved.dependencies, { lib: "^2.0.0" });
    // latest of tool is 1.1.0, which ^1.0.0 takes.
    const lock = JSON.parse(await readFile(join(path, "package-lock.json"), "utf8"));
    assert.equal(lock.packages["node_modules/tool"].version, "1.1.0");
    assert.equal(typeof lock.packages["node_modules/lib"].cairn.index, "number");
    assert.equal(await exists(join(path, "node_modules/.bin/tool")), true);
    const removed = await run(path, { remove: ["lib"] });
    assert.equal(removed.removed, 2);
    assert.equal(await exists(join(path, "node_modules/lib")), false);
    assert.equal(await exists(join(path, "node_modules/tool")), false);
    assert.equal(
      await lstat(join(path, "node_modules/.bin/tool")).catch(() => undefined),
      undefined,
    );
    const after = JSON.parse(await readFile(join(path, "package-lock.json"), "utf8"));
    assert.deepEqual(Object.keys(after.packages), [""]);
  });

  test("install <pkg> keeps the locked versions that still fit, as npm does", async () => {
    const path = await project("keep-locked", { dependencies: { tool: "1.0.0" } });
    await run(path);
    // Widened: 1.1.0 is newer, but the locked 1.0.0 still fits.
    await writeFile(
      join(path, "package.json"),
      JSON.stringify({ dependencies: { tool: "^1.0.0" } }),
    );
    const report = await run(path, { add: [{ name: "devtool", spec: "latest" }] });
    assert.equal(report.fromLockfile, false);
    const lock = JSON.parse(await readFile(join(path, "package-lock.json"), "utf8"));
    assert.equal(lock.packages["node_modules/tool"].version, "1.0.0");
    assert.equal(lock.packages["node_modules/devtool"].version, "1.0.0");
  });

  test("a package the plan has placed is fetched while the plan still waits for a document", async () => {
    const path = await project("ahead", { dependencies: { tool: "1.0.0", wrapper: "1.0.0" } });
    const events: string[] = [];
    // builder is named only by wrapper's document; its own answers last.
    const source = new RegistrySource({
      document: async (name) => {
        if (name === "builder")
          for (let turn = 0; turn < 50; turn++)
            await new Promise((resolve) => setImmediate(resolve));
        events.push(`document ${name}`);
        return reader.document(name);
      },
      tarball: (entry) => {
        events.push(`tarball ${entry.name}`);
        return reader.tarball(entry);
      },
    });
    const fresh = await PackageStore.open(join(dir.path, "ahead-store"));
    const report = await run(path, { source, store: fresh });
    assert.equal(report.fetched, 3);
    assert.ok(
      events.indexOf("tarball tool") < events.indexOf("document builder"),
      events.join(", "),
    );
    assert.equal(await exists(join(path, "node_modules/builder/package.json")), true);
  });

  test("a tarball no source gives is reported as fetch-failed, ahead or not, and the install is not vouched for", async () => {
    for (const turns of [0, 50]) {
      const path = await project(`unfetchable-${turns}`, {
        dependencies: { tool: "1.0.0", wrapper: "1.0.0" },
      });
      let asked = 0;
      // Fails at once, or only after the install has claimed the fetch it started ahead.
      const source = new RegistrySource({
        document: (name) => reader.document(name),
        tarball: async (entry) => {
          if (entry.name !== "builder") return reader.tarball(entry);
          asked++;
          for (let turn = 0; turn < turns; turn++)
            await new Promise((resolve) => setImmediate(resolve));
          throw new Error("no mirror has it");
        },
      });
      const fresh = await PackageStore.open(join(dir.path, `unfetchable-store-${turns}`));
      await assert.rejects(
        run(path, { source, store: fresh }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, "fetch-failed", err.message);
          assert.match(err.message, /builder@1\.0\.0/);
          return true;
        },
      );
      assert.ok(asked >= 1);
      // What was linked before the failure is not vouched for: no stamp, no hidden lockfile.
      assert.equal(await exists(join(path, STAMP_PATH)), false);
      assert.equal(await exists(join(path, "node_modules/.package-lock.json")), false);
    }
  });

  test("--omit dev keeps dev dependencies in the lockfile and out of node_modules", async () => {
    const path = await project("omit", {
      dependencies: { tool: "1.0.0" },
      devDependencies: { devtool: "^1.0.0" },
    });
    await run(path, { omit: ["dev"] });
    assert.equal(await exists(join(path, "node_modules/devtool")), false);
    assert.equal(await exists(join(path, "node_modules/tool")), true);
    const lock = JSON.parse(await readFile(join(path, "package-lock.json"), "utf8"));
    assert.equal(lock.packages["node_modules/devtool"].dev, true);
    // Without --omit, the dev dependency is linked from the same lockfile.
    const full = await run(path);
    assert.equal(full.fromLockfile, true);
    assert.equal(await exists(join(path, "node_modules/devtool")), true);
  });

  test("workspaces are linked and their dependencies installed at the top", async () => {
    const path = await project("monorepo", { name: "monorepo", workspaces: ["packages/*"] });
    await mkdir(join(path, "packages", "a"), { recursive: true });
    await writeFile(
      join(path, "packages", "a", "package.json"),
      JSON.stringify({ name: "a", version: "0.1.0", dependencies: { lib: "^2.0.0" } }),
    );
    await run(path);
    const link = await readFile(join(path, "node_modules/a/package.json"), "utf8");
    assert.equal(JSON.parse(link).name, "a");
    assert.equal(await exists(join(path, "node_modules/lib/package.json")), true);
  });

  test("a folder removed by hand is linked again, and switching layouts leaves nothing of the other", async () => {
    const path = await project("relink", { dependencies: { lib: "^2.0.0" } });
    await run(path);
    await rm(join(path, "node_modules/tool"), { recursive: true });
    const relinked = await run(path);
    assert.equal(relinked.linked, 1);
    assert.equal(await exists(join(path, "node_modules/tool/cli.js")), true);
    await run(path, { layout: "isolated" });
    assert.equal(await exists(join(path, "node_modules/.cairn/lib@2.0.0/node_modules/lib")), true);
    assert.equal((await lstat(join(path, "node_modules/lib"))).isSymbolicLink(), true);
    await run(path);
    assert.equal(await exists(join(path, "node_modules/.cairn")), false);
    assert.equal((await lstat(join(path, "node_modules/lib"))).isDirectory(), true);
    assert.equal(await exists(join(path, "node_modules/tool/cli.js")), true);
  });

  test("a failed install leaves package.json as it was, and the next install puts node_modules right", async () => {
    const path = await project("failing", {
      name: "failing",
      dependencies: { tool: "1.0.0" },
      trustedDependencies: ["failer"],
    });
    await run(path);
    const before = await readFile(join(path, "package.json"), "utf8");
    await assert.rejects(
      run(path, { add: [{ name: "failer", spec: "latest" }] }),
      (err: Error & { code?: string }) =>
        err.name === "InstallError" && err.code === "script-failed",
    );
    assert.equal(await readFile(join(path, "package.json"), "utf8"), before);
    // Nothing claims the half-done node_modules is up to date; a plain install re-checks it all.
    assert.equal(await exists(join(path, "node_modules/.cairn-install.json")), false);
    const again = await run(path);
    assert.equal(await exists(join(path, "node_modules/failer")), false);
    assert.equal(await exists(join(path, "node_modules/tool/cli.js")), true);
    assert.equal(again.packages, 1);
  });

  test("a project without dependencies installs, and a trusted dependency's script runs in the isolated layout", async () => {
    await run(await project("empty", { name: "empty" }));
    const path = await project("isolated-scripts", {
      dependencies: { wrapper: "1.0.0" },
      trustedDependencies: ["builder"],
    });
    const report = await run(path, { layout: "isolated" });
    assert.deepEqual(report.scripts.ran, ["builder@1.0.0"]);
    assert.equal(
      await readFile(
        join(path, "node_modules/.cairn/builder@1.0.0/node_modules/builder/built"),
        "utf8",
      ),
      "postinstall",
    );
  });

  test("isolated: a package's scripts run its own dependency's bin, not the project's version of it", async () => {
    const path = await project("isolated-bins", {
      dependencies: { tool: "1.1.0", "uses-tool": "1.0.0" },
      trustedDependencies: ["uses-tool"],
    });
    const report = await run(path, { layout: "isolated" });
    assert.deepEqual(report.scripts.ran, ["uses-tool@1.0.0"]);
    const folder = join(path, "node_modules/.cairn/uses-tool@1.0.0/node_modules");
    assert.equal(await readFile(join(folder, "uses-tool/tool-output"), "utf8"), "tool ran\n");
    assert.equal(
      await readlink(join(folder, ".bin/tool")),
      "../../../tool@1.0.0/node_modules/tool/cli.js",
    );
    assert.equal(
      await readlink(join(path, "node_modules/.bin/tool")),
      "../.cairn/tool@1.1.0/node_modules/tool/cli.js",
    );
  });

  test("a lockfile that links a registry name to a folder of the project is refused", async () => {
    const path = await project("linked", { dependencies: { tool: "^1.0.0" } });
    await mkdir(join(path, "vendor", "tool"), { recursive: true });
    await writeFile(
      join(path, "vendor", "tool", "package.json"),
      JSON.stringify({ name: "tool", version: "1.0.0" }),
    );
    const lock = {
      name: "linked",
      lockfileVersion: 3,
      requires: true,
      packages: {
        "": { dependencies: { tool: "^1.0.0" } },
        "node_modules/tool": { resolved: "vendor/tool", link: true },
        "vendor/tool": { version: "1.0.0" },
      },
    };
    await writeFile(join(path, "package-lock.json"), JSON.stringify(lock, null, 2));
    await assert.rejects(run(path), { name: "InstallError", code: "unsafe-path" });
    assert.equal(await exists(join(path, "node_modules/tool")), false);
  });

  test("a lockfile whose integrity the log contradicts is refused, and nothing is linked", async () => {
    const good = await project("forged-source", { dependencies: { tool: "1.0.0" } });
    await run(good);
    const lock = JSON.parse(await readFile(join(good, "package-lock.json"), "utf8"));
    lock.packages["node_modules/tool"].integrity = `sha512-${"A".repeat(86)}==`;
    const path = await project("forged", { dependencies: { tool: "1.0.0" } });
    await writeFile(join(path, "package-lock.json"), JSON.stringify(lock, null, 2));
    await assert.rejects(run(path), { name: "InstallError", code: "integrity-mismatch" });
    assert.equal(await exists(join(path, "node_modules/tool")), false);
  });

  test("a frozen install refuses a lockfile package.json has moved away from", async () => {
    const path = await project("frozen", { dependencies: { tool: "1.0.0" } });
    await run(path);
    await writeFile(
      join(path, "package.json"),
      JSON.stringify({ dependencies: { tool: "^1.1.0" } }),
    );
    await assert.rejects(run(path, { frozen: true }), {
      name: "InstallError",
      code: "out-of-sync",
    });
    // A plain install re-plans instead.
    await run(path);
    const lock = JSON.parse(await readFile(join(path, "package-lock.json"), "utf8"));
    assert.equal(lock.packages["node_modules/tool"].version, "1.1.0");
  });
});
