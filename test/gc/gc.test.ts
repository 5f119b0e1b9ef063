/**
 * Garbage collection (src/gc/gc.ts): after it, every reader of a
 * retained checkpoint, every fresh mirror and client still verifies; it
 * runs while the origin serves; it never deletes a blob a batch names
 * again after its mark; orphans go only once old; a crash between mark and
 * sweep leaves a tree that verifies.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, readdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { LogClient } from "../../src/client/log-client.ts";
import { SnapshotReader } from "../../src/client/snapshot-reader.ts";
import type { GcReport } from "../../src/gc/gc.ts";
import { recordOrphans } from "../../src/gc/orphans.ts";
import { collectDataDir } from "../../src/gc/run.ts";
import { DirectorySource, verifyLog } from "../../src/log/index.ts";
import { Mirror } from "../../src/mirror/mirror.ts";
import { startMirror } from "../../src/mirror/server.ts";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import { checkStoredTree } from "../../src/origin/tree-health.ts";
import { startProxy } from "../../src/proxy/server.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { PROJECT_ROOT } from "../helpers/shared.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

/** Collects `origin`'s tree in this process, as `cairn serve`'s schedule does. */
function collect(origin: TestOrigin, options: Parameters<typeof collectDataDir>[0] | object = {}) {
  return collectDataDir({
    dataDir: origin.dataDir,
    blobs: origin.registry.blobs,
    isNamed: (hex) => origin.registry.state.namesBlob(hex),
    grace: 0,
    retainFor: 0,
    orphanGrace: 0,
    ...options,
  });
}

async function assertTreeSound(treeDir: string, origin: TestOrigin): Promise<void> {
  const health = await checkStoredTree(treeDir, origin.key.verifier, { hashBlobs: true });
  assert.deepEqual(health.damage, []);
  await verifyLog(new DirectorySource(treeDir), [origin.key.verifier], {
    origin: origin.key.verifier.name,
  });
}

async function clientAt(origin: TestOrigin, dir: string): Promise<LogClient> {
  const client = await LogClient.open({
    origin: origin.url,
    verifier: origin.key.verifier,
    stateDir: dir,
    useMirrorList: false,
  });
  await client.refresh();
  return client;
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Publishes `tgz` as name@version by alice. */
async function publishTgz(origin: TestOrigin, name: string, version: string, tgz: Buffer) {
  await publishNpm(origin.registry, {
    actor: "alice",
    ...(await parsePublish(name, publishBody({ name, version }, tgz))),
  });
}

describe("garbage collection", () => {
  test("after gc --grace 0 --retain-for 0 every client and mirror operation verifies", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    for (let i = 0; i < 6; i++) await origin.publish(`p${i}`, "1.0.0");
    // A reader holding a checkpoint GC will not retain.
    const stale = await clientAt(origin, join(dir.path, "stale"));
    const staleSize = stale.checkpoint?.size;
    for (let i = 0; i < 6; i++) await origin.publish(`p${i}`, "1.1.0");
    for (let i = 6; i < 12; i++) await origin.publish(`p${i}`, "1.0.0");
    // Past the first full tile, so partial tiles and bundles become garbage.
    for (let i = 0; i < 120; i++) await origin.publish(`p${i % 12}`, `2.0.${i}`);

    const gc = await cairn([
      "gc",
      "--data",
      origin.dataDir,
      "--grace",
      "0",
      "--retain-for",
      "0",
      "--json",
    ]);
    assert.equal(gc.code, 0, gc.stderr);
    const report = JSON.parse(gc.stdout);
    assert.ok(report.freed.snapshot.files > 0, gc.stdout);
    assert.ok(report.freed.partial.files > 0, gc.stdout);
    assert.deepEqual(report.retained, [origin.registry.appender.size]);
    await assertTreeSound(origin.treeDir, origin);

    // A fresh mirror syncs, and its own GC leaves it sound too.
    const mirrorDir = join(dir.path, "mirror");
    const mirror = await Mirror.open({
      from: origin.url,
      verifier: origin.key.verifier,
      dataDir: mirrorDir,
      durable: false,
    });
    await mirror.sync();
    mirror.close();
    await collectDataDir({ dataDir: mirrorDir, grace: 0, retainFor: 0 });
    await assertTreeSound(join(mirrorDir, "tree"), origin);

    // cairn sync replays the whole log.
    const home = join(dir.path, "home");
    const synced = await cairn(
      [
        "sync",
        "--origin",
        origin.url,
        "--key",
        origin.key.verifierKey,
        "--index",
        join(home, "index.sqlite"),
      ],
      { env: { CAIRN_HOME: home } },
    );
    assert.equal(synced.code, 0, synced.stderr);

    // cairn verify audits the served tree and replays every entry.
    const audit = await cairn([
      "verify",
      origin.url,
      "--key",
      origin.key.verifierKey,
      "--replay",
      "--state",
      join(dir.path, "audit"),
    ]);
    assert.equal(audit.code, 0, audit.stdout + audit.stderr);

    // A sparse proxy serves every packument and tarball, verified.
    const proxy = await startProxy({
      host: "127.0.0.1",
      port: 0,
      dataDir: join(dir.path, "proxy"),
      origin: origin.url,
      verifier: origin.key.verifier,
      useMirrorList: false,
    });
    try {
      for (let i = 0; i < 12; i++) {
        const packument = (await (await fetch(new URL(`p${i}`, proxy.url))).json()) as {
          versions: Record<string, { dist: { tarball: string } }>;
        };
        const versions = Object.values(packument.versions);
        assert.equal(versions.length, (i < 6 ? 2 : 1) + 10);
        for (const v of versions) assert.equal((await fetch(v.dist.tarball)).status, 200);
      }
      // And real npm installs through it.
      const app = join(dir.path, "app");
      await mkdir(app);
      await writeFile(
        join(app, "package.json"),
        JSON.stringify({ name: "app", version: "1.0.0", dependencies: { p0: "^2.0.0", p7: "*" } }),
      );
      const npmrc = await writeNpmrc(app, proxy.url);
      const npm = await runNpm(["install", "--ignore-scripts"], app, npmrc, join(app, ".npm"));
      assert.equal(npm.code, 0, npm.stderr);
      assert.ok(await exists(join(app, "node_modules", "p7", "package.json")));
    } finally {
      await proxy.close();
    }

    // The stale reader finds its snapshot gone, refreshes once and reads the newest.
    const reader = new SnapshotReader(stale);
    const doc = await reader.document("npm", "p3");
    assert.equal(Object.keys(doc?.versions ?? {}).length, 12);
    assert.ok((stale.checkpoint?.size ?? 0) > (staleSize ?? 0));
  });

  test("a reader holding a retained older checkpoint still reads its snapshot", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    for (let i = 0; i < 4; i++) await origin.publish(`q${i}`, "1.0.0");
    const since = Date.now();
    await origin.publish("q0", "1.1.0");
    const held = await clientAt(origin, dir.path);
    const heldSize = held.checkpoint?.size;
    for (let i = 1; i < 4; i++) await origin.publish(`q${i}`, "1.1.0");

    const now = Date.now();
    const report = await collect(origin, { now: () => now, retainFor: now - since });
    assert.ok(report.freed.snapshot.files > 0, "the snapshots before it were collected");
    assert.ok(report.retained.includes(heldSize ?? -1));
    const doc = await new SnapshotReader(held).document("npm", "q1");
    assert.deepEqual(
      Object.keys(doc?.versions ?? {}),
      ["1.0.0"],
      "its own snapshot, not a newer one",
    );
    assert.equal(held.checkpoint?.size, heldSize, "no refresh was needed");
  });

  test("a blob an orphan names, published for real after the mark, survives the sweep", async () => {
    await using origin = await startTestOrigin();
    await origin.publish("base", "1.0.0");
    const tgz = rawTgz([packageJson("trap", "1.0.0")]);
    const tarball = sha256Hex(tgz);
    // What a refused publish leaves: the tarball stored, listed in the journal, long ago.
    await origin.registry.blobs.put(tgz);
    await recordOrphans(origin.dataDir, [tarball]);
    const path = join(origin.treeDir, "blob", "sha256", tarball);
    const old = new Date(Date.now() - 3 * 24 * 3600_000);
    await utimes(path, old, old);

    const report = await collect(origin, {
      orphanGrace: 24 * 3600_000,
      afterMark: () => publishTgz(origin, "trap", "1.0.0", tgz),
    });
    assert.equal(report.freed.orphan.files, 0);
    assert.ok(await exists(path), "the tarball is still there");
    const res = await fetch(new URL("trap/-/trap-1.0.0.tgz", origin.url));
    assert.equal(res.status, 200);
    assert.equal(sha256Hex(Buffer.from(await res.arrayBuffer())), tarball);
    await assertTreeSound(origin.treeDir, origin);
  });

  test("a refused publish's blobs are orphans: removed once older than the orphan grace", async () => {
    await using origin = await startTestOrigin();
    const a = rawTgz([packageJson("race", "1.0.0", { description: "a" })]);
    const b = rawTgz([packageJson("race", "1.0.0", { description: "b" })]);
    const results = await Promise.allSettled([
      publishTgz(origin, "race", "1.0.0", a),
      publishTgz(origin, "race", "1.0.0", b),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const [won, lost] = results[0].status === "fulfilled" ? [a, b] : [b, a];
    const blob = (tgz: Buffer) => join(origin.treeDir, "blob", "sha256", sha256Hex(tgz));
    // A young orphan stays through a run with the default orphan grace.
    const young = await collect(origin, { orphanGrace: 24 * 3600_000 });
    assert.equal(young.freed.orphan.files, 0);
    assert.ok(await exists(blob(lost)));
    // Once old enough it goes; the accepted tarball never does.
    const old = new Date(Date.now() - 25 * 3600_000);
    await utimes(blob(lost), old, old);
    const aged = await collect(origin, { orphanGrace: 24 * 3600_000 });
    assert.ok(aged.freed.orphan.files >= 1, JSON.stringify(aged.freed));
    assert.equal(await exists(blob(lost)), false);
    assert.ok(await exists(blob(won)));
    await assertTreeSound(origin.treeDir, origin);
  });

  test("a GC killed between mark and sweep leaves a tree that verifies; a rerun finishes", async () => {
    await using origin = await startTestOrigin();
    for (let i = 0; i < 8; i++) await origin.publish(`k${i}`, "1.0.0");
    const child = spawn(
      process.execPath,
      [join(PROJECT_ROOT, "test", "helpers", "gc-child.ts"), origin.dataDir],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const [marked] = (await once(child.stdout, "data")) as [Buffer];
    assert.equal(marked.toString(), "marked\n");
    child.kill("SIGKILL");
    await once(child, "exit");
    await assertTreeSound(origin.treeDir, origin);
    const rerun = await collect(origin);
    assert.ok(rerun.freed.snapshot.files > 0, JSON.stringify(rerun.freed));
    assert.equal(rerun.pending, 0);
    await assertTreeSound(origin.treeDir, origin);
  });

  test("GC in a loop while publishers and a mirror work loses no acknowledged blob", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    const mirror = await Mirror.open({
      from: origin.url,
      verifier: origin.key.verifier,
      dataDir: dir.path,
      durable: false,
    });
    const acknowledged: string[] = [];
    let publishing = true;
    const publishers = Promise.all(
      Array.from({ length: 8 }, async (_, p) => {
        for (let i = 0; i < 6; i++) {
          const tgz = rawTgz([packageJson(`w${p}`, `1.0.${i}`)]);
          await publishTgz(origin, `w${p}`, `1.0.${i}`, tgz);
          acknowledged.push(sha256Hex(tgz));
        }
      }),
    ).finally(() => {
      publishing = false;
    });
    let runs = 0;
    const gcLoop = (async () => {
      while (publishing) {
        await collect(origin);
        runs++;
      }
    })();
    const syncLoop = (async () => {
      while (publishing) await mirror.sync();
    })();
    await Promise.all([publishers, gcLoop, syncLoop]);
    await mirror.sync();
    mirror.close();
    assert.ok(runs > 0);
    for (const hex of acknowledged)
      assert.ok(await exists(join(origin.treeDir, "blob", "sha256", hex)), hex);
    await collect(origin);
    await assertTreeSound(origin.treeDir, origin);
    // A mirror holds only the snapshot each sync ended with; its own GC records that.
    await collectDataDir({ dataDir: dir.path, grace: 0, retainFor: 0 });
    await assertTreeSound(join(dir.path, "tree"), origin);
    const fresh = await clientAt(origin, join(dir.path, "client"));
    for (let p = 0; p < 8; p++) {
      const doc = await new SnapshotReader(fresh).document("npm", `w${p}`);
      assert.equal(Object.keys(doc?.versions ?? {}).length, 6);
    }
  });

  test("a mirror collects on its schedule, between syncs", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    for (let i = 0; i < 4; i++) await origin.publish(`s${i}`, "1.0.0");
    let collected!: (r: GcReport | Error) => void;
    const first = new Promise<GcReport | Error>((resolve) => {
      collected = resolve;
    });
    const running = await startMirror({
      from: origin.url,
      verifier: origin.key.verifier,
      dataDir: dir.path,
      durable: false,
      host: "127.0.0.1",
      port: 0,
      intervalMs: 0,
      gcIntervalMs: 1,
      onGc: (r) => collected(r),
    });
    try {
      await running.firstSync;
      for (let i = 0; i < 4; i++) await origin.publish(`s${i}`, "1.1.0");
      // Syncs asked for while collections run wait for them.
      await Promise.all([running.sync(), running.sync()]);
      const report = await first;
      assert.ok(!(report instanceof Error), String(report));
      await running.sync();
      assert.equal(running.mirror.checkpoint?.size, origin.registry.appender.size);
    } finally {
      await running.close();
    }
    await collectDataDir({ dataDir: dir.path, grace: 0, retainFor: 0 });
    await assertTreeSound(join(dir.path, "tree"), origin);
  });

  test("a dry run reports what a run would free and deletes nothing", async () => {
    await using origin = await startTestOrigin();
    for (let i = 0; i < 5; i++) await origin.publish(`d${i}`, "1.0.0");
    const blobs = async () => (await readdir(join(origin.treeDir, "blob", "sha256"))).sort();
    const before = await blobs();
    const args = ["gc", "--data", origin.dataDir, "--grace", "0", "--retain-for", "0", "--json"];
    const dry = await cairn([...args, "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    const planned = JSON.parse(dry.stdout);
    assert.equal(planned.dryRun, true);
    assert.ok(planned.freed.snapshot.files > 0);
    assert.deepEqual(await blobs(), before);
    const real = await cairn(args);
    assert.equal(real.code, 0, real.stderr);
    assert.deepEqual(JSON.parse(real.stdout).freed, planned.freed);
    assert.equal((await blobs()).length, before.length - planned.freed.snapshot.files);
  });

  test("cairn serve collects on its schedule and logs what it freed", async () => {
    const lines = new PassThrough();
    const collected = new Promise<{ gc: GcReport }>((resolve) => {
      let buffered = "";
      lines.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        for (const line of buffered.split("\n").slice(0, -1)) {
          const parsed = JSON.parse(line) as { msg?: string; gc: GcReport };
          if (parsed.msg === "garbage collected") resolve(parsed);
        }
        buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
      });
    });
    await using origin = await startTestOrigin({ settings: { gcInterval: 1, logStream: lines } });
    for (let i = 0; i < 3; i++) await origin.publish(`t${i}`, "1.0.0");
    const { gc } = await collected;
    assert.deepEqual(Object.keys(gc.freed).sort(), [
      "database",
      "orphan",
      "partial",
      "snapshot",
      "temporary",
    ]);
  });
});
