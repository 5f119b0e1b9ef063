import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import type { Entry } from "../../src/registry/entries.ts";
import { diffSizes, recordHistory, startHistory } from "../../src/registry/history.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { publishEntry } from "../helpers/entries.ts";

const base = (name: string) =>
  ({ v: 1, ecosystem: "npm", name, time: "2026-11-21T07:00:00.000Z", actor: "alice" }) as const;

function apply(state: RegistryState, entries: Entry[]): number {
  const first = state.logSize;
  state.apply(first, entries, recordHistory(state, first, entries));
  return state.logSize;
}

describe("exact diffs from the index's history", () => {
  test("every kind of change between two sizes, and nothing outside them", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    // What the index started from (as if from a SQLite snapshot): no history for it.
    state.apply(0, [
      publishEntry("a", "1.0.0", { tag: "latest" }),
      publishEntry("gone", "1.0.0", { tag: "latest" }),
    ]);
    startHistory(state);
    const start = state.logSize;
    const one = apply(state, [
      publishEntry("a", "1.1.0", { tag: "latest" }),
      { ...base("a"), kind: "deprecate", version: "1.0.0", message: "use 1.1" },
    ]);
    const two = apply(state, [
      publishEntry("a", "2.0.0-rc.0", { tag: "next" }),
      { ...base("a"), kind: "unpublish", version: "1.1.0" },
      { ...base("a"), kind: "owner", user: "bob", action: "add" },
      { ...base("gone"), kind: "unpublish" },
      publishEntry("new", "0.1.0", { tag: "latest" }),
    ]);
    assert.deepEqual(diffSizes(state, start, one), [
      {
        ecosystem: "npm",
        name: "a",
        created: false,
        takenDown: false,
        added: ["1.1.0"],
        unpublished: [],
        deprecated: [{ version: "1.0.0", message: "use 1.1" }],
        undeprecated: [],
        retagged: [{ tag: "latest", from: "1.0.0", to: "1.1.0" }],
        ownersAdded: [],
        ownersRemoved: [],
      },
    ]);
    const later = diffSizes(state, one, two);
    assert.deepEqual(
      later.map((d) => d.name),
      ["a", "gone", "new"],
    );
    const [a, gone, fresh] = later;
    assert.deepEqual(a.added, ["2.0.0-rc.0"]);
    assert.deepEqual(a.unpublished, ["1.1.0"]);
    assert.deepEqual(a.retagged, [
      { tag: "latest", from: "1.1.0", to: "1.0.0" },
      { tag: "next", from: undefined, to: "2.0.0-rc.0" },
    ]);
    assert.deepEqual(a.ownersAdded, ["bob"]);
    assert.equal(gone.takenDown, true);
    assert.deepEqual(gone.unpublished, ["1.0.0"]);
    assert.equal(fresh.created, true);
    // Across both steps the deprecation and the tag moves net out.
    const whole = diffSizes(state, start, two).find((d) => d.name === "a");
    assert.deepEqual(whole?.added, ["1.1.0", "2.0.0-rc.0"]);
    assert.deepEqual(whole?.retagged, [{ tag: "next", from: undefined, to: "2.0.0-rc.0" }]);
    assert.deepEqual(diffSizes(state, two, two), []);
    assert.throws(() => diffSizes(state, 0, two), /outside what this index holds/);
  });
});
