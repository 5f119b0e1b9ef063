/**
 * Fuzzing signed notes, checkpoints, cosignatures and key strings: every
 * mutated input parses canonically or is refused with a LogError, and a
 * mutated note never opens to another text than the one signed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type Checkpoint,
  Cosigner,
  formatCheckpoint,
  LogError,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  parseCosignatureVerifierKey,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from "../../src/log/index.ts";
import { parseKeyParts } from "../../src/log/note.ts";
import { testKey } from "../helpers/log.ts";
import { fuzzRuns, mutateBytes, mutateText, mutations, parsesCanonically, timed } from "./fuzz.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const log = testKey("fuzz.example/log");
const other = testKey("other.example/log");
const witness = Cosigner.generate("witness.example/w");
const witnessVerifier = parseCosignatureVerifierKey(witness.verifierKey);

/** Text of printable lines, as a checkpoint or mirror list might hold. */
const line = fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" }).filter(
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters notes refuse
  (s) => !/[\u0000-\u001f]/.test(s),
);

const checkpoint: fc.Arbitrary<Checkpoint> = fc.record({
  origin: line,
  size: fc.oneof(fc.nat({ max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.nat()),
  root: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  extensions: fc.array(line, { maxLength: 3 }),
});

/** A checkpoint signed by the log, with maybe a cosignature and a signature by an unknown key. */
const signedCheckpoint = fc
  .tuple(checkpoint, fc.boolean(), fc.boolean())
  .map(([cp, cosigned, foreign]) => {
    const signers = [
      log.signer,
      ...(cosigned ? [witness] : []),
      ...(foreign ? [other.signer] : []),
    ];
    return { checkpoint: cp, note: signNote(formatCheckpoint(cp), signers) };
  });

function encodeNote(parsed: ReturnType<typeof parseNote>): Uint8Array {
  return encoder.encode(`${parsed.text}\n${parsed.signatures.map((s) => `${s.line}\n`).join("")}`);
}

function encodeKeyParts(parts: ReturnType<typeof parseKeyParts>): string {
  const id = parts.keyId.toString(16).padStart(8, "0");
  const key = Buffer.concat([Buffer.of(parts.type), parts.key]).toString("base64");
  return `${parts.name}+${id}+${key}`;
}

describe("fuzzing signed notes and checkpoints", () => {
  test("a mutated note parses to the same bytes or is refused with a LogError", () => {
    fc.assert(
      fc.property(signedCheckpoint, mutations, ({ note }, ms) => {
        const bytes = mutateBytes(encoder.encode(note), ms);
        parsesCanonically(bytes, parseNote, encodeNote, LogError);
      }),
      fuzzRuns(400),
    );
  });

  test("a mutated checkpoint body parses to the same text or is refused with a LogError", () => {
    fc.assert(
      fc.property(checkpoint, mutations, (cp, ms) => {
        const text = mutateText(formatCheckpoint(cp), ms);
        parsesCanonically(text, parseCheckpoint, formatCheckpoint, LogError);
      }),
      fuzzRuns(400),
    );
  });

  test("a signed checkpoint opens only to the checkpoint that was signed", () => {
    const verifiers = [log.verifier, witnessVerifier];
    fc.assert(
      fc.property(signedCheckpoint, mutations, ({ checkpoint: cp, note }, ms) => {
        const bytes = mutateBytes(encoder.encode(note), ms);
        let opened: ReturnType<typeof openCheckpoint>;
        try {
          opened = timed(() => openCheckpoint(bytes, verifiers, cp.origin));
        } catch (err) {
          assert.ok(err instanceof LogError, String(err));
          return;
        }
        assert.equal(opened.note.text, formatCheckpoint(cp));
        const signed = decoder.decode(bytes);
        for (const sig of opened.note.verified) assert.ok(note.includes(sig.base64), signed);
      }),
      fuzzRuns(400),
    );
  });

  test("a note opens only to the text that was signed, whatever its text", () => {
    const text = fc.array(line, { minLength: 1, maxLength: 4 }).map((ls) => `${ls.join("\n")}\n`);
    fc.assert(
      fc.property(text, mutations, (t, ms) => {
        const note = signNote(t, [log.signer, witness]);
        const bytes = mutateBytes(encoder.encode(note), ms);
        try {
          assert.equal(timed(() => openNote(bytes, [log.verifier, witnessVerifier])).text, t);
        } catch (err) {
          assert.ok(err instanceof LogError, String(err));
        }
      }),
      fuzzRuns(300),
    );
  });

  test("mutated key strings parse canonically or are refused with a LogError", () => {
    const keys = fc.constantFrom(
      log.verifierKey,
      log.signerKey,
      witness.verifierKey,
      other.verifierKey,
    );
    fc.assert(
      fc.property(keys, mutations, (key, ms) => {
        const text = mutateText(key, ms);
        const tail = text.startsWith("PRIVATE+KEY+") ? text.slice("PRIVATE+KEY+".length) : text;
        parsesCanonically(tail, (t) => parseKeyParts(t, "key"), encodeKeyParts, LogError);
        for (const parse of [parseVerifierKey, parseSignerKey, parseCosignatureVerifierKey]) {
          try {
            timed(() => parse(text));
          } catch (err) {
            assert.ok(err instanceof LogError, `${parse.name}: ${String(err)}`);
          }
        }
      }),
      fuzzRuns(300),
    );
  });
});
