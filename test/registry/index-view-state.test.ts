/**
 * The native index view (index-view.ts) as the registry state keeps it:
 * folded batch by batch like the snapshot's shards, equal to the view
 * built from scratch, named by the snapshot entry only when the ecosystem
 * has packages, and checked when a log is replayed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { indexFile } from "../../src/cargo/rules/index-file.ts";
import { keyName } from "../../src/cargo/rules/name.ts";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { adoptDatabaseFile, copyCoreTables } from "../../src/registry/database-file.ts";
import { decodeEntry, encodeEntry, type SnapshotEntry } from "../../src/registry/entries.ts";
import {
  buildIndexView,
  type IndexRow,
  parseIndexMeta,
  parseIndexShard,
  viewShardCount,
} from "../../src/registry/index-view.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { type BuiltSnapshot, snapshotBlobs } from "../../src/registry/state-batch.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { cratePublish } from "../helpers/crate-entries.ts";
import { publishEntry } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { crateTakedown, crateYank, SnapshotLog as Log } from "../helpers/snapshot-log.ts";

/** The cargo view built from scratch: every crate document's index file, independently of the batch. */
function viewFromScratch(state: RegistryState) {
  const rows: IndexRow[] = [];
  for (const { ecosystem, name } of state.packageKeys()) {
    if (ecosystem !== "cargo") continue;
    const doc = state.table("cargo").document(name);
    const file = doc && indexFile(doc);
    if (doc && file) rows.push({ key: keyName(doc.name), name: doc.name, file: sha256Hex(file) });
  }
  return buildIndexView("cargo", rows, viewShardCount(rows.length));
}

const crates = (n: number) =>
  Array.from({ length: n }, (_, i) => cratePublish(`crate-${i}`, "1.0.0"));

describe("the native index view in the registry state", () => {
  test("folding cargo entries gives the view of every crate's index file, batch by batch as from scratch", () => {
    const log = new Log();
    log.append([...crates(20), publishEntry("left-pad", "1.0.0")], 4);
    log.append([cratePublish("crate-3", "1.1.0"), cratePublish("Serde-Json", "1.0.0")], 4);
    const third = log.append(
      [crateYank("crate-3", "1.0.0"), cratePublish("Serde-Json", "1.0.1")],
      4,
    );
    const view = viewFromScratch(log.state);
    assert.deepEqual(third.indexes, { cargo: { sha256: view.id, size: view.meta.length } });
    // The same entries in one batch: the same view.
    const once = new Log();
    const all = log.entries.filter((e) => e.kind !== "snapshot");
    assert.equal(once.append(all, 4).indexes?.cargo.sha256, view.id);
    // The meta file lists the shards, the shards list the published spelling and the file's hash.
    const meta = log.last?.indexes.get("cargo");
    assert.ok(meta);
    const { shards } = parseIndexMeta(meta.meta);
    assert.deepEqual(shards, meta.shardHashes);
    const rows = view.shards.flatMap((bytes, shard) =>
      parseIndexShard(bytes, keyName, { shard, count: view.shards.length }),
    );
    assert.equal(rows.length, 21);
    const json = rows.find((r) => r.key === "serde_json");
    const doc = log.state.table("cargo").document("serde_json");
    assert.ok(doc);
    assert.deepEqual(json, {
      key: "serde_json",
      name: "Serde-Json",
      file: sha256Hex(indexFile(doc) as Uint8Array),
    });
  });

  test("the blobs written with a snapshot hold the changed index files, shards and meta", () => {
    const log = new Log();
    log.append(crates(8), 2);
    log.append([cratePublish("crate-1", "2.0.0")], 2);
    const built = log.last as BuiltSnapshot;
    const blobs = new Set(snapshotBlobs(built).map(sha256Hex));
    const view = built.indexes.get("cargo");
    assert.ok(view);
    const doc = log.state.table("cargo").document("crate_1");
    assert.ok(doc);
    assert.ok(blobs.has(sha256Hex(indexFile(doc) as Uint8Array)));
    assert.ok(blobs.has(view.id));
    assert.equal(view.shards.size, 1, "only the changed shard is rebuilt");
    for (const shard of view.shards.values()) assert.ok(blobs.has(sha256Hex(shard)));
    assert.equal(view.files.length, 1);
  });

  test("changes of shard count, takedowns and a state reopened from disk keep it equal to the view from scratch", async () => {
    await using dir = await tempDir();
    const log = new Log(join(dir.path, "state.db"));
    const viewOf = () => log.last?.indexes.get("cargo");
    const scratch = () => viewFromScratch(log.state).id;
    // 510 crates: one view shard, while the snapshot goes from 1 shard to 4.
    log.append(crates(510), 1);
    assert.equal(viewOf()?.shardHashes.length, 1);
    log.reopen();
    log.append([cratePublish("crate-7", "1.2.0")], 4);
    assert.equal(viewOf()?.id, scratch());
    // Past 512 crates the view has 2 shards, rebuilt whole, after a reopen.
    log.reopen();
    log.append(
      [0, 1, 2, 3, 4].map((i) => cratePublish(`more-${i}`, "1.0.0")),
      4,
    );
    assert.equal(viewOf()?.shardHashes.length, 2);
    assert.equal(viewOf()?.shards.size, 2);
    assert.equal(viewOf()?.id, scratch());
    // Then only the shard a publish changes, after a reopen.
    log.reopen();
    log.append([cratePublish("crate-3", "1.0.1")], 8);
    assert.equal(viewOf()?.shards.size, 1);
    assert.equal(viewOf()?.id, scratch());
    // Takedowns bring it back to 512 crates and one shard.
    log.append(
      [
        crateTakedown("crate-9", "1.0.0"),
        crateTakedown("more-0", "1.0.0"),
        crateTakedown("more-1", "1.0.0"),
      ],
      8,
    );
    assert.equal(viewOf()?.shardHashes.length, 1);
    assert.equal(viewOf()?.id, scratch());
    log.reopen();
    const last = log.append([cratePublish("crate-2", "1.0.1")], 8);
    assert.equal(last.indexes?.cargo.sha256, scratch());
    const rows = log.state.sql("SELECT count(*) AS n FROM index_rows").get() as { n: number };
    assert.equal(rows.n, 512, "the crates taken down have no row");
  });

  test("an npm-only log names no index view, and neither does a cargo log once every crate is gone", () => {
    const npmLog = new Log();
    const snapshot = npmLog.append([publishEntry("left-pad", "1.0.0")], 2);
    assert.equal(Object.hasOwn(snapshot, "indexes"), false);
    const cargoLog = new Log();
    assert.ok(cargoLog.append([cratePublish("only", "1.0.0")], 2).indexes);
    const gone = cargoLog.append([crateTakedown("only", "1.0.0")], 2);
    assert.equal(Object.hasOwn(gone, "indexes"), false);
  });

  test("replaying a log checks the view its snapshot entries name", () => {
    const log = new Log();
    log.append(crates(5), 2);
    log.append([cratePublish("crate-0", "1.0.1")], 2);
    const replayed = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    replayed.apply(0, log.entries);
    const at = log.entries.length - 1;
    const honest = log.entries[at] as SnapshotEntry;
    const other = { sha256: "0".repeat(64), size: honest.indexes?.cargo.size ?? 0 };
    const { indexes: _, ...unnamed } = honest;
    for (const lie of [{ ...honest, indexes: { cargo: other } }, unnamed]) {
      const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
      assert.throws(
        () => state.apply(0, [...log.entries.slice(0, at), lie]),
        (err: Error) =>
          err.name === "SnapshotMismatchError" && /cargo index view/.test(err.message),
      );
    }
  });
});

test("a snapshot entry's indexes name at least one view, by ecosystem id, each a blob", () => {
  const log = new Log();
  const entry = log.append([cratePublish("serde", "1.0.0")], 1);
  assert.deepEqual(decodeEntry(encodeEntry(entry)), entry);
  const ref = entry.indexes?.cargo;
  for (const indexes of [{}, { Cargo: ref }, { cargo: { sha256: "x", size: 1 } }, []])
    assert.throws(() => encodeEntry({ ...entry, indexes } as SnapshotEntry), {
      code: "bad-field",
    });
});

test("a database file of a log with crates is adopted with its index view, and one whose view differs is refused", async () => {
  await using dir = await tempDir();
  const log = new Log(join(dir.path, "state.sqlite"));
  log.append([cratePublish("serde", "1.0.0"), cratePublish("Serde-Json", "1.0.0")], 2);
  const snapshot = log.append([cratePublish("serde", "1.0.1"), publishEntry("a", "1.0.0")], 2);
  log.state.close();
  const size = log.entries.length;
  for (const [entry, adopts] of [
    [snapshot, true],
    [{ ...snapshot, indexes: { cargo: { sha256: "0".repeat(64), size: 1 } } }, false],
  ] as const) {
    const copy = join(dir.path, `copy-${adopts}.sqlite`);
    copyCoreTables(log.path, copy);
    if (!adopts) {
      assert.throws(() => adoptDatabaseFile(copy, ECOSYSTEMS, size, entry), { code: "mismatch" });
      continue;
    }
    const adopted = adoptDatabaseFile(copy, ECOSYSTEMS, size, entry);
    // It carries on: the next batch's view is the one a replay gives.
    const next = cratePublish("Serde-Json", "1.0.1");
    const batch = adopted.begin(size);
    batch.add(next);
    const built = batch.snapshot(2);
    batch.commit();
    const replayed = new Log();
    replayed.append(log.entries.filter((e) => e.kind !== "snapshot").concat(next), 2);
    assert.equal(built.indexes.get("cargo")?.id, replayed.last?.indexes.get("cargo")?.id);
    adopted.close();
  }
});
