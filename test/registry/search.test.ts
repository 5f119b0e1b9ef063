import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { adoptDatabaseFile, copyCoreTables } from "../../src/registry/database-file.ts";
import type { PackageEntry } from "../../src/registry/entries.ts";
import {
  editDistance,
  ftsQuery,
  type SearchDocument,
  TOTAL_CAP,
} from "../../src/registry/search.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { snapshotEntry } from "../../src/registry/state-batch.ts";
import { publishEntry } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";

function doc(
  name: string,
  description: string,
  keywords: string[] = [],
  popularity = 0,
): SearchDocument {
  return {
    name,
    version: "1.0.0",
    description,
    keywords,
    date: "2026-11-21T00:00:00.000Z",
    publisher: "a",
    maintainers: ["a"],
    popularity,
  };
}

const names = (hits: readonly { name: string }[]) => hits.map((h) => h.name);

describe("search index", () => {
  test("exact names first, then description and keyword matches; updates and removals stick", () => {
    const { search } = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS }).table("npm");
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

  test("exact name, then name prefix, then the name after a scope, then text; popularity orders each class", () => {
    const { search } = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS }).table("npm");
    // The text matches are the most popular, and mention "react" the most: they still come last.
    search.put(doc("ui-kit", "react react react components for react", ["react"], 900));
    search.put(doc("hooks-lib", "hooks for react", [], 800));
    search.put(doc("react-dom", "DOM bindings", [], 50));
    search.put(doc("react-is", "brand checking", [], 70));
    search.put(doc("reactive-x", "streams", [], 10));
    search.put(doc("@types/react", "type definitions", [], 60));
    search.put(doc("react", "a library for user interfaces", [], 5));
    const { hits, total, capped } = search.search("react", 0, 10);
    assert.deepEqual(names(hits), [
      "react",
      "react-is",
      "react-dom",
      "reactive-x",
      "@types/react",
      "ui-kit",
      "hooks-lib",
    ]);
    assert.deepEqual(
      hits.map((h) => h.match),
      ["exact", "prefix", "prefix", "prefix", "scope", "text", "text"],
    );
    assert.equal(total, 7);
    assert.equal(capped, false);
    // Scores fall from one class to the next, as npm's clients sort them.
    for (let i = 1; i < hits.length; i++)
      if (hits[i].match !== hits[i - 1].match) assert.ok(hits[i].score < hits[i - 1].score);
    // Prefixes as typed: one letter on.
    assert.deepEqual(names(search.search("r", 0, 3).hits), ["react-is", "react-dom", "reactive-x"]);
    assert.deepEqual(names(search.search("REACT-", 0, 10).hits), ["react-is", "react-dom"]);
    // Pages follow one another without a repeat or a gap.
    const paged = [0, 2, 4, 6].flatMap((from) => names(search.search("react", from, 2).hits));
    assert.deepEqual(paged, names(hits));
  });

  test("scoped names: a scope lists its packages, and scope/name means @scope/name", () => {
    const { search } = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS }).table("npm");
    search.put(doc("@babel/core", "compiler core", [], 100));
    search.put(doc("@babel/cli", "command line", [], 30));
    search.put(doc("@babel-x/core", "not babel", [], 1000));
    search.put(doc("core-js", "polyfills", [], 500));
    search.put(doc("babel-core", "old babel", [], 5));
    assert.deepEqual(names(search.search("@babel/", 0, 10).hits), ["@babel/core", "@babel/cli"]);
    const slash = search.search("babel/core", 0, 10).hits;
    assert.equal(slash[0].name, "@babel/core");
    assert.equal(slash[0].match, "exact");
    assert.deepEqual(names(search.search("babel/c", 0, 10).hits), ["@babel/core", "@babel/cli"]);
    assert.equal(search.search("@babel/core", 0, 1).hits[0].match, "exact");
    // "core": the package named so would be exact; here core-js by prefix, then scoped tails by popularity.
    assert.deepEqual(names(search.search("core", 0, 3).hits), [
      "core-js",
      "@babel-x/core",
      "@babel/core",
    ]);
  });

  test("a dense name range (a letter typed) ranks as a small one does", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    const { db } = state;
    const { search } = state.table("npm");
    db.exec("BEGIN");
    // More names than the dense threshold start with "d"; popularity and length vary.
    const all: SearchDocument[] = [];
    for (let i = 0; i < 2500; i++)
      all.push(doc(`d${"x".repeat(i % 5)}-${i}`, "z", [], (i * 7919) % 13));
    for (const d of all) search.put(d);
    db.exec("COMMIT");
    const expected = [...all]
      .sort(
        (a, b) =>
          b.popularity - a.popularity ||
          a.name.length - b.name.length ||
          (a.name < b.name ? -1 : 1),
      )
      .map((d) => d.name);
    const dense = search.search("d", 0, 30);
    assert.deepEqual(names(dense.hits), expected.slice(0, 30));
    assert.equal(dense.capped, true);
    assert.deepEqual(names(search.search("d", 30, 10).hits), expected.slice(30, 40), "page two");
    // A small range: the same order among its names.
    const small = expected.filter((n) => n.startsWith("dxxxx-1"));
    assert.deepEqual(names(search.search("dxxxx-1", 0, 100).hits), small.slice(0, 100));
  });

  test("a popularity set later reorders a class", () => {
    const { search } = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS }).table("npm");
    search.put(doc("lodash-a", "x", [], 1));
    search.put(doc("lodash-b", "x", [], 2));
    assert.deepEqual(names(search.search("lodash", 0, 2).hits), ["lodash-b", "lodash-a"]);
    search.setPopularity("lodash-a", 10);
    assert.deepEqual(names(search.search("lodash", 0, 2).hits), ["lodash-a", "lodash-b"]);
    assert.equal(search.search("lodash", 0, 1).hits[0].popularity, 10);
  });

  test("the total is counted up to the cap, and says when it stopped", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    const { db } = state;
    const { search } = state.table("npm");
    db.exec("BEGIN");
    for (let i = 0; i < TOTAL_CAP + 50; i++) search.put(doc(`pkg-${i}`, "a widget", [], i % 7));
    db.exec("COMMIT");
    const many = search.search("pkg", 0, 5);
    assert.equal(many.total, TOTAL_CAP);
    assert.equal(many.capped, true);
    assert.equal(many.hits.length, 5);
    assert.equal(many.hits[0].popularity, 6);
    const words = search.search("widget", 0, 5);
    assert.equal(words.capped, true);
    const one = search.search("pkg-1049", 0, 5);
    assert.deepEqual([one.total, one.capped, one.hits[0].match], [1, false, "exact"]);
  });

  test("hostile text finds nothing or something, and never throws", () => {
    const { search } = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS }).table("npm");
    search.put(doc("left-pad", "pad a string", ["pad"]));
    search.put(doc("日本語-pkg", "ユニコード description"));
    const hostile = [
      '"',
      '""""',
      "'",
      "pad*",
      "NEAR(pad left)",
      "left-pad OR x",
      "^pad",
      "name:pad",
      "-pad",
      "pad AND NOT",
      "(((",
      "\0",
      "pad\0pad",
      "\u{10FFFF}",
      "x".repeat(10_000),
      "pad ".repeat(3000),
      "%",
      "_",
      "\\",
      "@",
      "/",
      "@/",
    ];
    for (const text of hostile) {
      const r = search.search(text, 0, 10);
      assert.ok(Array.isArray(r.hits), JSON.stringify(text.slice(0, 20)));
      assert.ok(r.total >= r.hits.length);
      assert.ok(Array.isArray(search.nearby(text, 5)));
    }
    // LIKE and range characters are not wildcards.
    assert.equal(search.search("%", 0, 10).total, 0);
    assert.equal(search.search("_", 0, 10).total, 0);
    assert.equal(search.search("pad*", 0, 10).hits[0].name, "left-pad");
    assert.equal(search.search("日本", 0, 10).hits[0].name, "日本語-pkg");
    assert.equal(search.search("ユニコード", 0, 10).hits[0].name, "日本語-pkg");
  });

  test("names near a query that found nothing", () => {
    const { search } = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS }).table("npm");
    for (const n of ["express", "expresso", "exprima", "lodash", "react"]) search.put(doc(n, "x"));
    assert.deepEqual(search.nearby("expres", 3).slice(0, 2), ["express", "expresso"]);
    assert.deepEqual(search.nearby("lodahs", 3), ["lodash"]);
    assert.deepEqual(search.nearby("zzzzzz", 3), []);
    assert.equal(editDistance("kitten", "sitting"), 3);
  });

  test("free text becomes a safe FTS5 query: words of three letters or more match as prefixes", () => {
    assert.equal(ftsQuery('a "quoted" OR NOT x*'), '"a" "quoted"* "or" "not"* "x"');
    assert.equal(ftsQuery("   "), undefined);
    assert.equal(ftsQuery("@scope/name"), '"@scope/name"*');
    assert.equal(ftsQuery("w ".repeat(100))?.split(" ").length, 16);
  });
});

describe("popularity: dependents first", () => {
  const dependsOn = (...names: string[]) => ({
    tag: "latest",
    resolution: { dependencies: Object.fromEntries(names.map((n) => [n, "^1.0.0"])) },
  });
  const apply = (state: RegistryState, entries: readonly PackageEntry[]) =>
    state.apply(state.logSize, entries);
  /** Every search row as stored: what the ranking reads. */
  const rows = (state: RegistryState) =>
    state
      .sql("SELECT name, doc, lname, tail, popularity, rank FROM search_docs ORDER BY name")
      .all();

  test("more dependents rank first inside a class; a new latest of another package reorders it", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    apply(state, [
      publishEntry("lib-a", "1.0.0", { tag: "latest" }),
      publishEntry("lib-a", "1.1.0", { tag: "latest" }),
      publishEntry("lib-a", "1.2.0", { tag: "latest" }),
      publishEntry("lib-b", "1.0.0", { tag: "latest" }),
    ]);
    // No dependents either side: more live versions break the tie.
    assert.deepEqual(names(state.table("npm").search.search("lib", 0, 2).hits), ["lib-a", "lib-b"]);
    apply(state, [publishEntry("app", "1.0.0", dependsOn("lib-b"))]);
    assert.deepEqual(names(state.table("npm").search.search("lib", 0, 2).hits), ["lib-b", "lib-a"]);
    // The dependency moves with app's latest; a prerelease off latest moves nothing.
    apply(state, [publishEntry("app", "2.0.0", dependsOn("lib-a"))]);
    assert.deepEqual(names(state.table("npm").search.search("lib", 0, 2).hits), ["lib-a", "lib-b"]);
    apply(state, [publishEntry("app", "3.0.0-rc.1", { ...dependsOn("lib-b"), tag: "next" })]);
    assert.deepEqual(names(state.table("npm").search.search("lib", 0, 2).hits), ["lib-a", "lib-b"]);
    // Two dependents beat one, and the popularity a hit reports says so.
    apply(state, [
      publishEntry("cli", "1.0.0", dependsOn("lib-b")),
      publishEntry("web", "1.0.0", dependsOn("lib-b")),
    ]);
    const [first, second] = state.table("npm").search.search("lib", 0, 2).hits;
    assert.deepEqual([first.name, second.name], ["lib-b", "lib-a"]);
    assert.ok(first.popularity > second.popularity);
    state.close();
  });

  const history: PackageEntry[] = [
    // A dependent published before its dependency exists, then the dependency.
    publishEntry("app", "1.0.0", dependsOn("zed-core")),
    publishEntry("zed-core", "1.0.0", { tag: "latest" }),
    publishEntry("zed-util", "1.0.0", { tag: "latest" }),
    publishEntry("zed-util", "1.1.0", { tag: "latest" }),
    publishEntry("@s/tool", "1.0.0", dependsOn("zed-core", "zed-util")),
    publishEntry("gone", "1.0.0", dependsOn("zed-util", "zed-core")),
    publishEntry("app", "2.0.0", dependsOn("zed-util")),
    {
      v: 1,
      kind: "unpublish",
      ecosystem: "npm",
      name: "gone",
      time: "2026-11-21T08:00:00.000Z",
      actor: "alice",
    },
    publishEntry("zed-more", "1.0.0", dependsOn("zed-core")),
    publishEntry("zed-more", "1.1.0", dependsOn("zed-core")),
  ];

  test("the order of a batch does not matter: one entry per batch, or all in one", () => {
    const incremental = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    for (const entry of history) apply(incremental, [entry]);
    const replayed = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    apply(replayed, history);
    assert.deepEqual(rows(replayed), rows(incremental));
    // zed-util: two dependents (@s/tool, app), two versions; zed-core: two dependents (@s/tool,
    // zed-more), one version; zed-more: no dependents, two versions.
    assert.deepEqual(names(replayed.table("npm").search.search("zed", 0, 3).hits), [
      "zed-util",
      "zed-core",
      "zed-more",
    ]);
    incremental.close();
    replayed.close();
  });

  test("an adopted SQLite snapshot ranks as the state that published it", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "state.sqlite");
    const state = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
    for (const entry of history) apply(state, [entry]);
    const batch = state.begin(state.logSize);
    const snapshot = snapshotEntry(batch.snapshot(2), state.logSize);
    batch.add(snapshot);
    batch.commit();
    const copy = join(dir.path, "copy.sqlite");
    copyCoreTables(path, copy);
    const adopted = adoptDatabaseFile(copy, ECOSYSTEMS, state.logSize, snapshot);
    assert.deepEqual(rows(adopted), rows(state));
    assert.equal(adopted.table("npm").search.search("zed", 0, 1).hits[0].name, "zed-util");
    adopted.close();
    state.close();
  });
});
