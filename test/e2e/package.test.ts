/**
 * The published package: `npm pack` bundles the sources (scripts/build.ts)
 * and packs them, `npm install -g` puts the tarball into a scratch prefix
 * (its dependencies from the npm cache where it can), and the installed
 * `cairn` runs through each kind of entry the bundle has: the command
 * itself, and the three Worker scripts (a sign-up hashes its password on
 * one, a SIGHUP's SQLite snapshot is written on one, `cairn install` stores
 * files on one), with serve, sync, install and proxy against each other.
 * Under a Node that the package's engines exclude it says which versions it
 * needs.
 *
 * The installed `cairn` runs on the Node running the tests unless
 * CAIRN_PACKAGE_NODE names another binary (to try the oldest Node the
 * package supports).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import semver from "semver";
import { type CairnServer, startCairnServer } from "../helpers/cairn-server.ts";
import { type CliResult, cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { cleanEnv } from "../helpers/npm-client.ts";
import { publish, signUp } from "../helpers/registry-client.ts";
import { PROJECT_ROOT } from "../helpers/shared.ts";

const packageJson = JSON.parse(await readFile(join(PROJECT_ROOT, "package.json"), "utf8")) as {
  name: string;
  engines: { node: string };
};
const engines = packageJson.engines.node;
const node = process.env.CAIRN_PACKAGE_NODE ?? process.execPath;

function run(program: string, args: string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      program,
      args,
      { cwd, env: cleanEnv({ npm_config_update_notifier: "false" }), maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function ok(result: CliResult): string {
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

/** A Node on this machine that the package's engines exclude, if there is one. */
async function oldNode(): Promise<{ path: string; version: string } | undefined> {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/bin", "/usr/bin"];
  const seen = new Set<string>();
  for (const dir of dirs) {
    const candidate = join(dir, "node");
    if (!existsSync(candidate)) continue;
    const real = realpathSync(candidate);
    if (seen.has(real)) continue;
    seen.add(real);
    const { code, stdout } = await run(real, ["-p", "process.versions.node"], PROJECT_ROOT);
    const version = stdout.trim();
    if (code === 0 && !semver.satisfies(version, engines)) return { path: real, version };
  }
  return undefined;
}

/** What `cairn serve` reported after a SIGHUP: the snapshot published, or why not. */
async function snapshotOutcome(server: CairnServer): Promise<string> {
  const outcome = () =>
    /published the SQLite snapshot[^\n]*|publishing the SQLite snapshot failed[^\n]*/.exec(
      server.stdout() + server.stderr(),
    )?.[0];
  const { stdout, stderr } = server.child;
  assert.ok(stdout && stderr);
  while (!outcome() && server.child.exitCode === null) {
    const done = new AbortController();
    const { signal } = done;
    await Promise.race([
      once(stdout, "data", { signal }),
      once(stderr, "data", { signal }),
      once(server.child, "exit", { signal }),
    ]).finally(() => done.abort());
  }
  return outcome() ?? `cairn serve exited: ${server.stderr()}`;
}

describe("the npm package", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let files: string[];
  let installed: string;
  let bin: string;
  const servers: CairnServer[] = [];

  before(async () => {
    dir = await tempDir("cairn-package-");
    const packed = JSON.parse(
      ok(await run("npm", ["pack", "--json", "--pack-destination", dir.path], PROJECT_ROOT)),
    ) as { filename: string; files: { path: string }[] }[];
    files = packed[0].files.map((f) => f.path).sort();
    const prefix = join(dir.path, "prefix");
    const tarball = join(dir.path, packed[0].filename);
    const args = ["install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", tarball];
    ok(await run("npm", [...args, "--no-fund"], dir.path));
    installed = join(prefix, "lib", "node_modules", packageJson.name);
    bin = join(prefix, "bin", "cairn");
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await dir?.[Symbol.asyncDispose]();
  });

  test("the tarball holds the bundle and the bin, no sources", () => {
    const unexpected = files.filter(
      (f) =>
        !/^dist\/[^/]+\.js(\.map)?$/.test(f) &&
        !/^dist\/assets\/[^/]+\.(css|js|svg)$/.test(f) &&
        !/^(bin\/(cairn|launch)\.cjs|package\.json|README\.md|LICENSE)$/.test(f),
    );
    assert.deepEqual(unexpected, []);
    // The entries, side by side with the chunks that start the workers.
    for (const entry of ["cairn", "store-worker", "password-hash-worker", "database-export-worker"])
      assert.ok(files.includes(`dist/${entry}.js`), entry);
    // The web interface's stylesheet and scripts are files the build copies, not bundles.
    for (const asset of ["site.css", "site.js", "proof.js", "icon.svg"])
      assert.ok(files.includes(`dist/assets/${asset}`), asset);
    // The bundler rewrites imports only: a .ts file named by a relative path any other way (a
    // Worker's script) would be missing from the installed package.
    const namesTs = files.filter(
      (f) =>
        /^dist\/[^/]+\.js$/.test(f) &&
        /["'`]\.\.?\/[^"'`\s]*\.ts["'`]/.test(readFileSync(join(installed, f), "utf8")),
    );
    assert.deepEqual(namesTs, []);
    // The pinned Node that the project's scripts run on is a dev tool, not the package's.
    assert.equal(existsSync(join(installed, "node_modules", "node")), false);
    assert.equal(existsSync(join(installed, "node_modules", "typescript")), false);
  });

  test("the installed cairn serves, syncs and proxies", async () => {
    const command = [node, bin];
    const serve = await startCairnServer(
      ["serve", "--port", "0", "--data", join(dir.path, "origin"), "--no-durable"],
      120_000,
      command,
    );
    servers.push(serve);
    const key = /verifier key: (\S+)/.exec(serve.stdout())?.[1];
    assert.ok(key, serve.stdout());
    const token = await signUp(serve.url, "alice", "s3cret-pass");
    assert.equal((await publish(serve.url, token, "from-the-package", "1.0.0")).status, 201);
    // The web interface, with its copied assets, works from the build.
    const page = await fetch(new URL("-/web/package/from-the-package", serve.url), {
      headers: { accept: "text/html" },
    });
    assert.equal(page.status, 200);
    const stylesheet = /href="(\/-\/web\/assets\/site\.[0-9a-f]+\.css)"/.exec(
      await page.text(),
    )?.[1];
    assert.ok(stylesheet, "the page links its stylesheet");
    assert.equal((await fetch(new URL(stylesheet, serve.url))).status, 200);
    // The SQLite snapshot is written by a worker thread: its module must be found in the build too.
    serve.child.kill("SIGHUP");
    assert.match(await snapshotOutcome(serve), /^published the SQLite snapshot at log size \d+/);

    // An install stores the tarball's files on the store's worker threads, then links them.
    const project = join(dir.path, "project");
    await mkdir(project);
    const manifest = {
      name: "project",
      version: "1.0.0",
      dependencies: { "from-the-package": "1.0.0" },
    };
    await writeFile(join(project, "package.json"), JSON.stringify(manifest));
    const installArgs = ["install", "--origin", serve.url, "--key", key, "--no-mirror-list"];
    const installEnv = { CAIRN_HOME: join(dir.path, "install-home") };
    assert.match(
      ok(await cairn(installArgs, { cwd: project, env: installEnv, command })),
      /^1 packages? in /m,
    );
    const linked = join(project, "node_modules", "from-the-package", "package.json");
    assert.equal(JSON.parse(await readFile(linked, "utf8")).version, "1.0.0");

    const index = join(dir.path, "home", "index.sqlite");
    const env = { CAIRN_HOME: join(dir.path, "home") };
    const sync = ["sync", "--origin", serve.url, "--key", key, "--index", index];
    assert.match(ok(await cairn(sync, { env, command })), /entries applied/);
    const shown = ok(await cairn(["show", "from-the-package", "--index", index], { env, command }));
    assert.match(shown, /1\.0\.0/);

    const proxyArgs = ["proxy", "--origin", serve.url, "--key", key, "--port", "0"];
    const proxy = await startCairnServer(
      [...proxyArgs, "--data", join(dir.path, "proxy")],
      120_000,
      command,
    );
    servers.push(proxy);
    const res = await fetch(new URL("from-the-package", proxy.url));
    assert.equal(res.status, 200);
    const packument = (await res.json()) as { versions: Record<string, unknown> };
    assert.deepEqual(Object.keys(packument.versions), ["1.0.0"]);
  });

  test("the installed cairn lists every command", async () => {
    const help = ok(await run(node, [bin, "--help"], dir.path));
    for (const command of ["serve", "install", "mirror", "proxy", "witness"])
      assert.match(help, new RegExp(`^  ${command}\\b`, "m"));
  });

  test("under a Node its engines exclude it says which Node it needs", async (t: TestContext) => {
    const old = await oldNode();
    if (!old) {
      t.skip(`no Node outside ${engines} on this machine`);
      return;
    }
    const result = await run(old.path, [bin, "--help"], dir.path);
    assert.equal(result.code, 1);
    const said = /^cairn needs Node\.js (.+) \(this is (.+)\)\n$/.exec(result.stderr);
    assert.ok(said, result.stderr);
    assert.equal(said[2], old.version);
    // Each alternative of the engines range, in words: "22.16.0 or a later 22.x, or 24.0.0 or later".
    for (const floor of engines.match(/\d+\.\d+\.\d+/g) ?? []) assert.ok(said[1].includes(floor));
    assert.equal(result.stdout, "");
  });
});
