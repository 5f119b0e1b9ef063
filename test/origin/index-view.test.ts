/**
 * The signed index view on a live origin: each snapshot's meta file,
 * shards and index files are in its static tree beside the snapshot's own
 * files, and a reader fetching them over HTTP by hash finds every crate.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { cargo } from "../../src/cargo/rules/ecosystem.ts";
import { auditTree } from "../../src/client/audit.ts";
import { IndexViewReader } from "../../src/client/index-view-reader.ts";
import { DirectorySource } from "../../src/log/sources.ts";
import { TREE_PATH } from "../../src/log/urls.ts";
import type { SnapshotEntry } from "../../src/registry/entries.ts";
import { EMPTY_SHARD_HASH } from "../../src/registry/index-view.ts";
import { BlobStore } from "../../src/store/blobs.ts";
import { cratePublish } from "../helpers/crate-entries.ts";
import { treeEntries } from "../helpers/entries.ts";
import { startTestOrigin } from "../helpers/origin.ts";

test("the origin writes the index view with each snapshot, served by hash", async () => {
  await using origin = await startTestOrigin();
  for (const [name, version] of [
    ["serde", "1.0.0"],
    ["Serde-Json", "1.0.0"],
    ["serde", "1.0.1"],
  ]) {
    const [artifact, manifest] = await origin.registry.blobs.putMany([
      new TextEncoder().encode(`crate ${name} ${version}`),
      new TextEncoder().encode(`metadata ${name} ${version}`),
    ]);
    await origin.registry.submit(cratePublish(name, version, { artifact, manifest }));
  }
  const entries = await treeEntries(origin.treeDir, origin.key.verifier);
  const last = entries.at(-1) as SnapshotEntry;
  assert.equal(last.kind, "snapshot");
  const overHttp = async (sha256: string) => {
    const res = await fetch(new URL(`${TREE_PATH}${BlobStore.treePath(sha256)}`, origin.url));
    assert.equal(res.status, 200);
    return new Uint8Array(await res.arrayBuffer());
  };
  const reader = new IndexViewReader(last, cargo, overHttp);
  const names = [];
  for await (const row of reader.rows()) names.push(row.name);
  assert.deepEqual(names.sort(), ["Serde-Json", "serde"]);
  const file = new TextDecoder().decode(await reader.indexFile("serde"));
  assert.deepEqual(
    file
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line).vers),
    ["1.0.0", "1.0.1"],
  );
  // Every snapshot entry names the view of the crates before it: three states, three ids.
  const named = entries.flatMap((e) => (e.kind === "snapshot" ? [e.indexes?.cargo.sha256] : []));
  assert.equal(named.length, 3);
  assert.equal(new Set(named.filter(Boolean)).size, 3);

  // A monitor's audit (cairn verify) reads the view too: a shard changed on disk is named.
  const shard = (await reader.shardHashes()).find((h) => h !== EMPTY_SHARD_HASH) as string;
  const viewFiles = [last.indexes?.cargo.sha256, shard];
  const audit = async (name: string) =>
    (
      await auditTree(new DirectorySource(origin.treeDir), origin.key.verifier, {
        stateDir: join(origin.dataDir, name),
      })
    ).problems.filter((p) => viewFiles.some((hash) => hash && p.message.includes(hash)));
  assert.deepEqual(await audit("audit-1"), []);
  await writeFile(join(origin.treeDir, BlobStore.treePath(shard)), "serde 00\n");
  assert.deepEqual(
    (await audit("audit-2")).map((p) => p.code),
    ["blob"],
  );
});
