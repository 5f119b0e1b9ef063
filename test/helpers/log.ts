/** Builders for test logs: a fresh key, a temporary directory, an appender. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Appender,
  FsLogStorage,
  generateKey,
  parseSignerKey,
  parseVerifierKey,
} from "../../src/log/index.ts";

export const TEST_ORIGIN = "test.cairn.example/log";

export function testKey(name = TEST_ORIGIN) {
  const { signerKey, verifierKey } = generateKey(name);
  return {
    signerKey,
    verifierKey,
    signer: parseSignerKey(signerKey),
    verifier: parseVerifierKey(verifierKey),
  };
}

export async function tempDir(
  prefix = "cairn-test-",
): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

export function entryBytes(i: number): Uint8Array {
  return new TextEncoder().encode(`{"entry":${i},"pad":"${"x".repeat(i % 37)}"}`);
}

/** Opens an appender on `dir` (durable off: tests do not need fsync). */
export async function openTestLog(dir: string, key = testKey()) {
  const storage = await FsLogStorage.open(dir, { durable: false });
  try {
    const appender = await Appender.open(storage, {
      origin: TEST_ORIGIN,
      signer: key.signer,
      verifier: key.verifier,
    });
    return { storage, appender, key };
  } catch (err) {
    await storage.close();
    throw err;
  }
}

/** Writes a log of `size` entries in batches of `batch`; returns the entries. */
export async function buildLog(dir: string, size: number, batch = 100, key = testKey()) {
  const { storage, appender } = await openTestLog(dir, key);
  const entries: Uint8Array[] = [];
  for (let i = 0; i < size; i++) entries.push(entryBytes(i));
  for (let i = 0; i < size; i += batch) await appender.append(entries.slice(i, i + batch));
  await storage.close();
  return { entries, appender, key };
}
