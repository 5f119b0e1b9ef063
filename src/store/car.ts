/**
 * CAR v1 (https://ipld.io/specs/transport/car/carv1/), the archive a
 * trustless gateway answers `format=car` with:
 *
 *   varint(len(H)) || H || { varint(len(CID) + len(block)) || CID || block }*
 *
 * where varints are unsigned LEB128 and H is the DAG-CBOR map
 * `{"roots": [CID], "version": 1}` (keys in DAG-CBOR order, the CID as tag
 * 42 over its bytes behind a 0x00). The CAR of the one raw block "hello\n":
 *
 *   3a a265726f6f747381d82a5825 00 015512205891b5b5…46f6be03 6776657273696f6e01
 *   2a 015512205891b5b5…46f6be03 68656c6c6f0a
 *
 * The writer emits sections one at a time, so a large file never sits in
 * memory. The reader trusts nothing it reads: each block's bytes must hash
 * to its CID, no block may exceed 2 MiB (the trustless gateway spec's
 * limit), blocks the root does not reach are dropped unchecked (in any
 * order: the spec lets a gateway answer `order=unk`), and a stream that ends
 * inside a section is truncated.
 */

import { createHash } from "node:crypto";
import { asyncIterableReader, readBlockHead, readHeader } from "@ipld/car/decoder";
import * as dagPb from "@ipld/dag-pb";
import { varint } from "multiformats";
import type { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { CodedError } from "../util/coded-error.ts";
import { DAG_PB_CODEC } from "./cid.ts";

/** The largest block either side handles (the spec's "Block Limits": clients SHOULD refuse more). */
export const MAX_BLOCK_SIZE = 2 << 20;

const IDENTITY_HASH = 0x00;

export type CarErrorCode =
  /** Not a CAR v1 stream: a bad header, a bad section. */
  | "bad-car"
  /** The stream ended inside the header or a section. */
  | "truncated"
  /** A block whose bytes do not hash to its CID, or one that claims to be dag-pb and is not. */
  | "wrong-block"
  /** A block over MAX_BLOCK_SIZE. */
  | "block-too-large";

export class CarError extends CodedError<CarErrorCode> {
  override name = "CarError";
}

function withVarint(length: number, parts: readonly Uint8Array[]): Uint8Array {
  const prefix = varint.encodeTo(length, new Uint8Array(varint.encodingLength(length)));
  const out = new Uint8Array(prefix.length + parts.reduce((n, p) => n + p.length, 0));
  out.set(prefix);
  let at = prefix.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const ascii = (text: string) => new TextEncoder().encode(text);

/** The CAR v1 header naming `root`, with its length prefix. */
export function carHeader(root: CID): Uint8Array {
  const tagged = root.bytes.length + 1;
  // A CBOR byte string's head: its length inline below 24, else in one byte (a CID is < 256 bytes).
  const bytesHead = tagged < 24 ? [0x40 + tagged] : [0x58, tagged];
  const header = [
    Uint8Array.of(0xa2, 0x65),
    ascii("roots"),
    Uint8Array.of(0x81, 0xd8, 0x2a, ...bytesHead, 0x00),
    root.bytes,
    Uint8Array.of(0x67),
    ascii("version"),
    Uint8Array.of(0x01),
  ];
  return withVarint(
    header.reduce((n, p) => n + p.length, 0),
    header,
  );
}

/** The start of a block's section (length and CID); the block's bytes follow it as they are. */
export function carSectionHead(cid: CID, blockLength: number): Uint8Array {
  return withVarint(cid.bytes.length + blockLength, [cid.bytes]);
}

export interface CarBlock {
  readonly cid: CID;
  readonly bytes: Uint8Array;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The CIDs a verified block links to (dag-pb only: raw blocks have no links). */
function linksOf(block: CarBlock): CID[] {
  if (block.cid.code !== DAG_PB_CODEC) return [];
  try {
    return dagPb.decode(block.bytes).Links.map((link) => link.Hash);
  } catch (err) {
    throw new CarError("wrong-block", `${block.cid}: not a dag-pb node`, { cause: err });
  }
}

/** A failure of the stream itself (a timeout, a dropped connection), passed on as it is. */
class StreamFailure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** The body, its own failures tagged, and `ended` once it has no more bytes. */
async function* tagged(
  body: AsyncIterable<Uint8Array>,
  ended: () => void,
): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (err) {
    throw new StreamFailure(err);
  }
  ended();
}

/**
 * A reader error as a CarError, or the stream's own failure unchanged. Any
 * error once the bytes have run out (inside a length, a CID, a block) is a
 * truncation: more bytes might have made it whole.
 */
function carFailure(err: unknown, where: string, ended: boolean): unknown {
  if (err instanceof StreamFailure) return err.error;
  if (ended || (err as Error)?.message === "Unexpected end of data")
    return new CarError("truncated", `the CAR ended inside ${where}`);
  return new CarError("bad-car", `bad CAR ${where}: ${(err as Error).message}`, { cause: err });
}

/** The block, checked against its CID; throws unless its bytes hash to it. */
function verified(block: CarBlock): CarBlock {
  const { cid, bytes } = block;
  if (cid.multihash.code !== sha256.code)
    throw new CarError("wrong-block", `${cid}: a hash function this client does not check`);
  if (!sameBytes(createHash("sha256").update(bytes).digest(), cid.multihash.digest))
    throw new CarError("wrong-block", `${cid}: the block's bytes hash to something else`);
  return block;
}

/**
 * The blocks of a CAR stream that `root` reaches, each verified, each
 * once, as soon as it is known to be reached: in arrival order for a
 * depth-first CAR; a block that comes before the one linking to it (any
 * other order) is held until then. Blocks the root never reaches are
 * dropped unchecked at the end; the caller bounds the bytes of the stream.
 */
export async function* readVerifiedCar(
  body: AsyncIterable<Uint8Array>,
  root: CID,
): AsyncGenerator<CarBlock> {
  let ended = false;
  const reader = asyncIterableReader(
    tagged(body, () => {
      ended = true;
    }),
  );
  const wanted = new Set([root.toString()]);
  const yielded = new Set<string>();
  const early = new Map<string, CarBlock>();
  try {
    await readHeader(reader, 1);
  } catch (err) {
    throw carFailure(err, "its header", ended);
  }
  for (;;) {
    let head: Awaited<ReturnType<typeof readBlockHead>>;
    let bytes: Uint8Array;
    try {
      if ((await reader.upTo(1)).length === 0) return;
      head = await readBlockHead(reader);
      if (head.blockLength > MAX_BLOCK_SIZE)
        throw new CarError("block-too-large", `${head.cid}: a block of ${head.blockLength} bytes`);
      bytes = await reader.exactly(head.blockLength, true);
    } catch (err) {
      throw err instanceof CarError ? err : carFailure(err, "a section", ended);
    }
    const { cid } = head;
    const key = cid.toString();
    if (cid.multihash.code === IDENTITY_HASH || yielded.has(key)) continue;
    // A copy: the reader's buffer around it may be much larger than the block.
    const block = { cid, bytes: bytes.slice() };
    if (!wanted.has(key)) {
      early.set(key, block);
      continue;
    }
    // The block, then any held blocks it (or they, in turn) reach.
    const ready: CarBlock[] = [block];
    for (let next = ready.pop(); next; next = ready.pop()) {
      const nextKey = next.cid.toString();
      if (yielded.has(nextKey)) continue;
      yielded.add(nextKey);
      yield verified(next);
      for (const link of linksOf(next)) {
        const linkKey = link.toString();
        wanted.add(linkKey);
        const held = early.get(linkKey);
        if (held) {
          early.delete(linkKey);
          ready.push(held);
        }
      }
    }
  }
}
