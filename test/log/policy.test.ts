import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import {
  addSignatures,
  Cosigner,
  formatCheckpoint,
  isLogError,
  parseCosignatureVerifierKey,
  signNote,
  TreeBuilder,
} from "../../src/log/index.ts";
import {
  type CheckpointPolicy,
  checkWitnessPolicy,
  describeCosignatures,
  hasNewerCosignatures,
  openCheckpointWithPolicy,
} from "../../src/log/policy.ts";
import { entryBytes, TEST_ORIGIN, testKey } from "../helpers/log.ts";

const log = testKey();
const T0 = 1_800_000_000;

function checkpointAt(size: number, salt = ""): string {
  const tree = TreeBuilder.empty();
  for (let i = 0; i < size; i++) tree.append(entryBytes(i + (salt ? 1000 : 0)), () => {});
  return signNote(
    formatCheckpoint({ origin: TEST_ORIGIN, size, root: tree.root(), extensions: [] }),
    [log.signer],
  );
}

/** A witness whose clock reads `at.now`. */
function witness(name: string, at: { now: number }) {
  const { privateKey } = generateKeyPairSync("ed25519");
  const cosigner = new Cosigner(name, privateKey, () => BigInt(at.now));
  return { cosigner, verifier: parseCosignatureVerifierKey(cosigner.verifierKey) };
}

function policy(
  witnesses: ReturnType<typeof witness>[],
  threshold: number,
  now: number,
  maxAgeSeconds?: number,
): CheckpointPolicy {
  return {
    logKeys: [log.verifier],
    origin: TEST_ORIGIN,
    witnesses: witnesses.map((w) => w.verifier),
    threshold,
    maxAgeSeconds,
    now: () => now,
  };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (isLogError(err)) return err.code;
    throw err;
  }
}

describe("witness policy", () => {
  test("k of n counts distinct trusted witnesses: unknown keys and repeated lines do not count", () => {
    const clock = { now: T0 };
    const [w1, w2, w3] = ["w.example/1", "w.example/2", "w.example/3"].map((n) =>
      witness(n, clock),
    );
    const stranger = witness("w.example/stranger", clock);
    const note = checkpointAt(10);
    const once = addSignatures(note, [w1.cosigner]);
    // The same witness's line twice (a second signature made a second later), and a stranger's.
    clock.now += 1;
    const padded = addSignatures(addSignatures(once, [w1.cosigner]), [stranger.cosigner]);
    const twoOfThree = policy([w1, w2, w3], 2, T0);
    assert.equal(
      code(() => openCheckpointWithPolicy(padded, twoOfThree)),
      "too-few-cosignatures",
    );
    const enough = addSignatures(padded, [w3.cosigner]);
    const opened = openCheckpointWithPolicy(enough, twoOfThree);
    assert.equal(opened.size, 10);
    assert.equal(opened.cosignedAt, T0 + 1);
    assert.deepEqual(
      opened.cosignatures.map((c) => [c.name, c.status]),
      [
        ["w.example/1", "valid"],
        ["w.example/1", "valid"],
        ["w.example/stranger", "unknown"],
        ["w.example/3", "valid"],
      ],
    );
    // A threshold of 1 is met by the one witness.
    assert.equal(openCheckpointWithPolicy(once, policy([w1, w2, w3], 1, T0)).cosignedAt, T0);
  });

  test("a trusted witness's line that does not verify refuses the whole note, as does a bad log signature", () => {
    const clock = { now: T0 };
    const w = witness("w.example/1", clock);
    const honest = addSignatures(checkpointAt(10), [w.cosigner]);
    const forkHead = checkpointAt(10, "fork");
    // The honest tree's cosignature pasted under another tree's head.
    const pasted =
      forkHead + honest.split("\n").filter((l) => l.startsWith("— w.example/1"))[0] + "\n";
    assert.equal(
      code(() => openCheckpointWithPolicy(pasted, policy([w], 1, T0))),
      "invalid-cosignature",
    );
    // Without the policy's witness, the pasted line is an unknown key and ignored.
    const other = witness("w.example/other", clock);
    assert.equal(
      code(() => openCheckpointWithPolicy(pasted, policy([other], 1, T0))),
      "too-few-cosignatures",
    );
    // Only cosigned, not log-signed.
    const body = forkHead.slice(0, forkHead.indexOf("\n\n") + 1);
    const cosignedOnly = signNote(body, [w.cosigner]);
    assert.equal(
      code(() => openCheckpointWithPolicy(cosignedOnly, policy([w], 1, T0))),
      "unverified-note",
    );
    assert.equal(
      code(() =>
        openCheckpointWithPolicy(honest, { ...policy([w], 1, T0), origin: "other.example/log" }),
      ),
      "wrong-origin",
    );
  });

  test("the maximum age bounds a frozen checkpoint, and a cosignature from the future is not counted", () => {
    const clock = { now: T0 };
    const w1 = witness("w.example/1", clock);
    const w2 = witness("w.example/2", clock);
    const note = addSignatures(checkpointAt(10), [w1.cosigner]);
    assert.equal(openCheckpointWithPolicy(note, policy([w1], 1, T0 + 3600, 3600)).cosignedAt, T0);
    assert.equal(
      code(() => openCheckpointWithPolicy(note, policy([w1], 1, T0 + 3601, 3600))),
      "stale-checkpoint",
    );
    // With 2 required, the second-newest counts: a fresh w1 does not make up for an old w2.
    clock.now = T0 + 7200;
    const w2old = addSignatures(checkpointAt(10), [w1.cosigner]);
    clock.now = T0;
    const both = addSignatures(w2old, [w2.cosigner]);
    assert.equal(
      code(() => openCheckpointWithPolicy(both, policy([w1, w2], 2, T0 + 7200, 3600))),
      "stale-checkpoint",
    );
    assert.equal(
      openCheckpointWithPolicy(both, policy([w1, w2], 1, T0 + 7200, 3600)).cosignedAt,
      T0 + 7200,
    );
    // Dated beyond now + skew (300 s by default): verified, reported, not counted.
    clock.now = T0 + 301;
    const future = addSignatures(checkpointAt(10), [w1.cosigner]);
    assert.equal(
      code(() => openCheckpointWithPolicy(future, policy([w1], 1, T0))),
      "too-few-cosignatures",
    );
    assert.deepEqual(
      describeCosignatures(future, [log.verifier], [w1.verifier], () => T0).map((c) => c.status),
      ["future"],
    );
    assert.equal(openCheckpointWithPolicy(future, policy([w1], 1, T0 + 1)).cosignedAt, T0 + 301);
  });

  test("of two notes of one tree, the one with newer cosignatures is fresher", () => {
    const clock = { now: T0 };
    const w = witness("w.example/1", clock);
    const note = checkpointAt(10);
    const old = new TextEncoder().encode(addSignatures(note, [w.cosigner]));
    clock.now += 60;
    const fresh = new TextEncoder().encode(addSignatures(note, [w.cosigner]));
    const p = policy([w], 1, clock.now);
    assert.equal(hasNewerCosignatures(fresh, old, [log.verifier], p), true);
    assert.equal(hasNewerCosignatures(old, fresh, [log.verifier], p), false);
    assert.equal(hasNewerCosignatures(fresh, fresh, [log.verifier], p), false);
    // Without a policy, no line's time can be checked: any other note replaces the held one.
    assert.equal(hasNewerCosignatures(fresh, old, [log.verifier]), true);
    assert.equal(hasNewerCosignatures(old, fresh, [log.verifier]), true);
    assert.equal(hasNewerCosignatures(fresh, fresh, [log.verifier]), false);
  });
  test("one witness key under two names is one witness", () => {
    const clock = { now: T0 };
    const { privateKey } = generateKeyPairSync("ed25519");
    const [w1, alias] = ["w.example/1", "w.example/alias"].map((name) => {
      const cosigner = new Cosigner(name, privateKey, () => BigInt(clock.now));
      return { cosigner, verifier: parseCosignatureVerifierKey(cosigner.verifierKey) };
    });
    const w2 = witness("w.example/2", clock);
    assert.equal(
      code(() => checkWitnessPolicy(policy([w1, alias], 2, T0))),
      "malformed-key",
    );
    const note = addSignatures(checkpointAt(10), [w1.cosigner, alias.cosigner]);
    assert.equal(
      code(() => openCheckpointWithPolicy(note, policy([w1, alias, w2], 2, T0))),
      "too-few-cosignatures",
    );
  });
});
