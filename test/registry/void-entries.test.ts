/**
 * A log that already holds an entry that cannot be applied (appended by an
 * older Cairn, which checked nothing): every replay stops at it with an
 * error naming its index and the way out, and with the index listed in
 * CAIRN_VOID_ENTRIES the origin, `cairn rebuild`, `cairn verify
 * --replay`, a mirror and the local index all replay it as void, the same way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import { loadOrCreateKey } from "../../src/origin/keys.ts";
import { Registry } from "../../src/origin/registry.ts";
import { EntryError, encodeEntry } from "../../src/registry/entries.ts";
import { VOID_ENTRIES_VARIABLE } from "../../src/registry/void-entries.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { startServe } from "../helpers/serve.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

const ORIGIN = "test.cairn.example/void";

/** A publish entry as an older Cairn appended it: canonical, signed, its dependencies 4,400 objects deep. */
function poisonedEntry(): Uint8Array {
  const hash = (c: string) => c.repeat(64);
  const deep = `${'{"a":'.repeat(4400)}"1.0.0"${"}".repeat(4400)}`;
  return new TextEncoder().encode(
    `{"actor":"alice","artifact":{"sha1":"${"b".repeat(40)}","sha256":"${hash("a")}","sha512":"${"A".repeat(86)}==","size":1},` +
      `"ecosystem":"npm","kind":"publish","manifest":{"sha256":"${hash("c")}","size":1},"name":"pkg",` +
      `"resolution":{"dependencies":${deep}},"tag":"latest","time":"2026-11-21T06:00:00.000Z","v":1,"version":"1.0.1"}`,
  );
}

async function request(version: string) {
  const tgz = rawTgz([packageJson("pkg", version)]);
  return {
    actor: "alice",
    ...(await parsePublish("pkg", publishBody({ name: "pkg", version }, tgz))),
  };
}

async function open(dataDir: string, rebuild = false) {
  const key = await loadOrCreateKey(join(dataDir, "key"), ORIGIN);
  return Registry.open({ dataDir, key, durable: false, rebuild });
}

afterEach(() => {
  delete process.env[VOID_ENTRIES_VARIABLE];
});

test("an entry that cannot be applied is named with the way out; listed as void, every replay goes on", async () => {
  await using dir = await tempDir();
  const data = join(dir.path, "data");
  const registry = await open(data);
  await publishNpm(registry, await request("1.0.0"));
  // As an old origin did: the entry and the snapshot entry closing its batch, appended unchecked.
  const closing = encodeEntry({
    v: 1,
    kind: "snapshot",
    time: "2026-11-21T06:00:00.000Z",
    size: 3,
    root: { sha256: "d".repeat(64), size: 64 },
    shards: 1,
    packages: 1,
  });
  await registry.appender.append([poisonedEntry(), closing]);
  await registry.close();
  const key = (await loadOrCreateKey(join(data, "key"), ORIGIN)).verifierKey;
  const verify = (env: NodeJS.ProcessEnv = {}) =>
    cairn(
      ["verify", join(data, "tree"), "--key", key, "--state", join(dir.path, "home"), "--replay"],
      { env },
    );

  await assert.rejects(
    open(data),
    (err) =>
      err instanceof EntryError &&
      err.code === "cannot-apply" &&
      err.index === 2 &&
      err.message.includes(`${VOID_ENTRIES_VARIABLE}=2`),
  );
  const rebuild = await cairn(["rebuild", "--data", data]);
  assert.notEqual(rebuild.code, 0);
  assert.match(
    rebuild.stderr,
    /log entry 2 cannot be applied: .*dependencies.*CAIRN_VOID_ENTRIES=2/,
  );
  const refused = await verify();
  assert.equal(refused.code, 1);
  assert.match(refused.stdout + refused.stderr, /log entry 2 cannot be applied/);

  process.env[VOID_ENTRIES_VARIABLE] = "2";
  const recovered = await open(data);
  // Entry 3 (the unchecked snapshot) is followed at once by one that describes the state.
  assert.equal(recovered.appender.size, 5);
  assert.equal(recovered.state.snapshot?.index, 4);
  assert.deepEqual(
    recovered.state
      .table("npm")
      .versions("pkg")
      .map((v) => v.version),
    ["1.0.0"],
  );
  await publishNpm(recovered, await request("1.0.2"));
  await recovered.close();
  const env = { [VOID_ENTRIES_VARIABLE]: "2" };
  const rebuilt = await cairn(["rebuild", "--data", data], { env });
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  const verified = await verify(env);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /every snapshot entry matches/);

  // The copies: a mirror and the local index replay the origin's log the same way.
  // No SQLite snapshot: the local index replays the log from its first entry.
  const server = await startServe(["--data", data, "--database-interval", "0"]);
  try {
    const copy = (what: "mirror" | "sync", env: NodeJS.ProcessEnv) =>
      what === "mirror"
        ? cairn(
            [
              "mirror",
              "--once",
              "--from",
              server.url,
              "--key",
              key,
              "--data",
              join(dir.path, "mirror"),
            ],
            { env },
          )
        : cairn(
            [
              "sync",
              "--origin",
              server.url,
              "--key",
              key,
              "--index",
              join(dir.path, "index.sqlite"),
            ],
            {
              env: { CAIRN_HOME: join(dir.path, "home"), ...env },
            },
          );
    for (const what of ["mirror", "sync"] as const) {
      const stopped = await copy(what, { [VOID_ENTRIES_VARIABLE]: "" });
      assert.notEqual(stopped.code, 0, what);
      assert.match(stopped.stderr, /log entry 2 cannot be applied/, what);
      const went = await copy(what, env);
      assert.equal(went.code, 0, `${what}: ${went.stderr}`);
    }
  } finally {
    await server.stop();
  }

  // Only an entry that cannot be applied may be void.
  process.env[VOID_ENTRIES_VARIABLE] = "0,2";
  await assert.rejects(
    open(data, true),
    (err) => err instanceof EntryError && err.code === "cannot-apply" && err.index === 0,
  );
});
