/**
 * C2SP tlog-cosignature v1.0.1, Ed25519 type (signature type 0x04): the
 * signature a witness adds to a checkpoint it has checked.
 *
 * The signature line is an ordinary signed-note line whose bytes are
 * key ID (4) || timestamp (uint64, big-endian) || Ed25519 signature (64),
 * over the message
 *
 *   cosignature/v1
 *   time <timestamp>
 *   <the whole checkpoint body, final newline included>
 *
 * with key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4].
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { LogError } from "./errors.ts";
import {
  ed25519PublicKey,
  formatKey,
  isValidKeyName,
  keyId,
  type NoteSigner,
  type NoteVerifier,
  parseKeyParts,
  rawPublicKey,
} from "./note.ts";

export const COSIGNATURE_TYPE = 0x04;
const MAX_TIMESTAMP = 2n ** 63n - 1n;
const encoder = new TextEncoder();

export function cosignedMessage(text: Uint8Array, timestamp: bigint): Uint8Array {
  return Buffer.concat([encoder.encode(`cosignature/v1\ntime ${timestamp}\n`), text]);
}

/** A note verifier for one witness's cosignatures. */
export interface CosignatureVerifier extends NoteVerifier {
  /** The timestamp a signature (key ID excluded) carries. */
  timestampOf(signature: Uint8Array): bigint;
  /** The raw Ed25519 public key, base64: one key under two names is one witness. */
  readonly publicKey: string;
}

export function parseCosignatureVerifierKey(vkey: string): CosignatureVerifier {
  const parts = parseKeyParts(vkey, "cosigner verifier key");
  if (parts.type !== COSIGNATURE_TYPE) {
    throw new LogError("malformed-key", "cosigner key is not a timestamped Ed25519 (0x04) key");
  }
  if (parts.key.length !== 32) throw new LogError("malformed-key", "Ed25519 key must be 32 bytes");
  if (keyId(parts.name, COSIGNATURE_TYPE, parts.key) !== parts.keyId) {
    throw new LogError("malformed-key", "cosigner key ID does not match its name and key");
  }
  return cosignatureVerifier(parts.name, ed25519PublicKey(parts.key));
}

function cosignatureVerifier(name: string, publicKey: KeyObject): CosignatureVerifier {
  const raw = rawPublicKey(publicKey);
  const timestampOf = (signature: Uint8Array) => {
    if (signature.length < 8)
      throw new LogError("malformed-note", "a cosignature is too short to hold a timestamp");
    return Buffer.from(signature.buffer, signature.byteOffset, signature.length).readBigUInt64BE(0);
  };
  return {
    name,
    keyId: keyId(name, COSIGNATURE_TYPE, raw),
    publicKey: Buffer.from(raw).toString("base64"),
    timestampOf,
    verify(text, signature) {
      if (signature.length !== 8 + 64) return false;
      const timestamp = timestampOf(signature);
      if (timestamp > MAX_TIMESTAMP) return false;
      return verify(null, cosignedMessage(text, timestamp), publicKey, signature.subarray(8));
    },
  };
}

/** A witness's signing key: signs the checkpoint body with the current time. */
export class Cosigner implements NoteSigner {
  readonly name: string;
  readonly keyId: number;
  readonly verifierKey: string;
  readonly #privateKey: KeyObject;
  readonly #now: () => bigint;

  constructor(
    name: string,
    privateKey: KeyObject,
    now = () => BigInt(Math.floor(Date.now() / 1000)),
  ) {
    if (!isValidKeyName(name))
      throw new LogError("malformed-key", `invalid key name ${JSON.stringify(name)}`);
    const raw = rawPublicKey(createPublicKey(privateKey));
    this.name = name;
    this.keyId = keyId(name, COSIGNATURE_TYPE, raw);
    this.verifierKey = formatKey(name, COSIGNATURE_TYPE, raw);
    this.#privateKey = privateKey;
    this.#now = now;
  }

  static generate(name: string): Cosigner {
    return new Cosigner(name, generateKeyPairSync("ed25519").privateKey);
  }

  sign(text: Uint8Array): Uint8Array {
    const timestamp = this.#now();
    // A zero time would claim nothing about freshness (tlog-witness forbids it after v1.0.0).
    if (timestamp <= 0n || timestamp > MAX_TIMESTAMP)
      throw new LogError("out-of-range", "timestamp out of range");
    const out = Buffer.alloc(8);
    out.writeBigUInt64BE(timestamp, 0);
    return Buffer.concat([out, sign(null, cosignedMessage(text, timestamp), this.#privateKey)]);
  }
}
