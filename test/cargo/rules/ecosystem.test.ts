/**
 * cargo's rules as the registry core applies them: which entries a crate
 * may have and what their payload must be, through the same checks the
 * origin appends with and strict readers decode with.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { cargo } from "../../../src/cargo/rules/ecosystem.ts";
import { indexFile } from "../../../src/cargo/rules/index-file.ts";
import { ECOSYSTEMS } from "../../../src/ecosystems/index.ts";
import { decodeEntryWith, encodeEntryWith } from "../../../src/registry/ecosystem.ts";
import { encodeEntry, type PackageEntry } from "../../../src/registry/entries.ts";
import { RegistryState } from "../../../src/registry/state.ts";
import { crateDependency, cratePublish } from "../../helpers/crate-entries.ts";

const refused = (entry: PackageEntry) =>
  assert.throws(() => encodeEntryWith(entry, ECOSYSTEMS), { code: "bad-field" });

test("a crate publish with a canonical resolution and build metadata is appended and read back", () => {
  const entry = cratePublish("Foo-Bar", "1.0.0+build.5");
  const bytes = encodeEntryWith(entry, ECOSYSTEMS);
  assert.deepEqual(decodeEntryWith(bytes, ECOSYSTEMS), entry);
});

test("cargo refuses npm's hashes, dist-tags, bad names and versions, and a resolution out of canonical form", () => {
  const ok = cratePublish("foo", "1.0.0");
  refused({
    ...ok,
    artifact: { ...ok.artifact, sha512: `${"A".repeat(86)}==`, sha1: "b".repeat(40) },
  });
  refused({ ...ok, tag: "next" });
  refused({ ...ok, name: "1foo" });
  refused({ ...ok, name: "foo.bar" });
  refused({ ...ok, version: "v1.0.0" });
  refused({ ...ok, version: "1.0" });
  refused({ ...ok, resolution: { deps: [], features: {}, extra: 1 } });
  refused({ ...ok, resolution: { deps: [{ name: "serde" }], features: {} } });
  // `dep:` values belong in features2, as crates.io splits them.
  refused({ ...ok, resolution: { deps: [], features: { json: ["dep:serde_json"] } } });
});

test("a crate has publishes, yanks, owners and takedowns, and nothing npm-only", () => {
  const base = {
    v: 1,
    ecosystem: "cargo",
    name: "foo",
    time: "2026-11-30T06:00:00.000Z",
    actor: "alice",
  } as const;
  encodeEntryWith({ ...base, kind: "yank", version: "1.0.0", yanked: true }, ECOSYSTEMS);
  encodeEntryWith({ ...base, kind: "owner", user: "bob", action: "add" }, ECOSYSTEMS);
  encodeEntryWith({ ...base, kind: "unpublish", version: "1.0.0" }, ECOSYSTEMS);
  refused({ ...base, kind: "dist-tag", tag: "latest", version: "1.0.0" });
  refused({ ...base, kind: "deprecate", version: "1.0.0", message: "old" });
  // The envelope alone does not know: only the ecosystem's rules refuse it.
  encodeEntry({ ...base, kind: "deprecate", version: "1.0.0", message: "old" });
});

test("dependents count a version's normal and build dependencies on this registry, by canonical name", () => {
  const dep = (name: string, kind: string, extra = {}) => ({
    name,
    req: "^1",
    features: [],
    optional: false,
    default_features: true,
    target: null,
    kind,
    ...extra,
  });
  const names = [
    ...cargo.dependencyNames({
      deps: [
        dep("Serde-Json", "normal"),
        dep("cc", "build"),
        dep("criterion", "dev"),
        dep("other", "normal", { registry: "https://example.invalid/index" }),
        dep("json", "normal", { package: "serde_json" }),
      ],
      features: {},
    }),
  ];
  assert.deepEqual(names, ["serde_json", "cc", "serde_json"]);
});

test("a crate's index file: one line per version in publish order, yanks marked, takedowns gone, the first spelling kept", () => {
  const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
  const base = {
    v: 1,
    ecosystem: "cargo",
    time: "2026-11-30T06:00:00.000Z",
    actor: "alice",
  } as const;
  state.apply(0, [
    cratePublish("Foo-Bar", "1.0.0"),
    cratePublish("Foo-Bar", "0.9.0"),
    cratePublish("Foo-Bar", "1.1.0"),
    { ...base, name: "Foo-Bar", kind: "yank", version: "1.0.0", yanked: true },
    { ...base, name: "Foo-Bar", kind: "unpublish", version: "1.1.0" },
  ]);
  assert.throws(() => state.apply(5, [cratePublish("foo_bar", "2.0.0")]), { code: "cannot-apply" });
  const doc = state.table("cargo").document("foo_bar");
  assert.ok(doc);
  const lines = new TextDecoder()
    .decode(indexFile(doc))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => [l.name, l.vers, l.yanked]),
    [
      ["Foo-Bar", "1.0.0", true],
      ["Foo-Bar", "0.9.0", false],
    ],
  );
  assert.equal(lines[0].cksum, doc.versions["1.0.0"].artifact?.sha256);
  assert.equal(state.documentHash("cargo/foo_bar") !== undefined, true);
});

test("a crate's current version is its highest live release: dependents, search and listings follow it", () => {
  const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
  const yank = (version: string, yanked: boolean) =>
    ({
      v: 1,
      ecosystem: "cargo",
      name: "app",
      time: "2026-11-30T06:00:00.000Z",
      actor: "alice",
      kind: "yank",
      version,
      yanked,
    }) as const;
  const onLog = cratePublish("app", "2.0.0", {
    resolution: { deps: [crateDependency("log", "^0.4")], features: {} },
  });
  state.apply(0, [
    cratePublish("app", "1.0.0"),
    onLog,
    cratePublish("app", "3.0.0-rc.1", { resolution: { deps: [], features: {} } }),
  ]);
  const table = state.table("cargo");
  const listed = () => table.listPackages().map((r) => [r.name, r.latest]);
  assert.deepEqual(listed(), [["app", "2.0.0"]]);
  const doc = table.document("app");
  assert.ok(doc);
  assert.equal(cargo.current(doc), "2.0.0");
  assert.deepEqual(table.dependents("log", 10), ["app"]);
  assert.equal(table.dependentCount("serde"), 0);
  assert.equal(table.search.search("app", 0, 5).hits[0].version, "2.0.0");

  // A yank moves it to the next release down; the pre-release only when no release is left.
  state.apply(3, [yank("2.0.0", true)]);
  assert.deepEqual(listed(), [["app", "1.0.0"]]);
  assert.deepEqual(table.dependents("serde", 10), ["app"]);
  assert.equal(table.dependentCount("log"), 0);
  state.apply(4, [yank("1.0.0", true)]);
  assert.deepEqual(listed(), [["app", "3.0.0-rc.1"]]);
  state.apply(5, [yank("3.0.0-rc.1", true)]);
  assert.deepEqual(listed(), [["app", undefined]]);
  assert.equal(table.dependentCount("serde"), 0);
  state.apply(6, [yank("2.0.0", false)]);
  assert.deepEqual(listed(), [["app", "2.0.0"]]);
  assert.deepEqual(table.dependents("log", 10), ["app"]);
});
