import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import { exporter, type ReadableStorage } from "ipfs-unixfs-exporter";
import { CID } from "multiformats/cid";
import { BlobStore } from "../../src/store/blobs.ts";
import { BlockIndex, MAX_BLOCK_SIZE, type UnixfsRoot } from "../../src/store/block-index.ts";
import {
  type BlockAddress,
  CHUNK_SIZE,
  cidOf,
  DAG_PB_CODEC,
  parseCid,
  RAW_CODEC,
  rawCid,
} from "../../src/store/cid.ts";
import { type UnixfsDag, unixfsOfBytes } from "../../src/store/unixfs.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { keystreamBytes } from "../helpers/keystream.ts";
import { tempDir } from "../helpers/log.ts";

const MiB = CHUNK_SIZE;
const raw = (sha256: string): BlockAddress => ({ codec: RAW_CODEC, sha256 });
const node = (sha256: string): BlockAddress => ({ codec: DAG_PB_CODEC, sha256 });
const rootOf = (dag: UnixfsDag): UnixfsRoot => ({
  sha256: dag.sha256,
  size: dag.size,
  root: dag.root,
});

/** A large blob stored with its node blocks, as every copy stores a large tarball. */
async function storeLarge(blobs: BlobStore, data: Uint8Array, nodes = true): Promise<UnixfsDag> {
  const dag = unixfsOfBytes(data);
  await blobs.put(data);
  if (nodes)
    await blobs.putMany(
      dag.nodes.map((n) => n.bytes),
      { derived: true },
    );
  return dag;
}

/** The blob as the reference exporter reads it, every block from the index. */
async function exported(index: BlockIndex, root: string): Promise<Buffer> {
  const store = {
    async *get(cid) {
      const address = parseCid(cid.toString());
      const bytes = address && (await index.block(address));
      if (!bytes) throw new Error(`not held: ${cid}`);
      yield bytes;
    },
  } as ReadableStorage;
  const entry = await exporter(root, store);
  assert.equal(entry.type, "file");
  const parts: Uint8Array[] = [];
  for await (const part of entry.content()) parts.push(part);
  return Buffer.concat(parts);
}

describe("block index", () => {
  test("serves whole blobs up to the block limit as raw blocks, found by a stat", async () => {
    await using dir = await tempDir();
    const blobs = await BlobStore.open(dir.path, { durable: false });
    const index = new BlockIndex(blobs);
    const small = Buffer.from("hello\n");
    const limit = keystreamBytes("limit", MAX_BLOCK_SIZE);
    const over = keystreamBytes("over", MAX_BLOCK_SIZE + 1);
    // Put after the index was made: whole blobs need no telling.
    for (const data of [small, limit, over]) await blobs.put(data);
    assert.deepEqual(await index.block(raw(sha256Hex(small))), small);
    assert.equal(await index.has(raw(sha256Hex(limit))), true);
    assert.deepEqual(await index.block(raw(sha256Hex(limit))), limit);
    assert.equal(await index.has(raw(sha256Hex(over))), false);
    assert.equal(await index.block(raw(sha256Hex(over))), undefined);
    // Absent bytes, and a blob asked for as a dag-pb node that it is not.
    assert.equal(await index.has(raw(sha256Hex("absent"))), false);
    assert.equal(await index.has(node(sha256Hex(small))), false);
    assert.equal(await index.block(node(sha256Hex(small))), undefined);
    assert.deepEqual(index.counts, { blobs: 0, leaves: 0, nodes: 0 });
  });

  test("learns a large blob's leaves and nodes from its stored root, and the exporter rebuilds it", async () => {
    await using dir = await tempDir();
    const blobs = await BlobStore.open(dir.path, { durable: false });
    const data = keystreamBytes("large", 3 * MiB + 5);
    const dag = await storeLarge(blobs, data);
    const index = new BlockIndex(blobs);
    const [root] = dag.nodes;
    // Unknown until added: the leaves are slices no stat can find.
    assert.equal(await index.has(raw(dag.leaves[1].sha256)), false);
    assert.equal(await index.has(node(root.sha256)), false);
    assert.equal(await index.add(rootOf(dag)), true);
    assert.equal(await index.add(rootOf(dag)), true);
    assert.deepEqual(index.counts, { blobs: 1, leaves: 4, nodes: 1 });
    assert.deepEqual(await index.block(node(root.sha256)), Buffer.from(root.bytes));
    for (const leaf of dag.leaves) {
      assert.equal(await index.has(raw(leaf.sha256)), true);
      assert.deepEqual(await index.locate(raw(leaf.sha256)), {
        blob: dag.sha256,
        offset: leaf.offset,
        length: leaf.length,
      });
      const bytes = await index.block(raw(leaf.sha256));
      assert.ok(
        bytes && Buffer.from(bytes).equals(data.subarray(leaf.offset, leaf.offset + leaf.length)),
      );
    }
    // The whole blob is over the limit: only its leaves are blocks.
    assert.equal(await index.has(raw(dag.sha256)), false);
    assert.ok((await exported(index, dag.root)).equals(data));
  });

  test("repeated chunks and blobs sharing a leaf are served from the first blob holding it", async () => {
    await using dir = await tempDir();
    const blobs = await BlobStore.open(dir.path, { durable: false });
    const zeros = new Uint8Array(2 * MiB + 1);
    const tail = new Uint8Array(3 * MiB);
    tail[tail.length - 1] = 1;
    const a = await storeLarge(blobs, zeros);
    const b = await storeLarge(blobs, tail);
    const index = new BlockIndex(blobs);
    assert.equal(await index.addAll([rootOf(a), rootOf(b)]), 2);
    const zeroLeaf = a.leaves[0].sha256;
    assert.equal(b.leaves[0].sha256, zeroLeaf);
    assert.deepEqual(await index.locate(raw(zeroLeaf)), { blob: a.sha256, offset: 0, length: MiB });
    assert.ok((await exported(index, a.root)).equals(Buffer.from(zeros)));
    assert.ok((await exported(index, b.root)).equals(Buffer.from(tail)));
  });

  test("a root whose nodes are not held, or that does not add up, teaches nothing until it is right", async () => {
    await using dir = await tempDir();
    const blobs = await BlobStore.open(dir.path, { durable: false });
    const data = keystreamBytes("late", 2 * MiB + 7);
    const dag = await storeLarge(blobs, data, false);
    const index = new BlockIndex(blobs);
    assert.equal(await index.add(rootOf(dag)), false);
    assert.equal(
      await index.add({
        ...rootOf(dag),
        root: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
      }),
      false,
    );
    await blobs.putMany(
      dag.nodes.map((n) => n.bytes),
      { derived: true },
    );
    assert.equal(await index.add({ ...rootOf(dag), size: dag.size + 1 }), false);
    assert.deepEqual(index.counts, { blobs: 0, leaves: 0, nodes: 0 });
    // A node naming a leaf over the block limit is not one this profile makes.
    const huge = 3 * MiB;
    const bytes = dagPb.encode(
      dagPb.prepare({
        Data: new UnixFS({ type: "file", blockSizes: [BigInt(huge)] }).marshal(),
        Links: [{ Hash: CID.parse(rawCid(dag.sha256)), Name: "", Tsize: huge }],
      }),
    );
    const { sha256 } = await blobs.put(bytes);
    assert.equal(
      await index.add({ sha256: dag.sha256, size: huge, root: cidOf(sha256, DAG_PB_CODEC) }),
      false,
    );
    // Once the copy has derived its nodes, adding it again works.
    assert.equal(await index.add(rootOf(dag)), true);
    assert.equal(await index.has(raw(dag.leaves[2].sha256)), true);
  });

  test("a damaged or missing blob serves no block", async () => {
    await using dir = await tempDir();
    const blobs = await BlobStore.open(dir.path, { durable: false });
    const data = keystreamBytes("damage", 2 * MiB + 7);
    const dag = await storeLarge(blobs, data);
    const small = await blobs.put(Buffer.from("small"));
    const index = new BlockIndex(blobs);
    assert.equal(await index.add(rootOf(dag)), true);
    const path = (hex: string) => join(dir.path, BlobStore.treePath(hex));
    const damaged = Buffer.from(data);
    damaged[MiB + 10] ^= 1;
    await writeFile(path(dag.sha256), damaged);
    await writeFile(path(small.sha256), "smalL");
    // A stat still finds them (has reads no bytes); every byte served is checked.
    assert.equal(await index.block(raw(dag.leaves[1].sha256)), undefined);
    assert.ok(await index.block(raw(dag.leaves[0].sha256)));
    assert.equal(await index.block(raw(small.sha256)), undefined);
    await writeFile(path(dag.sha256), data.subarray(0, MiB));
    assert.equal(await index.block(raw(dag.leaves[1].sha256)), undefined);
    assert.ok(await index.block(raw(dag.leaves[0].sha256)));
    await rm(path(dag.sha256));
    assert.equal(await index.has(raw(dag.leaves[0].sha256)), false);
    assert.equal(await index.block(raw(dag.leaves[0].sha256)), undefined);
  });
});
