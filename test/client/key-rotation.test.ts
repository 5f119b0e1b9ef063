/**
 * Origin key rotation end to end: a real origin on loopback, rotated by the
 * real `cairn key` command (or the function it calls) while it is stopped,
 * and clients, a mirror and a proxy that pinned an earlier key.
 */
import assert from "node:assert/strict";
import { cp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { auditTree } from "../../src/client/audit.ts";
import { NoSourceError, SourceError } from "../../src/client/errors.ts";
import { LogClient } from "../../src/client/log-client.ts";
import {
  Appender,
  DirectorySource,
  FsLogStorage,
  generateKey,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from "../../src/log/index.ts";
import { signKeyRotation } from "../../src/log/key-rotation.ts";
import { startMirror } from "../../src/mirror/server.ts";
import { type RunningOrigin, startOrigin } from "../../src/npm/origin-server.ts";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import { loadOriginKey, rotateKey } from "../../src/origin/key-rotation.ts";
import { Registry } from "../../src/origin/registry.ts";
import { startProxy } from "../../src/proxy/server.ts";
import { type Entry, encodeEntry } from "../../src/registry/entries.ts";
import { parseKeysFile } from "../../src/registry/key-chain-log.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { testOriginConfig } from "../helpers/origin.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

function start(dataDir: string, port = 0): Promise<RunningOrigin> {
  return startOrigin(testOriginConfig(dataDir, { port }));
}

async function publish(origin: RunningOrigin, name: string, version: string): Promise<void> {
  const tgz = rawTgz([packageJson(name, version, {})]);
  await publishNpm(origin.registry, {
    actor: "alice",
    ...(await parsePublish(name, publishBody({ name, version }, tgz))),
  });
}

function client(origin: string, pinned: string, stateDir: string): Promise<LogClient> {
  return LogClient.open({
    origin,
    verifier: parseVerifierKey(pinned),
    stateDir,
    useMirrorList: false,
  });
}

function keyString(c: LogClient): string {
  return (c.currentVerifier as unknown as { verifierKey: string }).verifierKey;
}

/** The errors of a refused refresh, source by source. */
async function refusal(promise: Promise<unknown>): Promise<SourceError[]> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof NoSourceError) return [...err.errors];
    if (err instanceof SourceError) return [err];
    throw err;
  }
  return assert.fail("it was accepted");
}

/** `cairn key rotate` on a stopped origin's data directory; returns the new verifier key. */
async function rotateWithCli(dataDir: string, ...args: string[]): Promise<string> {
  const run = await cairn(["key", "rotate", "--data", dataDir, ...args]);
  assert.equal(run.code, 0, run.stderr);
  const key = /verifier key: (\S+)/.exec(run.stdout)?.[1];
  assert.ok(key, run.stdout);
  return key;
}

const signedBy = (note: Uint8Array) =>
  parseNote(note).signatures.map((s) => s.keyId.toString(16).padStart(8, "0"));
const idOf = (vkey: string) => vkey.split("+")[1];

describe("origin key rotation", () => {
  test("a client offline through two rotations follows the chain to the newest key", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    let origin = await start(data);
    const k0 = origin.key.verifierKey;
    await publish(origin, "a", "1.0.0");
    const offline = await client(origin.url, k0, join(dir.path, "offline"));
    await offline.refresh();
    await origin.close();

    const k1 = await rotateWithCli(data, "--window", "0");
    for (const file of ["key", "key.retiring"])
      assert.equal((await stat(join(data, file))).mode & 0o777, 0o600, file);
    const printed = await cairn(["key", "--data", data]);
    assert.equal(printed.stdout, `${k1}\n`);
    origin = await start(data);
    assert.equal(origin.key.verifierKey, k1);
    await publish(origin, "a", "1.0.1");
    await origin.close();
    const k2 = await rotateWithCli(data, "--window", "0");
    origin = await start(data);
    try {
      await publish(origin, "a", "1.0.2");
      // After a window of 0 the checkpoint bears the newest key alone.
      assert.deepEqual(signedBy(origin.registry.appender.checkpoint), [idOf(k2)]);

      const back = await client(origin.url, k0, join(dir.path, "offline"));
      const head = await back.refresh();
      assert.equal(head.size, origin.registry.appender.size);
      assert.equal(keyString(back), k2);
      const served = await readFile(join(data, "tree", "keys"));
      assert.deepEqual(Buffer.from(back.keysFile as Uint8Array), served);
      assert.deepEqual(
        parseKeysFile(served).map((line) => line.entry.sequence),
        [1, 2],
      );
      // What it followed is remembered beside the checkpoint.
      const reopened = await client(origin.url, k0, join(dir.path, "offline"));
      assert.equal(reopened.checkpoint?.size, head.size);
      assert.equal(keyString(reopened), k2);
      // A client pinning K0 with nothing stored follows too; one pinning K2 needs nothing.
      for (const [pinned, state] of [
        [k0, "fresh-k0"],
        [k2, "fresh-k2"],
      ]) {
        const c = await client(origin.url, pinned, join(dir.path, state));
        await c.refresh();
        assert.equal(keyString(c), k2);
      }
    } finally {
      await origin.close();
    }

    // The log alone proves the chain: a rebuild replays it, and `cairn log verify` checks it.
    const rebuild = await cairn(["rebuild", "--data", data]);
    assert.equal(rebuild.code, 0, rebuild.stderr);
    const verify = await cairn(["log", "verify", join(data, "tree"), "--key", k0]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /key chain: 2 rotations/);
    const audit = await cairn(["verify", join(data, "tree"), "--key", k0], {
      env: { CAIRN_HOME: join(dir.path, "home") },
    });
    assert.equal(audit.code, 0, audit.stderr + audit.stdout);
  });

  test("a key.next that signed nothing yet survives another process loading the key while the log is locked", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    const origin = await start(data);
    const k0 = origin.key.verifierKey;
    await publish(origin, "a", "1.0.0");
    await origin.close();
    // What `cairn key rotate` holds while it waits for its append: the log's lock, and key.next.
    const registry = await Registry.open({
      dataDir: data,
      key: await loadOriginKey(data),
      durable: false,
    });
    const next = generateKey(origin.key.origin);
    const pending = `${next.signerKey}\nold-until 2030-01-01T00:00:00.000Z\n`;
    try {
      await writeFile(join(data, "key.next"), pending);
      // `cairn key`, an admin command or `cairn serve` starting meanwhile.
      assert.equal((await loadOriginKey(data)).verifierKey, k0);
      assert.equal(await readFile(join(data, "key.next"), "utf8"), pending);
    } finally {
      await registry.close();
    }
    // Left by a rotation that crashed before its append: the next rotation drops it under the lock.
    const { verifierKey } = await rotateKey({ dataDir: data, durable: false, windowMs: 0 });
    assert.notEqual(verifierKey, next.verifierKey);
    assert.equal((await loadOriginKey(data)).verifierKey, verifierKey);
    await assert.rejects(stat(join(data, "key.next")), { code: "ENOENT" });
  });

  test("a client that pins the current key learns the root set at its first refresh: a thief of that key cannot rotate it", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    let origin = await start(data);
    await publish(origin, "a", "1.0.0");
    await origin.close();
    const alice = generateKey("alice.example/root");
    const bob = generateKey("bob.example/root");
    await rotateKey({
      dataDir: data,
      durable: false,
      windowMs: 0,
      roots: { threshold: 2, keys: [alice.verifierKey, bob.verifierKey] },
    });
    origin = await start(data);
    const k1 = origin.key.verifierKey;
    const name = origin.key.origin;
    await publish(origin, "a", "1.0.1");
    const state = join(dir.path, "client");
    await (await client(origin.url, k1, state)).refresh();
    await origin.close();

    // The thief of K1 extends the log with its own rotation 1 (K1 -> KA, signed by K1 and KA) under KA.
    const forged = join(dir.path, "forged");
    await cp(join(data, "tree"), forged, { recursive: true });
    const k1Signer = parseSignerKey((await readFile(join(data, "key"), "utf8")).trim());
    const ka = generateKey(name);
    const kaSigner = parseSignerKey(ka.signerKey);
    const note = signKeyRotation(
      {
        origin: name,
        sequence: 1,
        old: k1,
        new: ka.verifierKey,
        oldUntil: "2026-01-01T00:00:00.000Z",
      },
      [k1Signer, kaSigner],
    );
    const storage = await FsLogStorage.open(forged, { durable: false });
    const appender = await Appender.open(storage, {
      origin: name,
      signer: kaSigner,
      verifier: parseVerifierKey(k1),
    });
    const size = appender.size;
    const entry = encodeEntry({
      v: 1,
      kind: "key",
      time: "2026-01-01T00:00:00.000Z",
      size,
      sequence: 1,
      note,
    } as unknown as Entry);
    await appender.append([entry]);
    await storage.close();
    await writeFile(join(forged, "keys"), `${size} ${new TextDecoder().decode(entry)}\n`);
    await using thief = await startMaliciousMirror({ treeDir: forged });
    const refused = await refusal((await client(thief.url, k1, state)).refresh());
    assert.deepEqual(
      refused.map((e) => e.code),
      ["key-chain"],
    );
  });

  test("an old key signs no checkpoint larger than the one stored, even with the chain remembered before it (a crash)", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    let origin = await start(data);
    const k0 = origin.key.verifierKey;
    await publish(origin, "a", "1.0.0");
    const state = join(dir.path, "client");
    await (await client(origin.url, k0, state)).refresh();
    await publish(origin, "b", "1.0.0");
    await origin.close();
    // A tree larger than the client's, below the rotation's entry, signed by K0 alone.
    const old = join(dir.path, "old");
    await cp(join(data, "tree"), old, { recursive: true });
    await rotateKey({ dataDir: data, durable: false, windowMs: 0 });
    origin = await start(data);
    await publish(origin, "c", "1.0.0");
    // A crash after the chain was remembered, before the checkpoint that proved it was stored.
    const crashed = join(dir.path, "crashed");
    await cp(state, crashed, { recursive: true });
    await (await client(origin.url, k0, state)).refresh();
    await origin.close();
    const checkpoints = join(state, "checkpoints");
    const keys = (await readdir(checkpoints)).find((name) => name.includes(".keys."));
    assert.ok(keys);
    await cp(join(checkpoints, keys), join(crashed, "checkpoints", keys));
    // After the window, what a thief of K0 could sign: refused, though it is below the rotation.
    await using thief = await startMaliciousMirror({ treeDir: old });
    const refused = await refusal((await client(thief.url, k0, crashed)).refresh());
    assert.deepEqual(
      refused.map((e) => e.code),
      ["signature"],
    );
  });

  test("a mirror ahead of the client across a rotation is healthy: its chain is followed to check it", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    let origin = await start(data);
    const k0 = origin.key.verifierKey;
    await publish(origin, "a", "1.0.0");
    await origin.close();
    const behind = join(dir.path, "behind");
    await cp(join(data, "tree"), behind, { recursive: true });
    await rotateKey({ dataDir: data, durable: false, windowMs: 0 });
    origin = await start(data);
    await publish(origin, "a", "1.0.1");
    await origin.close();
    await using before = await startMaliciousMirror({ treeDir: behind });
    await using ahead = await startMaliciousMirror({ treeDir: join(data, "tree") });
    const c = await LogClient.open({
      origin: before.url,
      verifier: parseVerifierKey(k0),
      stateDir: join(dir.path, "client"),
      useMirrorList: false,
      mirrors: [ahead.url],
    });
    await c.refresh();
    const [health] = c.lastHealth;
    assert.equal(health.error?.code, undefined, health.error?.message);
    assert.ok((health.size ?? 0) > (c.checkpoint?.size ?? 0));
  });

  test("two clients sharing a state directory, one a rotation behind the other, keep one chain that verifies", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    let origin = await start(data);
    const k0 = origin.key.verifierKey;
    await publish(origin, "a", "1.0.0");
    const state = join(dir.path, "shared");
    await (await client(origin.url, k0, state)).refresh();
    await origin.close();
    const afterOne: Uint8Array[] = [];
    for (const [i, version] of ["1.0.1", "1.0.2"].entries()) {
      await rotateKey({ dataDir: data, durable: false, windowMs: 0 });
      origin = await start(data);
      await publish(origin, "a", version);
      await origin.close();
      if (i === 0)
        for (const file of ["checkpoint", "keys"])
          afterOne.push(await readFile(join(data, "tree", file)));
    }
    // A copy whose checkpoint and keys are from after rotation 1 (its tiles reach further).
    const behind = join(dir.path, "one");
    await cp(join(data, "tree"), behind, { recursive: true });
    await writeFile(join(behind, "checkpoint"), afterOne[0]);
    await writeFile(join(behind, "keys"), afterOne[1]);
    await using one = await startMaliciousMirror({ treeDir: behind });
    await using two = await startMaliciousMirror({ treeDir: join(data, "tree") });
    // `cairn sync` and `cairn verify` under one $CAIRN_HOME, each opened before the other refreshed.
    const a = await client(one.url, k0, state);
    const b = await client(two.url, k0, state);
    const k2 = await b.refresh().then(() => keyString(b));
    await a.refresh();
    assert.equal(a.checkpoint?.size, b.checkpoint?.size);
    const later = await client(two.url, k0, state);
    assert.equal(keyString(later), k2);
    assert.equal(later.checkpoint?.size, b.checkpoint?.size);
  });

  test("an audit that follows a rotation reports the new key's line as the log's, not as an unknown cosigner", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    let origin = await start(data);
    const k0 = origin.key.verifierKey;
    await publish(origin, "a", "1.0.0");
    await origin.close();
    await rotateKey({ dataDir: data, durable: false, windowMs: 0 });
    origin = await start(data);
    await publish(origin, "a", "1.0.1");
    await origin.close();
    const result = await auditTree(new DirectorySource(join(data, "tree")), parseVerifierKey(k0), {
      stateDir: join(dir.path, "audit"),
    });
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.cosignatures, []);
  });

  test("a chain with a step missing, or two notes for one step, is refused with key-chain", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    let origin = await start(data);
    const k0 = origin.key.verifierKey;
    const k0Signer = parseSignerKey((await readFile(join(data, "key"), "utf8")).trim());
    await publish(origin, "a", "1.0.0");
    await origin.close();
    await rotateKey({ dataDir: data, durable: false, windowMs: 0 });
    await rotateKey({ dataDir: data, durable: false, windowMs: 0 });
    origin = await start(data);
    await publish(origin, "a", "1.0.1");
    await origin.close();
    const tree = join(data, "tree");
    const keysText = await readFile(join(tree, "keys"), "utf8");
    const [line1, line2] = keysText.split("\n");

    const serving = async (name: string, keys: string) => {
      const copy = join(dir.path, name);
      await cp(tree, copy, { recursive: true });
      await writeFile(join(copy, "keys"), keys);
      return startMaliciousMirror({ treeDir: copy });
    };
    // The honest copy is followed: the test can tell a refusal from a broken setup.
    await using honest = await serving("honest", keysText);
    await (await client(honest.url, k0, join(dir.path, "s0"))).refresh();

    // Rotation 1 left out: rotation 2 does not follow from K0.
    await using gap = await serving("gap", `${line2}\n`);
    const missing = await refusal((await client(gap.url, k0, join(dir.path, "s1"))).refresh());
    assert.deepEqual(
      missing.map((e) => e.code),
      ["key-chain"],
    );

    // A rival rotation 1 (K0 -> Kx, signed by K0 and Kx: what a thief of K0 can make).
    const rival = generateKey(origin.key.origin);
    const rivalNote = signKeyRotation(
      {
        origin: origin.key.origin,
        sequence: 1,
        old: k0,
        new: rival.verifierKey,
        oldUntil: "2026-01-01T00:00:00.000Z",
      },
      [k0Signer, parseSignerKey(rival.signerKey)],
    );
    const first = parseKeysFile(new TextEncoder().encode(`${line1}\n`))[0];
    const rivalLine = new TextDecoder().decode(encodeEntry({ ...first.entry, note: rivalNote }));
    await using competing = await serving(
      "competing",
      `${line1}\n${first.index + 1} ${rivalLine}\n${line2}\n`,
    );
    const both = await refusal((await client(competing.url, k0, join(dir.path, "s2"))).refresh());
    assert.deepEqual(
      both.map((e) => e.code),
      ["key-chain"],
    );
    const honestNew = parseKeysFile(new TextEncoder().encode(`${line1}\n`))[0].entry.note;
    assert.ok(both[0].message.includes(honestNew.split("\n")[4]), "names the honest note");
    assert.ok(both[0].message.includes(`new ${rival.verifierKey}`), "names the rival note");

    // Read just after the origin appended rotation 3: its line is past the checkpoint, not yet part of the chain.
    const k2 = await readFile(join(data, "key"), "utf8");
    const before = join(dir.path, "before");
    await cp(tree, before, { recursive: true });
    await rotateKey({ dataDir: data, durable: false, windowMs: 0 });
    await writeFile(join(before, "keys"), await readFile(join(tree, "keys")));
    await using ahead = await startMaliciousMirror({ treeDir: before });
    const behind = await client(ahead.url, k0, join(dir.path, "s3"));
    await behind.refresh();
    assert.equal(keyString(behind), parseSignerKey(k2.trim()).verifierKey);
  });

  test("during the window old and new clients verify; after it a checkpoint by the old key alone is refused", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    let origin = await start(data);
    const k0 = origin.key.verifierKey;
    await publish(origin, "a", "1.0.0");
    await (await client(origin.url, k0, join(dir.path, "old"))).refresh();
    await origin.close();
    const { verifierKey: k1 } = await rotateKey({
      dataDir: data,
      durable: false,
      windowMs: 3600_000,
    });
    origin = await start(data);
    try {
      await publish(origin, "a", "1.0.1");
      assert.deepEqual(signedBy(origin.registry.appender.checkpoint), [idOf(k1), idOf(k0)]);
      const old = await client(origin.url, k0, join(dir.path, "old"));
      assert.equal((await old.refresh()).size, origin.registry.appender.size);
      assert.equal(keyString(old), k0, "an old client needs nothing new in the window");
      // A client pinning K0 now learns the chain with its first checkpoint.
      const first = await client(origin.url, k0, join(dir.path, "first"));
      assert.equal((await first.refresh()).size, origin.registry.appender.size);
      assert.equal(keyString(first), k1);
      const recent = await client(origin.url, k1, join(dir.path, "new"));
      assert.equal((await recent.refresh()).size, origin.registry.appender.size);
      // `cairn log show` with the old key follows the chain: the new key's line is the log's, verified.
      const show = await cairn(["log", "show", join(data, "tree"), "--key", k0]);
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, new RegExp(`^signed by +\\S+\\+${idOf(k1)} +verified$`, "m"));
      assert.doesNotMatch(show.stdout, /unknown key/);
    } finally {
      await origin.close();
    }

    // Rotation 2 with no window: K1 is retired at once.
    const { verifierKey: k2 } = await rotateKey({ dataDir: data, durable: false, windowMs: 0 });
    origin = await start(data);
    await publish(origin, "a", "1.0.2");
    const checkpoint = origin.registry.appender.checkpoint;
    await origin.close();
    const k1Signer = parseSignerKey(
      (await readFile(join(data, "key.retiring"), "utf8")).split("\n")[0],
    );
    const k2Signer = parseSignerKey((await readFile(join(data, "key"), "utf8")).trim());
    const { text } = parseNote(checkpoint);
    const byOld = new TextEncoder().encode(signNote(text, [k1Signer]));
    const byNew = new TextEncoder().encode(signNote(text, [k2Signer]));
    await using mirror = await startMaliciousMirror({
      treeDir: join(data, "tree"),
      attack: "rollback",
      oldCheckpoint: byNew,
    });
    const knowing = await client(mirror.url, k0, join(dir.path, "old"));
    await knowing.refresh();
    assert.equal(keyString(knowing), k2);
    const pinnedK1 = await client(mirror.url, k1, join(dir.path, "k1"));
    await pinnedK1.refresh();

    await using forger = await startMaliciousMirror({
      treeDir: join(data, "tree"),
      attack: "rollback",
      oldCheckpoint: byOld,
    });
    for (const c of [
      await client(forger.url, k0, join(dir.path, "old")),
      await client(forger.url, k1, join(dir.path, "k1")),
    ]) {
      const refused = await refusal(c.refresh());
      assert.deepEqual(
        refused.map((e) => e.code),
        ["signature"],
      );
    }
  });

  test("a root set of 2 keys: the online key alone, or one root key twice, cannot rotate", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    let origin = await start(data);
    const k0 = origin.key.verifierKey;
    await publish(origin, "a", "1.0.0");
    await origin.close();
    const alice = generateKey("alice.example/root");
    const bob = generateKey("bob.example/root");
    await writeFile(join(dir.path, "alice"), `${alice.signerKey}\n`);
    await writeFile(join(dir.path, "bob"), `${bob.signerKey}\n`);

    const roots = await cairn([
      "key",
      "roots",
      "--threshold",
      "2",
      alice.verifierKey,
      bob.verifierKey,
      "--data",
      data,
    ]);
    assert.equal(roots.code, 0, roots.stderr);
    for (const extra of [
      [],
      ["--root-key", join(dir.path, "alice")],
      ["--root-key", join(dir.path, "alice"), "--root-key", join(dir.path, "alice")],
    ]) {
      const refused = await cairn(["key", "rotate", "--data", data, ...extra]);
      assert.notEqual(refused.code, 0, `rotated with ${extra.join(" ")}`);
      assert.match(refused.stderr, /needs 2 of the root keys/);
    }
    const k1 = await rotateWithCli(
      data,
      "--window",
      "0",
      "--root-key",
      join(dir.path, "alice"),
      "--root-key",
      join(dir.path, "bob"),
    );
    origin = await start(data);
    try {
      await publish(origin, "a", "1.0.1");
      const c = await client(origin.url, k0, join(dir.path, "c"));
      await c.refresh();
      assert.equal(keyString(c), k1);
      assert.equal(parseKeysFile(c.keysFile as Uint8Array).length, 2);
    } finally {
      await origin.close();
    }
  });

  test("a key entry that does not follow the chain is refused on append and on replay", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    const origin = await start(data);
    const k0 = origin.key.verifierKey;
    await publish(origin, "a", "1.0.0");
    // Signed by a key of the right name that is not the trusted one, and by the new key.
    const thief = generateKey(origin.key.origin);
    const next = generateKey(origin.key.origin);
    const note = signKeyRotation(
      {
        origin: origin.key.origin,
        sequence: 1,
        old: k0,
        new: next.verifierKey,
        oldUntil: "2026-01-01T00:00:00.000Z",
      },
      [parseSignerKey(thief.signerKey), parseSignerKey(next.signerKey)],
    );
    const size = origin.registry.appender.size;
    await assert.rejects(origin.registry.appendKeyEntry(1, note), { code: "cannot-apply" });
    assert.equal(origin.registry.appender.size, size);
    const key = origin.key;
    await origin.close();

    // Written past the checks, straight into the log: the log alone shows it is no rotation.
    const storage = await FsLogStorage.open(join(data, "tree"), { durable: false });
    const appender = await Appender.open(storage, key);
    const entry = { v: 1, kind: "key", time: "2026-01-01T00:00:00.000Z", size, sequence: 1, note };
    await appender.append([encodeEntry(entry as Entry)]);
    await storage.close();
    const rebuild = await cairn(["rebuild", "--data", data]);
    assert.notEqual(rebuild.code, 0);
    assert.match(rebuild.stderr, /key entry/);
    const verify = await cairn(["log", "verify", join(data, "tree"), "--key", k0]);
    assert.notEqual(verify.code, 0);
    assert.match(verify.stderr, /root keys/);
  });

  test("a mirror and a proxy that pinned the old key follow the rotation", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    let origin = await start(data);
    const port = Number(new URL(origin.url).port);
    const k0 = origin.key.verifierKey;
    await publish(origin, "a", "1.0.0");
    const mirror = await startMirror({
      from: origin.url,
      verifier: origin.key.verifier,
      dataDir: join(dir.path, "mirror"),
      durable: false,
      host: "127.0.0.1",
      port: 0,
      intervalMs: 0,
    });
    const proxy = await startProxy({
      host: "127.0.0.1",
      port: 0,
      dataDir: join(dir.path, "proxy"),
      origin: origin.url,
      verifier: origin.key.verifier,
      useMirrorList: false,
      refreshMs: 0,
    });
    try {
      await mirror.firstSync;
      await origin.close();
      const { verifierKey: k1 } = await rotateKey({ dataDir: data, durable: false, windowMs: 0 });
      origin = await start(data, port);
      await publish(origin, "b", "1.0.0");

      const synced = await mirror.sync();
      assert.equal(synced.toSize, origin.registry.appender.size);
      assert.deepEqual(
        await readFile(join(dir.path, "mirror", "tree", "keys")),
        await readFile(join(data, "tree", "keys")),
      );
      // A client of the mirror alone follows the rotation from the mirror's keys file.
      const c = await client(mirror.url, k0, join(dir.path, "c"));
      await c.refresh();
      assert.equal(keyString(c), k1);

      // The proxy serves what it verified while it checks again: the next read sees the update.
      await proxy.reader.update();
      assert.equal(keyString(proxy.reader.client), k1);
      const packument = await fetch(new URL("b", proxy.url));
      assert.equal(packument.status, 200);
      assert.ok(((await packument.json()) as { versions: object }).versions);
    } finally {
      await proxy.close();
      await mirror.close();
      await origin.close();
    }
    // The mirror reopens on a tree whose checkpoint the pinned key did not sign.
    const again = await startMirror({
      from: origin.url,
      verifier: parseVerifierKey(k0),
      dataDir: join(dir.path, "mirror"),
      durable: false,
      host: "127.0.0.1",
      port: 0,
      intervalMs: 0,
    });
    await again.close();
  });
});
