/**
 * RFC 6962 section 2.1 hashing with SHA-256:
 *   leaf hash   = SHA-256(0x00 || entry)
 *   node hash   = SHA-256(0x01 || left || right)
 *   empty tree  = SHA-256("")
 */
import { hash as oneShotHash } from "node:crypto";

export const HASH_SIZE = 32;

export type Hash = Uint8Array;

export function sha256(data: Uint8Array): Hash {
  // A latin1 ("binary") string digest maps bytes one to one and is about three
  // times cheaper than the "buffer" output, which allocates an ArrayBuffer in
  // C++ per call. Copying into a fresh 32-byte array (rather than a slice of
  // Buffer's shared pool) keeps a long-lived hash from pinning a whole slab.
  const digest = oneShotHash("sha256", data, "binary");
  const out = new Uint8Array(HASH_SIZE);
  for (let i = 0; i < HASH_SIZE; i++) out[i] = digest.charCodeAt(i);
  return out;
}

export const EMPTY_ROOT: Hash = sha256(new Uint8Array(0));

export function leafHash(entry: Uint8Array): Hash {
  const buf = Buffer.allocUnsafe(1 + entry.length);
  buf[0] = 0x00;
  buf.set(entry, 1);
  return sha256(buf);
}

export function nodeHash(left: Hash, right: Hash): Hash {
  const buf = Buffer.allocUnsafe(1 + 2 * HASH_SIZE);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 1 + HASH_SIZE);
  return sha256(buf);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
