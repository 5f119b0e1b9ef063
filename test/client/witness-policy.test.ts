/**
 * The witness policy where checkpoints are consumed: a client, the
 * checkpoint store and a mirror, against real servers on loopback. The
 * witness is the in-process add-checkpoint handler (src/log/witness.ts).
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CheckpointStore } from "../../src/client/checkpoint-store.ts";
import { NoSourceError, SourceError } from "../../src/client/errors.ts";
import { LogClient } from "../../src/client/log-client.ts";
import {
  addCheckpoint,
  Cosigner,
  DirectorySource,
  formatAddCheckpointRequest,
  MemoryWitnessStore,
  type NoteVerifier,
  parseCosignatureVerifierKey,
  proveConsistency,
  readUnverifiedCheckpoint,
  TileHashReader,
} from "../../src/log/index.ts";
import type { WitnessPolicy } from "../../src/log/policy.ts";
import { Mirror } from "../../src/mirror/mirror.ts";
import { startMirror } from "../../src/mirror/server.ts";
import { startProxy } from "../../src/proxy/server.ts";
import { tempDir } from "../helpers/log.ts";
import { startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { startTestOrigin } from "../helpers/origin.ts";

const T0 = 1_800_000_000;

/** A witness (in process) of the log `verifier` signs, its clock at `clock.now`. */
function startWitness(name: string, verifier: NoteVerifier, clock: { now: number }) {
  const cosigner = new Cosigner(name, generateKeyPairSync("ed25519").privateKey, () =>
    BigInt(clock.now),
  );
  const options = {
    cosigner,
    logs: new Map([[verifier.name, [verifier]]]),
    store: new MemoryWitnessStore(),
  };
  let size = 0;
  return {
    cosigner,
    verifier: parseCosignatureVerifierKey(cosigner.verifierKey),
    /** Submits the checkpoint of `treeDir` (with a consistency proof from what was cosigned); the response. */
    async submit(treeDir: string): Promise<{ status: number; note: string }> {
      const note = await readFile(join(treeDir, "checkpoint"), "utf8");
      const head = readUnverifiedCheckpoint(note);
      const storage = new DirectorySource(treeDir);
      const proof =
        size === 0 || size === head.size
          ? []
          : await proveConsistency(
              size,
              head.size,
              new TileHashReader(head.size, head.root, storage),
            );
      const response = await addCheckpoint(
        options,
        formatAddCheckpointRequest({ oldSize: size, proof, checkpoint: note }),
      );
      if (response.status === 200) size = head.size;
      return { status: response.status, note: note + response.body };
    },
  };
}

function codes(err: unknown): string[] {
  if (err instanceof NoSourceError) return err.errors.map((e) => e.code);
  if (err instanceof SourceError) return [err.code];
  throw err;
}

describe("witness policy on clients and mirrors", () => {
  test("a fork signed with the real key is refused by a client with a witness policy, and accepted without one", async () => {
    const clock = { now: T0 };
    await using origin = await startTestOrigin();
    for (const name of ["a", "b", "c"]) await origin.publish(name, "1.0.0");
    const w = startWitness("witness.example/w1", origin.key.verifier, clock);
    const honest = await w.submit(origin.treeDir);
    assert.equal(honest.status, 200);

    // A second log under the same key: starts like the real one, then differs.
    await using forked = await startTestOrigin({ keyFile: join(origin.dataDir, "key") });
    for (const name of ["a", "evil", "c"]) await forked.publish(name, "1.0.0");
    // The witness holds the honest tree: it will not cosign the fork (same size: 409).
    assert.equal((await w.submit(forked.treeDir)).status, 409);

    const policy: WitnessPolicy = { witnesses: [w.verifier], threshold: 1, now: () => clock.now };
    await using forkCopy = await tempDir();
    await cp(forked.treeDir, forkCopy.path, { recursive: true });
    await using liar = await startMaliciousMirror({ treeDir: forkCopy.path });
    const open = async (withPolicy: boolean) => {
      await using state = await tempDir();
      const client = await LogClient.open({
        origin: liar.url,
        verifier: origin.key.verifier,
        stateDir: state.path,
        useMirrorList: false,
        ...(withPolicy ? { policy } : {}),
      });
      return client.refresh().then(
        (cp) => cp.size,
        (err: unknown) => codes(err),
      );
    };
    // Log-signed only: no cosignature.
    assert.deepEqual(await open(true), ["witness"]);
    // The honest tree's cosignature pasted under the fork's head: it does not verify.
    const cosignatureLines = honest.note.slice(honest.note.lastIndexOf("\n\n") + 2);
    const witnessLine = cosignatureLines.split("\n").find((l) => l.startsWith("— witness."));
    const forkNote = await readFile(join(forked.treeDir, "checkpoint"), "utf8");
    await writeFile(join(forkCopy.path, "checkpoint"), `${forkNote}${witnessLine}\n`);
    assert.deepEqual(await open(true), ["witness"]);
    // What witnesses add: without a policy the client has nothing to tell the fork by.
    assert.equal(await open(false), forked.registry.appender.size);
  });

  test("a stale checkpoint is refused; a same-size note with newer cosignatures is adopted by client, store and mirror", async () => {
    const clock = { now: T0 };
    await using origin = await startTestOrigin();
    for (const name of ["a", "b"]) await origin.publish(name, "1.0.0");
    const size = origin.registry.appender.size;
    const w = startWitness("witness.example/w1", origin.key.verifier, clock);
    await using served = await tempDir();
    await cp(origin.treeDir, served.path, { recursive: true });
    const first = await w.submit(origin.treeDir);
    await writeFile(join(served.path, "checkpoint"), first.note);
    await using upstream = await startMaliciousMirror({ treeDir: served.path });
    const policy: WitnessPolicy = {
      witnesses: [w.verifier],
      threshold: 1,
      maxAgeSeconds: 3600,
      now: () => clock.now,
    };
    await using state = await tempDir();
    const options = {
      origin: upstream.url,
      verifier: origin.key.verifier,
      stateDir: state.path,
      useMirrorList: false,
      policy,
    };
    const client = await LogClient.open(options);
    assert.equal((await client.refresh()).size, size);

    // An hour and a second later, with nothing newer: a frozen view.
    clock.now = T0 + 3601;
    assert.deepEqual(await client.refresh().then(() => [], codes), ["stale"]);

    // The origin has the same tree re-cosigned: the fresher note is adopted and stored.
    const again = await w.submit(origin.treeDir);
    assert.equal(again.status, 200);
    await writeFile(join(served.path, "checkpoint"), again.note);
    assert.equal((await client.refresh()).size, size);
    assert.equal(Buffer.from(client.checkpointNote ?? []).toString(), again.note);
    const stored = await new CheckpointStore(state.path, origin.key.verifier, { policy }).load();
    assert.equal(Buffer.from(stored?.note ?? []).toString(), again.note);
    const reopened = await LogClient.open(options);
    assert.equal(Buffer.from(reopened.checkpointNote ?? []).toString(), again.note);

    // The store itself takes a same-size note only for the same tree with newer cosignatures.
    const store = new CheckpointStore(state.path, origin.key.verifier, { policy });
    const held = await store.load();
    await assert.rejects(store.save(new TextEncoder().encode(first.note), held), RangeError);
    await using forked = await startTestOrigin({ keyFile: join(origin.dataDir, "key") });
    for (const name of ["a", "evil"]) await forked.publish(name, "1.0.0");
    await assert.rejects(
      store.save(await readFile(join(forked.treeDir, "checkpoint")), held),
      RangeError,
    );

    // An older note of the same tree does not replace it (within the maximum age it still verifies).
    clock.now = T0 + 3602;
    await writeFile(join(served.path, "checkpoint"), (await w.submit(origin.treeDir)).note);
    const newest = await readFile(join(served.path, "checkpoint"), "utf8");
    await writeFile(join(served.path, "checkpoint"), again.note);
    await client.refresh();
    assert.equal(Buffer.from(client.checkpointNote ?? []).toString(), again.note);

    // A mirror relays the cosigned note byte for byte, and the newer one at the same size.
    await using mirrorDir = await tempDir();
    const mirror = await Mirror.open({
      from: upstream.url,
      verifier: origin.key.verifier,
      policy,
      dataDir: mirrorDir.path,
      durable: false,
    });
    try {
      assert.equal((await mirror.sync()).toSize, size);
      const held = () => readFile(join(mirror.treeDir, "checkpoint"), "utf8");
      assert.equal(await held(), again.note);
      await writeFile(join(served.path, "checkpoint"), newest);
      const result = await mirror.sync();
      assert.deepEqual([result.fromSize, result.toSize], [size, size]);
      assert.equal(await held(), newest);
      // An older note is not relayed over a newer one, and a stale one is refused.
      await writeFile(join(served.path, "checkpoint"), again.note);
      await mirror.sync();
      assert.equal(await held(), newest);
      clock.now = T0 + 3602 + 3601;
      await writeFile(join(served.path, "checkpoint"), newest);
      assert.deepEqual(await mirror.sync().then(() => [], codes), ["stale"]);
      assert.equal(await held(), newest);
    } finally {
      mirror.close();
    }
  });

  // refreshMs 0 checks upstream on every read; an hour, only on the first (a read between
  // refreshes must not be served from a state past the maximum age either).
  for (const refreshMs of [0, 3_600_000])
    test(`a proxy with a policy stops serving once its checkpoint is past the maximum age, until a fresh one comes (refreshMs ${refreshMs})`, async () => {
      const clock = { now: T0 };
      await using origin = await startTestOrigin();
      await origin.publish("witnessed", "1.0.0");
      const w = startWitness("witness.example/w1", origin.key.verifier, clock);
      await using served = await tempDir();
      await cp(origin.treeDir, served.path, { recursive: true });
      await writeFile(join(served.path, "checkpoint"), (await w.submit(origin.treeDir)).note);
      await using upstream = await startMaliciousMirror({ treeDir: served.path });
      await using data = await tempDir();
      const proxy = await startProxy({
        host: "127.0.0.1",
        port: 0,
        dataDir: data.path,
        origin: upstream.url,
        verifier: origin.key.verifier,
        policy: {
          witnesses: [w.verifier],
          threshold: 1,
          maxAgeSeconds: 3600,
          now: () => clock.now,
        },
        useMirrorList: false,
        refreshMs,
        // The refused refresh is expected: not logged.
        logLevel: "silent",
        onProblem: () => {},
      });
      try {
        const status = async () => (await fetch(new URL("witnessed", proxy.url))).status;
        assert.equal(await status(), 200);
        // Frozen: the upstream keeps serving the same, now too old, checkpoint; no read is served.
        clock.now = T0 + 3601;
        assert.deepEqual([await status(), await status(), await status()], [502, 502, 502]);
        await writeFile(join(served.path, "checkpoint"), (await w.submit(origin.treeDir)).note);
        assert.equal(await status(), 200);
      } finally {
        await proxy.close();
      }
    });

  test("a mirror with a policy serves nothing an uncosigned upstream names, before its first sync or after a restart", async () => {
    const clock = { now: T0 };
    await using origin = await startTestOrigin();
    await origin.publish("witnessed", "1.0.0");
    const w = startWitness("witness.example/w1", origin.key.verifier, clock);
    await using served = await tempDir();
    await cp(origin.treeDir, served.path, { recursive: true }); // signed by the log key only
    await using upstream = await startMaliciousMirror({ treeDir: served.path });
    await using data = await tempDir();
    const policy: WitnessPolicy = {
      witnesses: [w.verifier],
      threshold: 1,
      maxAgeSeconds: 3600,
      now: () => clock.now,
    };
    const options = {
      host: "127.0.0.1",
      port: 0,
      intervalMs: 0,
      from: upstream.url,
      verifier: origin.key.verifier,
      dataDir: data.path,
      durable: false,
      logLevel: "silent" as const,
      onProblem: () => {},
    };
    // Before any copy is held, the sparse reads upstream are under the policy too.
    await assert.rejects(startMirror({ ...options, policy }), (err: unknown) =>
      codes(err).includes("witness"),
    );
    // A copy made without a policy is not served once the mirror restarts with one.
    const unwitnessed = await startMirror(options);
    await unwitnessed.firstSync;
    assert.equal(unwitnessed.mirror.checkpoint?.size, origin.registry.appender.size);
    await unwitnessed.close();
    const restarted = await startMirror({ ...options, policy });
    try {
      assert.equal((await fetch(new URL("witnessed", restarted.url))).status, 502);
      // Cosigned upstream: the next sync brings the note, and the copy is served.
      await writeFile(join(served.path, "checkpoint"), (await w.submit(origin.treeDir)).note);
      await restarted.sync();
      assert.equal((await fetch(new URL("witnessed", restarted.url))).status, 200);
      // Frozen past the maximum age: the mirror's own npm API stops answering too.
      clock.now = T0 + 3601;
      assert.equal((await fetch(new URL("witnessed", restarted.url))).status, 502);
    } finally {
      await restarted.close();
    }
  });
  test("a mirror without a policy relays the newest note upstream served: a forged far-future line cannot pin it", async () => {
    const clock = { now: T0 };
    await using origin = await startTestOrigin();
    await origin.publish("a", "1.0.0");
    const w = startWitness("witness.example/w1", origin.key.verifier, clock);
    await using served = await tempDir();
    await cp(origin.treeDir, served.path, { recursive: true });
    const logSigned = await readFile(join(origin.treeDir, "checkpoint"), "utf8");
    await writeFile(join(served.path, "checkpoint"), (await w.submit(origin.treeDir)).note);
    await using upstream = await startMaliciousMirror({ treeDir: served.path });
    await using mirrorDir = await tempDir();
    const mirror = await Mirror.open({
      from: upstream.url,
      verifier: origin.key.verifier,
      dataDir: mirrorDir.path,
      durable: false,
    });
    try {
      await mirror.sync();
      const held = () => readFile(join(mirror.treeDir, "checkpoint"), "utf8");
      // W's name and key ID, the largest timestamp, a signature that does not verify.
      const line = (await held()).slice(logSigned.length);
      const [, name, base64] = /^\u2014 (\S+) (\S+)\n$/.exec(line) ?? [];
      const forged = Buffer.from(base64, "base64");
      forged.writeBigUInt64BE(2n ** 63n - 1n, 4);
      const junk = `${logSigned}\u2014 ${name} ${forged.toString("base64")}\n`;
      await writeFile(join(served.path, "checkpoint"), junk);
      await mirror.sync();
      assert.equal(await held(), junk);
      // The upstream cosigned again: the mirror relays it, and clients with W in their policy read it.
      clock.now = T0 + 60;
      const fresh = (await w.submit(origin.treeDir)).note;
      await writeFile(join(served.path, "checkpoint"), fresh);
      await mirror.sync();
      assert.equal(await held(), fresh);
    } finally {
      mirror.close();
    }
  });
});
