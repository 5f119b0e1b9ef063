import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import type {
  Entry,
  PackageEntry,
  PublishEntry,
  SnapshotEntry,
} from "../../src/registry/entries.ts";
import { encodeDocument } from "../../src/registry/package-document.ts";
import { buildSnapshot } from "../../src/registry/snapshot.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { SnapshotMismatchError } from "../../src/registry/state-batch.ts";
import { artifactEntry, importEntry, publishEntry } from "../helpers/entries.ts";

const TIME = "2026-11-21T06:00:00.000Z";
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

function publish(name: string, version: string, tag?: string): PublishEntry {
  return publishEntry(name, version, { tag, resolution: { dependencies: { dep: "^1.0.0" } } });
}

/** The snapshot entry an honest origin would write after `state`, computed from scratch. */
function honestSnapshot(state: RegistryState, size: number, shards: number): SnapshotEntry {
  const rows = state
    .table("npm")
    .packageNames()
    .map((name) => {
      const doc = state.table("npm").document(name);
      assert.ok(doc);
      return { key: `npm/${name}`, document: sha256(encodeDocument(doc)) };
    });
  const snap = buildSnapshot(rows, shards);
  return {
    v: 1,
    kind: "snapshot",
    time: TIME,
    size,
    root: { sha256: snap.id, size: snap.root.length },
    shards,
    packages: rows.length,
  };
}

describe("package documents and snapshot entries", () => {
  test("a document holds versions with their log index, tags, owners and later changes", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    state.apply(0, [
      publish("a", "1.0.0", "latest"),
      publish("a", "1.1.0", "latest"),
      {
        v: 1,
        kind: "deprecate",
        ecosystem: "npm",
        name: "a",
        version: "1.0.0",
        message: "old",
        time: TIME,
        actor: "alice",
      },
      {
        v: 1,
        kind: "unpublish",
        ecosystem: "npm",
        name: "a",
        version: "1.1.0",
        time: TIME,
        actor: "alice",
      },
    ]);
    const doc = state.table("npm").document("a");
    assert.deepEqual(doc?.distTags, { latest: "1.0.0" });
    assert.equal(doc?.updated, 3);
    assert.equal(doc?.versions["1.0.0"].index, 0);
    assert.equal(doc?.versions["1.0.0"].deprecated, "old");
    assert.equal(doc?.versions["1.1.0"].unpublished, TIME);
    assert.deepEqual(doc?.owners, ["alice"]);
  });

  test("entries without a file index replay to the documents they always gave; with one, versions carry it", () => {
    const old = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    old.apply(0, [
      publishEntry("a", "1.0.0", { tag: "latest" }),
      importEntry("b", "1.0.0"),
      artifactEntry("b", "1.0.0"),
    ]);
    const hashOf = (state: RegistryState, name: string) => {
      const doc = state.table("npm").document(name);
      assert.ok(doc);
      return sha256(encodeDocument(doc));
    };
    // The hashes the code before `files` existed gives for these entries: old logs, same snapshots.
    assert.equal(
      hashOf(old, "a"),
      "f875ce95fa2d01d90c5555a6ccfcc4f60bca3f6aa4ae1012f83bbfeb83d76fb7",
    );
    assert.equal(
      hashOf(old, "b"),
      "9a3ad374c3fb0866549f42a4ea228609cee9be2c6ac6eac828853525eb648ec9",
    );
    assert.equal(
      Object.hasOwn(old.table("npm").document("a")?.versions["1.0.0"] ?? {}, "files"),
      false,
    );

    const files = { sha256: "d".repeat(64), size: 321 };
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    state.apply(0, [
      { ...publishEntry("a", "1.0.0", { tag: "latest" }), files },
      importEntry("b", "1.0.0"),
      { ...artifactEntry("b", "1.0.0"), files },
    ]);
    assert.deepEqual(state.table("npm").document("a")?.versions["1.0.0"].files, files);
    assert.deepEqual(state.table("npm").document("b")?.versions["1.0.0"].files, files);
    assert.deepEqual(state.table("npm").version("b", "1.0.0")?.entry.files, files);
  });

  test("an honest snapshot entry is accepted; a wrong root, count or size names the entry", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    state.apply(0, [publish("a", "1.0.0"), publish("b", "1.0.0")]);
    const good = honestSnapshot(state, 2, 4);
    const other = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    other.apply(0, [publish("a", "1.0.0"), publish("b", "1.0.0"), good]);
    assert.equal(other.snapshot?.id, good.root.sha256);
    assert.equal(other.snapshot?.index, 2);

    const lies: [SnapshotEntry, RegExp][] = [
      [
        { ...good, root: { ...good.root, sha256: sha256("another state") } },
        /root .* does not match/,
      ],
      [{ ...good, packages: 3 }, /counts 3 packages/],
      [{ ...good, size: 1 }, /says log size 1/],
    ];
    for (const [lie, message] of lies) {
      const fresh = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
      fresh.apply(0, [publish("a", "1.0.0"), publish("b", "1.0.0")]);
      assert.throws(
        () => fresh.apply(2, [lie]),
        (err: unknown) =>
          err instanceof SnapshotMismatchError && err.index === 2 && message.test(err.message),
      );
      assert.equal(fresh.logSize, 2);
      assert.equal(fresh.snapshot, undefined);
    }
  });

  test("a hidden version, or a version the log lacks, changes the snapshot", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    state.apply(0, [publish("a", "1.0.0"), publish("a", "2.0.0")]);
    const withBoth = honestSnapshot(state, 2, 1);
    const hiding = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    hiding.apply(0, [publish("a", "1.0.0")]);
    assert.throws(() => hiding.apply(1, [{ ...withBoth, size: 1 }]), SnapshotMismatchError);
  });

  test("incremental shard hashes equal a snapshot built from scratch, however entries are batched", () => {
    const names = ["a", "b", "@s/c", "d-e", "f"];
    const entry = fc.oneof(
      fc.record({
        kind: fc.constant("publish"),
        name: fc.constantFrom(...names),
        major: fc.nat(20),
      }),
      fc.record({ kind: fc.constant("tag"), name: fc.constantFrom(...names), major: fc.nat(20) }),
    );
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(5), { minLength: 1, maxLength: 10 }),
        fc.constantFrom(1, 2, 8),
        (ops, cuts, shards) => {
          const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
          const reference = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
          const published = new Set<string>();
          const entries: PackageEntry[] = [];
          for (const op of ops) {
            const version = `${op.major}.0.0`;
            if (op.kind === "publish" && !published.has(`${op.name}@${version}`)) {
              published.add(`${op.name}@${version}`);
              entries.push(publish(op.name, version, "latest"));
            } else if (op.kind === "tag" && published.has(`${op.name}@${version}`)) {
              entries.push({
                v: 1,
                kind: "dist-tag",
                ecosystem: "npm",
                name: op.name,
                tag: "next",
                version,
                time: TIME,
                actor: "alice",
              });
            }
          }
          // A client reading a bundle applies many batches, each with its snapshot entry, at once.
          const bundled = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
          const log: Entry[] = [];
          let at = 0;
          let cut = 0;
          while (at < entries.length) {
            const batch = entries.slice(at, at + 1 + cuts[cut++ % cuts.length]);
            reference.apply(reference.logSize, batch);
            const snapshot = honestSnapshot(reference, reference.logSize, shards);
            reference.apply(reference.logSize, [snapshot]);
            const withSnapshot: Entry[] = [...batch, snapshot];
            state.apply(state.logSize, withSnapshot);
            log.push(...withSnapshot);
            at += batch.length;
          }
          assert.equal(state.snapshot?.id, reference.snapshot?.id);
          bundled.apply(0, log);
          assert.equal(bundled.snapshot?.id, reference.snapshot?.id);
        },
      ),
      { numRuns: 60 },
    );
  });
});
