/**
 * CAR v1 writing against the published bytes and @ipld/car's own writer,
 * and the verifying reader against every way a CAR can be wrong.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CarWriter } from "@ipld/car";
import * as dagPb from "@ipld/dag-pb";
import { CID } from "multiformats/cid";
import { identity } from "multiformats/hashes/identity";
import { sha256, sha512 } from "multiformats/hashes/sha2";
import {
  type CarBlock,
  CarError,
  carHeader,
  carSectionHead,
  MAX_BLOCK_SIZE,
  readVerifiedCar,
} from "../../src/store/car.ts";

const HELLO_CAR =
  "3aa265726f6f747381d82a582500015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be036776657273696f6e01" +
  "2a015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be0368656c6c6f0a";

async function rawBlock(bytes: Uint8Array): Promise<CarBlock> {
  return { cid: CID.createV1(0x55, await sha256.digest(bytes)), bytes };
}

async function nodeBlock(children: readonly CarBlock[]): Promise<CarBlock> {
  const bytes = dagPb.encode(
    dagPb.prepare({
      Links: children.map((c) => ({ Hash: c.cid, Name: "", Tsize: c.bytes.length })),
    }),
  );
  return { cid: CID.createV1(dagPb.code, await sha256.digest(bytes)), bytes };
}

/** A CAR written by this module: the header, then each block's section. */
function ours(root: CID, blocks: readonly CarBlock[]): Buffer {
  return Buffer.concat([
    carHeader(root),
    ...blocks.flatMap((b) => [carSectionHead(b.cid, b.bytes.length), b.bytes]),
  ]);
}

/** The same CAR from @ipld/car's CarWriter. */
async function theirs(root: CID, blocks: readonly CarBlock[]): Promise<Buffer> {
  const { writer, out } = CarWriter.create([root]);
  const chunks: Uint8Array[] = [];
  const collected = (async () => {
    for await (const chunk of out) chunks.push(chunk);
  })();
  for (const block of blocks) await writer.put(block);
  await writer.close();
  await collected;
  return Buffer.concat(chunks);
}

async function* inPieces(bytes: Uint8Array, size = 7): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** The blocks read from `bytes` arriving in pieces (small ones by default, to cross every boundary). */
async function read(bytes: Uint8Array, root: CID, pieceSize = 7): Promise<CarBlock[]> {
  const blocks: CarBlock[] = [];
  for await (const block of readVerifiedCar(inPieces(bytes, pieceSize), root)) blocks.push(block);
  return blocks;
}

const refused = (code: CarError["code"]) => (err: unknown) =>
  err instanceof CarError && err.code === code;

describe("writing", () => {
  it("writes the published CAR of one raw block", async () => {
    const hello = await rawBlock(Buffer.from("hello\n"));
    assert.equal(ours(hello.cid, [hello]).toString("hex"), HELLO_CAR);
  });

  it("writes what @ipld/car writes, for a dag-pb root and its leaves", async () => {
    const leaves = await Promise.all(["a", "b", "c"].map((t) => rawBlock(Buffer.from(t))));
    const root = await nodeBlock(leaves);
    const blocks = [root, ...leaves];
    assert.deepEqual(ours(root.cid, blocks), await theirs(root.cid, blocks));
  });
});

describe("reading", () => {
  it("yields the blocks the root reaches, verified, in order", async () => {
    const leaves = await Promise.all(["a", "b"].map((t) => rawBlock(Buffer.from(t))));
    const root = await nodeBlock(leaves);
    const got = await read(ours(root.cid, [root, ...leaves]), root.cid);
    assert.deepEqual(
      got.map((b) => b.cid.toString()),
      [root, ...leaves].map((b) => b.cid.toString()),
    );
  });

  it("skips blocks the root does not reach, unchecked", async () => {
    const leaf = await rawBlock(Buffer.from("leaf"));
    const root = await nodeBlock([leaf]);
    const stray = await rawBlock(Buffer.from("stray"));
    const lying = { cid: stray.cid, bytes: Buffer.from("not the stray bytes") };
    const got = await read(ours(root.cid, [root, lying, leaf]), root.cid);
    assert.equal(got.length, 2);
  });

  it("takes blocks in any order, each once: one sent before its parent is held until reached", async () => {
    const leaves = await Promise.all(["a", "b"].map((t) => rawBlock(Buffer.from(t))));
    const root = await nodeBlock(leaves);
    const got = await read(ours(root.cid, [leaves[1], root, leaves[0], leaves[1]]), root.cid);
    assert.deepEqual(
      got.map((b) => b.cid.toString()).sort(),
      [root, ...leaves].map((b) => b.cid.toString()).sort(),
    );
  });

  it("refuses a block held early once it is reached, if its bytes are wrong", async () => {
    const leaf = await rawBlock(Buffer.from("leaf"));
    const root = await nodeBlock([leaf]);
    const wrong = { cid: leaf.cid, bytes: Buffer.from("feal") };
    await assert.rejects(read(ours(root.cid, [wrong, root]), root.cid), refused("wrong-block"));
  });

  it("refuses a block whose bytes do not hash to its CID", async () => {
    const leaf = await rawBlock(Buffer.from("leaf"));
    const root = await nodeBlock([leaf]);
    const wrong = { cid: leaf.cid, bytes: Buffer.from("feal") };
    await assert.rejects(read(ours(root.cid, [root, wrong]), root.cid), refused("wrong-block"));
  });

  it("refuses a reachable block of a hash function it cannot check", async () => {
    const bytes = Buffer.from("leaf");
    const leaf = { cid: CID.createV1(0x55, await sha512.digest(bytes)), bytes };
    const root = await nodeBlock([leaf]);
    await assert.rejects(read(ours(root.cid, [root, leaf]), root.cid), refused("wrong-block"));
  });

  it("passes over identity blocks", async () => {
    const bytes = Buffer.from("inline");
    const inline = { cid: CID.createV1(0x55, identity.digest(bytes)), bytes };
    const root = await nodeBlock([inline]);
    const got = await read(ours(root.cid, [root, inline]), root.cid);
    assert.equal(got.length, 1);
  });

  it("refuses a block over 2 MiB before reading it", async () => {
    const big = await rawBlock(Buffer.alloc(MAX_BLOCK_SIZE + 1));
    // Only the section head: the refusal must not wait for the bytes.
    const car = Buffer.concat([carHeader(big.cid), carSectionHead(big.cid, big.bytes.length)]);
    await assert.rejects(read(car, big.cid), refused("block-too-large"));
    const atLimit = await rawBlock(Buffer.alloc(MAX_BLOCK_SIZE));
    assert.equal((await read(ours(atLimit.cid, [atLimit]), atLimit.cid, 1 << 16)).length, 1);
  });

  it("calls a stream that ends inside the header or a section truncated", async () => {
    const hello = await rawBlock(Buffer.from("hello\n"));
    const car = ours(hello.cid, [hello]);
    // The header is 0x3b bytes (its length byte and 58 bytes of DAG-CBOR).
    for (const cut of [5, 0x3b - 1, 0x3b + 3, car.length - 1])
      await assert.rejects(read(car.subarray(0, cut), hello.cid), refused("truncated"), `${cut}`);
    // Ending between sections is a whole CAR, however few blocks it holds.
    assert.deepEqual(await read(car.subarray(0, 0x3b), hello.cid), []);
  });

  it("refuses what is not a CAR v1 header", async () => {
    const hello = await rawBlock(Buffer.from("hello\n"));
    const v2 = Buffer.from(carHeader(hello.cid));
    // The header's last byte is the version.
    v2[v2.length - 1] = 0x02;
    for (const bad of [Buffer.from("0b68656c6c6f20776f726c64", "hex"), v2])
      await assert.rejects(read(bad, hello.cid), refused("bad-car"));
  });

  it("passes a failure of the stream itself on as it is", async () => {
    const hello = await rawBlock(Buffer.from("hello\n"));
    const failure = new TypeError("terminated");
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield carHeader(hello.cid);
      throw failure;
    }
    await assert.rejects(
      (async () => {
        for await (const _ of readVerifiedCar(broken(), hello.cid));
      })(),
      (err) => err === failure,
    );
  });
});
