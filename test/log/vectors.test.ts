/** The published RFC 6962 and signed-note vectors, every file of them. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, test } from "node:test";
import {
  isLogError,
  openNote,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
} from "../../src/log/index.ts";
import { fixturePath } from "../helpers/shared.ts";

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsonFiles(path);
    return name.endsWith(".json") ? [path] : [];
  });
}

const b64 = (s: string) => Buffer.from(s, "base64");

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

function expectOutcome(wantErr: boolean, run: () => void): void {
  if (wantErr) {
    assert.throws(run, (err) => isLogError(err, "invalid-proof"));
  } else {
    run();
  }
}

describe("RFC 6962 vectors", () => {
  const base = fixturePath("vectors", "rfc6962");
  const inclusion = jsonFiles(join(base, "inclusion"));
  const consistency = jsonFiles(join(base, "consistency"));

  test("the vector set is all there", () => {
    assert.ok(inclusion.length >= 80, `only ${inclusion.length} inclusion vectors`);
    assert.ok(consistency.length >= 80, `only ${consistency.length} consistency vectors`);
    assert.ok(inclusion.some((f) => JSON.parse(readFileSync(f, "utf8")).wantErr === false));
  });

  for (const file of inclusion) {
    const v = JSON.parse(readFileSync(file, "utf8")) as InclusionVector;
    test(`inclusion ${relative(base, file)}: ${v.desc}`, () => {
      expectOutcome(v.wantErr, () =>
        verifyInclusion(
          v.leafIdx,
          v.treeSize,
          b64(v.leafHash),
          (v.proof ?? []).map(b64),
          b64(v.root),
        ),
      );
    });
  }

  for (const file of consistency) {
    const v = JSON.parse(readFileSync(file, "utf8")) as ConsistencyVector;
    test(`consistency ${relative(base, file)}: ${v.desc}`, () => {
      expectOutcome(v.wantErr, () =>
        verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2)),
      );
    });
  }
});

interface NoteVector {
  source: string;
  verifierKey: string;
  note: string;
  text: string;
  keyName: string;
  keyIdHex: string;
  expectVerified: boolean;
}

describe("signed-note vectors", () => {
  const vectors = JSON.parse(
    readFileSync(fixturePath("vectors", "signed-note", "vectors.json"), "utf8"),
  ) as NoteVector[];
  test("there are vectors", () => assert.ok(vectors.length > 0));
  for (const v of vectors) {
    test(v.source, () => {
      const verifier = parseVerifierKey(v.verifierKey);
      assert.equal(verifier.name, v.keyName);
      assert.equal(verifier.keyId.toString(16).padStart(8, "0"), v.keyIdHex);
      if (v.expectVerified) {
        const opened = openNote(v.note, [verifier]);
        assert.equal(opened.text, v.text);
        assert.deepEqual(
          opened.verified.map((s) => s.name),
          [v.keyName],
        );
      } else {
        assert.throws(() => openNote(v.note, [verifier]), isLogError);
      }
    });
  }
});
