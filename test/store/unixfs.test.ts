import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { MemoryBlockstore } from "blockstore-core/memory";
import { exporter } from "ipfs-unixfs-exporter";
import { importBytes } from "ipfs-unixfs-importer";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { sha256 } from "multiformats/hashes/sha2";
import { CHUNK_SIZE, cidOf, DAG_PB_CODEC, RAW_CODEC, rawCid } from "../../src/store/cid.ts";
import {
  linksOfNode,
  type UnixfsDag,
  unixfsOf,
  unixfsOfBytes,
  unixfsOfFile,
} from "../../src/store/unixfs.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { keystream, keystreamBytes } from "../helpers/keystream.ts";
import { tempDir } from "../helpers/log.ts";

const MiB = CHUNK_SIZE;

/** The root the reference importer gives under the profile. */
async function oracleRoot(data: Uint8Array): Promise<string> {
  const { cid } = await importBytes(data, new MemoryBlockstore(), { profile: "unixfs-v1-2025" });
  return cid.toString();
}

/** A blockstore of our blocks only: the nodes, and each leaf cut from the bytes. */
function blockstoreOf(dag: UnixfsDag, data: Uint8Array): MemoryBlockstore {
  const store = new MemoryBlockstore();
  const cid = (hex: string, codec: number) =>
    CID.createV1(codec, Digest.create(sha256.code, Buffer.from(hex, "hex")));
  for (const node of dag.nodes) store.put(cid(node.sha256, DAG_PB_CODEC), node.bytes);
  for (const leaf of dag.leaves)
    store.put(cid(leaf.sha256, RAW_CODEC), data.subarray(leaf.offset, leaf.offset + leaf.length));
  return store;
}

async function exported(dag: UnixfsDag, data: Uint8Array): Promise<Buffer> {
  const entry = await exporter(dag.root, blockstoreOf(dag, data));
  assert.ok(entry.type === "file" || entry.type === "raw");
  const parts: Uint8Array[] = [];
  for await (const part of entry.content()) parts.push(part);
  return Buffer.concat(parts);
}

describe("UnixFS file DAGs (unixfs-v1-2025)", () => {
  it("gives IPIP-0499's published roots for 1 MiB and 1 MiB + 1 bytes", async () => {
    const one = await unixfsOf(keystream("chunk-v1-seed", MiB));
    assert.equal(one.root, "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta");
    assert.equal(one.root, rawCid(one.sha256));
    assert.deepEqual(one.nodes, []);
    assert.deepEqual(one.leaves, [{ sha256: one.sha256, offset: 0, length: MiB }]);

    const two = await unixfsOf(keystream("chunk-v1-seed", MiB + 1));
    assert.equal(two.root, "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64");
    assert.equal(two.size, MiB + 1);
    assert.equal(two.nodes.length, 1);
    // The worked root block, byte for byte (links first, then Data).
    assert.equal(
      Buffer.from(two.nodes[0].bytes).toString("hex"),
      "122c0a24015512200268cb8e7373247d08ea6c0846700eb7b9c8eb58bfecbd921e4252e9e266ec98120018808040" +
        "122a0a24015512204d7b3ef7300acf70c892d8327db8272f54434adbc61a4e130a563cb59a0d0f47120018010a0c" +
        "080218818040208080402001",
    );
    assert.equal(cidOf(two.nodes[0].sha256, DAG_PB_CODEC), two.root);
    assert.deepEqual(
      two.leaves.map((l) => [l.offset, l.length]),
      [
        [0, MiB],
        [MiB, 1],
      ],
    );
  });

  it("matches the reference importer on sizes around the chunk and node boundaries", async () => {
    const zeros = (n: number) => new Uint8Array(n);
    const cases: [string, Uint8Array][] = [
      ["empty", zeros(0)],
      ["one byte", keystreamBytes("a", 1)],
      ["1 MiB - 1", keystreamBytes("b", MiB - 1)],
      ["exactly 2 MiB", keystreamBytes("c", 2 * MiB)],
      ["2 MiB + 1", keystreamBytes("d", 2 * MiB + 1)],
      ["identical chunks", zeros(3 * MiB + 5)],
    ];
    for (const [what, data] of cases) {
      const dag = unixfsOfBytes(data);
      assert.equal(dag.root, await oracleRoot(data), what);
      assert.equal(dag.sha256, sha256Hex(data), what);
      assert.equal(dag.size, data.length, what);
      if (data.length > 0) assert.deepEqual(await exported(dag, data), Buffer.from(data), what);
    }
    // Identical chunks give one leaf digest, repeated, under one node.
    const repeated = unixfsOfBytes(zeros(3 * MiB + 5));
    assert.equal(new Set(repeated.leaves.map((l) => l.sha256)).size, 2);
    assert.equal(repeated.leaves.length, 4);
  });

  it("gives the same DAG however the bytes are cut into chunks", async () => {
    const data = keystreamBytes("cuts", 2 * MiB + 12345);
    const whole = unixfsOfBytes(data);
    const cuts = [4099, 65536, MiB - 1, MiB + 3];
    for (const cut of cuts) {
      const pieces = function* () {
        for (let at = 0; at < data.length; at += cut) yield data.subarray(at, at + cut);
      };
      assert.deepEqual(await unixfsOf(pieces()), whole, `chunks of ${cut}`);
    }
  });

  it("reads a file as a stream", async () => {
    await using dir = await tempDir();
    const data = keystreamBytes("file", 2 * MiB + 3);
    const path = join(dir.path, "blob");
    await writeFile(path, data);
    assert.deepEqual(await unixfsOfFile(path), unixfsOfBytes(data));
  });

  it("wraps more than 1024 leaves in a second level, every leaf at the same depth", async () => {
    // 1025 chunks of zeros plus one byte: built from a stream, never held whole.
    const zeros = new Uint8Array(MiB);
    const stream = function* () {
      for (let i = 0; i < 1025; i++) yield zeros;
      yield new Uint8Array(1);
    };
    const dag = await unixfsOf(stream());
    assert.equal(dag.leaves.length, 1026);
    const root = linksOfNode(dag.nodes[0].bytes);
    assert.equal(root.length, 2);
    assert.ok(root.every((l) => l.codec === DAG_PB_CODEC));
    assert.deepEqual(
      root.map((l) => l.size),
      [1024 * MiB, MiB + 1],
    );
    const tail = dag.nodes.find((n) => n.sha256 === root[1].sha256);
    assert.ok(tail);
    assert.deepEqual(
      linksOfNode(tail.bytes).map((l) => [l.codec, l.size]),
      [
        [RAW_CODEC, MiB],
        [RAW_CODEC, 1],
      ],
    );
  });

  it("reads a node's links back with the bytes under each", () => {
    const dag = unixfsOfBytes(keystreamBytes("links", MiB + 10));
    assert.deepEqual(linksOfNode(dag.nodes[0].bytes), [
      { codec: RAW_CODEC, sha256: dag.leaves[0].sha256, size: MiB },
      { codec: RAW_CODEC, sha256: dag.leaves[1].sha256, size: 10 },
    ]);
    assert.throws(() => linksOfNode(new Uint8Array([1, 2, 3])));
  });
});
