/**
 * The corpus: 433 real packages imported with `cairn import`, then the app
 * that depends on them installed by the real npm with an empty cache, with
 * and without its lockfile.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cairn, importCorpus } from "../helpers/cli.ts";
import { CORPUS_APP_LOCKFILE, CORPUS_APP_PACKAGE_JSON } from "../helpers/corpus.ts";
import { tempDir } from "../helpers/log.ts";
import { runNpm, runPnpm, writeNpmrc } from "../helpers/npm-client.ts";
import { type ServeProcess, startServe } from "../helpers/serve.ts";

interface Lockfile {
  packages: Record<string, { version?: string; integrity?: string; optional?: boolean }>;
}

describe("the corpus app against cairn serve", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: ServeProcess;

  before(async () => {
    dir = await tempDir();
    const data = join(dir.path, "data");
    const imported = await importCorpus(data);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /imported 433 versions, skipped 0 already present, 0 failed/);
    const again = await importCorpus(data);
    assert.match(again.stdout, /imported 0 versions, skipped 433/);
    server = await startServe(["--data", data, "--no-durable"]);
  });

  after(async () => {
    await server?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  async function app(name: string, withLock: boolean): Promise<string> {
    const path = join(dir.path, name);
    await mkdir(path);
    await copyFile(CORPUS_APP_PACKAGE_JSON, join(path, "package.json"));
    if (withLock) await copyFile(CORPUS_APP_LOCKFILE, join(path, "package-lock.json"));
    await writeNpmrc(path, server.url);
    return path;
  }

  /** `npm install` in `path` with its own .npmrc and a fresh cache named `cache`. */
  function npmInstall(path: string, cache: string) {
    return runNpm(
      ["install", "--ignore-scripts"],
      path,
      join(path, ".npmrc"),
      join(dir.path, cache),
    );
  }

  async function installedVersions(path: string): Promise<Map<string, string>> {
    const lock = JSON.parse(await readFile(join(path, "package-lock.json"), "utf8")) as Lockfile;
    const versions = new Map<string, string>();
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (!key.startsWith("node_modules/") || !entry.version) continue;
      try {
        const pkg = JSON.parse(await readFile(join(path, key, "package.json"), "utf8")) as {
          version: string;
        };
        versions.set(key, pkg.version);
      } catch {
        assert.ok(entry.optional, `${key} is missing and not optional`);
      }
    }
    return versions;
  }

  test("npm installs the app with an empty cache", async () => {
    const path = await app("fresh", false);
    const result = await npmInstall(path, "cache-fresh");
    assert.equal(result.code, 0, result.stderr);
    const versions = await installedVersions(path);
    assert.ok(versions.size > 300, `only ${versions.size} packages installed`);
    assert.equal(versions.get("node_modules/express")?.split(".")[0], "4");
  });

  test("npm installs exactly the lockfile's versions, checking its integrity hashes", async () => {
    const path = await app("locked", true);
    const expected = JSON.parse(
      await readFile(join(path, "package-lock.json"), "utf8"),
    ) as Lockfile;
    const result = await npmInstall(path, "cache-locked");
    assert.equal(result.code, 0, result.stderr);
    const versions = await installedVersions(path);
    for (const [key, version] of versions)
      assert.equal(version, expected.packages[key]?.version, key);
    const written = JSON.parse(await readFile(join(path, "package-lock.json"), "utf8")) as Lockfile;
    for (const [key, entry] of Object.entries(expected.packages)) {
      if (entry.integrity && written.packages[key])
        assert.equal(written.packages[key].integrity, entry.integrity, key);
    }
  });

  test("pnpm installs the app with an empty cache", async () => {
    const viaPnpm = await app("pnpm", false);
    // pnpm holds back versions younger than a day; everything here was imported just now.
    await writeFile(join(viaPnpm, "pnpm-workspace.yaml"), "minimumReleaseAge: 0\n");
    const pnpm = await runPnpm(
      ["install", "--ignore-scripts"],
      viaPnpm,
      join(viaPnpm, ".npmrc"),
      join(dir.path, "pnpm-store"),
    );
    assert.equal(pnpm.code, 0, `${pnpm.stdout}\n${pnpm.stderr}`);
    assert.match(
      await readFile(join(viaPnpm, "node_modules/express/package.json"), "utf8"),
      /"version": "4\./,
    );

    // Yarn is not run on the corpus: it resolves the optional packages of every platform
    // for its lockfile (@unrs/resolver-binding-android-*, ...), and the corpus holds only
    // npm's closure for this machine. test/e2e/pnpm-yarn.test.ts covers Yarn installs.
  });

  test("cairn rebuild recreates the database from the log: the same packuments", async () => {
    const names = ["express", "@babel/core", "react", "typescript", "jest"];
    const fetchAll = async (url: string) =>
      Promise.all(
        names.map(async (name) => {
          const res = await fetch(new URL(name.replace("/", "%2f"), url));
          assert.equal(res.status, 200, name);
          return (await res.text()).replaceAll(url.replace(/\/$/, ""), "<registry>");
        }),
      );
    const before = await fetchAll(server.url);
    await server.stop();
    const data = join(dir.path, "data");
    await rm(join(data, "state.sqlite"));
    const rebuilt = await cairn(["rebuild", "--data", data]);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    // 433 publishes, each batch followed by its snapshot entry.
    const rebuiltFrom = /rebuilt the database from (\d+) log entries/.exec(rebuilt.stdout);
    assert.ok(rebuiltFrom && Number(rebuiltFrom[1]) > 433, rebuilt.stdout);
    server = await startServe(["--data", data, "--no-durable"]);
    assert.deepEqual(await fetchAll(server.url), before);
  });
});
