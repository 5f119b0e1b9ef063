/**
 * The deterministic bytes of the IPIP-0499 test fixtures: the ChaCha20
 * keystream under key SHA-256(seed), a zero nonce and counter 0 (as Kubo's
 * and helia's fixture generators make it), in chunks of at most 1 MiB.
 */
import { createCipheriv, createHash } from "node:crypto";

const ZEROS = Buffer.alloc(1 << 20);

export function* keystream(seed: string, size: number): Generator<Uint8Array> {
  const key = createHash("sha256").update(seed).digest();
  // Node's chacha20 IV is the 4-byte little-endian counter then the 12-byte nonce.
  const cipher = createCipheriv("chacha20", key, Buffer.alloc(16));
  for (let left = size; left > 0; left -= ZEROS.length)
    yield cipher.update(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
}

export function keystreamBytes(seed: string, size: number): Buffer {
  return Buffer.concat([...keystream(seed, size)]);
}
