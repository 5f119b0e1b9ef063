import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  addCheckpoint,
  formatAddCheckpointRequest,
  formatCheckpoint,
  leafHash,
  MemoryWitnessStore,
} from "../../src/log/index.ts";
import {
  followChain,
  followRotation,
  formatKeyRotation,
  initialTrust,
  type KeyRotation,
  mergeChains,
  parseKeyRotation,
  signKeyRotation,
} from "../../src/log/key-rotation.ts";
import {
  addSignatures,
  keyId,
  type NoteSigner,
  type NoteVerifier,
  signNote,
} from "../../src/log/note.ts";
import { testKey } from "../helpers/log.ts";

const ORIGIN = "test.cairn.example/origin";
const UNTIL = "2026-12-07T00:00:00.000Z";
const k0 = testKey(ORIGIN);
const k1 = testKey(ORIGIN);
const k2 = testKey(ORIGIN);
const alice = testKey("alice");
const bob = testKey("bob");

function rotation(sequence: number, old: string, next: string, extra: Partial<KeyRotation> = {}) {
  return { origin: ORIGIN, sequence, old, new: next, oldUntil: UNTIL, ...extra };
}

function sign(r: KeyRotation, signers: readonly NoteSigner[]): string {
  return signKeyRotation(r, signers);
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe("key rotation notes", () => {
  test("format and parse are one canonical form", () => {
    const r = rotation(1, k0.verifierKey, k1.verifierKey, {
      roots: { threshold: 2, keys: [alice.verifierKey, bob.verifierKey] },
    });
    const text = formatKeyRotation(r);
    assert.equal(
      text,
      `cairn-key-rotation/v1\norigin ${ORIGIN}\nsequence 1\nold ${k0.verifierKey}\nnew ${k1.verifierKey}\n` +
        `old-until ${UNTIL}\nroots 2 ${alice.verifierKey} ${bob.verifierKey}\n`,
    );
    assert.deepEqual(parseKeyRotation(text), r);
    for (const bad of [
      text.replace("sequence 1", "sequence 01"),
      text.replace("roots 2", "roots 3"),
      text.replace(bob.verifierKey, alice.verifierKey),
      text.replace(UNTIL, "2026-12-07"),
      text.replace("\norigin", "\n\norigin"),
      `${text}extra\n`,
    ])
      assert.equal(
        code(() => parseKeyRotation(bad)),
        "malformed-rotation",
        bad,
      );
  });

  test("a chain K0 -> K1 -> K2 is followed one step at a time", () => {
    const n1 = sign(rotation(1, k0.verifierKey, k1.verifierKey), [k0.signer, k1.signer]);
    const n2 = sign(rotation(2, k1.verifierKey, k2.verifierKey), [k1.signer, k2.signer]);
    const trust = followChain(k0.verifierKey, [n1, n2]);
    assert.equal(trust.key, k2.verifierKey);
    assert.equal(trust.sequence, 2);
    assert.deepEqual(trust.retired, { key: k1.verifierKey, until: UNTIL });
    // A client that pinned K1 follows the same chain.
    assert.equal(followChain(k1.verifierKey, [n1, n2]).key, k2.verifierKey);
    // One that pinned a key the chain never names does not.
    assert.equal(
      code(() => followChain(alice.verifierKey, [n1, n2])),
      "key-chain",
    );
  });

  test("a skipped step, a wrong old key or a note without the new key's signature is refused", () => {
    const n1 = sign(rotation(1, k0.verifierKey, k1.verifierKey), [k0.signer, k1.signer]);
    const after1 = followRotation(initialTrust(k0.verifierKey), n1);
    // Number 3 after 1.
    const n3 = sign(rotation(3, k1.verifierKey, k2.verifierKey), [k1.signer, k2.signer]);
    assert.equal(
      code(() => followRotation(after1, n3)),
      "key-chain",
    );
    // K0 -> K2 as rotation 2, signed by K1: it does not start from the trusted key.
    const skip = sign(rotation(2, k0.verifierKey, k2.verifierKey), [k1.signer, k2.signer]);
    assert.equal(
      code(() => followRotation(after1, skip)),
      "key-chain",
    );
    // Not signed by the new key: no proof that anybody holds it.
    const unproven = sign(rotation(1, k0.verifierKey, k1.verifierKey), [k0.signer]);
    assert.equal(
      code(() => followRotation(initialTrust(k0.verifierKey), unproven)),
      "key-chain",
    );
    // Signed by the new key only.
    const selfSigned = sign(rotation(1, k0.verifierKey, k1.verifierKey), [k1.signer]);
    assert.equal(
      code(() => followRotation(initialTrust(k0.verifierKey), selfSigned)),
      "key-chain",
    );
  });

  test("a root threshold counts distinct keys, not signature lines", () => {
    const roots = { threshold: 2, keys: [alice.verifierKey, bob.verifierKey] };
    const setRoots = sign(rotation(1, k0.verifierKey, k0.verifierKey, { roots }), [k0.signer]);
    const trust = followRotation(initialTrust(k0.verifierKey), setRoots);
    assert.deepEqual(trust.roots, roots);
    assert.equal(trust.key, k0.verifierKey);
    const next = rotation(2, k0.verifierKey, k1.verifierKey);
    // The online key alone cannot rotate itself any more.
    assert.equal(
      code(() => followRotation(trust, sign(next, [k0.signer, k1.signer]))),
      "key-chain",
    );
    // One root key on two lines counts once.
    const twice = addSignatures(sign(next, [alice.signer, k1.signer]), [alice.signer]);
    assert.equal(
      code(() => followRotation(trust, twice)),
      "key-chain",
    );
    const both = sign(next, [alice.signer, bob.signer, k1.signer]);
    assert.equal(followRotation(trust, both).key, k1.verifierKey);
  });

  test("a root set naming one key twice, under two names, is refused", () => {
    const b64 = alice.verifierKey.split("+").slice(2).join("+");
    const raw = Buffer.from(b64, "base64");
    const id = keyId("alias", raw[0], raw.subarray(1)).toString(16).padStart(8, "0");
    const roots = { threshold: 2, keys: [alice.verifierKey, `alias+${id}+${b64}`] };
    assert.equal(
      code(() => formatKeyRotation(rotation(1, k0.verifierKey, k1.verifierKey, { roots }))),
      "malformed-rotation",
    );
  });

  test("two different notes with one sequence are refused, naming both", () => {
    const honest = sign(rotation(1, k0.verifierKey, k1.verifierKey), [k0.signer, k1.signer]);
    const rival = sign(rotation(1, k0.verifierKey, k2.verifierKey), [k0.signer, k2.signer]);
    try {
      mergeChains([honest], [rival]);
      assert.fail("competing notes were merged");
    } catch (err) {
      assert.equal((err as { code?: string }).code, "key-chain");
      assert.match((err as Error).message, new RegExp(k1.verifierKey.replace(/[+/]/g, ".")));
      assert.match((err as Error).message, new RegExp(k2.verifierKey.replace(/[+/]/g, ".")));
    }
    assert.equal(
      code(() => mergeChains([], [honest, rival])),
      "key-chain",
    );
    const n3 = sign(rotation(3, k1.verifierKey, k2.verifierKey), [k1.signer, k2.signer]);
    assert.equal(
      code(() => mergeChains([honest], [n3])),
      "key-chain",
    );
    assert.deepEqual(mergeChains([honest], [honest]), [honest]);
  });

  test("a witness told only the old key refuses checkpoints by the new key; told both, it cosigns", async () => {
    const checkpoint = signNote(
      formatCheckpoint({
        origin: ORIGIN,
        size: 1,
        root: leafHash(new Uint8Array([1])),
        extensions: [],
      }),
      [k1.signer],
    );
    const body = formatAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint });
    const witness = (keys: readonly NoteVerifier[]) =>
      addCheckpoint(
        {
          cosigner: testKey("witness.example").signer,
          logs: new Map([[ORIGIN, keys]]),
          store: new MemoryWitnessStore(),
        },
        body,
      );
    assert.equal((await witness([k0.verifier])).status, 403);
    assert.equal((await witness([k0.verifier, k1.verifier])).status, 200);
  });
});
