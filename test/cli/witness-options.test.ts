import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CLIENT_MAX_AGE,
  parseDuration,
  readRememberedPolicy,
  rememberPolicy,
  witnessPolicyOf,
} from "../../src/cli/witness-options.ts";
import { Cosigner } from "../../src/log/index.ts";

const w1 = Cosigner.generate("witness.example/w1").verifierKey;
const w2 = Cosigner.generate("witness.example/w2").verifierKey;

/** Runs `fn` with the policy's environment variables unset. */
function withoutEnv<T>(fn: () => T): T {
  const names = ["CAIRN_WITNESSES", "CAIRN_WITNESS_THRESHOLD", "CAIRN_MAX_AGE"];
  const saved = names.map((n) => process.env[n]);
  for (const n of names) delete process.env[n];
  try {
    return fn();
  } finally {
    names.forEach((n, i) => {
      if (saved[i] !== undefined) process.env[n] = saved[i];
    });
  }
}

describe("witness policy options", () => {
  test("durations take s, m, h and d, and nothing else", () => {
    assert.deepEqual(
      ["90", "90s", "30m", "24h", "7d"].map(parseDuration),
      [90, 90, 1800, 86400, 604800],
    );
    for (const bad of ["", "0", "1w", "-1h", "1.5h", "h", "1e3"])
      assert.throws(() => parseDuration(bad), bad);
  });

  test("flags, else remembered; the threshold defaults to every witness, the age to the command's", () =>
    withoutEnv(() => {
      assert.equal(witnessPolicyOf({}, CLIENT_MAX_AGE), undefined);
      const both = witnessPolicyOf({ witness: [w1, w2] }, CLIENT_MAX_AGE);
      assert.deepEqual([both?.threshold, both?.maxAgeSeconds], [2, CLIENT_MAX_AGE]);
      const meta = new Map<string, string>();
      rememberPolicy((k, v) => meta.set(k, v), {
        witness: [w1, w2],
        witnessThreshold: 1,
        maxAge: 60,
      });
      const remembered = witnessPolicyOf(
        {},
        CLIENT_MAX_AGE,
        readRememberedPolicy((k) => meta.get(k)),
      );
      assert.deepEqual(
        [remembered?.witnesses.length, remembered?.threshold, remembered?.maxAgeSeconds],
        [2, 1, 60],
      );
      // New witnesses replace the whole remembered policy: the old threshold and age go.
      rememberPolicy((k, v) => meta.set(k, v), { witness: [w1] });
      const replaced = witnessPolicyOf(
        {},
        3600,
        readRememberedPolicy((k) => meta.get(k)),
      );
      assert.deepEqual(
        [replaced?.witnesses.length, replaced?.threshold, replaced?.maxAgeSeconds],
        [1, 1, 3600],
      );
      // A threshold alone replaces only itself: 2 of the one remembered witness cannot be met.
      rememberPolicy((k, v) => meta.set(k, v), { witnessThreshold: 2 });
      const alone = readRememberedPolicy((k) => meta.get(k));
      assert.equal(alone.witnesses, w1);
      assert.throws(() => witnessPolicyOf({}, 3600, alone), /threshold of 2/);
      assert.throws(() => witnessPolicyOf({ witness: [w1, w1], witnessThreshold: 2 }, 3600));
      assert.throws(() => witnessPolicyOf({ maxAge: 60 }, 3600));
    }));
});
