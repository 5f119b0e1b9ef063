import assert from "node:assert/strict";
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import {
  loadOrCreateRegistrySigner,
  nextKeySet,
  type RegistrySigner,
} from "../../src/origin/registry-signer.ts";
import {
  decodeEntry,
  type Entry,
  EntryError,
  encodeEntry,
  ORIGIN_ACTOR,
  type RegistryKeysEntry,
  type SignatureEntry,
} from "../../src/registry/entries.ts";
import { keyIdOf, signatureMessage } from "../../src/registry/registry-keys.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { publishEntry } from "../helpers/entries.ts";

const isCode = (code: string) => (err: unknown) => err instanceof EntryError && err.code === code;

async function signer(): Promise<RegistrySigner> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-regkey-"));
  try {
    return await loadOrCreateRegistrySigner(join(dir, "npm-registry-key"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const INTEGRITY = `sha512-${"A".repeat(86)}==`;

/** A state holding `a@1.0.0` (publishEntry's fake sha512), then `entries` replayed after it. */
function replay(entries: readonly Entry[]): RegistryState {
  const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
  const batch = state.begin(0);
  for (const entry of [publishEntry("a", "1.0.0"), ...entries]) batch.replay(entry);
  batch.commit();
  return state;
}

describe("registry keys and signatures", () => {
  test("keyid is SHA256: and the unpadded base64 of the SPKI's SHA-256 (npm's form)", () => {
    // A fixed P-256 SPKI (the public key of the PKCS#8 below), hashed independently with sha256sum | base64.
    const spki = Buffer.from(
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY6Ya7W++7aUPzvMTrezH6Ycx3c+XEmGyWOavuTmeckNb6ZFiwjHi3hQ2VIxODwlrSqKuvJ6S1fXpbVOtY6A2uQ==",
      "base64",
    );
    const expected = createHash("sha256").update(spki).digest("base64").replace(/=+$/, "");
    assert.equal(keyIdOf(spki), `SHA256:${expected}`);
    assert.match(keyIdOf(spki), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  test("the message is name@version:integrity in UTF-8, scoped names as they are", () => {
    assert.equal(
      signatureMessage("@scope/pkg", "1.0.0-beta.1", "sha512-abc==").toString("hex"),
      Buffer.from("@scope/pkg@1.0.0-beta.1:sha512-abc==", "utf8").toString("hex"),
    );
    assert.equal(signatureMessage("left-pad", "1.3.0", "x").toString(), "left-pad@1.3.0:x");
  });

  test("a signature verifies as pacote checks it: PEM around the key, DER signature, SHA-256", async () => {
    const s = await signer();
    const entry = s.signatureEntry("npm", "@scope/pkg", "1.0.0", INTEGRITY);
    const pem = `-----BEGIN PUBLIC KEY-----\n${s.key.key}\n-----END PUBLIC KEY-----`;
    const message = `@scope/pkg@1.0.0:${INTEGRITY}`;
    assert.ok(verify("sha256", Buffer.from(message), pem, Buffer.from(entry.sig, "base64")));
    assert.equal(entry.actor, ORIGIN_ACTOR);
    assert.deepEqual(decodeEntry(encodeEntry(entry)), entry);
  });

  test("replay folds a valid signature into the version, one per keyid", async () => {
    const s = await signer();
    const keys = nextKeySet(undefined, s, "npm", 1) as RegistryKeysEntry;
    const first = s.signatureEntry("npm", "a", "1.0.0", INTEGRITY);
    const second = s.signatureEntry("npm", "a", "1.0.0", INTEGRITY);
    const state = replay([keys, first, second]);
    const row = state.table("npm").version("a", "1.0.0");
    assert.deepEqual(row?.signatures, [{ keyid: s.key.keyid, sig: second.sig }]);
    assert.equal(state.registryKeys?.index, 1);
    state.close();
  });

  test("replay refuses a wrong signature, an unknown keyid, a signature with no key set", async () => {
    const s = await signer();
    const other = await signer();
    const keys = nextKeySet(undefined, s, "npm", 1) as RegistryKeysEntry;
    const good = s.signatureEntry("npm", "a", "1.0.0", INTEGRITY);
    const overOther = s.signatureEntry("npm", "a", "1.0.0", `sha512-${"B".repeat(86)}==`);
    assert.throws(() => replay([keys, { ...good, sig: overOther.sig }]), isCode("cannot-apply"));
    const byOther = other.signatureEntry("npm", "a", "1.0.0", INTEGRITY);
    assert.throws(() => replay([keys, byOther]), isCode("cannot-apply"));
    assert.throws(() => replay([good]), isCode("cannot-apply"));
    // Not the origin's, or of a version the log does not hold.
    assert.throws(() => replay([keys, { ...good, actor: "alice" }]), isCode("cannot-apply"));
    const missing = s.signatureEntry("npm", "a", "9.9.9", INTEGRITY);
    assert.throws(() => replay([keys, missing]), isCode("cannot-apply"));
  });

  test("replay refuses a bad key set: not P-256, keyid mismatch, a dropped key, expiry moving back", async () => {
    const s = await signer();
    const t = await signer();
    const keys = nextKeySet(undefined, s, "npm", 1) as RegistryKeysEntry;
    // A P-384 key is valid SPKI of another curve: longer, so encoding refuses its shape, and replay its curve.
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" })
      .publicKey.export({ format: "der", type: "spki" })
      .toString("base64");
    const p384Set = {
      ...keys,
      keys: [{ ...s.key, key: p384, keyid: keyIdOf(Buffer.from(p384, "base64")) }],
    };
    assert.throws(() => encodeEntry(p384Set), isCode("bad-field"));
    assert.throws(() => replay([p384Set]), isCode("cannot-apply"));
    // A key set for an ecosystem whose entries carry no signatures.
    assert.throws(() => replay([{ ...keys, ecosystem: "cargo" }]), isCode("cannot-apply"));
    // 91 bytes, as a P-256 key's, that are not one.
    const bytes = `${"M".repeat(121)}A==`;
    const junk = { ...s.key, key: bytes, keyid: keyIdOf(Buffer.from(bytes, "base64")) };
    assert.doesNotThrow(() => encodeEntry({ ...keys, keys: [junk] }));
    assert.throws(() => replay([{ ...keys, keys: [junk] }]), isCode("cannot-apply"));
    assert.throws(
      () => replay([{ ...keys, keys: [{ ...s.key, keyid: t.key.keyid }] }]),
      isCode("cannot-apply"),
    );
    const rotated = nextKeySet(keys, t, "npm", 2) as RegistryKeysEntry;
    assert.equal(rotated.keys[0].expires, rotated.time);
    assert.equal(rotated.keys[1].expires, null);
    replay([keys, rotated]).close();
    // t's key set without s's key: s was dropped.
    assert.throws(
      () => replay([keys, { ...rotated, keys: [rotated.keys[1]] }]),
      isCode("cannot-apply"),
    );
    const earlier = "2020-01-01T00:00:00.000Z";
    const moved = { ...rotated, keys: [{ ...rotated.keys[0], expires: earlier }, rotated.keys[1]] };
    assert.throws(() => replay([keys, rotated, moved]), isCode("cannot-apply"));
    // A signature by the expired key, made after it expired.
    const late = {
      ...s.signatureEntry("npm", "a", "1.0.0", INTEGRITY),
      time: "2999-01-01T00:00:00.000Z",
    };
    assert.throws(() => replay([keys, rotated, late]), isCode("cannot-apply"));
  });

  test("a signature over a known P-256 key made elsewhere verifies in replay", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const spki = publicKey.export({ format: "der", type: "spki" });
    const keyid = keyIdOf(spki);
    const keys: RegistryKeysEntry = {
      v: 1,
      kind: "registry-keys",
      time: "2026-11-21T06:00:00.000Z",
      size: 1,
      ecosystem: "npm",
      keys: [
        {
          expires: null,
          key: spki.toString("base64"),
          keyid,
          keytype: "ecdsa-sha2-nistp256",
          scheme: "ecdsa-sha2-nistp256",
        },
      ],
    };
    const sig = sign("sha256", Buffer.from(`a@1.0.0:${INTEGRITY}`), privateKey).toString("base64");
    const entry: SignatureEntry = {
      v: 1,
      kind: "signature",
      ecosystem: "npm",
      name: "a",
      version: "1.0.0",
      time: "2026-11-21T06:00:01.000Z",
      actor: ORIGIN_ACTOR,
      keyid,
      sig,
    };
    const state = replay([keys, entry]);
    assert.equal(state.table("npm").version("a", "1.0.0")?.signatures?.[0].sig, sig);
    state.close();
    assert.ok(createPublicKey({ key: spki, format: "der", type: "spki" }));
  });
});
