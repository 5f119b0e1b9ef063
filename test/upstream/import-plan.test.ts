/**
 * The entries an upstream packument implies: hostile or malformed versions
 * are left out with a reason, never half-imported, and whatever the
 * packument holds, every planned entry is one the log accepts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { encodeEntry } from "../../src/registry/entries.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { planImport, upstreamIntegrity } from "../../src/upstream/import-plan.ts";
import { fuzzRuns } from "../fuzz/fuzz.ts";

const NOW = "2026-11-30T00:00:00.000Z";
const SHA512 = `sha512-${"A".repeat(86)}==`;
const SHA1 = "a".repeat(40);

function version(v: string, extra: Record<string, unknown> = {}) {
  return {
    name: "pkg",
    version: v,
    dist: { integrity: SHA512, shasum: SHA1, tarball: "x" },
    ...extra,
  };
}

describe("planning an import", () => {
  test("each importable version becomes an import entry, in the upstream's publish order, then its tags", () => {
    const plan = planImport(
      "pkg",
      {
        name: "pkg",
        "dist-tags": { latest: "1.1.0", next: "2.0.0-beta.1" },
        versions: {
          "1.1.0": version("1.1.0", { dependencies: { a: "^1.0.0" }, scripts: { install: "x" } }),
          "1.0.0": version("1.0.0", { deprecated: "old" }),
          "2.0.0-beta.1": version("2.0.0-beta.1"),
        },
        time: {
          "1.0.0": "2019-01-01T00:00:00Z",
          "1.1.0": "2019-02-01T00:00:00.000Z",
          "2.0.0-beta.1": "not a date",
        },
      },
      undefined,
      "up",
      NOW,
    );
    assert.deepEqual(plan.skipped, []);
    const summary = plan.entries.map((e) =>
      e.kind === "import"
        ? `import ${e.version} ${e.published ?? "-"}`
        : e.kind === "dist-tag"
          ? `tag ${e.tag} ${e.version}`
          : e.kind === "deprecate"
            ? `deprecate ${e.version} ${e.message}`
            : e.kind,
    );
    assert.deepEqual(summary, [
      "import 2.0.0-beta.1 -",
      "import 1.0.0 2019-01-01T00:00:00.000Z",
      "import 1.1.0 2019-02-01T00:00:00.000Z",
      "deprecate 1.0.0 old",
      "tag latest 1.1.0",
      "tag next 2.0.0-beta.1",
    ]);
    const imported = plan.entries.find((e) => e.kind === "import" && e.version === "1.1.0");
    assert.ok(imported?.kind === "import");
    assert.deepEqual(imported.resolution, {
      dependencies: { a: "^1.0.0" },
      hasInstallScript: true,
    });
    assert.equal(plan.manifests.length, 3);
  });

  test("versions Cairn cannot represent are left out with a reason", () => {
    const plan = planImport(
      "pkg",
      {
        "dist-tags": { latest: "v1" },
        versions: {
          v1: version("v1"),
          "1.0.0": { ...version("1.0.0"), dist: { tarball: "x" } },
          "1.0.1": version("1.0.1", { dependencies: "not a map" }),
          "1.0.2": version("1.0.2", { name: "other" }),
          "1.0.3": "not an object",
          "1.0.4": version("1.0.4", { version: "9.9.9" }),
          "1.0.5": { ...version("1.0.5"), dist: { shasum: SHA1 } },
        },
      },
      undefined,
      "up",
      NOW,
    );
    assert.deepEqual(plan.skipped.map((s) => s.version).sort(), [
      "1.0.0",
      "1.0.1",
      "1.0.2",
      "1.0.3",
      "1.0.4",
      "v1",
    ]);
    // Only the SHA-1 version is left, and latest falls back to it.
    assert.deepEqual(
      plan.entries.map((e) => e.kind),
      ["import", "dist-tag"],
    );
  });

  test('an upstream version document with "cairn": {"share": false} imports opted out of LAN sharing', () => {
    const plan = planImport(
      "pkg",
      {
        "dist-tags": { latest: "1.1.0" },
        versions: {
          "1.0.0": version("1.0.0", { cairn: { share: false } }),
          "1.1.0": version("1.1.0", { cairn: { share: "false" } }),
          "1.2.0": version("1.2.0"),
        },
      },
      undefined,
      "up",
      NOW,
    );
    const share = Object.fromEntries(
      plan.entries.flatMap((e) => (e.kind === "import" ? [[e.version, e.share]] : [])),
    );
    // Only the boolean false opts out; anything else is as if absent.
    assert.deepEqual(share, { "1.0.0": false, "1.1.0": undefined, "1.2.0": undefined });
  });

  test("SRI strings may list several hashes; the SHA-512 is taken", () => {
    assert.deepEqual(upstreamIntegrity({ integrity: `sha1-x ${SHA512}?opt`, shasum: SHA1 }), {
      sha512: `${"A".repeat(86)}==`,
      sha1: SHA1,
    });
    assert.equal(upstreamIntegrity({ integrity: "md5-abc" }), undefined);
  });

  test("against a known document, only differences are planned: removals, tag moves, undeprecations", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    const first = planImport(
      "pkg",
      {
        "dist-tags": { latest: "1.1.0", old: "1.0.0" },
        versions: { "1.0.0": version("1.0.0", { deprecated: "no" }), "1.1.0": version("1.1.0") },
      },
      undefined,
      "up",
      NOW,
    );
    state.apply(0, first.entries);
    const doc = state.table("npm").document("pkg");
    const again = planImport(
      "pkg",
      {
        "dist-tags": { latest: "1.0.0" },
        versions: { "1.0.0": version("1.0.0") },
      },
      doc,
      "up",
      NOW,
    );
    assert.deepEqual(
      again.entries.map((e) =>
        e.kind === "dist-tag"
          ? `tag ${e.tag} ${e.version}`
          : `${e.kind} ${"version" in e ? e.version : ""}`,
      ),
      // A version gone upstream is taken down by the uplink, with a reason: mirrors drop its bytes.
      ["deprecate 1.0.0", "takedown 1.1.0", "tag latest 1.0.0", "tag old null"],
    );
    state.apply(first.entries.length, again.entries);
    assert.deepEqual(state.table("npm").distTags("pkg"), { latest: "1.0.0" });
  });

  test("a withdrawn version served again with the same hashes comes back; with others it stays out", () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    const both = { "1.0.0": version("1.0.0"), "1.1.0": version("1.1.0") };
    const first = planImport("pkg", { versions: both }, undefined, "up", NOW);
    state.apply(0, first.entries);
    const removed = planImport(
      "pkg",
      { versions: { "1.0.0": both["1.0.0"] } },
      state.table("npm").document("pkg"),
      "up",
      NOW,
    );
    state.apply(first.entries.length, removed.entries);
    assert.equal(state.table("npm").version("pkg", "1.1.0")?.takenDown?.actor, "uplink:up");
    const other = { ...both, "1.1.0": version("1.1.0", { dist: { shasum: "b".repeat(40) } }) };
    const refused = planImport(
      "pkg",
      { versions: other },
      state.table("npm").document("pkg"),
      "up",
      NOW,
    );
    assert.ok(!refused.entries.some((e) => e.kind === "import"));
    const back = planImport(
      "pkg",
      { versions: both },
      state.table("npm").document("pkg"),
      "up",
      NOW,
    );
    // The uplink restores its own takedown; nothing is imported again.
    assert.deepEqual(
      back.entries
        .filter((e) => e.kind === "restore" || e.kind === "import")
        .map((e) => `${e.kind} ${"version" in e ? e.version : ""}`),
      ["restore 1.1.0"],
    );
    state.apply(first.entries.length + removed.entries.length, back.entries);
    assert.equal(state.table("npm").version("pkg", "1.1.0")?.takenDown, undefined);
  });

  test("whatever a packument holds, every planned entry is one the log accepts", () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("value"), { maxLength: 3 }),
        fc.dictionary(fc.string(), tie("value"), { maxKeys: 3 }),
      ),
    })).value;
    const versionKey = fc.oneof(
      fc.constantFrom("1.0.0", "1.0.1", "2.0.0-rc.1", "01.0.0"),
      fc.string(),
    );
    const manifest = fc.record(
      {
        name: fc.oneof(fc.constant("pkg"), fc.string()),
        dist: fc.oneof(
          fc.record({
            integrity: fc.constantFrom(SHA512, "sha512-bad", ""),
            shasum: fc.constantFrom(SHA1, "x"),
          }),
          json,
        ),
        dependencies: fc.oneof(fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), json),
        bin: json,
        deprecated: fc.oneof(fc.string(), json),
        description: json,
        keywords: json,
      },
      { requiredKeys: [] },
    );
    const packument = fc.record(
      {
        versions: fc.oneof(fc.dictionary(versionKey, manifest, { maxKeys: 4 }), json),
        "dist-tags": fc.oneof(fc.dictionary(fc.string(), versionKey, { maxKeys: 3 }), json),
        time: fc.oneof(
          fc.dictionary(versionKey, fc.oneof(fc.date().map(String), fc.string())),
          json,
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(packument, (p) => {
        const plan = planImport("pkg", p as Record<string, unknown>, undefined, "up", NOW);
        for (const entry of plan.entries) encodeEntry(entry);
        const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
        state.apply(0, plan.entries);
      }),
      fuzzRuns(150),
    );
  });
});
