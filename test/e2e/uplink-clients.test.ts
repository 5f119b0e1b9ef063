/**
 * The corpus app installed by `cairn install`, npm, pnpm and Yarn through
 * a `cairn serve` whose only content is its uplink (the local upstream
 * registry), with empty caches: each install must give the same
 * node_modules as the same install straight from the upstream. Every version installed is then an
 * entry in Cairn's log, `cairn verify --replay` passes, and with the
 * upstream stopped, a `cairn mirror` of it and a `cairn proxy` over that
 * mirror install the same tree again. A version the upstream removes is
 * gone from the origin, the mirror and the proxy alike.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { appendFile, copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { parseVerifierKey } from "../../src/log/index.ts";
import { type CairnServer, startCairnServer } from "../helpers/cairn-server.ts";
import { cairn } from "../helpers/cli.ts";
import { CORPUS_APP_PACKAGE_JSON } from "../helpers/corpus.ts";
import { treeEntries } from "../helpers/entries.ts";
import { assertSameTree, lockfileText, succeeded } from "../helpers/installed-tree.ts";
import { tempDir } from "../helpers/log.ts";
import { runNpm, runPnpm, runYarn, writeNpmrc, writeYarnrc } from "../helpers/npm-client.ts";
import { type ServeProcess, startServe } from "../helpers/serve.ts";
import { startUpstreamRegistry, type UpstreamRegistry } from "../helpers/upstream-registry.ts";

interface Lockfile {
  packages: Record<string, { version?: string; name?: string }>;
}

describe("npm, pnpm and Yarn install the corpus app through an origin whose only content is its uplink", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let upstream: UpstreamRegistry;
  let origin: ServeProcess | undefined;
  let mirror: CairnServer | undefined;
  let proxy: CairnServer | undefined;
  const data = () => join(dir.path, "origin");

  before(async () => {
    dir = await tempDir();
    upstream = await startUpstreamRegistry();
    // The uplink in the config file: it also follows `ms` through the upstream's change feed.
    await mkdir(data(), { recursive: true });
    // A max age of a second: a read after the upstream changes starts a refresh.
    const uplink = {
      url: upstream.url,
      changes: `${upstream.url}_changes`,
      follow: ["ms"],
      maxAge: 1,
    };
    await writeFile(join(data(), "config.json"), JSON.stringify({ uplinks: { up: uplink } }));
    origin = await startServe(["--data", data(), "--no-durable"]);
  });

  after(async () => {
    await proxy?.stop();
    await mirror?.stop();
    await origin?.stop();
    await upstream?.close();
    await dir?.[Symbol.asyncDispose]();
  });

  async function app(name: string, manifest?: object): Promise<string> {
    const path = join(dir.path, name);
    await mkdir(path);
    if (manifest) await writeFile(join(path, "package.json"), JSON.stringify(manifest, null, 2));
    else await copyFile(CORPUS_APP_PACKAGE_JSON, join(path, "package.json"));
    return path;
  }

  /** Installs a fresh copy of the app straight from the upstream and one through `registry`, at once. */
  async function both(
    t: TestContext,
    name: string,
    registry: string,
    install: (path: string, registry: string, cache: string) => Promise<void>,
    manifest?: object,
  ): Promise<{ direct: string; through: string }> {
    const direct = await app(`${name}-upstream`, manifest);
    const through = await app(`${name}-cairn`, manifest);
    const timed = async (path: string, url: string) => {
      const started = performance.now();
      await install(path, url, `${path}-cache`);
      return ((performance.now() - started) / 1000).toFixed(1);
    };
    const [fromUpstream, viaCairn] = await Promise.all([
      timed(direct, upstream.url),
      timed(through, registry),
    ]);
    t.diagnostic(`installed in ${fromUpstream} s from the upstream, ${viaCairn} s through Cairn`);
    return { direct, through };
  }

  /** A `cairn proxy` of the origin, with its state in `name`, reading from the origin's mirrors. */
  const startProxy = (name: string) =>
    startCairnServer([
      "proxy",
      "--origin",
      origin?.url ?? "",
      "--key",
      origin?.verifierKey ?? "",
      "--data",
      join(dir.path, name),
      "--port",
      "0",
    ]);

  const npmInstall = async (path: string, registry: string, cache: string) => {
    const npmrc = await writeNpmrc(path, registry);
    succeeded(await runNpm(["install", "--ignore-scripts"], path, npmrc, cache), `npm in ${path}`);
  };

  // First, while the origin holds nothing: every package comes in through an import on request.
  test("cairn install, empty store: imports on demand, and the same tree as npm from the upstream", async (t) => {
    const direct = await app("cairn-install-upstream");
    const through = await app("cairn-install-origin");
    await npmInstall(direct, upstream.url, `${direct}-cache`);
    const started = performance.now();
    const installed = await cairn(
      [
        "install",
        "--ignore-scripts",
        "--origin",
        origin?.url ?? "",
        "--key",
        origin?.verifierKey ?? "",
        "--no-mirror-list",
      ],
      { cwd: through, env: { CAIRN_HOME: join(dir.path, "cairn-home") } },
    );
    succeeded(installed, "cairn install");
    t.diagnostic(`cairn install in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    t.diagnostic(`${await assertSameTree(direct, through)} files identical`);
  });

  test("npm, empty caches: the same tree and lockfile as from the upstream", async (t) => {
    const { direct, through } = await both(t, "npm", origin?.url ?? "", npmInstall);
    t.diagnostic(`${await assertSameTree(direct, through)} files identical`);
    assert.equal(
      await lockfileText(through, "package-lock.json", origin?.url ?? ""),
      await lockfileText(direct, "package-lock.json", upstream.url),
    );
  });

  test("pnpm, empty store, its default release-age gate: the same tree as from the upstream", async (t) => {
    // No minimumReleaseAge override: the upstream's publish times are kept, and they are old.
    const { direct, through } = await both(
      t,
      "pnpm",
      origin?.url ?? "",
      async (path, registry, store) => {
        const npmrc = await writeNpmrc(path, registry);
        succeeded(
          await runPnpm(["install", "--ignore-scripts"], path, npmrc, store),
          `pnpm in ${path}`,
        );
      },
    );
    t.diagnostic(`${await assertSameTree(direct, through)} files identical`);
    assert.equal(
      await lockfileText(through, "pnpm-lock.yaml", origin?.url ?? ""),
      await lockfileText(direct, "pnpm-lock.yaml", upstream.url),
    );
  });

  test("Yarn, empty cache, the app without jest: the same tree as from the upstream", async (t) => {
    // As in proxy-clients.test.ts: Yarn resolves jest's optional packages for every platform,
    // and the corpus holds only this machine's.
    const manifest = JSON.parse(await readFile(CORPUS_APP_PACKAGE_JSON, "utf8"));
    delete manifest.dependencies.jest;
    const { direct, through } = await both(
      t,
      "yarn",
      origin?.url ?? "",
      async (path, registry, cache) => {
        await writeFile(join(path, "yarn.lock"), "");
        await writeYarnrc(path, registry, undefined, cache);
        await appendFile(join(path, ".yarnrc.yml"), `globalFolder: "${cache}-global"\n`);
        succeeded(await runYarn(["install", "--mode=skip-build"], path), `yarn in ${path}`);
      },
      manifest,
    );
    t.diagnostic(`${await assertSameTree(direct, through)} files identical`);
  });

  test("every version installed is an import with its tarball bound, and the log replays", async () => {
    const lock = JSON.parse(
      await readFile(join(dir.path, "npm-cairn", "package-lock.json"), "utf8"),
    ) as Lockfile;
    // The origin's status answers once every tarball it served is bound in its log.
    assert.equal((await fetch(new URL("-/cairn-status", origin?.url))).status, 200);
    const entries = await treeEntries(
      join(data(), "tree"),
      parseVerifierKey(origin?.verifierKey ?? ""),
    );
    const versionsOf = (kind: string) =>
      new Set(
        entries.flatMap((e) =>
          e.kind === kind && "version" in e ? [`${e.name}@${e.version}`] : [],
        ),
      );
    const imported = versionsOf("import");
    const bound = versionsOf("artifact");
    for (const [path, entry] of Object.entries(lock.packages)) {
      // Optional packages for other platforms are in the lockfile but never downloaded.
      if (path === "" || !entry.version || !existsSync(join(dir.path, "npm-cairn", path))) continue;
      const name = entry.name ?? path.slice(path.lastIndexOf("node_modules/") + 13);
      assert.ok(imported.has(`${name}@${entry.version}`), `${name}@${entry.version} not imported`);
      assert.ok(bound.has(`${name}@${entry.version}`), `${name}@${entry.version} not bound`);
    }
    const verified = await cairn([
      "verify",
      origin?.url ?? "",
      "--key",
      origin?.verifierKey ?? "",
      "--state",
      join(dir.path, "verify-state"),
      "--replay",
    ]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /every snapshot entry matches/);
  });

  test("with the upstream stopped, a mirror and a proxy over it install the same tree", async (t) => {
    mirror = await startCairnServer([
      "mirror",
      "--from",
      origin?.url ?? "",
      "--key",
      origin?.verifierKey ?? "",
      "--data",
      join(dir.path, "mirror"),
      "--port",
      "0",
      "--no-durable",
      "--interval",
      "1",
    ]);
    await mirror.waitFor(/synced: /);
    const added = await cairn(["mirrors", "add", mirror.url, "--data", data()]);
    assert.equal(added.code, 0, added.stderr);
    await upstream.down();
    proxy = await startProxy("proxy");
    const viaProxy = await app("npm-proxy");
    const started = performance.now();
    await npmInstall(viaProxy, proxy.url, join(dir.path, "npm-proxy-cache"));
    t.diagnostic(
      `installed through the proxy in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    t.diagnostic(
      `${await assertSameTree(join(dir.path, "npm-upstream"), viaProxy)} files identical`,
    );
    // And straight from the origin, with a cold cache, while its upstream is away.
    const viaOrigin = await app("npm-offline");
    await npmInstall(viaOrigin, origin?.url ?? "", join(dir.path, "npm-offline-cache"));
    await assertSameTree(join(dir.path, "npm-upstream"), viaOrigin);
    await upstream.up();
  });

  test("a version the upstream removes leaves the origin, the mirror and a proxy", async () => {
    const name = "ms";
    const packument = async (url: string | undefined) => {
      const res = await fetch(new URL(name, url));
      assert.equal(res.status, 200, `${name} from ${url}`);
      return (await res.json()) as {
        versions: Record<string, unknown>;
        "dist-tags": Record<string, string>;
      };
    };
    const latest = (await packument(origin?.url))["dist-tags"].latest;
    assert.ok(latest);
    await upstream.removeVersion(name, latest);
    // This read is past the packument's max age: it starts a refresh, which logs the removal.
    await packument(origin?.url);
    // A takedown by the uplink: every copy withholds its bytes and says why.
    await origin?.waitForStderr(/"name":"ms","entries":\{[^}]*"takedown":1/);
    const status = (await (await fetch(new URL("-/cairn-status", origin?.url))).json()) as {
      size: number;
    };
    await mirror?.waitFor(new RegExp(`-> ${status.size}: `));
    const freshProxy = await startProxy("proxy-after");
    try {
      for (const [what, url] of [
        ["origin", origin?.url],
        ["mirror", mirror?.url],
        ["proxy", freshProxy.url],
      ] as const) {
        const doc = await packument(url);
        assert.ok(!Object.hasOwn(doc.versions, latest), `${what} still lists ${latest}`);
        assert.notEqual(doc["dist-tags"].latest, latest, `${what} keeps it as latest`);
        const tarball = await fetch(new URL(`${name}/-/${name}-${latest}.tgz`, url));
        assert.equal(tarball.status, 451, `${what} serves the withdrawn tarball`);
      }
    } finally {
      await freshProxy.stop();
    }
  });
});

test("cairn serve --uplink npm takes the registry npm is configured with", async () => {
  await using dir = await tempDir();
  const upstream = await startUpstreamRegistry();
  try {
    const origin = await startServe(
      ["--data", join(dir.path, "data"), "--no-durable", "--uplink", "npm"],
      [],
      { ...process.env, npm_config_registry: upstream.url },
    );
    try {
      const res = await fetch(new URL("upstream-only", origin.url));
      assert.equal(res.status, 200);
      const doc = (await res.json()) as { versions: Record<string, unknown> };
      assert.deepEqual(Object.keys(doc.versions).sort(), ["1.0.0", "1.1.0", "2.0.0"]);
    } finally {
      await origin.stop();
    }
  } finally {
    await upstream.close();
  }
});
