/**
 * The share store: keeps only the bytes the log names, records each
 * version once, makes the node blocks of a tarball over one chunk (so a
 * block index learns its leaves), and reads past torn or hostile lines.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { rootOfHeld, ShareStore } from "../../src/peer/share-store.ts";
import { tarballDag } from "../../src/registry/artifact-dag.ts";
import type { Artifact } from "../../src/registry/entries.ts";
import { BlockIndex } from "../../src/store/block-index.ts";
import { RAW_CODEC } from "../../src/store/cid.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { tempDir } from "../helpers/log.ts";

function artifactOf(bytes: Uint8Array, unixfs?: string): Artifact {
  return {
    sha256: sha256Hex(bytes),
    size: bytes.length,
    sha512: "",
    sha1: "",
    ...(unixfs ? { unixfs } : {}),
  };
}

test("the share store keeps logged tarballs once, with the DAG of a large one", async () => {
  await using dir = await tempDir();
  const share = await ShareStore.open(dir.path);
  const small = randomBytes(1000);
  assert.equal(await share.keep("a", "1.0.0", artifactOf(small), small), true);
  assert.equal(await share.keep("a", "1.0.0", artifactOf(small), small), false);
  await assert.rejects(share.keep("b", "1.0.0", artifactOf(small), randomBytes(1000)));
  const large = randomBytes((1 << 20) + 5000);
  const dag = await tarballDag(large);
  assert.ok(dag);
  await assert.rejects(
    share.keep(
      "c",
      "1.0.0",
      artifactOf(large, "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"),
      large,
    ),
    (err: Error & { code?: string }) => err.code === "unixfs-mismatch",
  );
  assert.equal(await share.keep("c", "1.0.0", artifactOf(large, dag.root), large), true);
  // A torn last line (a crash mid-append) and a hostile one are skipped.
  await appendFile(
    join(dir.path, "held.jsonl"),
    '{"name":"x","version":"1.0.0","sha256":"zz"}\n{"name":"d"',
  );
  const held = await share.held();
  assert.deepEqual(held.map((h) => `${h.name}@${h.version}`).sort(), ["a@1.0.0", "c@1.0.0"]);
  const root = rootOfHeld(held.find((h) => h.name === "c") ?? held[0]);
  assert.ok(root);
  const index = new BlockIndex(share.blobs);
  assert.equal(await index.add(root), true);
  const leaf = await index.block({
    codec: RAW_CODEC,
    sha256: sha256Hex(large.subarray(0, 1 << 20)),
  });
  assert.equal(leaf?.length, 1 << 20);
});
