import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import {
  addSignatures,
  Cosigner,
  formatCheckpoint,
  generateKey,
  isLogError,
  keyId,
  openCheckpoint,
  openNote,
  parseCosignatureVerifierKey,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from "../../src/log/index.ts";

// The C2SP signed-note example key and note (also in Go's sumdb/note tests).
const EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const EXAMPLE_NOTE =
  "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

const code = (c: string) => (e: unknown) => isLogError(e, c as never);

describe("keys", () => {
  test("generated keys round-trip and key IDs follow the spec", () => {
    const { signerKey, verifierKey } = generateKey("cairn.example/log");
    assert.match(signerKey, /^PRIVATE\+KEY\+cairn\.example\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    const signer = parseSignerKey(signerKey);
    const verifier = parseVerifierKey(verifierKey);
    assert.equal(signer.verifierKey, verifierKey);
    assert.equal(signer.keyId, verifier.keyId);
    // The base64 key may itself contain "+": it is everything after the second one.
    const b64 = verifierKey.split("+").slice(2).join("+");
    const raw = Buffer.from(b64, "base64").subarray(1);
    assert.equal(keyId("cairn.example/log", 1, raw), verifier.keyId);
  });

  test("malformed verifier keys are rejected", () => {
    for (const vkey of [
      "",
      "example.com/foo",
      "example.com/foo+530d903a",
      "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", // wrong key ID
      "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", // uppercase hex
      "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2", // truncated base64
      "example.com/foo+530d903a+BekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", // wrong type
      "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k+extra",
      "example .com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ]) {
      assert.throws(() => parseVerifierKey(vkey), code("malformed-key"), vkey);
    }
  });
});

describe("signed notes (C2SP signed-note)", () => {
  test("the spec's example note verifies", () => {
    const opened = openNote(EXAMPLE_NOTE, [parseVerifierKey(EXAMPLE_VKEY)]);
    assert.equal(opened.text, "This is an example message.\n");
    assert.equal(opened.verified.length, 1);
  });

  test("sign then open, with unknown keys ignored", () => {
    const a = parseSignerKey(generateKey("a.example").signerKey);
    const b = parseSignerKey(generateKey("b.example").signerKey);
    const note = signNote("hello\n\nworld\n", [a, b]);
    const opened = openNote(note, [parseVerifierKey(a.verifierKey)]);
    assert.equal(opened.text, "hello\n\nworld\n");
    assert.deepEqual(
      opened.verified.map((s) => s.name),
      ["a.example"],
    );
    assert.deepEqual(
      opened.unverified.map((s) => s.name),
      ["b.example"],
    );
  });

  test("a note signed only by unknown keys is rejected", () => {
    const other = parseVerifierKey(generateKey("example.com/foo").verifierKey);
    assert.throws(() => openNote(EXAMPLE_NOTE, [other]), code("unverified-note"));
    assert.throws(() => openNote(EXAMPLE_NOTE, []), code("unverified-note"));
  });

  test("a bad signature by a known key rejects the whole note", () => {
    const verifier = parseVerifierKey(EXAMPLE_VKEY);
    const altered = EXAMPLE_NOTE.replace("example message", "exemple message");
    assert.throws(() => openNote(altered, [verifier]), code("invalid-signature"));
    const sig = Buffer.from(EXAMPLE_NOTE.split(" ").at(-1) as string, "base64");
    sig[10] ^= 1;
    const badSig = EXAMPLE_NOTE.replace(/[^ ]+\n$/, `${sig.toString("base64")}\n`);
    assert.throws(() => openNote(badSig, [verifier]), code("invalid-signature"));
  });

  test("malformed notes are rejected", () => {
    const verifier = parseVerifierKey(EXAMPLE_VKEY);
    const bad = [
      EXAMPLE_NOTE.slice(0, -1), // no final newline
      `${EXAMPLE_NOTE}garbage`, // trailing garbage
      `${EXAMPLE_NOTE}garbage\n`, // a line that is not a signature
      `${EXAMPLE_NOTE}\n`, // trailing blank line
      EXAMPLE_NOTE.replace("\n\n", "\n"), // no blank line
      EXAMPLE_NOTE.replace("— ", "- "), // hyphen instead of em dash
      EXAMPLE_NOTE.replace("— ", "—"), // no space
      EXAMPLE_NOTE.replace("example.com/foo ", "example.com/foo  "), // double space
      EXAMPLE_NOTE.replace("yaQM=", "yaQM"), // unpadded base64
      EXAMPLE_NOTE.replace("message", "mess\tage"), // control character
      EXAMPLE_NOTE.replace("message", "mess\rage"),
      "This is an example message.\n\n— example.com/foo AAAA\n", // signature too short
      "This is an example message.\n\n",
    ];
    for (const note of bad)
      assert.throws(() => openNote(note, [verifier]), code("malformed-note"), JSON.stringify(note));
    const invalidUtf8 = Buffer.concat([
      Buffer.from(EXAMPLE_NOTE.slice(0, 5)),
      Buffer.of(0xff),
      Buffer.from(EXAMPLE_NOTE.slice(5)),
    ]);
    assert.throws(() => openNote(invalidUtf8, [verifier]), code("malformed-note"));
  });

  test("more than 100 signatures is rejected", () => {
    const line = EXAMPLE_NOTE.split("\n\n")[1];
    assert.throws(() => parseNote(`${EXAMPLE_NOTE}${line.repeat(100)}`), code("malformed-note"));
    assert.equal(parseNote(`${EXAMPLE_NOTE}${line.repeat(99)}`).signatures.length, 100);
  });
});

describe("checkpoints (C2SP tlog-checkpoint)", () => {
  const key = generateKey("cairn.example/log");
  const signer = parseSignerKey(key.signerKey);
  const verifier = parseVerifierKey(key.verifierKey);
  const root = Buffer.alloc(32, 0xab);

  test("format and open", () => {
    const text = formatCheckpoint({
      origin: "cairn.example/log",
      size: 20852163,
      root,
      extensions: [],
    });
    assert.equal(text, `cairn.example/log\n20852163\n${root.toString("base64")}\n`);
    const opened = openCheckpoint(signNote(text, [signer]), [verifier], "cairn.example/log");
    assert.equal(opened.size, 20852163);
    assert.equal(Buffer.from(opened.root).toString("hex"), root.toString("hex"));
  });

  test("strict parsing", () => {
    const r = root.toString("base64");
    const bad = [
      `cairn.example/log\n020852163\n${r}\n`,
      `cairn.example/log\n-1\n${r}\n`,
      `cairn.example/log\n+1\n${r}\n`,
      `cairn.example/log\n1 \n${r}\n`,
      `cairn.example/log\n99999999999999999999\n${r}\n`,
      `cairn.example/log\n1\n${r.slice(0, -1)}\n`,
      `cairn.example/log\n1\n${Buffer.alloc(31).toString("base64")}\n`,
      `cairn.example/log\n1\n${r}\n\n`,
      `cairn.example/log\n1\n`,
      `\n1\n${r}\n`,
    ];
    for (const text of bad) {
      assert.throws(
        () => openCheckpoint(signNote(text, [signer]), [verifier]),
        code("malformed-checkpoint"),
        text,
      );
    }
    const withExt = `cairn.example/log\n1\n${r}\nextension line\n`;
    assert.deepEqual(openCheckpoint(signNote(withExt, [signer]), [verifier]).extensions, [
      "extension line",
    ]);
  });

  test("a checkpoint of another log is refused", () => {
    const text = formatCheckpoint({ origin: "other.example/log", size: 1, root, extensions: [] });
    assert.throws(
      () => openCheckpoint(signNote(text, [signer]), [verifier], "cairn.example/log"),
      code("wrong-origin"),
    );
  });
});

describe("cosignatures (C2SP tlog-cosignature, Ed25519)", () => {
  const log = parseSignerKey(generateKey("cairn.example/log").signerKey);
  const text = formatCheckpoint({
    origin: "cairn.example/log",
    size: 5,
    root: Buffer.alloc(32, 1),
    extensions: [],
  });

  test("a witness cosigns a checkpoint and the cosignature verifies", () => {
    const witness = new Cosigner(
      "witness.example/w1",
      generateKeyPairSync("ed25519").privateKey,
      () => 1679315147n,
    );
    const note = addSignatures(signNote(text, [log]), [witness]);
    const cosigVerifier = parseCosignatureVerifierKey(witness.verifierKey);
    assert.match(witness.verifierKey, /^witness\.example\/w1\+[0-9a-f]{8}\+B/); // type byte 0x04
    const opened = openNote(note, [cosigVerifier]);
    assert.equal(opened.verified[0].name, "witness.example/w1");
    const sig = Buffer.from(opened.verified[0].base64, "base64").subarray(4);
    assert.equal(cosigVerifier.timestampOf(sig), 1679315147n);
    // Both the log and the witness verify on the same note.
    assert.equal(
      openNote(note, [parseVerifierKey(log.verifierKey), cosigVerifier]).verified.length,
      2,
    );
  });

  test("a cosignature does not verify as a plain signature, nor over other text", () => {
    const witness = Cosigner.generate("witness.example/w1");
    const cosigVerifier = parseCosignatureVerifierKey(witness.verifierKey);
    const note = signNote(text, [witness]);
    const otherText = text.replace("\n5\n", "\n6\n");
    const forged = note.replace(text, otherText);
    assert.throws(() => openNote(forged, [cosigVerifier]), code("invalid-signature"));
    // The key ID of a cosigner differs from that of an Ed25519 note key with the same key.
    assert.throws(() => parseVerifierKey(witness.verifierKey), code("malformed-key"));
  });

  test("a signature too short for a timestamp is a malformed note, not a RangeError", () => {
    const cosigVerifier = parseCosignatureVerifierKey(Cosigner.generate("w.example/w").verifierKey);
    assert.throws(() => cosigVerifier.timestampOf(new Uint8Array(7)), code("malformed-note"));
    assert.equal(cosigVerifier.verify(new TextEncoder().encode(text), new Uint8Array(7)), false);
  });
});
