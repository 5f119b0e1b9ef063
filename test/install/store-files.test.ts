import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { linkPackage } from "../../src/install/link.ts";
import { PackageStore } from "../../src/install/store.ts";
import { pruneStore, verifyStore } from "../../src/install/store-maintenance.ts";
import { corpusManifest, corpusTarball } from "../helpers/corpus.ts";
import { tempDir } from "../helpers/log.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";
import { countFiles, filesUnder, integrityOf } from "./store-helpers.ts";

function version(v: string, files: Record<string, string>) {
  const bytes = rawTgz([
    packageJson("upgraded", v),
    ...Object.entries(files).map(([name, data]) => ({ name: `package/${name}`, data })),
  ]);
  return { bytes, integrity: integrityOf(bytes), files };
}

const V1 = version("1.0.0", { "a.js": "same\n", "b.js": "old\n", LICENSE: "MIT\n" });
const V2 = version("1.1.0", {
  "a.js": "same\n",
  "b.js": "new\n",
  "c.js": "added\n",
  LICENSE: "MIT\n",
});

describe("adding files by hash", () => {
  test("a store holding v1 lacks only v2's changed files, and takes them alone", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(join(dir.path, "store"));
    await store.addTarball(V1.bytes, V1);
    // v2's index as a verified source would publish it.
    const index = await (await PackageStore.open(join(dir.path, "elsewhere"))).addTarball(
      V2.bytes,
      V2,
    );

    const missing = await store.missingFiles(index);
    const wanted = ["new\n", "added\n", JSON.stringify({ name: "upgraded", version: "1.1.0" })];
    assert.deepEqual(
      missing.map((f) => f.size).sort(),
      wanted.map((w) => Buffer.byteLength(w)).sort(),
    );

    await assert.rejects(store.addFiles(index, [Buffer.from("forged\n")]), {
      code: "integrity-mismatch",
    });
    assert.equal((await store.addFiles(index, [Buffer.from(wanted[0])])).length, 2);
    assert.equal(await store.has(V2.integrity), false, "no index until every file is there");
    assert.deepEqual(
      await store.addFiles(
        index,
        wanted.slice(1).map((w) => Buffer.from(w)),
      ),
      [],
    );
    assert.equal(await store.has(V2.integrity), true);

    await linkPackage(store, index, join(dir.path, "project"));
    const linked = filesUnder(join(dir.path, "project"));
    for (const [name, data] of Object.entries(V2.files))
      assert.equal(linked.get(name)?.toString(), data);
    assert.deepEqual((await verifyStore(store)).damaged, []);
  });
});

describe("pruning", () => {
  test("prune removes the indexes not kept and every file only they named", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(dir.path);
    const corpus = await corpusManifest();
    const picks = ["semver-7.8.6.tgz", "semver-6.3.2.tgz", "wrap-ansi-7.0.0.tgz"].map((file) => {
      const t = corpus.find((c) => c.file === file);
      assert.ok(t);
      return t;
    });
    const indexes = [];
    for (const t of picks)
      indexes.push(await store.addTarball(await readFile(await corpusTarball(t.file)), t));
    const [kept, ...dropped] = indexes;
    const before = await countFiles(join(dir.path, "v1", "files"));

    const report = await pruneStore(store, [kept.tarball.integrity]);
    assert.equal(report.removedIndexes, 2);
    const keptFiles = new Set([...kept.files.values()].map((f) => store.filePath(f)));
    assert.equal(await countFiles(join(dir.path, "v1", "files")), keptFiles.size);
    assert.equal(report.removedFiles, before - keptFiles.size);
    assert.ok(report.freedBytes > 0);
    for (const index of dropped) {
      assert.equal(await store.has(index.tarball.integrity), false);
      assert.equal(await store.findIndex(index.name, index.version), undefined);
    }
    assert.deepEqual(await store.checkFiles(kept), []);
    assert.deepEqual((await verifyStore(store)).damaged, []);
    await linkPackage(store, kept, join(dir.path, "project"));

    const again = await pruneStore(store, [kept.tarball.integrity]);
    assert.deepEqual(again, { removedIndexes: 0, removedFiles: 0, freedBytes: 0 });
  });
});
