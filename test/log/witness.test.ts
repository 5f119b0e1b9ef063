import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  addCheckpoint,
  Cosigner,
  formatAddCheckpointRequest,
  formatCheckpoint,
  isLogError,
  leafHash,
  MemoryHashReader,
  MemoryWitnessStore,
  openNote,
  parseAddCheckpointRequest,
  parseCosignatureVerifierKey,
  proveConsistency,
  signNote,
  TreeBuilder,
} from "../../src/log/index.ts";
import { entryBytes, TEST_ORIGIN, testKey } from "../helpers/log.ts";

const log = testKey();
const entries = Array.from({ length: 600 }, (_, i) => entryBytes(i));
const reader = new MemoryHashReader(entries.map(leafHash));

function checkpointAt(size: number, signer = log.signer): string {
  const tree = TreeBuilder.empty();
  for (const e of entries.slice(0, size)) tree.append(e, () => {});
  return signNote(
    formatCheckpoint({ origin: TEST_ORIGIN, size, root: tree.root(), extensions: [] }),
    [signer],
  );
}

async function request(oldSize: number, size: number, signer = log.signer): Promise<string> {
  const proof = oldSize === 0 ? [] : await proveConsistency(oldSize, size, reader);
  return formatAddCheckpointRequest({ oldSize, proof, checkpoint: checkpointAt(size, signer) });
}

function witness() {
  const cosigner = Cosigner.generate("witness.example/w1");
  const options = {
    cosigner,
    logs: new Map([[TEST_ORIGIN, [log.verifier]]]),
    store: new MemoryWitnessStore(),
  };
  return { cosigner, options };
}

describe("tlog-witness add-checkpoint", () => {
  test("request bodies round-trip, strictly", async () => {
    const body = await request(100, 300);
    const parsed = parseAddCheckpointRequest(body);
    assert.equal(parsed.oldSize, 100);
    assert.equal(formatAddCheckpointRequest(parsed), body);
    for (const bad of [
      "old 01\n\n",
      "old -1\n\n",
      "new 1\n\n",
      "old 1\nnotbase64\n\n",
      "old 1\n",
    ]) {
      assert.throws(
        () => parseAddCheckpointRequest(bad),
        (e) => isLogError(e, "malformed-note"),
        bad,
      );
    }
  });

  test("a log is followed from zero, and each response is a valid cosignature", async () => {
    const { cosigner, options } = witness();
    const first = await addCheckpoint(options, await request(0, 100));
    assert.equal(first.status, 200, first.body);
    assert.match(first.body, /^— witness\.example\/w1 \S+\n$/);
    const cosigned = checkpointAt(100) + first.body;
    const verifier = parseCosignatureVerifierKey(cosigner.verifierKey);
    assert.equal(openNote(cosigned, [verifier]).verified.length, 1);
    assert.equal((await addCheckpoint(options, await request(100, 357))).status, 200);
    assert.equal((await addCheckpoint(options, await request(357, 357))).status, 200);
  });

  test("every refusal has the spec's status", async () => {
    const { options } = witness();
    assert.equal((await addCheckpoint(options, await request(0, 100))).status, 200);
    const stale = await addCheckpoint(options, await request(50, 200));
    assert.deepEqual(
      [stale.status, stale.contentType, stale.body],
      [409, "text/x.tlog.size", "100\n"],
    );
    const wrongProof = formatAddCheckpointRequest({
      oldSize: 100,
      proof: await proveConsistency(101, 200, reader),
      checkpoint: checkpointAt(200),
    });
    assert.equal((await addCheckpoint(options, wrongProof)).status, 422);
    assert.equal(
      (await addCheckpoint(options, await request(100, 200, testKey().signer))).status,
      403,
    );
    const other = (await request(100, 200)).replaceAll(TEST_ORIGIN, "other.example/log");
    assert.equal((await addCheckpoint(options, other)).status, 404);
    assert.equal((await addCheckpoint(options, `old 300\n\n${checkpointAt(200)}`)).status, 400);
    assert.equal((await addCheckpoint(options, "garbage")).status, 400);
    // The log signs a second root for the same size: a fork, refused with 409.
    const forked = signNote(
      formatCheckpoint({ origin: TEST_ORIGIN, size: 100, root: Buffer.alloc(32), extensions: [] }),
      [log.signer],
    );
    const fork = await addCheckpoint(
      options,
      formatAddCheckpointRequest({ oldSize: 100, proof: [], checkpoint: forked }),
    );
    assert.deepEqual([fork.status, fork.body], [409, "100\n"]);
  });

  test("racing requests cannot roll the witness back", async () => {
    const { options } = witness();
    assert.equal((await addCheckpoint(options, await request(0, 100))).status, 200);
    const [a, b] = await Promise.all([
      addCheckpoint(options, await request(100, 500)),
      addCheckpoint(options, await request(100, 200)),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409]);
    const latest = await options.store.get(TEST_ORIGIN);
    assert.equal(latest?.size, a.status === 200 ? 500 : 200);
  });
});
