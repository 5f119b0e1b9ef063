/**
 * `cairn install`, `ci` and `uninstall` as a user runs them, against a real
 * origin holding the corpus, an honest mirror and one that flips a byte in
 * every tarball: the corpus app and a second app install with an empty
 * store to exactly the files `npm install` writes from the same origin, and
 * run; `npm ci` installs the same tree from the lockfile Cairn wrote; the
 * lying mirror is named and routed around; a damaged store file is found
 * by `cairn store verify` and repaired by the next install; an upgrade
 * fetches deltas and new files, not the tarball; and with the origin
 * stopped, `cairn ci` installs from the lockfile through a mirror.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CairnServer, startCairnServer } from "../helpers/cairn-server.ts";
import { type CliResult, cairn, importCorpus } from "../helpers/cli.ts";
import { CORPUS_APP_PACKAGE_JSON } from "../helpers/corpus.ts";
import { startCountingProxy } from "../helpers/counting-proxy.ts";
import { assertSameTree, succeeded } from "../helpers/installed-tree.ts";
import { tempDir } from "../helpers/log.ts";
import { type MaliciousMirror, startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { noiseText } from "../helpers/noise-text.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { publishOtherPlatformBindings } from "../helpers/platform-bindings.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { putJson, signUp } from "../helpers/registry-client.ts";
import { type ServeProcess, startServe } from "../helpers/serve.ts";
import { fixturePath } from "../helpers/shared.ts";
import { packageJson, type RawTarEntry, rawTgz } from "../helpers/tar.ts";

const SECOND_APP_PACKAGE_JSON = fixturePath("corpus", "second-app-package.json");

describe("cairn install of real apps against an origin, an honest mirror and a lying one", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let origin: ServeProcess | undefined;
  let mirror: CairnServer | undefined;
  let liar: MaliciousMirror | undefined;

  before(async () => {
    dir = await tempDir();
    const data = join(dir.path, "origin");
    const imported = await importCorpus(data, "corpus");
    assert.equal(imported.code, 0, imported.stderr);
    origin = await startServe(["--data", data, "--no-durable"]);
    await publishOtherPlatformBindings(origin.url);
    mirror = await startCairnServer([
      "mirror",
      "--from",
      origin.url,
      "--key",
      origin.verifierKey,
      "--data",
      join(dir.path, "mirror"),
      "--port",
      "0",
      "--no-durable",
    ]);
    await mirror.waitFor(/synced: /);
    liar = await startMaliciousMirror({
      treeDir: join(dir.path, "mirror", "tree"),
      attack: "tarball-byte",
    });
  });

  after(async () => {
    await liar?.close();
    await mirror?.stop();
    await origin?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** A fresh project holding a copy of `packageJson`. */
  async function project(name: string, packageJson = CORPUS_APP_PACKAGE_JSON): Promise<string> {
    const path = join(dir.path, name);
    await mkdir(path);
    await copyFile(packageJson, join(path, "package.json"));
    return path;
  }

  /** `cairn <args>` in `cwd` with its own CAIRN_HOME, reading from the lying mirror first. */
  function cairnIn(
    cwd: string,
    home: string,
    args: string[],
    mirrors?: string[],
  ): Promise<CliResult> {
    return cairn(
      [
        ...args,
        "--origin",
        origin?.url ?? "",
        "--key",
        origin?.verifierKey ?? "",
        "--no-mirror-list",
        "--mirror",
        ...(mirrors ?? [liar?.url ?? "", mirror?.url ?? ""]),
      ],
      { cwd, env: { CAIRN_HOME: join(dir.path, home) } },
    );
  }

  async function npmInstall(path: string, command = "install"): Promise<void> {
    const npmrc = await writeNpmrc(path, origin?.url ?? "");
    succeeded(
      await runNpm(
        [command, "--ignore-scripts"],
        path,
        npmrc,
        join(path, "..", `${path}-npm-cache`),
      ),
      `npm ${command} in ${path}`,
    );
  }

  test("the corpus app: npm's files byte for byte, the lying mirror named and routed around, and the app runs", async () => {
    const byNpm = await project("app-npm");
    const byCairn = await project("app-cairn");
    await npmInstall(byNpm);
    const installed = await cairnIn(byCairn, "home-a", ["install"]);
    succeeded(installed, "cairn install");
    assert.match(installed.stdout, /^482 packages in .*; 419 fetched/m);
    // Every tarball the liar served was refused by its hash and fetched from the honest mirror.
    assert.match(installed.stderr, new RegExp(`${liar?.url}.*blob check failed`));
    const files = await assertSameTree(byNpm, byCairn);
    assert.ok(files > 10_000, `${files} files`);
    const run = await runNode(
      byCairn,
      "require('express'); require('jest'); require('@babel/core');",
    );
    assert.equal(run.code, 0, run.stderr);
    // Nothing changed: the second run answers from its stamp.
    const again = await cairnIn(byCairn, "home-a", ["install"]);
    assert.equal(again.stdout, "up to date\n");
  });

  test("npm ci installs the same tree from the lockfile cairn wrote", async () => {
    const byCairn = join(dir.path, "app-cairn");
    const lock = JSON.parse(await readFile(join(byCairn, "package-lock.json"), "utf8")) as {
      packages: Record<string, { resolved?: string; cairn?: { sha256: string; index: number } }>;
    };
    const entries = Object.entries(lock.packages).filter(([path]) => path !== "");
    assert.ok(
      entries.every(([, p]) => p.resolved === undefined && p.cairn?.sha256),
      "hashes, no hosts",
    );
    const byNpmCi = await project("app-npm-ci");
    await copyFile(join(byCairn, "package-lock.json"), join(byNpmCi, "package-lock.json"));
    await npmInstall(byNpmCi, "ci");
    await assertSameTree(byCairn, byNpmCi);
  });

  test("the second app, isolated as pnpm lays it out, runs the same versions", async () => {
    const hoisted = await project("second-hoisted", SECOND_APP_PACKAGE_JSON);
    const isolated = await project("second-isolated", SECOND_APP_PACKAGE_JSON);
    const byNpm = await project("second-npm", SECOND_APP_PACKAGE_JSON);
    await npmInstall(byNpm);
    succeeded(await cairnIn(hoisted, "home-a", ["install"]), "cairn install (hoisted)");
    await assertSameTree(byNpm, hoisted);
    succeeded(
      await cairnIn(isolated, "home-a", ["install", "--layout", "isolated"]),
      "cairn install --layout isolated",
    );
    assert.deepEqual(
      await readFile(join(isolated, "package-lock.json"), "utf8"),
      await readFile(join(hoisted, "package-lock.json"), "utf8"),
    );
    const deps = Object.keys(
      (JSON.parse(await readFile(SECOND_APP_PACKAGE_JSON, "utf8")) as { dependencies: object })
        .dependencies,
    );
    // Each dependency's version as its folder holds it, and whether it loads.
    const script = `const fs = require("node:fs"); for (const d of ${JSON.stringify(deps)}) {
      const { version } = JSON.parse(fs.readFileSync("node_modules/" + d + "/package.json", "utf8"));
      let loads = "loads"; try { require(d); } catch (e) { loads = e.code ?? "throws"; }
      console.log(d, version, loads);
    }`;
    const fromHoisted = await runNode(hoisted, script);
    const fromIsolated = await runNode(isolated, script);
    assert.equal(fromIsolated.code, 0, fromIsolated.stderr);
    assert.equal(fromIsolated.stdout, fromHoisted.stdout);
  });

  test("a damaged store file is found by cairn store verify and repaired by the next install", async () => {
    const path = await project("damaged");
    const home = "home-damaged";
    succeeded(await cairnIn(path, home, ["install"]), "cairn install");
    const store = join(dir.path, home, "store");
    const damaged = await firstStoreFile(store);
    await writeFile(damaged, "tampered\n");
    const verify = await cairn(["store", "verify", "--store", store]);
    assert.notEqual(verify.code, 0);
    assert.match(verify.stdout + verify.stderr, /damaged|mismatch|missing/);
    await rm(join(path, "node_modules"), { recursive: true });
    succeeded(await cairnIn(path, home, ["install"]), "cairn install after the damage");
    await assertSameTree(join(dir.path, "app-npm"), path);
    succeeded(await cairn(["store", "verify", "--store", store]), "cairn store verify");
  });

  test("an upgrade takes the changed files as deltas and the new ones as blobs, never the tarball", async () => {
    const url = origin?.url ?? "";
    const token = await signUp(url, "upgrader", "upgrader-password");
    const core = noiseText(1, 100_000);
    const publish = async (version: string, files: RawTarEntry[]) => {
      const tgz = rawTgz([packageJson("upgrade-demo", version, { main: "core.js" }), ...files]);
      const manifest = { name: "upgrade-demo", version, main: "core.js" };
      const res = await putJson(url, "/upgrade-demo", token, publishBody(manifest, tgz));
      assert.equal(res.status, 201, await res.text());
      return createHash("sha256").update(tgz).digest("hex");
    };
    await publish("1.0.0", [{ name: "package/core.js", data: core }]);
    const path = join(dir.path, "upgrade");
    await mkdir(path);
    await writeFile(join(path, "package.json"), '{"dependencies":{"upgrade-demo":"1.0.0"}}');
    // Every read through a counting proxy, given as the one mirror: each request is seen.
    await using counting = await startCountingProxy(url);
    succeeded(await cairnIn(path, "home-upgrade", ["install"], [counting.url]), "cairn install");
    const added = { name: "package/added.js", data: "module.exports = 2;\n" };
    const changed = { name: "package/core.js", data: core.replace(/\n[^\n]*\n/, "\nchanged\n") };
    const tarball = await publish("1.1.0", [changed, added]);
    const from = counting.requests.length;
    const upgraded = await cairnIn(
      path,
      "home-upgrade",
      ["install", "upgrade-demo@1.1.0"],
      [counting.url],
    );
    succeeded(upgraded, "cairn install upgrade-demo@1.1.0");
    const requests = counting.requests.slice(from);
    const addedHash = createHash("sha256").update(added.data).digest("hex");
    assert.ok(!requests.some((r) => r.includes(tarball)), requests.join("\n"));
    assert.ok(
      requests.some((r) => r.endsWith(`/blob/sha256/${addedHash}`)),
      requests.join("\n"),
    );
    const folder = join(path, "node_modules", "upgrade-demo");
    assert.equal(await readFile(join(folder, "core.js"), "utf8"), changed.data);
    assert.equal(await readFile(join(folder, "added.js"), "utf8"), added.data);
  });

  test("with the origin stopped, cairn ci installs the lockfile through a mirror", async () => {
    const path = await project("offline-origin");
    await copyFile(
      join(dir.path, "app-cairn", "package-lock.json"),
      join(path, "package-lock.json"),
    );
    await origin?.stop();
    // home-a holds the checkpoint verified earlier; the store is new, so every byte comes from the mirror.
    const ci = await cairnIn(
      path,
      "home-a",
      ["ci", "--store", join(dir.path, "fresh-store")],
      [mirror?.url ?? ""],
    );
    succeeded(ci, "cairn ci with the origin stopped");
    await assertSameTree(join(dir.path, "app-npm"), path);
  });
});

/** Runs `node -e script` in `cwd` (the project's pinned Node). */
function runNode(cwd: string, script: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["-e", script], { cwd }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Some file in the store's files folder. */
async function firstStoreFile(store: string): Promise<string> {
  const files = join(store, "v1", "files");
  for (const shard of (await readdir(files)).sort()) {
    const names = await readdir(join(files, shard));
    if (names.length > 0) return join(files, shard, names[0]);
  }
  throw new Error(`no file in ${files}`);
}
