/**
 * The origin's signing key: created on first start (file mode 0600, never
 * overwritten), then read back on every start. The file holds the C2SP
 * signed-note signer key string; the key name is the log's origin line.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import {
  generateKey,
  type NoteSigner,
  type NoteVerifier,
  parseSignerKey,
  parseVerifierKey,
} from "../log/index.ts";
import { createPrivateFile } from "../util/durable-file.ts";

export interface OriginKey {
  /** The log's name: checkpoint origin line and key name. */
  readonly origin: string;
  readonly signer: NoteSigner;
  readonly verifier: NoteVerifier;
  readonly verifierKey: string;
  /** True when this call created the key. */
  readonly created: boolean;
  /** Further signers of each checkpoint: the key being rotated out, during its window. */
  readonly cosigners?: () => readonly NoteSigner[];
}

/** A default origin name: this host plus a random suffix, so two registries never share one. */
export function defaultOriginName(): string {
  const host =
    hostname()
      .toLowerCase()
      .replace(/[^a-z0-9.-]/g, "-") || "localhost";
  return `${host}/cairn-${randomBytes(3).toString("hex")}`;
}

export async function loadOrCreateKey(path: string, originName?: string): Promise<OriginKey> {
  let created = false;
  let signerKey: string;
  try {
    signerKey = (await readFile(path, "utf8")).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    signerKey = generateKey(originName ?? defaultOriginName()).signerKey;
    await createPrivateFile(path, `${signerKey}\n`);
    created = true;
  }
  const signer = parseSignerKey(signerKey);
  if (originName !== undefined && originName !== signer.name) {
    throw new Error(`the key in ${path} is for ${signer.name}, not ${originName}`);
  }
  return {
    origin: signer.name,
    signer,
    verifier: parseVerifierKey(signer.verifierKey),
    verifierKey: signer.verifierKey,
    created,
  };
}
