/**
 * The index view reader against a plain static host (any web server or
 * object store): the snapshot's blobs as the origin writes them, served by
 * path, with a host that may swap a file. The reader lists every crate,
 * gets index files by any spelling, diffs two states reading only changed
 * shards, and refuses a swapped meta file, shard or index file naming the
 * step.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import { cargo } from "../../src/cargo/rules/ecosystem.ts";
import { indexFile } from "../../src/cargo/rules/index-file.ts";
import { keyName } from "../../src/cargo/rules/name.ts";
import { diffIndexViews, IndexViewReader } from "../../src/client/index-view-reader.ts";
import type { Entry, SnapshotEntry } from "../../src/registry/entries.ts";
import { EMPTY_SHARD_HASH, indexShardOf } from "../../src/registry/index-view.ts";
import { snapshotBlobs } from "../../src/registry/state-batch.ts";
import { BlobStore } from "../../src/store/blobs.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { cratePublish } from "../helpers/crate-entries.ts";
import { publishEntry } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { listenOnLoopback } from "../helpers/loopback.ts";
import { crateTakedown, crateYank, SnapshotLog } from "../helpers/snapshot-log.ts";

/** A static host of a tree; `swap` makes it answer other bytes for a path. */
async function staticHost(treeDir: string) {
  const swap = new Map<string, Uint8Array>();
  const requests: string[] = [];
  const server = createServer(async (req, res) => {
    const path = (req.url ?? "/").slice(1);
    requests.push(path);
    try {
      const body = swap.get(path) ?? (await readFile(join(treeDir, path)));
      res.end(body);
    } catch {
      res.statusCode = 404;
      res.end();
    }
  });
  const listening = await listenOnLoopback(server);
  const fetchBlob = async (sha256: string) => {
    const res = await fetch(`${listening.url}${BlobStore.treePath(sha256)}`);
    if (!res.ok) throw new Error(`${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  return { ...listening, swap, requests, fetchBlob };
}

async function registry(treeDir: string) {
  const store = await BlobStore.open(treeDir, { durable: false });
  const log = new SnapshotLog();
  const states: SnapshotEntry[] = [];
  const append = async (entries: Entry[]) => {
    states.push(log.append(entries, 8));
    await store.putMany(snapshotBlobs(log.last as NonNullable<typeof log.last>));
  };
  const crates = Array.from({ length: 1100 }, (_, i) => cratePublish(`crate-${i}`, "1.0.0"));
  await append([...crates, cratePublish("Serde-Json", "1.0.0"), publishEntry("left-pad", "1.0.0")]);
  await append([cratePublish("crate-3", "1.1.0")]);
  await append([
    crateYank("crate-5", "1.0.0"),
    crateTakedown("crate-6", "1.0.0"),
    cratePublish("new-crate", "0.1.0"),
    publishEntry("left-pad", "1.0.1"),
  ]);
  return { log, states };
}

test("a reader lists every crate, gets index files by any spelling, and diffs two states exactly", async () => {
  await using dir = await tempDir();
  const { log, states } = await registry(dir.path);
  const host = await staticHost(dir.path);
  try {
    const last = states[2];
    const reader = new IndexViewReader(last, cargo, host.fetchBlob);
    const names: string[] = [];
    for await (const row of reader.rows()) names.push(row.name);
    assert.equal(
      names.length,
      1101,
      "1,100 crates, one taken down, one new, Serde-Json: npm's are not cargo's",
    );
    assert.ok(names.includes("Serde-Json") && !names.includes("crate-6"));
    const doc = log.state.table("cargo").document("serde_json");
    assert.ok(doc);
    assert.deepEqual(await reader.indexFile("serde_json"), indexFile(doc));
    assert.equal(await reader.indexFile("crate-6"), undefined);
    assert.equal(await reader.indexFile("no-such-crate"), undefined);

    host.requests.length = 0;
    const changes = await diffIndexViews(
      new IndexViewReader(states[1], cargo, host.fetchBlob),
      reader,
    );
    assert.deepEqual(
      changes.map((c) => [c.name, c.before !== undefined, c.after !== undefined]),
      [
        ["crate-5", true, true],
        ["crate-6", true, false],
        ["new-crate", false, true],
      ],
    );
    // Only the two meta files and the shards that changed, on both sides.
    const count = (await reader.shardHashes()).length;
    assert.equal(count, 4, "1,101 crates: 4 shards");
    const changedShards = new Set(changes.map((c) => indexShardOf(keyName(c.name), count)));
    assert.ok(changedShards.size < count);
    assert.ok(host.requests.length <= 2 + 2 * changedShards.size, host.requests.join());
    // Nothing changed between a state and itself.
    assert.deepEqual(
      await diffIndexViews(reader, new IndexViewReader(last, cargo, host.fetchBlob)),
      [],
    );
  } finally {
    await host.close();
  }
});

test("a swapped meta file, shard or index file is refused, naming the step", async () => {
  await using dir = await tempDir();
  const { states } = await registry(dir.path);
  const host = await staticHost(dir.path);
  try {
    const entry = states[2];
    assert.ok(entry.indexes);
    const older = states[1].indexes?.cargo.sha256 as string;
    const read = () => new IndexViewReader(entry, cargo, host.fetchBlob).indexFile("crate-3");

    // A rolled-back meta file: the previous state's, served under this state's name.
    host.swap.set(BlobStore.treePath(entry.indexes.cargo.sha256), await host.fetchBlob(older));
    await assert.rejects(read(), { name: "IndexReadError", code: "meta" });
    host.swap.clear();

    const reader = new IndexViewReader(entry, cargo, host.fetchBlob);
    const row = await reader.row("crate-3");
    assert.ok(row);
    const shards = await reader.shardHashes();
    const home = shards[indexShardOf("crate_3", shards.length)];
    // A shard that hides a crate, and one that lists it elsewhere (the whole view in one shard).
    host.swap.set(BlobStore.treePath(home), new Uint8Array());
    await assert.rejects(read(), { name: "IndexReadError", code: "shard" });
    const rows = [];
    for (const hash of shards) if (hash !== EMPTY_SHARD_HASH) rows.push(await host.fetchBlob(hash));
    host.swap.set(BlobStore.treePath(home), Buffer.concat(rows));
    await assert.rejects(read(), { name: "IndexReadError", code: "shard" });
    host.swap.clear();

    // An index file with a line changed (a hidden yank).
    const file = await host.fetchBlob(row.file);
    const changed = new TextDecoder().decode(file).replace('"yanked":false', '"yanked":true');
    host.swap.set(BlobStore.treePath(row.file), new TextEncoder().encode(changed));
    await assert.rejects(read(), { name: "IndexReadError", code: "file" });
    host.swap.clear();
    assert.equal(sha256Hex((await read()) as Uint8Array), row.file);
  } finally {
    await host.close();
  }
});
