import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { DirectorySource, parseVerifierKey, verifyLog } from "../../src/log/index.ts";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import { inspectTarball } from "../../src/npm/tarball.ts";
import { loadOrCreateKey } from "../../src/origin/keys.ts";
import { Registry, RegistryError } from "../../src/origin/registry.ts";
import { boundArtifact } from "../../src/registry/blob-check.ts";
import { EntryError } from "../../src/registry/entries.ts";
import { corpusTarball } from "../helpers/corpus.ts";
import { cratePublish } from "../helpers/crate-entries.ts";
import { tempDir } from "../helpers/log.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

async function openRegistry(dataDir: string) {
  const key = await loadOrCreateKey(join(dataDir, "key"), "test.example/registry");
  return { key, registry: await Registry.open({ dataDir, key, durable: false }) };
}

async function request(
  actor: string,
  name: string,
  version: string,
  extra: Record<string, unknown> = {},
) {
  const tgz = rawTgz([packageJson(name, version, extra)]);
  return { actor, ...(await parsePublish(name, publishBody({ name, version, ...extra }, tgz))) };
}

const code = (c: string) => (e: unknown) => e instanceof RegistryError && e.code === c;

describe("origin registry (no HTTP)", () => {
  test("a real package publishes into the log, the blob store and the state", async () => {
    await using dir = await tempDir();
    const { key, registry } = await openRegistry(dir.path);
    const tgz = readFileSync(await corpusTarball("accepts-1.3.8.tgz"));
    const manifest = (await inspectTarball(tgz)).manifest as { name: string; version: string };
    const result = await publishNpm(registry, {
      actor: "alice",
      ...(await parsePublish("accepts", publishBody(manifest, tgz))),
    });
    assert.equal(result.index, 0);
    const [row] = registry.state.table("npm").versions("accepts");
    assert.deepEqual(row.entry.resolution.dependencies, {
      "mime-types": "~2.1.34",
      negotiator: "0.6.3",
    });
    assert.ok(await registry.blobs.get(boundArtifact(row.entry).sha256));
    assert.deepEqual(registry.state.table("npm").distTags("accepts"), { latest: "1.3.8" });
    assert.deepEqual(registry.state.table("npm").owners("accepts"), ["alice"]);
    await registry.close();
    await verifyLog(new DirectorySource(join(dir.path, "tree")), [
      parseVerifierKey(key.verifierKey),
    ]);
  });

  test("50 concurrent versions all land; the same version twice: one wins; strangers are refused", async () => {
    await using dir = await tempDir();
    const { registry } = await openRegistry(dir.path);
    await publishNpm(registry, await request("alice", "pkg", "0.0.1"));
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, async (_, i) =>
        publishNpm(registry, await request("alice", "pkg", `1.0.${i}`)),
      ),
    );
    assert.ok(results.every((r) => r.status === "fulfilled"));
    assert.equal(registry.state.table("npm").versions("pkg").length, 51);
    const twice = await Promise.allSettled([
      publishNpm(registry, await request("alice", "pkg", "2.0.0")),
      publishNpm(registry, await request("alice", "pkg", "2.0.0")),
    ]);
    assert.deepEqual(twice.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    await assert.rejects(
      publishNpm(registry, await request("alice", "pkg", "2.0.0")),
      code("conflict"),
    );
    await assert.rejects(
      publishNpm(registry, await request("mallory", "pkg", "3.0.0")),
      code("forbidden"),
    );
    // Two users racing for a new name: whoever reaches the sequencer first owns it.
    const race = await Promise.allSettled([
      publishNpm(registry, await request("alice", "fresh", "1.0.0")),
      publishNpm(registry, await request("bob", "fresh", "1.0.1")),
    ]);
    assert.deepEqual(race.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const winner = race[0].status === "fulfilled" ? "alice" : "bob";
    assert.deepEqual(registry.state.table("npm").owners("fresh"), [winner]);
    // 53 entries and one snapshot entry per batch, which ends the log.
    assert.equal(registry.state.logSize, registry.appender.size);
    assert.equal(registry.state.snapshot?.index, registry.appender.size - 1);
    assert.ok(registry.appender.size > 53);
    await registry.close();
  });

  test("owner changes in one request or batch are checked in order", async () => {
    await using dir = await tempDir();
    const { registry } = await openRegistry(dir.path);
    await publishNpm(registry, await request("alice", "pkg", "1.0.0"));
    // Handing the package over: bob is an owner by the time alice leaves.
    await registry.change("alice", "npm", "pkg", [
      { kind: "owner", user: "bob", action: "add" },
      { kind: "owner", user: "alice", action: "rm" },
    ]);
    assert.deepEqual(registry.state.table("npm").owners("pkg"), ["bob"]);
    // Two adds of one user in one batch: the second sees the first.
    const twice = await Promise.allSettled([
      registry.change("bob", "npm", "pkg", [{ kind: "owner", user: "carol", action: "add" }]),
      registry.change("bob", "npm", "pkg", [{ kind: "owner", user: "carol", action: "add" }]),
    ]);
    assert.deepEqual(twice.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    assert.ok(twice.some((r) => r.status === "rejected" && code("conflict")(r.reason)));
    await assert.rejects(
      registry.change("bob", "npm", "pkg", [
        { kind: "owner", user: "bob", action: "rm" },
        { kind: "owner", user: "carol", action: "rm" },
      ]),
      code("invalid"),
    );
    assert.deepEqual(registry.state.table("npm").owners("pkg"), ["bob", "carol"]);
    await registry.close();
  });

  test("a lost database is rebuilt from the log alone, identically", async () => {
    await using dir = await tempDir();
    const first = await openRegistry(dir.path);
    for (let i = 0; i < 300; i++)
      await publishNpm(
        first.registry,
        await request("alice", `p${i % 7}`, `1.0.${i}`, { dependencies: { x: "^1" } }),
      );
    const before = ["p0", "p3", "p6"].map((n) => [
      first.registry.state.table("npm").versions(n),
      first.registry.state.table("npm").distTags(n),
    ]);
    await first.registry.close();
    for (const f of ["state.sqlite", "state.sqlite-wal", "state.sqlite-shm"])
      await rm(join(dir.path, f), { force: true });
    const second = await openRegistry(dir.path);
    const after = ["p0", "p3", "p6"].map((n) => [
      second.registry.state.table("npm").versions(n),
      second.registry.state.table("npm").distTags(n),
    ]);
    assert.deepEqual(after, before);
    // One publish per batch, each followed by its snapshot entry.
    assert.equal(second.registry.state.logSize, 600);
    await second.registry.close();
  });

  test("a malformed resolution field is refused with a code naming it, before anything is stored", async () => {
    await using dir = await tempDir();
    const { registry } = await openRegistry(dir.path);
    await publishNpm(registry, await request("alice", "pkg", "1.0.0"));
    const size = registry.appender.size;
    const blobs = await readdir(join(dir.path, "tree", "blob", "sha256"));
    let deep: unknown = "1.0.0";
    for (let i = 0; i < 4400; i++) deep = { a: deep };
    const refusals: [Record<string, unknown>, string][] = [
      [{ dependencies: deep }, "dependencies.a"],
      [{ engines: [">=0.4"] }, "engines"],
      [{ peerDependenciesMeta: { x: { optional: "yes" } } }, "peerDependenciesMeta.x"],
      [{ os: "x".repeat(65) }, "os"],
    ];
    for (const [fields, field] of refusals) {
      const req = await request("alice", "pkg", "1.0.1");
      await assert.rejects(
        publishNpm(registry, { ...req, manifest: { ...req.manifest, ...fields } }),
        (err) =>
          err instanceof EntryError &&
          err.code === "bad-field" &&
          err.message.includes(`field ${field} `),
      );
    }
    const req = await request("alice", "pkg", "1.0.1");
    await assert.rejects(
      publishNpm(registry, { ...req, manifest: { ...req.manifest, config: deep } }),
      code("invalid"),
    );
    assert.equal(registry.appender.size, size);
    assert.deepEqual(await readdir(join(dir.path, "tree", "blob", "sha256")), blobs);
    await publishNpm(registry, await request("alice", "pkg", "1.0.1"));
    await registry.close();
  });

  test("one batch: a crate and the same name spelled otherwise collide, as across batches", async () => {
    await using dir = await tempDir();
    const { registry } = await openRegistry(dir.path);
    // Submitted in one tick, so checked against each other in one batch, not against the state.
    const [first, stranger, again] = await Promise.allSettled([
      registry.submit(cratePublish("Foo-Bar", "1.0.0", { resolution: { deps: [], features: {} } })),
      registry.submit(
        cratePublish("foo_bar", "2.0.0", { actor: "bob", resolution: { deps: [], features: {} } }),
      ),
      registry.submit(cratePublish("FOO_BAR", "1.0.0", { resolution: { deps: [], features: {} } })),
    ]);
    assert.equal(first.status, "fulfilled");
    assert.ok(stranger.status === "rejected" && code("forbidden")(stranger.reason));
    assert.ok(again.status === "rejected" && code("conflict")(again.reason));
    const table = registry.state.table("cargo");
    assert.deepEqual(
      table.versions("foo_bar").map((row) => row.version),
      ["1.0.0"],
    );
    assert.deepEqual(table.owners("foo_bar"), ["alice"]);
    await registry.close();
  });
});
