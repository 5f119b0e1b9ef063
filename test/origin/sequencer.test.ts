import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type SequencedEntry, Sequencer, type SequencerHooks } from "../../src/origin/sequencer.ts";

interface Write {
  key: string;
}

/** Hooks over an in-memory log; a key may be written once. */
function memoryHooks() {
  const log: Uint8Array[] = [];
  const applied: SequencedEntry<Write>[] = [];
  const keys = new Set<string>();
  const batches: number[] = [];
  const hooks: SequencerHooks<Write> = {
    checker() {
      const accepted = new Set<string>();
      return {
        check(candidate) {
          if (keys.has(candidate.key) || accepted.has(candidate.key)) {
            throw new Error(`${candidate.key} already written`);
          }
        },
        accept: (w) => accepted.add(w.key),
      };
    },
    encode: (w) => Buffer.from(w.key),
    async append(entries) {
      batches.push(entries.length);
      const first = log.length;
      log.push(...entries);
      return { first };
    },
    apply(entries) {
      for (const e of entries) keys.add(e.value.key);
      applied.push(...entries);
    },
  };
  return { hooks, log, applied, batches };
}

describe("sequencer", () => {
  test("concurrent writes share one batch and each learns its index", async () => {
    const { hooks, batches } = memoryHooks();
    const seq = new Sequencer(hooks, { maxBatch: 1000 });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => seq.submit({ key: `k${i}` })),
    );
    assert.deepEqual(batches, [50]);
    assert.deepEqual(
      results.map((r) => r.index),
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  test("group commit: writes arriving during a batch form the next one, and a lone write does not wait", async () => {
    const { hooks, batches } = memoryHooks();
    const append = hooks.append;
    const firstAppending = Promise.withResolvers<void>();
    const releaseFirst = Promise.withResolvers<void>();
    hooks.append = async (entries, values) => {
      if (batches.length === 0) {
        firstAppending.resolve();
        await releaseFirst.promise;
      }
      return append(entries, values);
    };
    const seq = new Sequencer(hooks, { maxBatch: 1000 });
    const first = seq.submit({ key: "first" });
    await firstAppending.promise;
    const rest = Array.from({ length: 10 }, (_, i) => seq.submit({ key: `k${i}` }));
    releaseFirst.resolve();
    await Promise.all([first, ...rest]);
    assert.deepEqual(batches, [1, 10]);
    // No timer holds a lone write back: its batch is appending by the next turn of the event loop.
    const alone = seq.submit({ key: "alone" });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(batches, [1, 10, 1]);
    await alone;
  });

  test("the same write twice in one batch: the first wins, the second is refused", async () => {
    const { hooks, log } = memoryHooks();
    const seq = new Sequencer(hooks, { maxBatch: 1000 });
    const [a, b] = await Promise.allSettled([
      seq.submit({ key: "same" }),
      seq.submit({ key: "same" }),
    ]);
    assert.equal(a.status, "fulfilled");
    assert.equal(b.status, "rejected");
    assert.match(String((b as PromiseRejectedResult).reason), /already written/);
    assert.equal(log.length, 1);
    await assert.rejects(seq.submit({ key: "same" }), /already written/);
  });

  test("a batch holds at most maxBatch writes; close waits for the rest", async () => {
    const { hooks, batches } = memoryHooks();
    const seq = new Sequencer(hooks, { maxBatch: 3 });
    await Promise.all([
      seq.submit({ key: "a" }),
      seq.submit({ key: "b" }),
      seq.submit({ key: "c" }),
    ]);
    assert.deepEqual(batches, [3]);
    const late = seq.submit({ key: "d" });
    await seq.close();
    await late;
    assert.deepEqual(batches, [3, 1]);
    await assert.rejects(seq.submit({ key: "e" }), /closed/);
  });

  test("a failed append rejects the whole batch and leaves nothing applied", async () => {
    const { hooks, applied } = memoryHooks();
    hooks.append = async () => {
      throw new Error("disk full");
    };
    const seq = new Sequencer(hooks, { maxBatch: 100 });
    const results = await Promise.allSettled([seq.submit({ key: "a" }), seq.submit({ key: "b" })]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["rejected", "rejected"],
    );
    assert.equal(applied.length, 0);
  });

  test("if the derived state cannot apply a batch, later writes are refused until restart", async () => {
    const { hooks } = memoryHooks();
    hooks.apply = () => {
      throw new Error("database locked");
    };
    const seq = new Sequencer(hooks, { maxBatch: 100 });
    await assert.rejects(seq.submit({ key: "a" }), /fell behind the log/);
    await assert.rejects(seq.submit({ key: "b" }), /fell behind the log/);
  });

  test("a write whose accept throws (the origin's fold) is refused alone; its batch is appended without it", async () => {
    const { hooks, log } = memoryHooks();
    const checker = hooks.checker;
    hooks.checker = () => {
      const inner = checker();
      return {
        check: inner.check,
        accept(w) {
          if (w.key === "poison") throw new Error("cannot be applied");
          inner.accept(w);
        },
      };
    };
    const seq = new Sequencer(hooks, { maxBatch: 1000 });
    const results = await Promise.allSettled(
      ["a", "poison", "b"].map((key) => seq.submit({ key })),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    assert.deepEqual(
      log.map((b) => Buffer.from(b).toString()),
      ["a", "b"],
    );
    assert.equal((await seq.submit({ key: "c" })).index, 2);
  });
});
