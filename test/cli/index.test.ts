/**
 * The local index end to end: a registry of the corpus publishes a SQLite
 * snapshot, `cairn sync` starts from it and applies what came after, and the
 * offline queries answer from the index.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { waitForOutput } from "../helpers/cairn-server.ts";
import { type CliResult, cairn, importCorpus } from "../helpers/cli.ts";
import { CORPUS_APP_LOCKFILE, CORPUS_APP_PACKAGE_JSON } from "../helpers/corpus.ts";
import { tempDir } from "../helpers/log.ts";
import { publish, signUp } from "../helpers/registry-client.ts";
import { type ServeProcess, startServe } from "../helpers/serve.ts";
import { PROJECT_ROOT } from "../helpers/shared.ts";

function ok(result: CliResult): string {
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

describe("cairn sync and the offline queries", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: ServeProcess;
  let databaseSize: number;
  let token: string;
  const env = () => ({ CAIRN_HOME: join(dir.path, "home") });
  const index = () => join(dir.path, "home", "index.sqlite");
  const run = (args: string[]) => cairn([...args, "--index", index()], { env: env() });

  before(async () => {
    dir = await tempDir();
    const data = join(dir.path, "data");
    ok(await importCorpus(data));
    server = await startServe(["--data", data, "--no-durable", "--database-interval", "0"]);
    server.child.kill("SIGHUP");
    const published = await server.waitFor(/published the SQLite snapshot at log size (\d+)/);
    databaseSize = Number(published[1]);
    token = await signUp(server.url, "alice", "s3cret-pass");
    for (const version of ["1.0.0", "1.1.0"])
      assert.equal((await publish(server.url, token, "after-the-snapshot", version)).status, 201);
  });
  after(async () => {
    await server?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test("the first sync starts from the SQLite snapshot and applies only what followed", async () => {
    const out = ok(await run(["sync", "--origin", server.url, "--key", server.verifierKey]));
    const m =
      /started from the SQLite snapshot at size (\d+), size (\d+) -> (\d+): (\d+) entries applied/.exec(
        out,
      );
    assert.ok(m, out);
    assert.equal(Number(m[1]), databaseSize);
    // The database entry and its snapshot, then two publishes each with its registry signature
    // and its snapshot.
    assert.equal(Number(m[4]), 8);

    // Later syncs need no flags, and fetch only what is new.
    assert.equal((await publish(server.url, token, "after-the-snapshot", "2.0.0")).status, 201);
    const again = ok(await run(["sync"]));
    const second = /size (\d+) -> (\d+): 3 entries applied.*snapshot ([0-9a-f]{64})/.exec(again);
    assert.ok(second, again);
    assert.match(ok(await run(["sync"])), /: 0 entries applied; fetched/);

    // The full manifest on demand: fetched, checked against the hash the index holds.
    const full = JSON.parse(ok(await run(["show", "express@^4", "--full", "--json"]))) as {
      version: string;
      publishedManifest: { name: string; version: string; readme?: string };
    };
    assert.equal(full.publishedManifest.name, "express");
    assert.equal(full.publishedManifest.version, full.version);
    assert.match(ok(await run(["show", "express@^4", "--full"])), /published manifest:\n\{/);

    // Exact diffs between the states it went through, by size or snapshot id.
    const firstSnapshot = /snapshot ([0-9a-f]{64})/.exec(out)?.[1] ?? "";
    const diff = async (from: string, to: string) => ok(await run(["diff", from, to]));
    assert.equal(
      await diff(String(databaseSize), m[3]),
      "+ after-the-snapshot (new): added 1.0.0, 1.1.0; latest: - -> 1.1.0; owners + alice\n1 packages changed\n",
    );
    assert.equal(
      await diff(firstSnapshot, second[3]),
      "~ after-the-snapshot: added 2.0.0; latest: 1.1.0 -> 2.0.0\n1 packages changed\n",
    );
    const before = await run(["diff", "1", m[3]]);
    assert.equal(before.code, 1);
    assert.match(before.stderr, new RegExp(`outside what this index holds \\(${databaseSize} to`));

    // An index written by another version of Cairn: queries say what to run, and a sync
    // without flags rebuilds it from where it remembers syncing.
    const stale = new DatabaseSync(index());
    stale.exec("PRAGMA user_version = 4");
    stale.close();
    const refused = await run(["ls"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /holds schema 4, and this Cairn reads schema \d+: run cairn sync to rebuild it/,
    );
    assert.match(ok(await run(["sync"])), /size 0 -> (\d+)/);
    assert.ok(JSON.parse(ok(await run(["ls", "after-the-snapshot", "--json"]))).length === 1);
  });

  test("sync --follow applies new publishes as they come and stops on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      [join(PROJECT_ROOT, "bin", "cairn.ts"), "sync", "--follow", "--interval", "1"].concat([
        "--index",
        index(),
      ]),
      { env: { ...process.env, ...env() }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await waitForOutput(child, () => out, /entries applied/);
      const before = out.length;
      assert.equal((await publish(server.url, token, "followed-as-it-came", "1.0.0")).status, 201);
      // The publish, its registry signature and its snapshot entry, picked up by a later round.
      await waitForOutput(child, () => out.slice(before), /: 3 entries applied/);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, err);
    assert.match(ok(await run(["show", "followed-as-it-came"])), /followed-as-it-came@1\.0\.0/);
  });

  test("ls, show and search answer offline from the index", async () => {
    await server.stop(); // nothing below may reach the network
    const listed = JSON.parse(ok(await run(["ls", "--json"]))) as {
      name: string;
      latest: string;
    }[];
    const names = listed.map((r) => r.name);
    assert.ok(names.length > 300, `${names.length} packages`);
    assert.deepEqual(
      names,
      [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
    assert.equal(listed.find((r) => r.name === "after-the-snapshot")?.latest, "2.0.0");
    const babel = JSON.parse(ok(await run(["ls", "@babel/", "--json"]))) as { name: string }[];
    assert.ok(babel.length > 10 && babel.every((r) => r.name.startsWith("@babel/")));

    const lock = JSON.parse(await readFile(CORPUS_APP_LOCKFILE, "utf8"));
    const express = lock.packages["node_modules/express"] as { version: string; integrity: string };
    const shown = JSON.parse(ok(await run(["show", "express@^4", "--json"]))) as Record<
      string,
      unknown
    >;
    assert.equal(shown.version, express.version);
    assert.equal(shown.integrity, express.integrity);
    assert.equal(typeof shown.logIndex, "number");
    assert.ok((shown.dependencies as Record<string, string>)["body-parser"]);
    const missing = await run(["show", "express@^99"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no version of express satisfies \^99/);

    const found = ok(await run(["search", "minimalist", "web", "framework"]));
    assert.match(found.split("\n")[0], /^express@/);
  });

  test("resolve gives the corpus app the tree npm's lockfile has", async () => {
    const out = ok(
      await run([
        "resolve",
        "--package-json",
        CORPUS_APP_PACKAGE_JSON,
        "--os",
        "linux",
        "--cpu",
        "x64",
        "--json",
      ]),
    );
    const result = JSON.parse(out) as {
      nodes: Record<string, unknown>;
      problems: { optional: boolean }[];
    };
    assert.ok(result.problems.every((p) => p.optional));
    const lock = JSON.parse(await readFile(CORPUS_APP_LOCKFILE, "utf8"));
    const inLock = new Set(
      Object.entries(lock.packages as Record<string, { name?: string; version: string }>)
        .filter(([path]) => path !== "")
        .map(
          ([path, p]) =>
            `${p.name ?? path.slice(path.lastIndexOf("node_modules/") + 13)}@${p.version}`,
        ),
    );
    for (const key of Object.keys(result.nodes))
      assert.ok(inLock.has(key), `${key} is not in the lockfile`);
    assert.ok(Object.keys(result.nodes).length > 400);
  });
});
