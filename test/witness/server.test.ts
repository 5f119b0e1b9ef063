import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { describe, test } from "node:test";
import {
  EMPTY_ROOT,
  formatAddCheckpointRequest,
  formatCheckpoint,
  openCheckpoint,
  openNote,
  parseCosignatureVerifierKey,
  parseVerifierKey,
  signNote,
} from "../../src/log/index.ts";
import { initWitness, MAX_REQUEST_BYTES, runWitness } from "../../src/witness/index.ts";
import { startCairnServer } from "../helpers/cairn-server.ts";
import { cairn } from "../helpers/cli.ts";
import { TEST_ORIGIN, tempDir, testKey } from "../helpers/log.ts";
import {
  postCheckpoint,
  startStallingWitness,
  startWitnessCli,
  testLog,
} from "../helpers/witness.ts";

const log = testKey();
const honest = testLog(log.signer);
const originHash = createHash("sha256").update(TEST_ORIGIN).digest("hex");

async function witnessIn(dir: string, now?: () => bigint) {
  const cosigner = await initWitness(dir, "witness.example/w1");
  const running = await runWitness({ dataDir: dir, logs: [log.verifierKey], now });
  return { cosigner, running, [Symbol.asyncDispose]: () => running.close() };
}

describe("cairn witness over HTTP", () => {
  test("init writes a private key file and prints the 0x04 verifier key", async () => {
    await using dir = await tempDir();
    const out = await cairn(["witness", "init", "--name", "w.example/1", "--data", dir.path]);
    assert.equal(out.code, 0, out.stderr);
    const vkey = /verifier key: (\S+)/.exec(out.stdout)?.[1] ?? "";
    assert.equal(parseCosignatureVerifierKey(vkey).name, "w.example/1");
    assert.equal((await stat(`${dir.path}/witness.key`)).mode & 0o777, 0o600);
    const again = await cairn(["witness", "init", "--name", "w.example/1", "--data", dir.path]);
    assert.equal(again.code, 1, "a second init must not replace the key");
  });

  test("answers each case with tlog-witness v1.0.0's status", async () => {
    await using dir = await tempDir();
    await using w = await witnessIn(dir.path);
    const url = w.running.url;
    const monitor = `${url}/${originHash}/checkpoint`;
    assert.equal((await fetch(monitor)).status, 404, "nothing cosigned yet");

    const first = await postCheckpoint(url, await honest.request(0, 100));
    assert.equal(first.status, 200, first.body);
    const cosigned = honest.checkpointAt(100) + first.body;
    const opened = openNote(cosigned, [parseCosignatureVerifierKey(w.cosigner.verifierKey)]);
    assert.equal(opened.verified.length, 1);
    assert.equal(await (await fetch(monitor)).text(), cosigned);

    const stale = await postCheckpoint(url, await honest.request(0, 200));
    assert.deepEqual([stale.status, stale.type, stale.body], [409, "text/x.tlog.size", "100\n"]);
    assert.equal((await postCheckpoint(url, await honest.request(200, 100))).status, 400);
    assert.equal((await postCheckpoint(url, "old 1\n")).status, 400);
    const stranger = testLog(testKey().signer);
    assert.equal((await postCheckpoint(url, await stranger.request(100, 200))).status, 403);
    const otherOrigin = testLog(testKey("other.example/log").signer);
    assert.equal((await postCheckpoint(url, await otherOrigin.request(0, 10))).status, 403);
    const unknown = signNote(
      formatCheckpoint({
        origin: "unknown.example/log",
        size: 0,
        root: EMPTY_ROOT,
        extensions: [],
      }),
      [testKey("unknown.example/log").signer],
    );
    const notOurs = formatAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: unknown });
    assert.equal((await postCheckpoint(url, notOurs)).status, 404);
    const badProof = formatAddCheckpointRequest({
      oldSize: 100,
      proof: [new Uint8Array(32)],
      checkpoint: honest.checkpointAt(200),
    });
    assert.equal((await postCheckpoint(url, badProof)).status, 422);
    const huge = await fetch(`${url}/add-checkpoint`, {
      method: "POST",
      body: "x".repeat(MAX_REQUEST_BYTES + 1),
    });
    assert.equal(huge.status, 413);
    assert.equal((await fetch(`${url}/add-checkpoint`)).status, 405);
    const again = await postCheckpoint(url, await honest.request(100, 100));
    assert.equal(again.status, 200, "the same checkpoint is cosigned again");
    assert.equal(openCheckpoint(await (await fetch(monitor)).text(), [log.verifier]).size, 100);
  });

  test("a size-0 checkpoint must carry the empty tree's root (422)", async () => {
    await using dir = await tempDir();
    await using w = await witnessIn(dir.path);
    const checkpoint = signNote(
      formatCheckpoint({ origin: TEST_ORIGIN, size: 0, root: new Uint8Array(32), extensions: [] }),
      [log.signer],
    );
    const body = formatAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint });
    assert.equal((await postCheckpoint(w.running.url, body)).status, 422);
    assert.equal((await postCheckpoint(w.running.url, await honest.request(0, 0))).status, 200);
    // From the empty tree on, no proof is needed (nor allowed).
    assert.equal((await postCheckpoint(w.running.url, await honest.request(0, 10))).status, 200);
  });

  test("never cosigns with a zero timestamp", async () => {
    await using dir = await tempDir();
    await using w = await witnessIn(dir.path, () => 0n);
    const answer = await postCheckpoint(w.running.url, await honest.request(0, 10));
    assert.equal(answer.status, 500);
    assert.equal((await fetch(`${w.running.url}/${originHash}/checkpoint`)).status, 404);
  });

  test("20 concurrent requests from one old size: exactly one is cosigned", async () => {
    await using dir = await tempDir();
    await using w = await witnessIn(dir.path);
    assert.equal((await postCheckpoint(w.running.url, await honest.request(0, 100))).status, 200);
    const sizes = Array.from({ length: 20 }, (_, i) => 101 + i * 20);
    const answers = await Promise.all(
      sizes.map(async (size) => postCheckpoint(w.running.url, await honest.request(100, size))),
    );
    const won = answers.flatMap((a, i) => (a.status === 200 ? [sizes[i]] : []));
    assert.equal(won.length, 1);
    for (const a of answers.filter((a) => a.status !== 200))
      assert.deepEqual([a.status, a.body], [409, `${won[0]}\n`]);
    assert.equal((await w.running.store.get(TEST_ORIGIN))?.size, won[0]);
  });

  test("a forked checkpoint signed with the real log key is refused and kept as evidence", async () => {
    await using dir = await tempDir();
    await using w = await witnessIn(dir.path);
    const fork = testLog(log.signer, 600, { shared: 100, salt: "fork" });
    assert.equal((await postCheckpoint(w.running.url, await honest.request(0, 150))).status, 200);
    // The fork's own proof from 150 to 300: consistent within the fork, not with what was cosigned.
    const ahead = await postCheckpoint(w.running.url, await fork.request(150, 300));
    assert.equal(ahead.status, 422);
    const sameSize = formatAddCheckpointRequest({
      oldSize: 150,
      proof: [],
      checkpoint: fork.checkpointAt(150),
    });
    const conflict = await postCheckpoint(w.running.url, sameSize);
    assert.deepEqual([conflict.status, conflict.body], [409, "150\n"]);
    const evidence = w.running.store.evidence();
    assert.deepEqual(
      evidence.map((e) => e.reason),
      ["inconsistent", "same-size-conflict"],
    );
    assert.equal(evidence[1].body, sameSize);
    assert.equal((await w.running.store.get(TEST_ORIGIN))?.size, 150);
    // A stranger's signature is no evidence of anything.
    const stranger = testLog(testKey().signer, 600, { shared: 100, salt: "x" });
    assert.equal(
      (await postCheckpoint(w.running.url, await stranger.request(150, 300))).status,
      403,
    );
    assert.equal(w.running.store.evidence().length, 2);
  });

  test("a second process cannot open the same data directory", async () => {
    await using dir = await tempDir();
    await using _w = await witnessIn(dir.path);
    await assert.rejects(runWitness({ dataDir: dir.path, logs: [log.verifierKey] }), {
      code: "conflict",
    });
  });
});

describe("a witness killed mid-race never rolls back", () => {
  async function witnessedAt100(dir: string, stallSize: number) {
    await initWitness(dir, "witness.example/w1");
    const child = await startStallingWitness(dir, [log.verifierKey], stallSize);
    assert.equal((await postCheckpoint(child.url, await honest.request(0, 100))).status, 200);
    return child;
  }

  test("a request that checked out before the winner swapped cannot roll it back", async () => {
    await using dir = await tempDir();
    const child = await witnessedAt100(dir.path, 200);
    const loser = postCheckpoint(child.url, await honest.request(100, 200));
    await child.waitFor(/stalled 200\n/);
    const winner = await postCheckpoint(child.url, await honest.request(100, 500));
    assert.equal(winner.status, 200);
    child.release();
    const lost = await loser;
    assert.deepEqual([lost.status, lost.body], [409, "500\n"]);
    await child.kill("SIGKILL");

    const restarted = await startWitnessCli(dir.path, [log.verifierKey]);
    try {
      const retry = await postCheckpoint(restarted.url, await honest.request(100, 200));
      assert.deepEqual([retry.status, retry.body], [409, "500\n"]);
      assert.equal(
        (await postCheckpoint(restarted.url, await honest.request(500, 200))).status,
        400,
      );
      const latest = await (await fetch(`${restarted.url}/${originHash}/checkpoint`)).text();
      assert.equal(openCheckpoint(latest, [log.verifier]).size, 500);
    } finally {
      await restarted.kill("SIGTERM");
    }
  });

  test("killed before the stalled request's swap: the answered size stays", async () => {
    await using dir = await tempDir();
    const child = await witnessedAt100(dir.path, 500);
    const stalled = postCheckpoint(child.url, await honest.request(100, 500)).catch(
      (e: Error) => e,
    );
    await child.waitFor(/stalled 500\n/);
    const answered = await postCheckpoint(child.url, await honest.request(100, 200));
    assert.equal(answered.status, 200);
    await child.kill("SIGKILL");
    assert.ok((await stalled) instanceof Error);

    const restarted = await startWitnessCli(dir.path, [log.verifierKey]);
    try {
      const retry = await postCheckpoint(restarted.url, await honest.request(100, 500));
      assert.deepEqual([retry.status, retry.body], [409, "200\n"]);
      assert.equal(
        (await postCheckpoint(restarted.url, await honest.request(200, 500))).status,
        200,
      );
    } finally {
      await restarted.kill("SIGTERM");
    }
  });
});

describe("cairn serve --witness", () => {
  test("serves its checkpoint with the cosignature of a `cairn witness serve`", async () => {
    await using dir = await tempDir();
    const data = `${dir.path}/origin`;
    const key = await cairn(["key", "--data", data]);
    assert.equal(key.code, 0, key.stderr);
    const logKey = key.stdout.trim();
    const init = await cairn(["witness", "init", "--name", "w.example/1", "--data", dir.path]);
    const vkey = /verifier key: (\S+)/.exec(init.stdout)?.[1] ?? "";
    const witness = await startWitnessCli(dir.path, [logKey]);
    await using origin = await startCairnServer([
      "serve",
      "--data",
      data,
      "--port",
      "0",
      "--no-durable",
      "--witness",
      `${witness.url}=${vkey}`,
    ]);
    try {
      // The origin submits its checkpoint on start; the cosigned one replaces it when the answer lands.
      const verifier = parseCosignatureVerifierKey(vkey);
      const cosigned = async () => {
        const note = await (await fetch(`${origin.url}-/cairn/checkpoint`)).text();
        return note.split("\n").some((line) => line.startsWith(`— ${verifier.name} `));
      };
      for (let tries = 0; !(await cosigned()); tries++) {
        assert.ok(tries < 400, "the cosigned checkpoint was never served");
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const note = await (await fetch(`${origin.url}-/cairn/checkpoint`)).text();
      assert.equal(openNote(note, [verifier]).verified.length, 1);
      const logVerifier = parseVerifierKey(logKey);
      assert.equal(openNote(note, [logVerifier]).verified.length, 1);
    } finally {
      await witness.kill("SIGTERM");
    }
  });
});
