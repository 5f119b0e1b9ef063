/**
 * The registry core with an ecosystem it has never heard of: "toy", defined
 * here, whose names fold to lowercase and whose versions can be yanked.
 * Publishes, yanks and owners fold into its documents and snapshots exactly
 * as the core defines them, with no npm rule anywhere in sight; and npm's
 * rules keep the kinds npm does not have out of npm's documents.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { npm } from "../../src/npm/rules/ecosystem.ts";
import {
  checkEntryWith,
  decodeEntryWith,
  type Ecosystem,
  encodeEntryWith,
} from "../../src/registry/ecosystem.ts";
import {
  decodeEntry,
  EntryError,
  encodeEntry,
  type PackageEntry,
  type PublishEntry,
  type YankEntry,
} from "../../src/registry/entries.ts";
import {
  decodeDocument,
  documentKey,
  encodeDocument,
  foldEntry,
  type PackageDocument,
} from "../../src/registry/package-document.ts";
import { parseShard } from "../../src/registry/snapshot.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { publishEntry } from "../helpers/entries.ts";

const bad = (message: string) => new EntryError("bad-field", message);

/** A made-up ecosystem: lowercase keys, x.y.z versions, no tags, no uplinks, yanks. */
const toy: Ecosystem = {
  id: "toy",
  keyName: (name) => name.toLowerCase(),
  kinds: new Set(["publish", "unpublish", "owner", "yank"]),
  checkEntry(entry) {
    if ("version" in entry && entry.version && !/^\d+\.\d+\.\d+$/.test(entry.version))
      throw bad(`toy versions are x.y.z, not ${entry.version}`);
    if (entry.kind === "publish" && (entry.artifact.sha1 || entry.artifact.sha512 || entry.tag))
      throw bad("a toy publish names its bytes by SHA-256 alone, and no tag");
  },
  // The last live version published speaks for a toy package.
  current: (doc) =>
    Object.entries(doc.versions)
      .filter(([, v]) => v.unpublished === undefined && v.yanked === undefined)
      .sort(([, a], [, b]) => b.index - a.index)[0]?.[0],
  afterVersionRemoved() {},
  artifactMatches: () => false,
  *dependencyNames(resolution) {
    const deps = resolution.deps;
    if (Array.isArray(deps)) for (const d of deps) if (typeof d === "string") yield d;
  },
};
const TOY = new Map([["toy", toy]]);

let clock = 0;
const at = () => new Date(Date.UTC(2026, 10, 1) + clock++ * 1000).toISOString();
const sha = (what: string) => createHash("sha256").update(what).digest("hex");

function toyPublish(name: string, version: string, deps: string[] = []): PublishEntry {
  return {
    v: 1,
    kind: "publish",
    ecosystem: "toy",
    name,
    version,
    time: at(),
    actor: "alice",
    artifact: { sha256: sha(`bytes ${name}@${version}`), size: 10 },
    manifest: { sha256: sha(`manifest ${name}@${version}`), size: 5 },
    resolution: { deps },
  };
}

function toyYank(name: string, version: string, yanked: boolean): YankEntry {
  return {
    v: 1,
    kind: "yank",
    ecosystem: "toy",
    name,
    version,
    yanked,
    time: at(),
    actor: "alice",
  };
}

const toyOwner = (name: string, user: string, action: "add" | "rm"): PackageEntry => ({
  v: 1,
  kind: "owner",
  ecosystem: "toy",
  name,
  user,
  action,
  time: at(),
  actor: "alice",
});

function isCode(code: string) {
  return (err: unknown) => err instanceof EntryError && err.code === code;
}

describe("a toy ecosystem through the registry core", () => {
  test("its entries pass the neutral envelope and its own rules, in both directions", () => {
    for (const entry of [toyPublish("Widget", "1.0.0"), toyYank("widget", "1.0.0", true)]) {
      const bytes = encodeEntryWith(entry, TOY);
      assert.deepEqual(decodeEntryWith(bytes, TOY), entry);
      assert.deepEqual(decodeEntry(bytes), entry, "the envelope alone knows no ecosystem");
      // A reader with npm's rules only cannot check them.
      assert.throws(() => decodeEntryWith(bytes, ECOSYSTEMS), isCode("bad-field"));
    }
    assert.throws(
      () => encodeEntryWith(toyPublish("widget", "1.0"), TOY),
      isCode("bad-field"),
      "the toy's version rule",
    );
    assert.throws(
      () => encodeEntry({ ...toyPublish("widget", "1.0.0"), ecosystem: "Toy!" }),
      isCode("bad-field"),
      "an ecosystem id is short lowercase",
    );
  });

  test("publishes, yanks and owners fold into toy documents and toy/<keyname> snapshot rows", () => {
    const state = RegistryState.open(":memory:", { ecosystems: TOY });
    try {
      const batch = state.begin(0);
      const yank = toyYank("Gizmo", "1.0.0", true);
      for (const entry of [
        toyPublish("Gizmo", "1.0.0"),
        toyPublish("Gizmo", "1.1.0", ["widget"]),
        toyPublish("widget", "2.0.0"),
        yank,
        toyYank("Gizmo", "1.1.0", true),
        toyYank("Gizmo", "1.1.0", false),
        toyOwner("Gizmo", "bob", "add"),
      ])
        batch.add(entry);
      const built = batch.snapshot(4);
      const documents = new Map(built.documents.map((bytes) => [sha256Hex(bytes), bytes]));
      const rows = new Map<string, string>();
      for (const [shard, bytes] of built.shards)
        for (const row of parseShard(bytes, { shard, count: 4 })) rows.set(row.key, row.document);
      assert.deepEqual([...rows.keys()].sort(), ["toy/gizmo", "toy/widget"]);
      const docs = new Map<string, PackageDocument>();
      for (const [key, hash] of rows) {
        const bytes = documents.get(hash);
        assert.ok(bytes, `the snapshot's ${key} is a document the batch built`);
        const doc = decodeDocument(bytes, TOY);
        assert.deepEqual(encodeDocument(doc), bytes);
        assert.equal(documentKey(doc, toy), key);
        assert.throws(() => decodeDocument(bytes, ECOSYSTEMS), isCode("bad-document"));
        docs.set(key, doc);
      }
      const gizmo = docs.get("toy/gizmo") as PackageDocument;
      assert.equal(gizmo.ecosystem, "toy");
      assert.equal(gizmo.name, "Gizmo", "the document keeps the published spelling");
      assert.deepEqual(gizmo.distTags, {}, "no tags: the toy has none");
      assert.deepEqual(gizmo.owners, ["alice", "bob"]);
      assert.equal(gizmo.versions["1.0.0"].yanked, yank.time);
      assert.equal(Object.hasOwn(gizmo.versions["1.1.0"], "yanked"), false, "unyank clears it");
      batch.commit();
      assert.equal(state.documentHash("toy/gizmo"), sha256Hex(encodeDocument(gizmo)));
    } finally {
      state.close();
    }
  });

  test("a second spelling of the same key cannot apply, in the fold and in a batch", () => {
    const first = foldEntry(undefined, toyPublish("Gizmo", "1.0.0"), 0, toy);
    for (const other of [toyPublish("gizmo", "1.1.0"), toyYank("GIZMO", "1.0.0", true)])
      assert.throws(() => foldEntry(first, other, 1, toy), isCode("cannot-apply"), other.name);
    assert.equal(foldEntry(first, toyPublish("Gizmo", "1.1.0"), 1, toy).name, "Gizmo");

    const state = RegistryState.open(":memory:", { ecosystems: TOY });
    try {
      const batch = state.begin(0);
      batch.add(toyPublish("Gizmo", "1.0.0"));
      assert.throws(() => batch.add(toyPublish("GIZMO", "1.1.0")), isCode("cannot-apply"));
      batch.add(toyPublish("Gizmo", "1.1.0"));
      assert.equal(batch.snapshot(1).packages, 1, "one package, however spelled");
    } finally {
      state.close();
    }
  });

  test("kinds and rules the toy lacks cannot apply; nor can an ecosystem the state has no rules for", () => {
    const state = RegistryState.open(":memory:", { ecosystems: TOY });
    try {
      const batch = state.begin(0);
      batch.add(toyPublish("widget", "1.0.0"));
      const tag: PackageEntry = {
        v: 1,
        kind: "dist-tag",
        ecosystem: "toy",
        name: "widget",
        tag: "next",
        version: "1.0.0",
        time: at(),
        actor: "alice",
      };
      assert.throws(() => batch.add(tag), isCode("cannot-apply"));
      assert.throws(() => batch.add(toyPublish("widget", "1.0")), isCode("cannot-apply"));
      assert.throws(() => batch.add(publishEntry("left-pad", "1.0.0")), isCode("cannot-apply"));
    } finally {
      state.close();
    }
  });
});

describe("the yank kind and npm", () => {
  const npmYank: YankEntry = { ...toyYank("left-pad", "1.0.0", true), ecosystem: "npm" };

  test("npm's rules refuse it, so no npm document ever gains a yanked version", () => {
    assert.equal(npm.kinds.has("yank"), false);
    assert.throws(() => checkEntryWith(ECOSYSTEMS, npmYank, "read"), isCode("bad-field"));
    assert.throws(() => encodeEntryWith(npmYank, ECOSYSTEMS), isCode("bad-field"));
    const published = foldEntry(
      undefined,
      publishEntry("left-pad", "1.0.0", { tag: "latest" }),
      0,
      npm,
    );
    assert.throws(() => foldEntry(published, npmYank, 1, npm), isCode("cannot-apply"));

    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    try {
      state.apply(0, [publishEntry("left-pad", "1.0.0", { tag: "latest" })]);
      assert.throws(() => state.apply(1, [npmYank]), isCode("cannot-apply"));
      const doc = state.table("npm").document("left-pad");
      assert.ok(doc);
      assert.equal(Object.hasOwn(doc.versions["1.0.0"], "yanked"), false);
    } finally {
      state.close();
    }
  });
});
