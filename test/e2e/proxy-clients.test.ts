/**
 * The corpus app installed by npm, pnpm and Yarn through `cairn proxy`, in
 * front of two mirrors of which one flips a byte in every tarball: each
 * install must give the same node_modules, byte for byte, as the same
 * install straight from the origin, and the proxy may ask the origin for
 * its checkpoint and mirror list only. A counting reverse proxy stands in
 * front of the origin for the proxy (the honest mirror syncs from the
 * origin directly), so everything that passes it was caused by the proxy.
 */
import assert from "node:assert/strict";
import { appendFile, copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { type CairnServer, startCairnServer } from "../helpers/cairn-server.ts";
import { cairn, importCorpus } from "../helpers/cli.ts";
import { CORPUS_APP_LOCKFILE, CORPUS_APP_PACKAGE_JSON } from "../helpers/corpus.ts";
import { type CountingProxy, startCountingProxy } from "../helpers/counting-proxy.ts";
import { assertSameTree, lockfileText, succeeded } from "../helpers/installed-tree.ts";
import { tempDir } from "../helpers/log.ts";
import { type MaliciousMirror, startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { runNpm, runPnpm, runYarn, writeNpmrc, writeYarnrc } from "../helpers/npm-client.ts";
import { type ServeProcess, startServe } from "../helpers/serve.ts";

interface SourcesReport {
  checkpoint: { origin: string; size: number } | null;
  sources: {
    url: string;
    origin: boolean;
    requests: number;
    bytes: number;
    failures: number;
    benched: boolean;
  }[];
}

describe("npm, pnpm and Yarn install the corpus app through cairn proxy, one mirror lying", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let origin: ServeProcess | undefined;
  let front: CountingProxy | undefined;
  let mirrorA: CairnServer | undefined;
  let mirrorB: MaliciousMirror | undefined;
  let proxy: CairnServer | undefined;
  /** Requests through the counting front before the first install (the proxy's start). */
  let atStart = 0;

  before(async () => {
    dir = await tempDir();
    const data = join(dir.path, "origin");
    const imported = await importCorpus(data, "corpus");
    assert.equal(imported.code, 0, imported.stderr);
    // No SQLite snapshot published at start: its entries would land after mirror A's sync,
    // and the proxy would read them from the origin.
    origin = await startServe(["--data", data, "--no-durable", "--database-interval", "0"]);
    front = await startCountingProxy(origin.url);
    mirrorA = await startCairnServer([
      "mirror",
      "--from",
      origin.url,
      "--key",
      origin.verifierKey,
      "--data",
      join(dir.path, "mirrorA"),
      "--port",
      "0",
      "--no-durable",
    ]);
    // Started after mirror A has synced, so the tree it lies about is complete.
    await mirrorA.waitFor(/synced: /);
    mirrorB = await startMaliciousMirror({
      treeDir: join(dir.path, "mirrorA", "tree"),
      attack: "tarball-byte",
    });
    for (const url of [mirrorA.url, mirrorB.url]) {
      const added = await cairn(["mirrors", "add", url, "--data", data]);
      assert.equal(added.code, 0, added.stderr);
    }
    proxy = await startCairnServer([
      "proxy",
      "--origin",
      front.url,
      "--key",
      origin.verifierKey,
      "--data",
      join(dir.path, "proxy"),
      "--port",
      "0",
    ]);
    atStart = front.requests.length;
  });

  after(async () => {
    await proxy?.stop();
    await mirrorB?.close();
    await mirrorA?.stop();
    await front?.close();
    await origin?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** A fresh directory holding the app's package.json (or `manifest`). */
  async function app(name: string, manifest?: object): Promise<string> {
    const path = join(dir.path, name);
    await mkdir(path);
    if (manifest) await writeFile(join(path, "package.json"), JSON.stringify(manifest, null, 2));
    else await copyFile(CORPUS_APP_PACKAGE_JSON, join(path, "package.json"));
    return path;
  }

  /** Runs `install` into a fresh copy of the app from the origin and one through the proxy, at once. */
  async function both(
    t: TestContext,
    name: string,
    install: (path: string, registry: string, cache: string) => Promise<void>,
    manifest?: object,
  ): Promise<{ direct: string; proxied: string }> {
    const direct = await app(`${name}-origin`, manifest);
    const proxied = await app(`${name}-proxy`, manifest);
    const timed = async (path: string, registry: string, cache: string) => {
      const started = performance.now();
      await install(path, registry, cache);
      return ((performance.now() - started) / 1000).toFixed(1);
    };
    const [fromOrigin, viaProxy] = await Promise.all([
      timed(direct, origin?.url ?? "", join(dir.path, `${name}-origin-cache`)),
      timed(proxied, proxy?.url ?? "", join(dir.path, `${name}-proxy-cache`)),
    ]);
    t.diagnostic(`installed in ${fromOrigin} s from the origin, ${viaProxy} s through the proxy`);
    return { direct, proxied };
  }

  const npmInstall = async (path: string, registry: string, cache: string) => {
    const npmrc = await writeNpmrc(path, registry);
    succeeded(await runNpm(["install", "--ignore-scripts"], path, npmrc, cache), `npm in ${path}`);
  };

  test("npm, empty cache: the same tree and lockfile as from the origin", async (t: TestContext) => {
    const { direct, proxied } = await both(t, "npm", npmInstall);
    const files = await assertSameTree(direct, proxied);
    assert.equal(
      await lockfileText(proxied, "package-lock.json", proxy?.url ?? ""),
      await lockfileText(direct, "package-lock.json", origin?.url ?? ""),
    );
    t.diagnostic(`${files} files identical`);
  });

  test("npm with the app's lockfile, empty cache: the same tree as from the origin", async (t: TestContext) => {
    // npm checks every tarball against the lockfile's integrity, written from the real registry.
    const { direct, proxied } = await both(t, "npm-locked", async (path, registry, cache) => {
      await copyFile(CORPUS_APP_LOCKFILE, join(path, "package-lock.json"));
      await npmInstall(path, registry, cache);
    });
    t.diagnostic(`${await assertSameTree(direct, proxied)} files identical`);
  });

  test("pnpm, empty store: the same tree and lockfile as from the origin", async (t: TestContext) => {
    const { direct, proxied } = await both(t, "pnpm", async (path, registry, store) => {
      const npmrc = await writeNpmrc(path, registry);
      // pnpm holds back versions younger than a day; everything here was imported just now.
      await writeFile(join(path, "pnpm-workspace.yaml"), "minimumReleaseAge: 0\n");
      succeeded(
        await runPnpm(["install", "--ignore-scripts"], path, npmrc, store),
        `pnpm in ${path}`,
      );
    });
    const files = await assertSameTree(direct, proxied);
    assert.equal(
      await lockfileText(proxied, "pnpm-lock.yaml", proxy?.url ?? ""),
      await lockfileText(direct, "pnpm-lock.yaml", origin?.url ?? ""),
    );
    t.diagnostic(`${files} files identical`);
  });

  test("Yarn, empty cache, the app without jest: the same tree and lockfile as from the origin", async (t: TestContext) => {
    // Yarn cannot resolve jest from the corpus, which holds npm's closure for this machine:
    // it resolves the optional packages of every platform (unrs-resolver, under jest-resolve,
    // names @unrs/resolver-binding-android-*, darwin-*, win32-*, ..., and only the linux ones
    // are here), and it adds node-gyp to @parcel/watcher (under jest-haste-map), which builds
    // with it, and node-gyp is not here either. Of the app's 18 dependencies only jest reaches
    // either, so Yarn installs the other 17: every dependency but jest.
    const manifest = JSON.parse(await readFile(CORPUS_APP_PACKAGE_JSON, "utf8"));
    delete manifest.dependencies.jest;
    const { direct, proxied } = await both(
      t,
      "yarn",
      async (path, registry, cache) => {
        await writeFile(join(path, "yarn.lock"), "");
        await writeYarnrc(path, registry, undefined, cache);
        // Yarn's packument cache lives in its global folder (~/.yarn/berry): keep it per install.
        await appendFile(join(path, ".yarnrc.yml"), `globalFolder: "${cache}-global"\n`);
        succeeded(await runYarn(["install", "--mode=skip-build"], path), `yarn in ${path}`);
      },
      manifest,
    );
    const files = await assertSameTree(direct, proxied);
    assert.equal(
      await lockfileText(proxied, "yarn.lock", proxy?.url ?? ""),
      await lockfileText(direct, "yarn.lock", origin?.url ?? ""),
    );
    t.diagnostic(`${files} files identical`);
  });

  test("only the checkpoint, the key chain and the mirror list reached the origin; the honest mirror served the bytes", async (t: TestContext) => {
    const all = front?.requests ?? [];
    const during = all.slice(atStart);
    const count = (requests: string[]) => {
      const counts = new Map<string, number>();
      for (const r of requests) counts.set(r, (counts.get(r) ?? 0) + 1);
      return [...counts].map(([r, n]) => `${r} x${n}`).join(", ");
    };
    t.diagnostic(`at the proxy's start, the origin saw: ${count(all.slice(0, atStart))}`);
    t.diagnostic(`during the installs, the origin saw: ${count(during)}`);
    assert.deepEqual(
      [...new Set(all)].sort(),
      ["GET /-/cairn/checkpoint", "GET /-/cairn/keys", "GET /-/cairn/mirrors"],
      "requests that reached the origin",
    );
    // The proxy checks the checkpoint again every 5 s; the installs take longer than that.
    assert.ok(during.includes("GET /-/cairn/checkpoint"), "the proxy never refreshed");

    const res = await fetch(new URL("-/cairn-proxy/sources", proxy?.url));
    assert.equal(res.status, 200);
    const report = (await res.json()) as SourcesReport;
    for (const s of report.sources)
      t.diagnostic(
        `${s.origin ? "origin " : s.url === mirrorA?.url ? "mirror A (honest) " : "mirror B (tarball-byte) "}` +
          `${s.url}: ${s.requests} requests, ${s.bytes} bytes, ${s.failures} failures${s.benched ? ", benched" : ""}`,
      );
    const source = (url: string | undefined) => {
      const found = report.sources.find((s) => s.url === url);
      assert.ok(found, `${url} is not in the proxy's report`);
      return found;
    };
    const honest = source(mirrorA?.url);
    const liar = source(mirrorB?.url);
    const originStats = source(front?.url);
    assert.ok(honest.bytes > 10_000_000, `mirror A served only ${honest.bytes} bytes`);
    assert.equal(honest.failures, 0);
    assert.ok(liar.failures > 0, "mirror B was never caught");
    assert.ok(liar.benched, "mirror B is not benched");
    assert.equal(originStats.failures, 0);
  });
});
