/**
 * IPFS content identifiers for the blobs Cairn stores. A blob of at most
 * one chunk (1 MiB) is a single raw block, so its CIDv1 (raw codec,
 * sha2-256) is a pure function of the SHA-256 the log already binds; larger
 * blobs are UnixFS file DAGs under the IPIP-0499 `unixfs-v1-2025` profile
 * (src/store/unixfs.ts). Blocks are looked up by their SHA-256 digest alone,
 * as IPFS blockstores key blocks by multihash.
 */

import * as base2 from "multiformats/bases/base2";
import * as base8 from "multiformats/bases/base8";
import * as base10 from "multiformats/bases/base10";
import * as base16 from "multiformats/bases/base16";
import * as base32 from "multiformats/bases/base32";
import * as base36 from "multiformats/bases/base36";
import * as base58 from "multiformats/bases/base58";
import * as base64 from "multiformats/bases/base64";
import * as base256emoji from "multiformats/bases/base256emoji";
import * as identity from "multiformats/bases/identity";
import type { MultibaseDecoder } from "multiformats/bases/interface";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { sha256 } from "multiformats/hashes/sha2";
import { CodedError } from "../util/coded-error.ts";

/** The multicodec of a raw block. */
export const RAW_CODEC = 0x55;
/** The multicodec of a dag-pb (UnixFS) node. */
export const DAG_PB_CODEC = 0x70;
/** The UnixFS chunk size of the profile: a blob this size or smaller is one raw block. */
export const CHUNK_SIZE = 1 << 20;

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Every multibase multiformats knows, so a CID in any of them parses: the
 * bases of `multiformats/basics`, each by its own module (basics brings
 * the codecs, hashes and index too).
 */
const bases = {
  ...identity,
  ...base2,
  ...base8,
  ...base10,
  ...base16,
  ...base32,
  ...base36,
  ...base58,
  ...base64,
  ...base256emoji,
};
const BASE_BY_PREFIX = new Map(Object.values(bases).map((base) => [base.prefix, base.decoder]));
const ANY_BASE: MultibaseDecoder<string> = {
  decode(text) {
    const decoder = BASE_BY_PREFIX.get([...text][0] as never);
    if (!decoder) throw new Error("unknown multibase prefix");
    return decoder.decode(text as never);
  },
};

export type CidErrorCode = "bad-cid";

export class CidError extends CodedError<CidErrorCode> {}

/** A block's address as Cairn keys it: its codec and the hex SHA-256 of its bytes. */
export interface BlockAddress {
  readonly codec: number;
  readonly sha256: string;
}

/** The CIDv1 of a block with this codec and SHA-256 (a digest the caller vouches for). */
export function cidObject(sha256Hex: string, codec: number): CID {
  return CID.createV1(codec, Digest.create(sha256.code, Buffer.from(sha256Hex, "hex")));
}

/** The CIDv1 string (base32) of a block with this codec and SHA-256. */
export function cidOf(sha256Hex: string, codec: number = RAW_CODEC): string {
  if (!HEX64.test(sha256Hex)) throw new CidError("bad-cid", `not a SHA-256: ${sha256Hex}`);
  return cidObject(sha256Hex, codec).toString();
}

/** The CID of a blob of at most one chunk, from the SHA-256 the log names. */
export function rawCid(sha256Hex: string): string {
  return cidOf(sha256Hex, RAW_CODEC);
}

/**
 * The codec and SHA-256 digest a CID string names, or undefined for a valid
 * CID that no Cairn block can have (another hash function or codec): such a
 * block is simply not held. A string that is not a CID at all throws.
 */
export function parseCid(text: string): BlockAddress | undefined {
  // Any CID of a sha2-256 block fits in about 100 characters, in any base.
  if (text.length > 200) throw new CidError("bad-cid", "not a CID: too long");
  let cid: CID;
  try {
    // CIDv0 (`Qm…`) is base58btc without a prefix; CIDv1 may use any multibase.
    cid = text.startsWith("Qm") ? CID.parse(text) : CID.parse(text, ANY_BASE);
  } catch (err) {
    throw new CidError("bad-cid", `not a CID: ${text.slice(0, 100)} (${(err as Error).message})`);
  }
  return addressOf(cid);
}

/** The address of a block a CID names, or undefined when no Cairn block can have it. */
export function addressOf(cid: CID): BlockAddress | undefined {
  if (cid.multihash.code !== sha256.code || cid.multihash.size !== 32) return undefined;
  if (cid.code !== RAW_CODEC && cid.code !== DAG_PB_CODEC) return undefined;
  return { codec: cid.code, sha256: Buffer.from(cid.multihash.digest).toString("hex") };
}

/**
 * Where a trustless gateway reads blocks from: every copy's blob store, a
 * peer's shareable subset. A raw-codec address names any held bytes with
 * that digest; a dag-pb address only a block held as a UnixFS node.
 */
export interface BlockSource {
  /** The block's bytes, or undefined when it is not held (or may not be served). */
  block(address: BlockAddress): Promise<Uint8Array | undefined>;
  /** Whether `block` would return bytes, answered without reading them. */
  has(address: BlockAddress): Promise<boolean>;
}
