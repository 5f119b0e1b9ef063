import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { base16 } from "multiformats/bases/base16";
import { CID } from "multiformats/cid";
import { cidOf, DAG_PB_CODEC, parseCid, RAW_CODEC, rawCid } from "../../src/store/cid.ts";
import { sha256Hex } from "../../src/util/sha256.ts";

describe("CIDs", () => {
  it("gives a raw CIDv1 from a SHA-256, matching published vectors", () => {
    // The empty block, "hello world" (IPIP-0499's table) and the 1 MiB vector's leaf.
    assert.equal(
      rawCid(sha256Hex("")),
      "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    );
    assert.equal(
      rawCid(sha256Hex("hello world")),
      "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
    );
    assert.equal(
      rawCid(sha256Hex("hello\n")),
      "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am",
    );
  });

  it("parses any CID Cairn can hold back to its codec and digest", () => {
    const hex = sha256Hex("hello world");
    assert.deepEqual(parseCid(rawCid(hex)), { codec: RAW_CODEC, sha256: hex });
    const node = cidOf(hex, DAG_PB_CODEC);
    assert.ok(node.startsWith("bafybei"));
    assert.deepEqual(parseCid(node), { codec: DAG_PB_CODEC, sha256: hex });
    // The same block in another base, and as CIDv0 (dag-pb, base58btc).
    const v1 = CID.parse(node);
    assert.deepEqual(parseCid(v1.toString(base16)), { codec: DAG_PB_CODEC, sha256: hex });
    assert.deepEqual(parseCid(v1.toV0().toString()), { codec: DAG_PB_CODEC, sha256: hex });
  });

  it("treats a valid CID with another hash or codec as not held", () => {
    assert.equal(parseCid("bafkqaaa"), undefined); // identity hash of nothing
    assert.equal(parseCid(cidOf(sha256Hex("x"), 0x71)), undefined); // dag-cbor
  });

  it("refuses text that is not a CID with a coded error", () => {
    for (const bad of ["", "hello", "bafkrei", "Qm123", "z".repeat(300)])
      assert.throws(() => parseCid(bad), { code: "bad-cid" });
    assert.throws(() => cidOf("xyz"), { code: "bad-cid" });
  });
});
