/**
 * C2SP signed-note v1.0.0, with Ed25519 keys (signature type 0x01), as Go's
 * golang.org/x/mod/sumdb/note writes and reads it.
 *
 * A signed note is a text ending in a newline, a blank line, and signature
 * lines `— <key name> <base64(key ID || signature)>`:
 *
 *   This is an example message.
 *
 *   — example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=
 *
 * Key ID = SHA-256(name || 0x0A || type || public key)[:4], big-endian.
 * Verifier key: `<name>+<hex key ID>+<base64(type || public key)>`.
 * Signer key:   `PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>`.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { decodeBase64Strict } from "./base64.ts";
import { LogError } from "./errors.ts";
import { sha256 } from "./hash.ts";

export const ED25519_TYPE = 0x01;
/** Notes with more signature lines than this are rejected, as Go does. */
export const MAX_SIGNATURES = 100;

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** A verifier made from its key string, which it keeps: pages and peers hand the key on. */
export interface KeyedVerifier extends NoteVerifier {
  /** The `name+keyid+base64` string it was parsed from. */
  readonly verifierKey: string;
  /** The raw Ed25519 public key, base64: one key under two names is one key. */
  readonly publicKey: string;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(text: Uint8Array): Uint8Array;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The base64 of key ID || signature, as it appears in the note. */
  readonly base64: string;
}

export interface OpenedNote {
  readonly text: string;
  /** Signatures by known keys, all verified. */
  readonly verified: NoteSignature[];
  /** Signatures by keys not among the verifiers, not checked. */
  readonly unverified: NoteSignature[];
}

const encoder = new TextEncoder();
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function malformedKey(message: string): LogError {
  return new LogError("malformed-key", message);
}

/** Key names are non-empty and contain no Unicode space and no "+". */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && isWellFormedText(name);
}

function isWellFormedText(s: string): boolean {
  return s.isWellFormed();
}

export function keyId(name: string, type: number, publicKey: Uint8Array): number {
  const digest = sha256(Buffer.concat([encoder.encode(name), Buffer.of(0x0a, type), publicKey]));
  return Buffer.from(digest).readUInt32BE(0);
}

function hex8(id: number): string {
  return id.toString(16).padStart(8, "0");
}

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, raw]),
    format: "der",
    type: "spki",
  });
}

export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
}

export function rawPublicKey(key: KeyObject): Uint8Array {
  return key.export({ format: "der", type: "spki" }).subarray(SPKI_ED25519_PREFIX.length);
}

export function rawSeed(key: KeyObject): Uint8Array {
  return key.export({ format: "der", type: "pkcs8" }).subarray(PKCS8_ED25519_PREFIX.length);
}

/** The parts of a `name+hex8+base64(type||key)` string, checked but not interpreted. */
export interface KeyParts {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  readonly key: Uint8Array;
}

/** Parses the common `name+hex8+base64` tail of verifier and signer keys. */
export function parseKeyParts(text: string, what: string): KeyParts {
  // The key is base64, which may itself contain "+": split at the first two only.
  const first = text.indexOf("+");
  const second = text.indexOf("+", first + 1);
  if (first < 0 || second < 0) throw malformedKey(`${what} must be name+keyid+key`);
  const name = text.slice(0, first);
  const idHex = text.slice(first + 1, second);
  const b64 = text.slice(second + 1);
  if (!isValidKeyName(name)) throw malformedKey(`${what} has an invalid key name`);
  if (!/^[0-9a-f]{8}$/.test(idHex))
    throw malformedKey(`${what} key ID must be 8 lowercase hex digits`);
  const raw = decodeBase64Strict(b64);
  if (!raw || raw.length < 2) throw malformedKey(`${what} key is not valid base64`);
  return { name, keyId: Number.parseInt(idHex, 16), type: raw[0], key: raw.subarray(1) };
}

/** Parses an Ed25519 verifier key string (C2SP signed-note "vkey"). */
export function parseVerifierKey(vkey: string): KeyedVerifier {
  const parts = parseKeyParts(vkey, "verifier key");
  if (parts.type !== ED25519_TYPE) throw malformedKey("verifier key is not an Ed25519 (0x01) key");
  if (parts.key.length !== 32) throw malformedKey("Ed25519 verifier key must be 32 bytes");
  if (keyId(parts.name, ED25519_TYPE, parts.key) !== parts.keyId) {
    throw malformedKey("verifier key ID does not match its name and key");
  }
  const publicKey = ed25519PublicKey(parts.key);
  return {
    name: parts.name,
    keyId: parts.keyId,
    verifierKey: vkey,
    publicKey: Buffer.from(parts.key).toString("base64"),
    verify: (text, signature) =>
      signature.length === 64 && verify(null, text, publicKey, signature),
  };
}

/** Parses an Ed25519 signer key string, as Go's note.NewSigner does. */
export function parseSignerKey(skey: string): NoteSigner & { readonly verifierKey: string } {
  const prefix = "PRIVATE+KEY+";
  if (!skey.startsWith(prefix)) throw malformedKey("signer key must start with PRIVATE+KEY+");
  const parts = parseKeyParts(skey.slice(prefix.length), "signer key");
  if (parts.type !== ED25519_TYPE) throw malformedKey("signer key is not an Ed25519 (0x01) key");
  if (parts.key.length !== 32) throw malformedKey("Ed25519 signer key seed must be 32 bytes");
  const privateKey = ed25519PrivateKey(parts.key);
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  if (keyId(parts.name, ED25519_TYPE, publicKey) !== parts.keyId) {
    throw malformedKey("signer key ID does not match its name and key");
  }
  return {
    name: parts.name,
    keyId: parts.keyId,
    sign: (text) => sign(null, text, privateKey),
    verifierKey: formatKey(parts.name, ED25519_TYPE, publicKey),
  };
}

export function formatKey(name: string, type: number, publicKey: Uint8Array): string {
  const id = keyId(name, type, publicKey);
  return `${name}+${hex8(id)}+${Buffer.concat([Buffer.of(type), publicKey]).toString("base64")}`;
}

/** Generates a new Ed25519 key pair for `name`, as signer and verifier key strings. */
export function generateKey(name: string): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw malformedKey(`invalid key name ${JSON.stringify(name)}`);
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = rawPublicKey(publicKey);
  const id = hex8(keyId(name, ED25519_TYPE, raw));
  const seed = Buffer.concat([Buffer.of(ED25519_TYPE), rawSeed(privateKey)]).toString("base64");
  return {
    signerKey: `PRIVATE+KEY+${name}+${id}+${seed}`,
    verifierKey: formatKey(name, ED25519_TYPE, raw),
  };
}

function malformedNote(message: string): LogError {
  return new LogError("malformed-note", message);
}

function signatureLine(text: Uint8Array, signer: NoteSigner): string {
  if (!isValidKeyName(signer.name))
    throw malformedKey(`invalid key name ${JSON.stringify(signer.name)}`);
  const id = Buffer.alloc(4);
  id.writeUInt32BE(signer.keyId, 0);
  return `— ${signer.name} ${Buffer.concat([id, signer.sign(text)]).toString("base64")}\n`;
}

/** Signs `text` (which must end in a newline) with each signer, in order. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (!text.endsWith("\n")) throw malformedNote("note text must end in a newline");
  checkNoteCharacters(text);
  const bytes = encoder.encode(text);
  return `${text}\n${signers.map((s) => signatureLine(bytes, s)).join("")}`;
}

/**
 * Adds signatures to an already signed note, such as a witness's cosignature
 * on a checkpoint. Existing signatures are kept as they are.
 */
export function addSignatures(note: string, signers: readonly NoteSigner[]): string {
  const { text } = parseNote(note);
  const bytes = encoder.encode(text);
  return note + signers.map((s) => signatureLine(bytes, s)).join("");
}

function checkNoteCharacters(text: string): void {
  if (!isWellFormedText(text)) throw malformedNote("note is not valid UTF-8");
  // C2SP signed-note: no ASCII control characters other than newline.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) throw malformedNote("note contains a control character");
  }
}

function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    throw new LogError("malformed-note", "note is not valid UTF-8", { cause: err });
  }
}

interface ParsedSignature extends NoteSignature {
  readonly line: string;
  readonly signature: Uint8Array;
}

/** Splits a note into its text and signature lines, without verifying anything. */
export function parseNote(msg: string | Uint8Array): {
  text: string;
  signatures: ParsedSignature[];
} {
  const note = typeof msg === "string" ? msg : decodeUtf8Strict(msg);
  checkNoteCharacters(note);
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw malformedNote("note has no blank line before its signatures");
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block.length === 0 || !block.endsWith("\n")) {
    throw malformedNote("note must end with signature lines, each ending in a newline");
  }
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES)
    throw malformedNote(`note has more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line): ParsedSignature => {
    if (!line.startsWith("— "))
      throw malformedNote("signature line must start with an em dash and a space");
    const rest = line.slice(2);
    const space = rest.indexOf(" ");
    if (space < 0) throw malformedNote("signature line has no signature");
    const name = rest.slice(0, space);
    const b64 = rest.slice(space + 1);
    const raw = decodeBase64Strict(b64);
    if (!isValidKeyName(name) || !raw || raw.length < 5) {
      throw malformedNote(`malformed signature line ${JSON.stringify(line)}`);
    }
    const keyId = Buffer.from(raw).readUInt32BE(0);
    return { name, keyId, base64: b64, line, signature: raw.subarray(4) };
  });
  return { text, signatures };
}

/**
 * Opens a signed note: every signature by a known key (same name and key ID)
 * must verify, signatures by unknown keys are ignored, and at least one known
 * key must have signed. Throws LogError "malformed-note", "invalid-signature"
 * or "unverified-note".
 */
export function openNote(msg: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, signatures } = parseNote(msg);
  const textBytes = encoder.encode(text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of signatures) {
    const id = `${sig.name}+${hex8(sig.keyId)}`;
    const verifier = verifiers.find((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (!verifier) {
      if (!seen.has(sig.line))
        unverified.push({ name: sig.name, keyId: sig.keyId, base64: sig.base64 });
      seen.add(sig.line);
      continue;
    }
    if (seen.has(id)) continue;
    seen.add(id);
    if (!verifier.verify(textBytes, sig.signature)) {
      throw new LogError("invalid-signature", `invalid signature for key ${id}`);
    }
    verified.push({ name: sig.name, keyId: sig.keyId, base64: sig.base64 });
  }
  if (verified.length === 0) {
    throw new LogError("unverified-note", "note has no valid signature by a known key");
  }
  return { text, verified, unverified };
}
