/**
 * The UnixFS roots of tarballs over 1 MiB: recorded by the origin in the
 * entry's artifact, read by clients from the package document, recomputed
 * and checked by mirrors and by `cairn verify`, with each DAG's node blocks
 * stored as blobs on every copy; and logs written before the field existed.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, test } from "node:test";
import { auditTree } from "../../src/client/audit.ts";
import { LogClient } from "../../src/client/log-client.ts";
import { SnapshotReader } from "../../src/client/snapshot-reader.ts";
import { DirectorySource } from "../../src/log/sources.ts";
import type { Mirror } from "../../src/mirror/mirror.ts";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import {
  addRecordedRoots,
  unixfsRootOf,
  unixfsRootsNamedBy,
} from "../../src/registry/artifact-dag.ts";
import type { PublishEntry } from "../../src/registry/entries.ts";
import { BlockIndex } from "../../src/store/block-index.ts";
import { cidOf, DAG_PB_CODEC, RAW_CODEC } from "../../src/store/cid.ts";
import { type UnixfsDag, unixfsOfBytes } from "../../src/store/unixfs.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { packageEntries } from "../helpers/entries.ts";
import { keystreamBytes } from "../helpers/keystream.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { syncedMirror } from "../helpers/synced-mirror.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

/** A tarball of incompressible bytes: over 1 MiB gzipped when `bytes` is. */
function tarball(name: string, version: string, bytes: number): Buffer {
  const data = keystreamBytes(`${name}@${version}`, bytes);
  return rawTgz([packageJson(name, version), { name: "package/data.bin", data }]);
}

async function publish(origin: TestOrigin, tgz: Buffer, name: string, version: string) {
  const parsed = await parsePublish(name, publishBody({ name, version }, tgz));
  return publishNpm(origin.registry, { actor: "alice", ...parsed });
}

/**
 * Appends a publish of `tgz` whose artifact is what the caller makes of
 * the honest one: how an origin that lies, or an older Cairn, wrote it.
 */
async function publishAs(
  origin: TestOrigin,
  tgz: Buffer,
  version: string,
  artifact: (honest: PublishEntry["artifact"]) => PublishEntry["artifact"],
) {
  const manifest = await origin.registry.blobs.put(Buffer.from(JSON.stringify({ version })));
  const stored = await origin.registry.blobs.put(tgz);
  const honest = {
    ...stored,
    sha512: createHash("sha512").update(tgz).digest("base64"),
    sha1: createHash("sha1").update(tgz).digest("hex"),
  };
  await origin.registry.submit({
    v: 1,
    kind: "publish",
    ecosystem: "npm",
    name: "big",
    version,
    time: new Date().toISOString(),
    actor: "alice",
    artifact: artifact(honest),
    manifest,
    resolution: {},
  });
}

async function entryOf(origin: TestOrigin, name: string, version: string): Promise<PublishEntry> {
  const entries = await packageEntries(origin.treeDir, origin.key.verifier);
  const entry = entries.find(
    (e) => e.name === name && e.kind === "publish" && e.version === version,
  );
  assert.ok(entry?.kind === "publish");
  return entry;
}

function audit(origin: TestOrigin, stateDir: string) {
  return auditTree(new DirectorySource(origin.treeDir), origin.key.verifier, { stateDir });
}

/** Whether a store holds every node block of the DAG. */
async function holdsNodes(blobs: Mirror["blobs"], dag: UnixfsDag): Promise<boolean> {
  for (const node of dag.nodes) if (!(await blobs.has(node.sha256))) return false;
  return dag.nodes.length > 0;
}

const MiB = 1 << 20;

describe("UnixFS roots of large tarballs", () => {
  test("the origin records the root of a tarball over 1 MiB, stores its nodes, and clients and mirrors see it", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    const big = tarball("big", "1.0.0", MiB + 4096);
    assert.ok(big.length > MiB);
    await publish(origin, big, "big", "1.0.0");
    await publish(origin, tarball("small", "1.0.0", 1000), "small", "1.0.0");
    const dag = unixfsOfBytes(big);
    const entry = await entryOf(origin, "big", "1.0.0");
    assert.equal(entry.artifact.unixfs, dag.root);
    assert.ok(entry.artifact.unixfs?.startsWith("bafybei"));
    assert.equal((await entryOf(origin, "small", "1.0.0")).artifact.unixfs, undefined);
    // The root block is a blob of the static tree, named by its SHA-256.
    const [root] = dag.nodes;
    assert.equal(cidOf(root.sha256, DAG_PB_CODEC), dag.root);
    const served = await fetch(new URL(`-/cairn/blob/sha256/${root.sha256}`, origin.url));
    assert.equal(served.status, 200);
    assert.ok(Buffer.from(await served.arrayBuffer()).equals(Buffer.from(root.bytes)));

    // A client reading the package document through the signed snapshot learns the root.
    const client = await LogClient.open({
      origin: origin.url,
      verifier: origin.key.verifier,
      stateDir: join(dir.path, "client"),
      useMirrorList: false,
    });
    await client.refresh();
    const doc = await new SnapshotReader(client).document("npm", "big");
    assert.equal(doc?.versions["1.0.0"].artifact?.unixfs, dag.root);

    using mirror = await syncedMirror(origin, join(dir.path, "mirror"));
    assert.ok(await holdsNodes(mirror.blobs, dag));
    assert.deepEqual((await audit(origin, join(dir.path, "audit"))).problems, []);

    // Each copy's block index learns the leaves from its state at start, or from each new entry.
    assert.deepEqual(unixfsRootsNamedBy(entry), [
      { sha256: dag.sha256, size: big.length, root: dag.root },
    ]);
    for (const copy of [origin.registry, mirror]) {
      assert.deepEqual(copy.state.unixfsArtifacts().map(unixfsRootOf), unixfsRootsNamedBy(entry));
      const index = new BlockIndex(copy.blobs);
      assert.equal(await addRecordedRoots(index, copy.state), 1);
      assert.deepEqual(index.counts, { blobs: 1, leaves: 2, nodes: 1 });
      const last = dag.leaves[1];
      const leaf = await index.block({ codec: RAW_CODEC, sha256: last.sha256 });
      assert.ok(leaf && Buffer.from(leaf).equals(big.subarray(last.offset)));
    }
  });

  test("an origin that records a wrong root is refused by mirrors and by the audit", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    await publish(origin, tarball("big", "1.0.0", 2 * MiB), "big", "1.0.0");
    using mirror = await syncedMirror(origin, join(dir.path, "mirror"));
    const held = mirror.checkpoint?.size;
    // Well-formed, and a lie: the root of other bytes.
    const lie = cidOf(sha256Hex("other bytes"), DAG_PB_CODEC);
    await publishAs(origin, tarball("big", "1.1.0", 2 * MiB), "1.1.0", (a) => ({
      ...a,
      unixfs: lie,
    }));
    await assert.rejects(mirror.sync(), { name: "BlobError", code: "unixfs-mismatch" });
    assert.equal(mirror.checkpoint?.size, held);
    const { problems } = await audit(origin, join(dir.path, "audit"));
    assert.deepEqual(
      problems.map((p) => p.code),
      ["blob"],
    );
    assert.match(problems[0].message, new RegExp(lie));
  });

  test("a log written before roots were recorded replays to the same snapshots, and mirrors still store the nodes", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    await publish(origin, tarball("big", "1.0.0", 1000), "big", "1.0.0");
    const old = tarball("big", "0.9.0", 3 * MiB);
    await publishAs(origin, old, "0.9.0", (a) => a);
    assert.equal((await entryOf(origin, "big", "0.9.0")).artifact.unixfs, undefined);
    // The mirror replays every entry and checks each snapshot entry against its own state.
    using mirror = await syncedMirror(origin, join(dir.path, "mirror"));
    assert.equal(mirror.checkpoint?.size, origin.registry.appender.size);
    assert.ok(await holdsNodes(mirror.blobs, unixfsOfBytes(old)));
    assert.deepEqual((await audit(origin, join(dir.path, "audit"))).problems, []);
  });
});
