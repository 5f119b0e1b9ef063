/**
 * The stored checkpoint never moves back, even when several processes share
 * the state directory and save at the same time.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CheckpointStore } from "../../src/client/checkpoint-store.ts";
import { LogClient } from "../../src/client/log-client.ts";
import { entryBytes, openTestLog, tempDir, testKey } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";

/** Signed checkpoints of one log at the given sizes. */
async function checkpointsAt(sizes: number[]) {
  await using dir = await tempDir();
  const key = testKey();
  const { storage, appender } = await openTestLog(dir.path, key);
  const notes = new Map<number, Uint8Array>();
  let size = 0;
  for (const target of sizes) {
    const batch = Array.from({ length: target - size }, (_, i) => entryBytes(size + i));
    notes.set(target, (await appender.append(batch)).checkpoint);
    size = target;
  }
  await storage.close();
  return { key, note: (size: number) => notes.get(size) as Uint8Array };
}

describe("checkpoint store", () => {
  test("two savers from the same stored checkpoint: the first wins, the second learns what won", async () => {
    const { key, note } = await checkpointsAt([100, 150, 200]);
    await using state = await tempDir();
    await new CheckpointStore(state.path, key.verifier).save(note(100), undefined);
    const a = new CheckpointStore(state.path, key.verifier);
    const b = new CheckpointStore(state.path, key.verifier);
    const seenByA = await a.load();
    const seenByB = await b.load();
    const first = await a.save(note(200), seenByA);
    const late = await b.save(note(150), seenByB);
    assert.equal((await a.load())?.checkpoint.size, 200, "the stored checkpoint went back");
    assert.equal(first.saved, true);
    assert.equal(late.saved, false);
    assert.equal(!late.saved && late.current.checkpoint.size, 200);
  });

  test("many savers at once from one stored checkpoint: exactly one is stored", async () => {
    const sizes = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
    const { key, note } = await checkpointsAt(sizes);
    await using state = await tempDir();
    const store = new CheckpointStore(state.path, key.verifier);
    await store.save(note(10), undefined);
    const base = await store.load();
    const results = await Promise.all(
      sizes
        .slice(1)
        .map((size) => new CheckpointStore(state.path, key.verifier).save(note(size), base)),
    );
    const won = results.filter((r) => r.saved);
    assert.equal(won.length, 1);
    const stored = await store.load();
    assert.equal(stored?.checkpoint.size, won[0].saved && won[0].stored.checkpoint.size);
    for (const r of results) if (!r.saved) assert.ok(r.current.checkpoint.size >= 11);
  });

  test("a smaller checkpoint cannot follow a larger one", async () => {
    const { key, note } = await checkpointsAt([5, 9]);
    await using state = await tempDir();
    const store = new CheckpointStore(state.path, key.verifier);
    const first = await store.save(note(9), undefined);
    assert.ok(first.saved);
    await assert.rejects(store.save(note(5), first.stored), RangeError);
  });

  test("cairn sync and cairn verify sharing $CAIRN_HOME: the one behind adopts the newer checkpoint", async () => {
    await using origin = await startTestOrigin();
    await using state = await tempDir();
    await origin.publish("a", "1.0.0");
    const options = { origin: origin.url, verifier: origin.key.verifier, stateDir: state.path };
    const behind = await LogClient.open(options);
    const ahead = await LogClient.open(options);
    const older = await readFile(join(origin.treeDir, "checkpoint"));
    await origin.publish("b", "1.0.0");
    const newer = await ahead.refresh();
    // The client that opened before `ahead` stored anything now takes an older checkpoint.
    await behind.seed(older);
    assert.equal(behind.checkpoint?.size, newer.size);
    const reopened = await LogClient.open(options);
    assert.equal(reopened.checkpoint?.size, newer.size, "the stored checkpoint went back");
    // One that proves a newer checkpoint from a stale base proves it from the other's too, and stores it.
    const stale = await LogClient.open(options);
    await origin.publish("c", "1.0.0");
    // Each publish: its entry, its registry signature, the batch's snapshot.
    assert.equal((await reopened.refresh()).size, newer.size + 3);
    await origin.publish("d", "1.0.0");
    assert.equal((await stale.refresh()).size, newer.size + 6);
    assert.equal((await LogClient.open(options)).checkpoint?.size, newer.size + 6);
  });
});
