/**
 * Witness cosignatures against an independent implementation: Go's
 * crypto/ed25519 and golang.org/x/mod/sumdb/note with a 0x04 verifier
 * written from C2SP tlog-cosignature alone (test/interop/cosignature/).
 * The fixed-key vector it made is committed; the Go tests need `go` and
 * Debian's golang-golang-x-mod-dev (.ci/run installs them) and fail, not
 * skip, without them.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  addSignatures,
  formatAddCheckpointRequest,
  isLogError,
  openNote,
  parseCosignatureVerifierKey,
  parseVerifierKey,
} from "../../src/log/index.ts";
import { initWitness, runWitness } from "../../src/witness/index.ts";
import { parseWitnessKey } from "../../src/witness/key.ts";
import { tempDir, testKey } from "../helpers/log.ts";
import { postCheckpoint, testLog } from "../helpers/witness.ts";

interface Vector {
  logVerifierKey: string;
  logSignerKey: string;
  witnessVerifierKey: string;
  witnessKeyFile: string;
  timestamp: number;
  checkpoint: string;
  cosigned: string;
}

const GO_DIR = join(import.meta.dirname, "cosignature");
const VECTOR_FILE = join(
  import.meta.dirname,
  "..",
  "fixtures",
  "vectors",
  "cosignature",
  "vectors.json",
);

async function vector(): Promise<Vector> {
  return JSON.parse(await readFile(VECTOR_FILE, "utf8")) as Vector;
}

function go(args: string[], input = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "go",
      ["run", ".", ...args],
      {
        cwd: GO_DIR,
        env: {
          ...process.env,
          GO111MODULE: "off",
          GOPATH: "/usr/share/gocode",
          GOPROXY: "off",
          GOFLAGS: "",
          GOCACHE: join(GO_DIR, "..", "..", "..", "node_modules", ".cache", "go-build"),
        },
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

describe("cosignatures against Go's signed-note package", () => {
  test("Cairn reproduces Go's fixed-key cosignature byte for byte and verifies it", async () => {
    const v = await vector();
    const cosigner = parseWitnessKey(v.witnessKeyFile, () => BigInt(v.timestamp));
    assert.equal(cosigner.verifierKey, v.witnessVerifierKey);
    assert.equal(addSignatures(v.checkpoint, [cosigner]), v.cosigned);
    const witness = parseCosignatureVerifierKey(v.witnessVerifierKey);
    const opened = openNote(v.cosigned, [parseVerifierKey(v.logVerifierKey), witness]);
    assert.equal(opened.verified.length, 2);
    const line = v.cosigned.trimEnd().split("\n").at(-1) ?? "";
    const raw = Buffer.from(line.split(" ").at(-1) ?? "", "base64");
    assert.equal(witness.timestampOf(raw.subarray(4)), BigInt(v.timestamp));
    // A later time in the signature, a changed body, a short or long signature: refused.
    const later = Buffer.from(raw);
    later.writeBigUInt64BE(BigInt(v.timestamp + 1), 4);
    const tampered = [
      v.cosigned.replace(
        line,
        `${line.split(" ").slice(0, 2).join(" ")} ${later.toString("base64")}`,
      ),
      v.cosigned.replace(
        raw.toString("base64"),
        Buffer.concat([raw, Buffer.of(0)]).toString("base64"),
      ),
      v.cosigned.replace(raw.toString("base64"), raw.subarray(0, -1).toString("base64")),
    ];
    for (const note of tampered)
      assert.throws(
        () => openNote(note, [witness]),
        (err) => isLogError(err, "invalid-signature"),
      );
    assert.throws(
      () => openNote(v.cosigned.replace("\n1234\n", "\n1235\n"), [witness]),
      (err) => isLogError(err, "invalid-signature"),
    );
  });

  test("Go makes the committed vector again", async () => {
    const out = await go(["vector"]);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), await vector());
  });

  test("Go verifies a checkpoint cosigned by a running cairn witness, and refuses it altered", async () => {
    await using dir = await tempDir();
    const log = testKey();
    const cosigner = await initWitness(dir.path, "interop.witness.example/w1");
    const running = await runWitness({ dataDir: dir.path, logs: [log.verifierKey] });
    try {
      const checkpoint = testLog(log.signer).checkpointAt(300);
      const body = formatAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint });
      const answer = await postCheckpoint(running.url, body);
      assert.equal(answer.status, 200, answer.body);
      const cosigned = checkpoint + answer.body;
      const ok = await go(["verify", log.verifierKey, cosigner.verifierKey], cosigned);
      assert.deepEqual([ok.code, ok.stdout], [0, "ok 2 signatures\n"], ok.stderr);
      const altered = cosigned.replace("\n300\n", "\n301\n");
      const refused = await go(["verify", log.verifierKey, cosigner.verifierKey], altered);
      assert.equal(refused.code, 1);
    } finally {
      await running.close();
    }
  });
});
