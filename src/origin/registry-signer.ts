/**
 * The origin's npm registry key (src/registry/registry-keys.ts): ECDSA
 * P-256, created beside the log key on first start (PKCS#8 PEM, mode 0600,
 * never overwritten), then read back on every start. `cairn sign --rotate`
 * moves it aside so the next start creates a new one; the log keeps the old
 * one, expired, in its key set.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import { readFile, rename } from "node:fs/promises";
import {
  ORIGIN_ACTOR,
  type RegistryKey,
  type RegistryKeysEntry,
  type SignatureEntry,
} from "../registry/entries.ts";
import { keyIdOf, REGISTRY_KEY_TYPE, signatureMessage } from "../registry/registry-keys.ts";
import { createPrivateFile } from "../util/durable-file.ts";

export interface RegistrySigner {
  /** The key as `/-/npm/v1/keys` lists it while it signs. */
  readonly key: RegistryKey;
  /** The `signature` entry for `name@version` whose dist.integrity is `integrity`. */
  signatureEntry(
    ecosystem: string,
    name: string,
    version: string,
    integrity: string,
  ): SignatureEntry;
}

function signerOf(privateKey: KeyObject): RegistrySigner {
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const key: RegistryKey = {
    expires: null,
    key: spki.toString("base64"),
    keyid: keyIdOf(spki),
    keytype: REGISTRY_KEY_TYPE,
    scheme: REGISTRY_KEY_TYPE,
  };
  return {
    key,
    signatureEntry: (ecosystem, name, version, integrity) => ({
      v: 1,
      kind: "signature",
      ecosystem,
      name,
      version,
      time: new Date().toISOString(),
      actor: ORIGIN_ACTOR,
      keyid: key.keyid,
      sig: sign("sha256", signatureMessage(name, version, integrity), privateKey).toString(
        "base64",
      ),
    }),
  };
}

export async function loadOrCreateRegistrySigner(path: string): Promise<RegistrySigner> {
  let pem: string;
  try {
    pem = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    pem = privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    // Never overwrites a key another process created in the meantime.
    await createPrivateFile(path, pem);
  }
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1")
    throw new Error(`the registry key in ${path} is not an ECDSA P-256 key`);
  return signerOf(privateKey);
}

/**
 * Moves the registry key aside (to `<path>.<time>.retired`): the next start
 * creates a new one, expires this one in the log and signs every version again.
 */
export async function retireRegistryKey(path: string): Promise<string> {
  const retired = `${path}.${new Date().toISOString().replace(/[:.]/g, "-")}.retired`;
  await rename(path, retired);
  return retired;
}

/**
 * The key set after `signer` takes over from `current`: every earlier key
 * kept, each one still signing expired now; undefined when `signer` signs already.
 */
export function nextKeySet(
  current: RegistryKeysEntry | undefined,
  signer: RegistrySigner,
  ecosystem: string,
  size: number,
): RegistryKeysEntry | undefined {
  const keys = current?.keys ?? [];
  const mine = keys.find((k) => k.keyid === signer.key.keyid);
  if (mine !== undefined && mine.expires === null) return undefined;
  if (mine !== undefined)
    throw new Error(`registry key ${mine.keyid} expired at ${mine.expires}; it cannot sign again`);
  const time = new Date().toISOString();
  return {
    v: 1,
    kind: "registry-keys",
    time,
    size,
    ecosystem,
    keys: [...keys.map((k) => (k.expires === null ? { ...k, expires: time } : k)), signer.key],
  };
}
