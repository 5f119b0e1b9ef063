import assert from "node:assert/strict";
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  isLogError,
  openCheckpoint,
  openNote,
  parseCosignatureVerifierKey,
  readUnverifiedCheckpoint,
} from "../../src/log/index.ts";
import { type RunningOrigin, startOrigin } from "../../src/npm/origin-server.ts";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import type { OriginConfig } from "../../src/origin/config.ts";
import { loadOrCreateKey } from "../../src/origin/keys.ts";
import { initWitness, type RunningWitness, runWitness } from "../../src/witness/index.ts";
import { tempDir } from "../helpers/log.ts";
import { testOriginConfig } from "../helpers/origin.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

const ORIGIN = "test.cairn.example/origin";

/** A clock the witnesses cosign with, moved by the test. */
const clock = { now: 1_800_000_000n };

async function publish(origin: RunningOrigin, name: string): Promise<void> {
  const tgz = rawTgz([packageJson(name, "1.0.0", {})]);
  await publishNpm(origin.registry, {
    actor: "alice",
    ...(await parsePublish(name, publishBody({ name, version: "1.0.0" }, tgz))),
  });
}

async function servedCheckpoint(origin: RunningOrigin): Promise<string> {
  return (await fetch(`${origin.url}-/cairn/checkpoint`)).text();
}

/** The witnesses whose valid cosignatures `note` carries (throws on an invalid one). */
function cosigners(note: string, witnesses: readonly RunningWitness[]): string[] {
  const verifiers = witnesses.map((w) => parseCosignatureVerifierKey(w.cosigner.verifierKey));
  try {
    return openNote(note, verifiers)
      .verified.map((s) => s.name)
      .sort();
  } catch (err) {
    if (isLogError(err) && err.code === "unverified-note") return [];
    throw err;
  }
}

async function setup(count: number) {
  const dir = await tempDir("cairn-witnessing-");
  const dataDir = join(dir.path, "origin");
  const key = await loadOrCreateKey(join(dataDir, "key"), ORIGIN);
  const witnesses: RunningWitness[] = [];
  const witnessDirs: string[] = [];
  for (let i = 0; i < count; i++) {
    const witnessDir = join(dir.path, `w${i}`);
    await initWitness(witnessDir, `witness.example/w${i}`);
    witnessDirs.push(witnessDir);
    witnesses.push(await startWitness(witnessDir));
  }
  async function startWitness(witnessDir: string, port = 0) {
    return runWitness({ dataDir: witnessDir, logs: [key.verifierKey], port, now: () => clock.now });
  }
  const config = (settings: Partial<OriginConfig> = {}) =>
    testOriginConfig(dataDir, {
      witnesses: Object.fromEntries(witnesses.map((w) => [w.url, w.cosigner.verifierKey])),
      ...settings,
    });
  return {
    key,
    dataDir,
    witnesses,
    witnessDirs,
    startWitness,
    config,
    [Symbol.asyncDispose]: async () => {
      for (const w of witnesses) await w.close().catch(() => {});
      await dir[Symbol.asyncDispose]();
    },
  };
}

describe("the origin submits each checkpoint to its witnesses", () => {
  test("every published checkpoint carries 3 valid cosignatures, there before the publish is acknowledged", async () => {
    await using s = await setup(3);
    const origin = await startOrigin(s.config());
    try {
      for (const name of ["a", "b", "c"]) {
        await publish(origin, name);
        const size = origin.registry.appender.size;
        // At the acknowledgement, every witness has cosigned this size and the served note has it.
        for (const w of s.witnesses) assert.equal((await w.store.get(ORIGIN))?.size, size);
        const note = await servedCheckpoint(origin);
        assert.equal(openCheckpoint(note, [s.key.verifier], ORIGIN).size, size);
        assert.deepEqual(cosigners(note, s.witnesses), [
          "witness.example/w0",
          "witness.example/w1",
          "witness.example/w2",
        ]);
      }
      const status = (await (await fetch(`${origin.url}-/cairn-status`)).json()) as {
        witnesses: { quorum: number; witnesses: { size: number; forks: number }[] };
      };
      assert.equal(status.witnesses.quorum, 3);
      assert.deepEqual(
        status.witnesses.witnesses.map((w) => [w.size, w.forks]),
        s.witnesses.map(() => [origin.registry.appender.size, 0]),
      );
    } finally {
      await origin.close();
    }
  });

  test("one witness down: 2 of 3 acknowledge on time, and the third cosigns once it is back", async () => {
    await using s = await setup(3);
    const down = s.witnesses[2];
    const port = Number(new URL(down.url).port);
    await down.close();
    const origin = await startOrigin(s.config({ witnessQuorum: 2, witnessTimeout: 600 }));
    try {
      const started = Date.now();
      await publish(origin, "a");
      // Far from the 600 s timeout: the quorum, not the timeout, released the publish.
      assert.ok(Date.now() - started < 60_000);
      const note = await servedCheckpoint(origin);
      assert.deepEqual(cosigners(note, s.witnesses), ["witness.example/w0", "witness.example/w1"]);

      const republished = new Promise<Uint8Array>((resolve) =>
        origin.witnesses?.onRepublished((next) => {
          if (cosigners(new TextDecoder().decode(next), s.witnesses).length === 3) resolve(next);
        }),
      );
      s.witnesses[2] = await s.startWitness(s.witnessDirs[2], port);
      const next = new TextDecoder().decode(await republished);
      assert.equal(readUnverifiedCheckpoint(next).size, readUnverifiedCheckpoint(note).size);
      assert.equal(await servedCheckpoint(origin), next);
    } finally {
      await origin.close();
    }
  });

  test("after a restart the origin learns each witness's size from its 409 and goes on", async () => {
    await using s = await setup(1);
    const first = await startOrigin(s.config());
    await publish(first, "a");
    const before = first.registry.appender.size;
    await first.close();
    const origin = await startOrigin(s.config());
    try {
      await publish(origin, "b");
      const size = origin.registry.appender.size;
      assert.ok(size > before);
      assert.equal((await s.witnesses[0].store.get(ORIGIN))?.size, size);
      assert.deepEqual(cosigners(await servedCheckpoint(origin), s.witnesses), [
        "witness.example/w0",
      ]);
      assert.equal(origin.witnesses?.status().witnesses[0].failures, 0);
    } finally {
      await origin.close();
    }
  });

  test("an idle log is re-cosigned: the same checkpoint with newer timestamps", async () => {
    await using s = await setup(3);
    const origin = await startOrigin(s.config({ witnessRefresh: 0 }));
    try {
      await publish(origin, "a");
      const before = await servedCheckpoint(origin);
      clock.now += 1000n;
      const republished = new Promise<Uint8Array>((resolve) => {
        let seen = 0;
        origin.witnesses?.onRepublished((next) => {
          if (++seen === 3) resolve(next);
        });
      });
      await origin.witnesses?.refresh();
      const after = new TextDecoder().decode(await republished);
      assert.equal(await servedCheckpoint(origin), after);
      assert.equal(after.split("\n\n")[0], before.split("\n\n")[0], "the same checkpoint");
      const times = (note: string) =>
        s.witnesses.map((w) => {
          const verifier = parseCosignatureVerifierKey(w.cosigner.verifierKey);
          const line = openNote(note, [verifier]).verified[0];
          return verifier.timestampOf(Buffer.from(line.base64, "base64").subarray(4));
        });
      assert.deepEqual(
        times(after),
        times(before).map((t) => t + 1000n),
      );
    } finally {
      await origin.close();
    }
  });

  test("an origin that forks its log (the real key, another tree) is caught by the witness", async () => {
    await using s = await setup(1);
    const honest = await startOrigin(s.config());
    for (const name of ["a", "b", "c"]) await publish(honest, name);
    const honestSize = honest.registry.appender.size;
    await honest.close();
    await using forkDir = await tempDir("cairn-fork-");
    const forkData = join(forkDir.path, "data");
    await mkdir(forkData);
    await copyFile(join(s.dataDir, "key"), join(forkData, "key"));
    const lines: string[] = [];
    const forked = await startOrigin(
      { ...s.config({ witnessTimeout: 0.05 }), data: forkData },
      { log: (line) => lines.push(line) },
    );
    try {
      for (let i = 0; forked.registry.appender.size <= honestSize; i++) {
        await publish(forked, `fork-${i}`);
        // Published (the entries are durable) but without the witness's cosignature.
        assert.deepEqual(cosigners(await servedCheckpoint(forked), s.witnesses), []);
      }
      const witness = s.witnesses[0];
      assert.equal((await witness.store.get(ORIGIN))?.size, honestSize, "the witness held on");
      // Kept as evidence: the fork's checkpoints that met the honest tree's size or passed it.
      const evidence = witness.store.evidence();
      assert.ok(evidence.length > 0);
      for (const e of evidence)
        assert.ok(["inconsistent", "same-size-conflict"].includes(e.reason));
      const status = forked.witnesses?.status().witnesses[0];
      assert.ok((status?.forks ?? 0) >= 2, "ahead while smaller, then inconsistent");
      assert.ok(lines.some((line) => /inconsistent|same-size conflict/.test(line)));
    } finally {
      await forked.close();
    }
  });
});
