/**
 * Registry signatures, as npm's registry makes them and `npm audit
 * signatures` checks them (pacote's lib/registry.js; "Supporting signatures
 * on third-party registries" in npm's docs).
 *
 * A registry key is ECDSA P-256. Its keyid is `SHA256:` and the unpadded
 * base64 of the SHA-256 of its DER SubjectPublicKeyInfo, the SSH
 * fingerprint form npm's own keyids have (npm only compares the strings).
 * A signature is base64 DER ECDSA with SHA-256 over the UTF-8 bytes of
 *
 *   `${name}@${version}:${integrity}`   e.g.  @scope/pkg@1.0.0:sha512-…==
 *
 * where `integrity` is exactly the version's `dist.integrity`. ECDSA is
 * randomised, so a signature cannot be recomputed: it travels in the log
 * as a `signature` entry, and each is checked once, when it is applied,
 * against the `registry-keys` entry current at its index.
 *
 * A key set only grows: a later `registry-keys` entry lists every earlier
 * key, with the same bytes, and may set a key's `expires` once (rotation);
 * it never moves it. npm refuses a signature by an expired key on a version
 * published at or after `expires`, so versions signed before stay valid.
 */
import { createHash, createPublicKey, verify } from "node:crypto";
import type { Artifact, RegistryKey, RegistryKeysEntry, SignatureEntry } from "./entries.ts";
import { EntryError } from "./entry-error.ts";

export const REGISTRY_KEY_TYPE = "ecdsa-sha2-nistp256";

function cannotApply(message: string): EntryError {
  return new EntryError("cannot-apply", message);
}

/** The keyid of a key given as the DER bytes of its SubjectPublicKeyInfo. */
export function keyIdOf(spki: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(spki).digest("base64").replace(/=+$/, "")}`;
}

/** The bytes a registry signature covers. */
export function signatureMessage(name: string, version: string, integrity: string): Buffer {
  return Buffer.from(`${name}@${version}:${integrity}`, "utf8");
}

/** The `dist.integrity` a registry signature covers: only a tarball the origin holds and bound has one. */
export function signedIntegrity(artifact: Artifact | undefined): string | undefined {
  return artifact?.sha512 === undefined ? undefined : `sha512-${artifact.sha512}`;
}

/** Throws unless `key` is a P-256 SubjectPublicKeyInfo in its one DER encoding, named by its own keyid. */
function checkKey(key: RegistryKey): void {
  const der = Buffer.from(key.key, "base64");
  let curve: string | undefined;
  let canonical = false;
  try {
    const parsed = createPublicKey({ key: der, format: "der", type: "spki" });
    curve = parsed.asymmetricKeyDetails?.namedCurve;
    canonical = der.equals(parsed.export({ format: "der", type: "spki" }));
  } catch {
    curve = undefined;
  }
  if (curve !== "prime256v1" || !canonical)
    throw cannotApply(`registry key ${key.keyid} is not an ECDSA P-256 public key`);
  if (keyIdOf(der) !== key.keyid)
    throw cannotApply(`registry key ${key.keyid} does not match its keyid, ${keyIdOf(der)}`);
}

/**
 * Throws (`cannot-apply`) unless `next` may follow `previous`, the key set
 * in force before it: every key P-256 and named by its keyid, no keyid
 * twice, every earlier key kept with the same bytes, an `expires` never
 * moved once set.
 */
export function checkKeySetChange(
  next: RegistryKeysEntry,
  previous: RegistryKeysEntry | undefined,
): void {
  const ids = new Set<string>();
  for (const key of next.keys) {
    if (ids.has(key.keyid)) throw cannotApply(`registry key ${key.keyid} is listed twice`);
    ids.add(key.keyid);
    checkKey(key);
  }
  for (const old of previous?.keys ?? []) {
    const kept = next.keys.find((k) => k.keyid === old.keyid);
    if (kept === undefined) throw cannotApply(`registry key ${old.keyid} was dropped`);
    if (kept.key !== old.key) throw cannotApply(`registry key ${old.keyid} changed its bytes`);
    if (old.expires !== null && kept.expires !== old.expires)
      throw cannotApply(`registry key ${old.keyid} moved its expiry from ${old.expires}`);
  }
}

/**
 * Throws (`cannot-apply`) unless `entry` is a valid signature over
 * `integrity` by a key of `keys` that had not expired at the entry's time.
 */
export function checkSignature(
  entry: SignatureEntry,
  integrity: string | undefined,
  keys: RegistryKeysEntry | undefined,
): void {
  const what = `the signature on ${entry.name}@${entry.version}`;
  if (integrity === undefined) throw cannotApply(`${what} covers no tarball the origin bound`);
  const key = keys?.keys.find((k) => k.keyid === entry.keyid);
  if (key === undefined) throw cannotApply(`${what} is by ${entry.keyid}, no registry key`);
  if (key.expires !== null && entry.time >= key.expires)
    throw cannotApply(`${what} was made after ${entry.keyid} expired`);
  const publicKey = createPublicKey({
    key: Buffer.from(key.key, "base64"),
    format: "der",
    type: "spki",
  });
  const message = signatureMessage(entry.name, entry.version, integrity);
  if (!verify("sha256", message, publicKey, Buffer.from(entry.sig, "base64")))
    throw cannotApply(`${what} does not verify with ${entry.keyid}`);
}

/** A signature as a version document and npm's `dist.signatures` hold it. */
export interface RegistrySignature {
  readonly keyid: string;
  readonly sig: string;
}

/** `signatures` with `added`, replacing an older one by the same key, sorted by keyid. */
export function withSignature(
  signatures: readonly RegistrySignature[] | undefined,
  added: RegistrySignature,
): RegistrySignature[] {
  const others = (signatures ?? []).filter((s) => s.keyid !== added.keyid);
  return [...others, added].sort((a, b) => (a.keyid < b.keyid ? -1 : a.keyid > b.keyid ? 1 : 0));
}
