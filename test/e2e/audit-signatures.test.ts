/**
 * `npm audit signatures` (the real npm) verifies the corpus app installed
 * from the origin, from a mirror and through a proxy: every installed
 * package has a registry signature by a key the registry serves at
 * /-/npm/v1/keys. A mirror that serves an altered signature, or none, is
 * caught by npm itself.
 *
 * npm runs with test/helpers/no-sigstore-tuf.cjs preloaded: its Sigstore
 * TUF client answers "no target" (TUF_FIND_TARGET_ERROR), exactly what
 * Sigstore's real TUF repository answers for any registry it does not list,
 * so npm falls through to /-/npm/v1/keys as it would for Cairn anywhere.
 * Without it npm would first refresh the TUF root from the network, which
 * tests do not have.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { CairnServer } from "../helpers/cairn-server.ts";
import { importCorpus } from "../helpers/cli.ts";
import { CORPUS_APP_PACKAGE_JSON } from "../helpers/corpus.ts";
import { tempDir } from "../helpers/log.ts";
import { runNpmOffline } from "../helpers/npm-audit.ts";
import { runPnpm, writeNpmrc } from "../helpers/npm-client.ts";
import { startPackumentRewriter } from "../helpers/packument-rewriter.ts";
import {
  type ServeProcess,
  startProxyOf,
  startServe,
  startSyncedMirror,
} from "../helpers/serve.ts";

interface Lockfile {
  packages: Record<string, { version?: string; link?: boolean }>;
}

const npm = runNpmOffline;

/** The installed packages (name@version), as the lockfile lists them. */
async function installed(path: string): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(path, "package-lock.json"), "utf8")) as Lockfile;
  const names: string[] = [];
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.startsWith("node_modules/") || !entry.version || entry.link) continue;
    const name = key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
    try {
      await readFile(join(path, key, "package.json"));
      names.push(`${name}@${entry.version}`);
    } catch {
      // An optional package for another platform: not installed, not audited.
    }
  }
  return names;
}

describe("npm audit signatures on the corpus app", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let origin: ServeProcess | undefined;
  let mirror: CairnServer | undefined;
  let proxy: CairnServer | undefined;
  /** The app installed from each registry, by name. */
  const apps = new Map<string, { path: string; packages: string[] }>();

  before(async () => {
    dir = await tempDir();
    const data = join(dir.path, "origin");
    const imported = await importCorpus(data);
    assert.equal(imported.code, 0, imported.stderr);
    origin = await startServe(["--data", data, "--no-durable", "--database-interval", "0"]);
    mirror = await startSyncedMirror(origin, join(dir.path, "mirror"));
    proxy = await startProxyOf(origin, join(dir.path, "proxy"));
  });

  after(async () => {
    await proxy?.stop();
    await mirror?.stop();
    await origin?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  const registries = () =>
    new Map([
      ["origin", origin?.url ?? ""],
      ["mirror", mirror?.url ?? ""],
      ["proxy", proxy?.url ?? ""],
    ]);

  for (const from of ["origin", "mirror", "proxy"]) {
    test(`installed from the ${from}: every package has a verified registry signature`, async () => {
      const registry = registries().get(from) ?? "";
      const path = join(dir.path, `app-${from}`);
      await mkdir(path);
      await copyFile(CORPUS_APP_PACKAGE_JSON, join(path, "package.json"));
      const cache = join(dir.path, `cache-${from}`);
      const install = await npm(["install", "--ignore-scripts"], path, registry, cache);
      assert.equal(install.code, 0, install.stderr);
      const packages = await installed(path);
      apps.set(from, { path, packages });
      const started = performance.now();
      const audit = await npm(["audit", "signatures"], path, registry, cache);
      const ms = performance.now() - started;
      assert.equal(audit.code, 0, `${audit.stdout}\n${audit.stderr}`);
      const n = packages.length;
      assert.ok(n > 400, `the app installs the corpus (${n} packages)`);
      assert.match(audit.stdout, new RegExp(`audited ${n} packages`));
      assert.match(audit.stdout, new RegExp(`${n} packages have verified registry signatures`));
      // npm took its keys from the registry, not from Sigstore's TUF repository.
      assert.match(audit.stderr, /Fetching verification keys using TUF failed/);
      process.stdout.write(
        `# npm audit signatures via the ${from}: ${n} packages, ${Math.round(ms)} ms\n`,
      );
    });
  }

  test("pnpm audit signatures verifies the app pnpm installed from the origin", async () => {
    const path = join(dir.path, "app-pnpm");
    await mkdir(path);
    await copyFile(CORPUS_APP_PACKAGE_JSON, join(path, "package.json"));
    const npmrc = await writeNpmrc(path, origin?.url ?? "");
    const store = join(dir.path, "pnpm-store");
    const install = await runPnpm(["install", "--ignore-scripts"], path, npmrc, store);
    assert.equal(install.code, 0, `${install.stdout}\n${install.stderr}`);
    const audit = await runPnpm(["audit", "signatures"], path, npmrc, store);
    assert.equal(audit.code, 0, `${audit.stdout}\n${audit.stderr}`);
    assert.match(audit.stdout, /verified registry signature/);
  });

  test("a mirror serving an altered signature: npm names the package as invalid, exit 1", async () => {
    const app = apps.get("mirror");
    assert.ok(app, "the app was installed from the mirror");
    const victim = app.packages[0];
    const at = victim.lastIndexOf("@");
    const [name, version] = [victim.slice(0, at), victim.slice(at + 1)];
    // A well-formed DER signature, by a P-256 key, over another message.
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const forged = sign("sha256", Buffer.from("not this package"), privateKey).toString("base64");
    await using front = await startPackumentRewriter(mirror?.url ?? "", name, (packument) => {
      const versions = packument.versions as Record<
        string,
        { dist: { signatures: { sig: string }[] } }
      >;
      versions[version].dist.signatures[0].sig = forged;
    });
    const audit = await npm(
      ["audit", "signatures"],
      app.path,
      front.url,
      join(dir.path, "cache-lie"),
    );
    assert.equal(audit.code, 1, `${audit.stdout}\n${audit.stderr}`);
    assert.ok(front.rewritten() > 0, "npm read the altered packument");
    assert.match(audit.stdout, /1 package has an invalid registry signature/);
    assert.ok(audit.stdout.includes(`${victim} (`), audit.stdout);
  });

  test("a mirror serving no signature for a package: npm reports it missing, exit 1", async () => {
    const app = apps.get("mirror");
    assert.ok(app, "the app was installed from the mirror");
    const victim = app.packages[1];
    const at = victim.lastIndexOf("@");
    const [name, version] = [victim.slice(0, at), victim.slice(at + 1)];
    await using front = await startPackumentRewriter(mirror?.url ?? "", name, (packument) => {
      const versions = packument.versions as Record<string, { dist: { signatures?: unknown } }>;
      delete versions[version].dist.signatures;
    });
    const audit = await npm(
      ["audit", "signatures"],
      app.path,
      front.url,
      join(dir.path, "cache-strip"),
    );
    assert.equal(audit.code, 1, `${audit.stdout}\n${audit.stderr}`);
    assert.match(audit.stdout, /1 package has a missing registry signature/);
    assert.ok(audit.stdout.includes(victim), audit.stdout);
  });
});
