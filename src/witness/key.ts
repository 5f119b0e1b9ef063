/**
 * A witness's cosigning key (C2SP tlog-cosignature, Ed25519 type 0x04). The
 * file holds one line in the signed-note signer key layout, with the 0x04
 * type byte: `PRIVATE+KEY+<name>+<hex key ID>+base64(0x04 || seed)`. It is
 * created once (mode 0600, never overwritten) by `cairn witness init`.
 */
import { generateKeyPairSync } from "node:crypto";
import { readFile } from "node:fs/promises";
import {
  COSIGNATURE_TYPE,
  Cosigner,
  ed25519PrivateKey,
  formatKey,
  LogError,
  parseKeyParts,
  rawPublicKey,
  rawSeed,
} from "../log/index.ts";
import { createPrivateFile } from "../util/durable-file.ts";

const PREFIX = "PRIVATE+KEY+";

export function formatWitnessKey(name: string, seed: Uint8Array, publicKey: Uint8Array): string {
  const parts = formatKey(name, COSIGNATURE_TYPE, publicKey).split("+");
  const secret = Buffer.concat([Buffer.of(COSIGNATURE_TYPE), seed]).toString("base64");
  return `${PREFIX}${parts[0]}+${parts[1]}+${secret}`;
}

/** The cosigner a key file line names; `now` is its clock (seconds). */
export function parseWitnessKey(line: string, now?: () => bigint): Cosigner {
  const bad = (message: string) => new LogError("malformed-key", `witness key: ${message}`);
  if (!line.startsWith(PREFIX)) throw bad(`must start with ${PREFIX}`);
  const parts = parseKeyParts(line.slice(PREFIX.length), "witness key");
  if (parts.type !== COSIGNATURE_TYPE) throw bad("not a timestamped Ed25519 (0x04) key");
  if (parts.key.length !== 32) throw bad("the seed must be 32 bytes");
  const cosigner = new Cosigner(parts.name, ed25519PrivateKey(parts.key), now);
  if (cosigner.keyId !== parts.keyId) throw bad("the key ID does not match its name and key");
  return cosigner;
}

/** Creates the key file; fails (EEXIST) if there is one. Returns the new cosigner. */
export async function createWitnessKey(path: string, name: string): Promise<Cosigner> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const line = formatWitnessKey(name, rawSeed(privateKey), rawPublicKey(publicKey));
  const cosigner = parseWitnessKey(line);
  await createPrivateFile(path, `${line}\n`);
  return cosigner;
}

export async function loadWitnessKey(path: string, now?: () => bigint): Promise<Cosigner> {
  return parseWitnessKey((await readFile(path, "utf8")).trim(), now);
}
