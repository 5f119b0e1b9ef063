import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import type { Entry, PublishEntry } from "../../src/registry/entries.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { publishEntry } from "../helpers/entries.ts";

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
    pkg: state.getPackage(name),
    versions: state.versions(name),
    tags: state.distTags(name),
    owners: state.owners(name),
  }));
}

describe("registry state", () => {
  test("entries derive packages, versions, tags, deprecations and owners", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    state.apply(0, history);
    assert.equal(state.logSize, history.length);
    // 1.1.0 was latest when it was unpublished: latest falls back to the highest release left.
    assert.deepEqual(state.distTags("a"), { latest: "1.0.0" });
    assert.deepEqual(state.owners("a"), ["alice", "bob"]);
    assert.deepEqual(state.owners("b"), ["bob"]);
    const versions = state.versions("a");
    assert.deepEqual(
      versions.map((v) => [v.version, v.logIndex, v.deprecated, v.unpublished !== null]),
      [
        ["1.0.0", 0, "use 1.1", false],
        ["1.1.0", 1, null, true],
        ["2.0.0-beta.0", 2, null, false],
      ],
    );
    assert.ok(state.hasVersion("a", "1.1.0"), "an unpublished version still blocks its reuse");
    assert.notEqual(state.getPackage("b")?.unpublished, null);
    assert.deepEqual(
      state.versions("b").map((v) => v.unpublished !== null),
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
    assert.equal(state.getPackage("c"), undefined);
  });
});
