import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import {
  Appender,
  FsLogStorage,
  openCheckpoint,
  readUnverifiedCheckpoint,
} from "../../src/log/index.ts";
import { entryBytes, TEST_ORIGIN, tempDir, testKey } from "../helpers/log.ts";

const key = testKey();

async function open(dir: string, cosign: (checkpoint: Uint8Array) => Promise<Uint8Array>) {
  const storage = await FsLogStorage.open(dir, { durable: false });
  const appender = await Appender.open(storage, {
    origin: TEST_ORIGIN,
    signer: key.signer,
    verifier: key.verifier,
    cosign,
  });
  return { storage, appender };
}

const batch = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => entryBytes(from + i));

test("a crash after witnesses saw a checkpoint, before its swap, rolls forward to it on open", async () => {
  await using dir = await tempDir();
  let seen: Uint8Array | undefined;
  let reached: () => void = () => {};
  const witnessed = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const first = await open(dir.path, async (checkpoint) => {
    seen = checkpoint;
    if (readUnverifiedCheckpoint(checkpoint).size < 310) return checkpoint;
    // The witnesses answered, then the process died before the swap: this never settles.
    reached();
    return new Promise<Uint8Array>(() => {});
  });
  await first.appender.append(batch(0, 10));
  void first.appender.append(batch(10, 300));
  await witnessed;
  await first.storage.close();

  const reopened = await open(dir.path, async (c) => c);
  try {
    assert.equal(reopened.appender.size, 310, "the cosigned size is where the log stands");
    assert.deepEqual(Buffer.from(reopened.appender.checkpoint), Buffer.from(seen ?? []));
    const { size } = openCheckpoint(
      (await reopened.storage.read("checkpoint")) ?? new Uint8Array(),
      [key.verifier],
      TEST_ORIGIN,
    );
    assert.equal(size, 310);
    await reopened.appender.append(batch(310, 5));
    assert.equal(reopened.appender.size, 315);
  } finally {
    await reopened.storage.close();
  }
});

test("a torn pending checkpoint is ignored", async () => {
  await using dir = await tempDir();
  const first = await open(dir.path, async (c) => c);
  await first.appender.append(batch(0, 10));
  await first.storage.close();
  await writeFile(join(dir.path, "checkpoint.pending"), "test.cairn.example/log\n99");
  const reopened = await open(dir.path, async (c) => c);
  assert.equal(reopened.appender.size, 10);
  await reopened.storage.close();
});

test("a cosign step that fails publishes the checkpoint as the log signed it", async () => {
  await using dir = await tempDir();
  const log = await open(dir.path, async () => {
    throw new Error("witnesses unreachable");
  });
  const result = await log.appender.append(batch(0, 3));
  assert.equal(result.size, 3);
  assert.equal(openCheckpoint(result.checkpoint, [key.verifier], TEST_ORIGIN).size, 3);
  await log.storage.close();
});
