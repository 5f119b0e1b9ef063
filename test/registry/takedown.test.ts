import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { adoptDatabaseFile, copyCoreTables } from "../../src/registry/database-file.ts";
import {
  decodeEntry,
  type EntryError,
  encodeEntry,
  type TakedownEntry,
} from "../../src/registry/entries.ts";
import { decodeDocument, encodeDocument } from "../../src/registry/package-document.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { snapshotEntry } from "../../src/registry/state-batch.ts";
import { takedownList, withheldHashes, withholdingOf } from "../../src/registry/withheld.ts";
import { publishEntry } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";

const TIME = "2026-11-30T06:00:00.000Z";

function moderation(
  kind: "takedown" | "restore",
  name: string,
  version: string | undefined,
  reason: string,
): TakedownEntry {
  return {
    v: 1,
    kind,
    ecosystem: "npm",
    name,
    ...(version !== undefined ? { version } : {}),
    reason,
    actor: "carol",
    time: TIME,
  };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as EntryError).code;
  }
  return undefined;
}

describe("takedown and restore entries", () => {
  test("round-trip canonically; a reason is required, bounded and one line", () => {
    const entry = moderation("takedown", "evil", "1.0.0", "Malware: reads ~/.npmrc");
    assert.deepEqual(decodeEntry(encodeEntry(entry)), entry);
    const { reason: _, ...noReason } = entry;
    assert.equal(
      code(() => encodeEntry(noReason as TakedownEntry)),
      "bad-field",
    );
    assert.equal(
      code(() => encodeEntry({ ...entry, reason: "" })),
      "bad-field",
    );
    assert.equal(
      code(() => encodeEntry({ ...entry, reason: "a\nb" })),
      "bad-field",
    );
    assert.equal(
      code(() => encodeEntry({ ...entry, reason: "x".repeat(1025) })),
      "bad-field",
    );
    assert.equal(encodeEntry({ ...entry, reason: "x".repeat(1024) }).length > 1024, true);
  });

  test("a version taken down leaves its tags, withholds its blobs, and a restore brings them back", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    const v1 = publishEntry("evil", "1.0.0", { tag: "latest" });
    const v2 = publishEntry("evil", "1.1.0", { tag: "latest" });
    state.apply(0, [v1, v2, moderation("takedown", "evil", "1.1.0", "Malware")]);
    const doc = state.table("npm").document("evil");
    assert.ok(doc);
    assert.deepEqual(doc.versions["1.1.0"].takenDown, {
      actor: "carol",
      index: 2,
      reason: "Malware",
      time: TIME,
    });
    assert.equal(doc.versions["1.0.0"].takenDown, undefined);
    assert.deepEqual(doc.distTags, { latest: "1.0.0" });
    // The stored document is the folded one, and decodes.
    assert.deepEqual(decodeDocument(encodeDocument(doc), ECOSYSTEMS), doc);
    const held = withheldHashes(state.sql);
    const named = [v2.artifact.sha256, v2.manifest.sha256].sort();
    assert.deepEqual(held, named);
    assert.equal(withholdingOf(state.sql, v2.artifact.sha256)?.reason, "Malware");
    assert.equal(withholdingOf(state.sql, v1.artifact.sha256), undefined);
    assert.equal(takedownList(state.sql).length, 1);

    // Twice, or a restore of what stands, cannot apply.
    assert.throws(() => state.apply(3, [moderation("takedown", "evil", "1.1.0", "again")]));
    assert.throws(() => state.apply(3, [moderation("restore", "evil", "1.0.0", "not down")]));
    assert.throws(() => state.apply(3, [moderation("takedown", "evil", "9.9.9", "absent")]));

    state.apply(3, [moderation("restore", "evil", "1.1.0", "Report withdrawn")]);
    const restored = state.table("npm").document("evil");
    assert.equal(restored?.versions["1.1.0"].takenDown, undefined);
    assert.deepEqual(withheldHashes(state.sql), []);
    assert.equal(takedownList(state.sql).length, 0);
  });

  test("a whole package taken down refuses new versions until restored", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    state.apply(0, [
      publishEntry("evil", "1.0.0", { tag: "latest" }),
      publishEntry("evil", "1.1.0", { tag: "latest" }),
      moderation("takedown", "evil", "1.0.0", "one version"),
      moderation("takedown", "evil", undefined, "the whole package"),
    ]);
    const doc = state.table("npm").document("evil");
    assert.equal(doc?.takenDown?.index, 3);
    assert.equal(doc?.versions["1.0.0"].takenDown?.index, 2);
    assert.equal(doc?.versions["1.1.0"].takenDown?.index, 3);
    assert.deepEqual(doc?.distTags, {});
    assert.throws(() => state.apply(4, [publishEntry("evil", "2.0.0")]));
    // A version cannot be restored out of a package taken down as a whole.
    assert.throws(() => state.apply(4, [moderation("restore", "evil", "1.1.0", "no")]));
    state.apply(4, [moderation("restore", "evil", undefined, "cleared")]);
    const after = state.table("npm").document("evil");
    assert.equal(after?.takenDown, undefined);
    // The version taken down on its own stays down; the rest are back.
    assert.equal(after?.versions["1.0.0"].takenDown?.index, 2);
    assert.equal(after?.versions["1.1.0"].takenDown, undefined);
    assert.deepEqual(after?.distTags, { latest: "1.1.0" });
    state.apply(5, [publishEntry("evil", "2.0.0")]);
  });
});

describe("listings and search", () => {
  test("a package taken down as a whole leaves listings and search; a version taken down leaves the counts", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    state.apply(0, [
      publishEntry("evil", "1.0.0", { tag: "latest" }),
      publishEntry("evil", "1.1.0", { tag: "latest" }),
      publishEntry("evil-twin", "1.0.0", { tag: "latest" }),
      moderation("takedown", "evil-twin", "1.0.0", "one version"),
    ]);
    const npm = state.table("npm");
    const listed = () => npm.listPackages({ prefix: "evil" }).map((p) => [p.name, p.versions]);
    const found = () => npm.search.search("evil", 0, 10).hits.map((h) => h.name);
    // Every version of evil-twin is down, so it has nothing to list or find.
    assert.deepEqual(listed(), [["evil", 2]]);
    assert.deepEqual(found(), ["evil"]);
    state.apply(4, [moderation("takedown", "evil", "1.1.0", "one version")]);
    assert.deepEqual(listed(), [["evil", 1]]);
    assert.equal(npm.search.search("evil", 0, 10).hits[0]?.version, "1.0.0");
    state.apply(5, [moderation("takedown", "evil", undefined, "the whole package")]);
    assert.deepEqual(listed(), []);
    assert.deepEqual(found(), []);
    assert.deepEqual(
      npm.listPackages({ prefix: "evil", all: true }).map((p) => p.name),
      ["evil", "evil-twin"],
    );
    state.apply(6, [
      moderation("restore", "evil", undefined, "cleared"),
      moderation("restore", "evil-twin", "1.0.0", "cleared"),
    ]);
    assert.deepEqual(listed(), [
      ["evil", 1],
      ["evil-twin", 1],
    ]);
    assert.deepEqual(found().sort(), ["evil", "evil-twin"]);
  });
});

describe("uplink takedowns", () => {
  test("an uplink restores only its own takedowns", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    const uplink = (entry: TakedownEntry): TakedownEntry => ({ ...entry, actor: "uplink:npm" });
    state.apply(0, [
      publishEntry("evil", "1.0.0", { tag: "latest" }),
      publishEntry("evil", "1.1.0"),
      moderation("takedown", "evil", "1.0.0", "moderated"),
      uplink(moderation("takedown", "evil", "1.1.0", "withdrawn upstream")),
    ]);
    assert.throws(() => state.apply(4, [uplink(moderation("restore", "evil", "1.0.0", "back"))]), {
      code: "cannot-apply",
    });
    state.apply(4, [uplink(moderation("restore", "evil", "1.1.0", "back upstream"))]);
    // A moderator may restore what an uplink took down, and what a moderator did.
    state.apply(5, [moderation("restore", "evil", "1.0.0", "cleared")]);
    assert.deepEqual(withheldHashes(state.sql), []);
  });
});

describe("SQLite snapshots and takedowns", () => {
  test("a copy carries the takedowns in force, and its adopter withholds what the origin does", async () => {
    await using dir = await tempDir();
    const statePath = join(dir.path, "state.sqlite");
    const state = RegistryState.open(statePath, { ecosystems: ECOSYSTEMS });
    const entries = [
      publishEntry("evil", "1.0.0", { tag: "latest" }),
      publishEntry("evil", "1.1.0", { tag: "latest" }),
      moderation("takedown", "evil", "1.1.0", "Malware"),
      publishEntry("gone", "1.0.0"),
      moderation("takedown", "gone", undefined, "Court order"),
    ];
    const batch = state.begin(0);
    for (const entry of entries) batch.add(entry);
    const built = batch.snapshot(1);
    batch.add(snapshotEntry(built, entries.length));
    batch.commit();
    const snapshot = snapshotEntry(built, entries.length);
    const copy = join(dir.path, "copy.sqlite");
    assert.equal(copyCoreTables(statePath, copy), entries.length + 1);
    const adopted = adoptDatabaseFile(copy, ECOSYSTEMS, entries.length + 1, snapshot);
    try {
      assert.deepEqual(withheldHashes(adopted.sql), withheldHashes(state.sql));
      assert.deepEqual(takedownList(adopted.sql), takedownList(state.sql));
      assert.deepEqual(adopted.table("npm").document("gone"), state.table("npm").document("gone"));
    } finally {
      adopted.close();
      state.close();
    }
  });
});
