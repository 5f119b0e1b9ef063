/** Which checkpoints garbage collection retains (src/gc/retention.ts). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { retainedSnapshots, type SnapshotRecord } from "../../src/gc/retention.ts";

const HOUR = 3600_000;

function record(
  index: number,
  hoursAgo: number,
  extra: Partial<SnapshotRecord> = {},
): SnapshotRecord {
  return { index, time: NOW - hoursAgo * HOUR, root: "0".repeat(64), indexes: [], ...extra };
}

const NOW = Date.parse("2026-11-30T12:00:00Z");

describe("retention", () => {
  test("keeps the newest, the recent, and the first checkpoints of the newest database and popularity entries", () => {
    const records = [
      record(1, 10),
      record(5, 9, { database: 2 }),
      record(9, 8, { database: 2, popularity: 7 }),
      record(13, 7, { database: 2, popularity: 7 }),
      record(17, 1.5, { database: 2, popularity: 7 }),
      record(21, 0.5, { database: 2, popularity: 7 }),
    ];
    const kept = retainedSnapshots(records, NOW, 2 * HOUR).map((r) => r.index);
    assert.deepEqual(kept, [5, 9, 17, 21]);
  });

  test("with nothing recent, only the newest and what its pointers need", () => {
    const records = [record(1, 10), record(3, 9), record(5, 8)];
    assert.deepEqual(
      retainedSnapshots(records, NOW, 0).map((r) => r.index),
      [5],
    );
    assert.deepEqual(retainedSnapshots([], NOW, 0), []);
  });
});
