/**
 * Imported versions in the derived state: an `import` entry adds a version
 * without its tarball, an `artifact` entry binds the tarball once its
 * hashes match what was imported, and a package keeps to one source.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { encodeEntryWith } from "../../src/registry/ecosystem.ts";
import { decodeEntry, EntryError, encodeEntry } from "../../src/registry/entries.ts";
import { decodeDocument, encodeDocument } from "../../src/registry/package-document.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { artifactEntry, importEntry, publishEntry } from "../helpers/entries.ts";

function applied(...entries: Parameters<RegistryState["apply"]>[1]) {
  const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
  state.apply(0, entries);
  return state;
}

function cannotApply(run: () => unknown) {
  assert.throws(run, (err: unknown) => err instanceof EntryError && err.code === "cannot-apply");
}

describe("imported versions", () => {
  test("an import entry and its artifact round-trip through the log encoding", () => {
    const entries = [
      importEntry("JSONStream", "1.3.5", {
        published: "2018-10-15T08:13:37.000Z",
        sha1: "c".repeat(40),
      }),
      artifactEntry("JSONStream", "1.3.5", { sha1: "c".repeat(40) }),
    ];
    for (const entry of entries) assert.deepEqual(decodeEntry(encodeEntry(entry)), entry);
  });

  test("an import entry must offer a hash to check the tarball by", () => {
    const entry = { ...importEntry("a", "1.0.0"), integrity: {} };
    assert.throws(
      () => encodeEntryWith(entry, ECOSYSTEMS),
      (err: unknown) => err instanceof EntryError && err.code === "bad-field",
    );
    // npm's rule, not the envelope's: a log that holds one anyway cannot apply it.
    cannotApply(() => applied(entry));
  });

  test("a version is imported without its tarball, which an artifact entry binds", () => {
    const state = applied(importEntry("a", "1.0.0", { published: "2020-01-02T03:04:05.000Z" }));
    let [row] = state.table("npm").versions("a");
    assert.equal(row.entry.kind, "import");
    assert.equal(row.entry.artifact, undefined);
    assert.equal(row.time, "2020-01-02T03:04:05.000Z", "the upstream's publish time is kept");
    assert.deepEqual(state.table("npm").source("a"), { uplink: "npm" });
    state.apply(1, [artifactEntry("a", "1.0.0")]);
    [row] = state.table("npm").versions("a");
    assert.equal(row.entry.artifact?.size, 1);
    const doc = state.table("npm").document("a");
    assert.ok(doc);
    assert.deepEqual(
      decodeDocument(encodeDocument(doc), ECOSYSTEMS),
      doc,
      "the document decodes as it was",
    );
  });

  test("an artifact whose hashes differ from the imported integrity cannot apply", () => {
    const state = applied(importEntry("a", "1.0.0", { sha1: "c".repeat(40) }));
    cannotApply(() => state.apply(1, [artifactEntry("a", "1.0.0", { sha1: "d".repeat(40) })]));
    cannotApply(() =>
      state.apply(1, [artifactEntry("a", "1.0.0", { sha512: `${"B".repeat(86)}==` })]),
    );
    assert.equal(state.table("npm").versions("a")[0].entry.artifact, undefined, "nothing changed");
  });

  test("an artifact binds once, and only to an imported version", () => {
    const state = applied(importEntry("a", "1.0.0"), artifactEntry("a", "1.0.0"));
    cannotApply(() => state.apply(2, [artifactEntry("a", "1.0.0")]));
    cannotApply(() => state.apply(2, [artifactEntry("a", "2.0.0")]));
    const local = applied(publishEntry("b", "1.0.0"));
    cannotApply(() => local.apply(1, [artifactEntry("b", "1.0.0")]));
  });

  test("an uplink cannot add versions to a package published here, nor a publish to an imported one", () => {
    const local = applied(publishEntry("b", "1.0.0"));
    cannotApply(() => local.apply(1, [importEntry("b", "2.0.0")]));
    assert.deepEqual(local.table("npm").source("b"), {});
    const imported = applied(importEntry("a", "1.0.0"));
    cannotApply(() => imported.apply(1, [publishEntry("a", "2.0.0")]));
  });

  test("an imported version may be imported again until its tarball is bound, never after", () => {
    const corrected = importEntry("a", "1.0.0", { sha512: `${"B".repeat(86)}==` });
    const state = applied(importEntry("a", "1.0.0"), corrected);
    const [row] = state.table("npm").versions("a");
    assert.equal(row.entry.kind, "import");
    assert.deepEqual(row.entry.kind === "import" && row.entry.integrity, corrected.integrity);
    state.apply(2, [artifactEntry("a", "1.0.0", { sha512: corrected.integrity.sha512 })]);
    cannotApply(() => state.apply(3, [importEntry("a", "1.0.0")]));
  });

  test("a version once removed comes back only with the same hashes", () => {
    const state = applied(importEntry("a", "1.0.0"), {
      v: 1,
      kind: "unpublish",
      ecosystem: "npm",
      name: "a",
      version: "1.0.0",
      time: "2026-11-21T06:00:02.000Z",
      actor: "uplink:npm",
    });
    cannotApply(() =>
      state.apply(2, [importEntry("a", "1.0.0", { sha512: `${"B".repeat(86)}==` })]),
    );
    state.apply(2, [importEntry("a", "1.0.0")]);
    assert.equal(state.table("npm").version("a", "1.0.0")?.unpublished, null);
  });
});

test("a corrected version's row carries the correction's log index, so the state read back equals the fold", () => {
  const corrected = importEntry("a", "1.0.0", { sha512: `${"B".repeat(86)}==` });
  const later = importEntry("a", "1.1.0");
  const stepwise = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
  stepwise.apply(0, [importEntry("a", "1.0.0")]);
  stepwise.apply(1, [corrected]);
  stepwise.apply(2, [later]);
  const atOnce = applied(importEntry("a", "1.0.0"), corrected, later);
  const docOf = (state: RegistryState) => {
    const doc = state.table("npm").document("a");
    assert.ok(doc);
    return Buffer.from(encodeDocument(doc)).toString();
  };
  assert.equal(docOf(stepwise), docOf(atOnce));
  assert.equal(stepwise.table("npm").version("a", "1.0.0")?.logIndex, 1);
});
