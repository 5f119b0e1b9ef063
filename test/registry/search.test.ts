import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ftsQuery, type SearchDocument } from "../../src/registry/search.ts";
import { RegistryState } from "../../src/registry/state.ts";

function doc(name: string, description: string, keywords: string[] = []): SearchDocument {
  return {
    name,
    version: "1.0.0",
    description,
    keywords,
    date: "2026-11-21T00:00:00.000Z",
    publisher: "a",
    maintainers: ["a"],
  };
}

describe("search index", () => {
  test("exact names first, then description and keyword matches; updates and removals stick", () => {
    const { search } = RegistryState.open(":memory:");
    search.put(doc("left-pad", "pad a string on the left", ["pad"]));
    search.put(doc("pad", "the shortest name"));
    search.put(doc("padder", "another tool", ["string"]));
    const hits = search.search("pad", 0, 10).hits.map((h) => h.name);
    assert.deepEqual([...hits].sort(), ["left-pad", "pad", "padder"]);
    assert.equal(search.search("pad", 0, 10).hits[0].name, "pad");
    search.put(doc("left-pad", "now about trimming"));
    assert.deepEqual(
      search.search("trimming", 0, 10).hits.map((h) => h.name),
      ["left-pad"],
    );
    assert.equal(search.search("left", 0, 10).total, 1);
    search.remove("left-pad");
    assert.equal(search.search("trimming", 0, 10).total, 0);
    assert.deepEqual(
      search.search("string", 0, 10).hits.map((h) => h.name),
      ["padder"],
    );
    assert.equal(search.search("pad", 1, 1).hits.length, 1, "paging");
  });

  test("free text becomes a safe FTS5 query", () => {
    assert.equal(ftsQuery('a "quoted" OR NOT x*'), '"a"* "quoted"* "or"* "not"* "x"*');
    assert.equal(ftsQuery("   "), undefined);
    assert.equal(ftsQuery("@scope/name"), '"@scope/name"*');
  });
});
