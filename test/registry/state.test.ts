import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import type { Entry, PublishEntry } from "../../src/registry/entries.ts";
import { CORE_SCHEMA_V2, RegistryState, STATE_SCHEMA } from "../../src/registry/state.ts";
import { publishEntry } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { WITH_TOY } from "../helpers/state.ts";

let clock = 0;
const time = () => new Date(Date.UTC(2026, 10, 21, 6, 0, 0, clock++)).toISOString();

function publish(
  name: string,
  version: string,
  actor = "alice",
  tag: string | undefined = "latest",
): PublishEntry {
  return publishEntry(name, version, { actor, tag, time: time() });
}

function base(name: string) {
  return { v: 1, ecosystem: "npm", name, time: time(), actor: "alice" } as const;
}

const history: Entry[] = [
  publish("a", "1.0.0"),
  publish("a", "1.1.0"),
  publish("a", "2.0.0-beta.0", "alice", "next"),
  { ...base("a"), kind: "deprecate", version: "1.0.0", message: "use 1.1" },
  { ...base("a"), kind: "owner", user: "bob", action: "add" },
  publish("b", "0.1.0", "bob"),
  { ...base("a"), kind: "dist-tag", tag: "next", version: null },
  { ...base("a"), kind: "unpublish", version: "1.1.0" },
  { ...base("b"), kind: "unpublish" },
];

function dump(state: RegistryState) {
  return ["a", "b"].map((name) => ({
    pkg: state.table("npm").getPackage(name),
    versions: state.table("npm").versions(name),
    tags: state.table("npm").distTags(name),
    owners: state.table("npm").owners(name),
  }));
}

describe("registry state", () => {
  test("entries derive packages, versions, tags, deprecations and owners", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    state.apply(0, history);
    assert.equal(state.logSize, history.length);
    // 1.1.0 was latest when it was unpublished: latest falls back to the highest release left.
    assert.deepEqual(state.table("npm").distTags("a"), { latest: "1.0.0" });
    assert.deepEqual(state.table("npm").owners("a"), ["alice", "bob"]);
    assert.deepEqual(state.table("npm").owners("b"), ["bob"]);
    const versions = state.table("npm").versions("a");
    assert.deepEqual(
      versions.map((v) => [v.version, v.logIndex, v.deprecated, v.unpublished !== null]),
      [
        ["1.0.0", 0, "use 1.1", false],
        ["1.1.0", 1, null, true],
        ["2.0.0-beta.0", 2, null, false],
      ],
    );
    assert.ok(
      state.table("npm").hasVersion("a", "1.1.0"),
      "an unpublished version still blocks its reuse",
    );
    assert.notEqual(state.table("npm").getPackage("b")?.unpublished, null);
    assert.deepEqual(
      state
        .table("npm")
        .versions("b")
        .map((v) => v.unpublished !== null),
      [true],
    );
  });

  test("applying one entry at a time gives the same state as one batch", () => {
    const batch = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    batch.apply(0, history);
    const single = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    history.forEach((e, i) => {
      single.apply(i, [e]);
    });
    assert.deepEqual(dump(single), dump(batch));
  });

  test("entries out of order are refused, and a failing batch changes nothing", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    state.apply(0, history.slice(0, 2));
    assert.throws(() => state.apply(5, history.slice(5)), /cannot apply entries from 5/);
    assert.throws(
      () => state.apply(2, [publish("c", "1.0.0"), publish("a", "1.0.0")]),
      /already published/,
    );
    assert.equal(state.logSize, 2);
    assert.equal(state.table("npm").getPackage("c"), undefined);
  });
});

/** An entry of a second ecosystem: the core must keep it apart from npm's of the same name. */
function otherEcosystem<E extends Entry>(entry: E): E {
  return { ...entry, ecosystem: "toy" };
}

describe("registry state with more than one ecosystem", () => {
  test("the same name in two ecosystems is two packages: rows, documents, search and dependents", () => {
    const state = RegistryState.open(":memory:", { ecosystems: WITH_TOY });
    const changed = state.apply(0, [
      publish("a", "1.0.0"),
      otherEcosystem(publish("a", "2.0.0")),
      publishEntry("b", "1.0.0", { tag: "latest", resolution: { dependencies: { a: "^1" } } }),
    ]);
    assert.deepEqual([...changed].sort(), ["npm/a", "npm/b", "toy/a"]);
    const npm = state.table("npm");
    const toy = state.table("toy");
    assert.deepEqual(Object.keys(npm.document("a")?.versions ?? {}), ["1.0.0"]);
    assert.deepEqual(Object.keys(toy.document("a")?.versions ?? {}), ["2.0.0"]);
    assert.equal(toy.document("a")?.ecosystem, "toy");
    assert.deepEqual(toy.distTags("a"), { latest: "2.0.0" });
    assert.equal(toy.hasVersion("a", "1.0.0"), false);
    assert.equal(toy.getPackage("b"), undefined);
    assert.ok(state.documentHash("npm/a"));
    assert.ok(state.documentHash("toy/a"));
    assert.notEqual(state.documentHash("npm/a"), state.documentHash("toy/a"));
    assert.equal(state.meta("packages"), "3");
    assert.deepEqual(state.packageKeys(), [
      { ecosystem: "npm", name: "a" },
      { ecosystem: "npm", name: "b" },
      { ecosystem: "toy", name: "a" },
    ]);
    assert.deepEqual(
      toy.listPackages().map((p) => [p.name, p.latest]),
      [["a", "2.0.0"]],
    );
    assert.deepEqual(
      toy.search.search("a", 0, 10).hits.map((h) => h.version),
      ["2.0.0"],
    );
    assert.deepEqual(
      npm.search.search("a", 0, 10).hits.map((h) => h.name),
      ["a"],
    );
    assert.equal(npm.dependentCount("a"), 1);
    assert.equal(toy.dependentCount("a"), 0);
    // Taking one down leaves the other as it was.
    const npmBefore = state.documentHash("npm/a");
    state.apply(3, [otherEcosystem({ ...base("a"), kind: "unpublish" })]);
    assert.ok(toy.getPackage("a")?.unpublished);
    assert.equal(npm.getPackage("a")?.unpublished, null);
    assert.equal(state.documentHash("npm/a"), npmBefore);
    assert.equal(toy.search.search("a", 0, 10).total, 0);
    assert.equal(npm.search.search("a", 0, 10).total, 1);
  });
});

describe("search text of an ecosystem's first package", () => {
  test("a batch that fails after creating its ecosystem's text table leaves the next batch able to", () => {
    const state = RegistryState.open(":memory:", { ecosystems: WITH_TOY });
    assert.throws(
      () =>
        state.apply(0, [otherEcosystem(publish("a", "1.0.0"))], () => {
          throw new Error("the log append failed");
        }),
      /append failed/,
    );
    assert.equal(state.logSize, 0);
    state.apply(0, [otherEcosystem(publish("a", "1.0.0"))]);
    assert.equal(state.table("toy").search.search("a", 0, 10).total, 1);
  });
});

describe("a state written by an older release", () => {
  /** A state file left at schema `version`, holding a search text table of its day. */
  function olderState(path: string, version: number, ftsTable: string): void {
    const db = new DatabaseSync(path);
    db.exec(CORE_SCHEMA_V2);
    db.exec(
      `CREATE VIRTUAL TABLE "${ftsTable}" USING fts5(name, description, keywords);
       INSERT INTO "${ftsTable}" (rowid, name, description, keywords) VALUES (1, 'a', 'old', '');
       INSERT INTO packages (name, created, modified, updated) VALUES ('a', 't', 't', 0);
       INSERT INTO meta (key, value) VALUES ('log_size', '1');
       PRAGMA user_version = ${version};`,
    );
    db.close();
  }

  test("is dropped whole, search text tables and their shadow tables first, and rebuilt from the log", async () => {
    await using dir = await tempDir();
    // Schema 4's one text table, and a later schema's per-ecosystem one (as the next bump finds it).
    for (const [version, fts] of [
      [4, "search_fts"],
      [STATE_SCHEMA - 1, "search_text_npm"],
    ] as const) {
      const path = join(dir.path, `${fts}.sqlite`);
      olderState(path, version, fts);
      const state = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
      assert.equal(state.logSize, 0);
      assert.equal(state.table("npm").getPackage("a"), undefined);
      const old = state.db
        .prepare("SELECT name FROM sqlite_master WHERE name LIKE ? ORDER BY name")
        .all(`${fts}%`);
      assert.deepEqual(old, []);
      state.apply(0, [publish("a", "1.0.0")]);
      assert.equal(state.table("npm").search.search("a", 0, 10).total, 1);
      state.close();
      // Reopened at the same schema, nothing is dropped.
      const again = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
      assert.equal(again.logSize, 1);
      assert.equal(again.table("npm").search.search("a", 0, 10).total, 1);
      again.close();
    }
  });
});
