/** `cairn store verify` and `cairn store prune`, run as a user runs them, on a store in $CAIRN_HOME. */
import assert from "node:assert/strict";
import { chmod, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { linkPackage } from "../../src/install/link.ts";
import { PackageStore } from "../../src/install/store.ts";
import { cairn } from "../helpers/cli.ts";
import { corpusManifest, corpusTarball } from "../helpers/corpus.ts";
import { tempDir } from "../helpers/log.ts";

async function addCorpus(store: PackageStore, file: string) {
  const t = (await corpusManifest()).find((c) => c.file === file);
  assert.ok(t);
  return store.addTarball(await readFile(await corpusTarball(file)), t);
}

describe("cairn store", () => {
  test("verify names a damaged file and its package, exits 1, and --fix drops them", async () => {
    await using dir = await tempDir();
    const env = { CAIRN_HOME: dir.path };
    const store = await PackageStore.open(join(dir.path, "store"));
    const index = await addCorpus(store, "semver-7.8.6.tgz");
    const clean = await cairn(["store", "verify"], { env });
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /0 damaged/);

    const victim = store.filePath(index.files.get("index.js") as never);
    await chmod(victim, 0o644);
    await writeFile(victim, "damaged");
    const found = await cairn(["store", "verify"], { env });
    assert.equal(found.code, 1);
    assert.match(found.stdout, /^mismatch .* in semver@7\.8\.6$/m);

    const fixed = await cairn(["store", "verify", "--fix"], { env });
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal(await store.has(index.tarball.integrity), false);
    assert.equal((await cairn(["store", "verify"], { env })).code, 0);
  });

  test("prune keeps the packages a project links and removes the rest", async () => {
    await using dir = await tempDir();
    const storeDir = join(dir.path, "elsewhere");
    const store = await PackageStore.open(storeDir);
    const used = await addCorpus(store, "semver-7.8.6.tgz");
    const unused = await addCorpus(store, "wrap-ansi-7.0.0.tgz");
    await linkPackage(store, used, join(dir.path, "project", "node_modules", "semver"));
    const pruned = await cairn(["store", "prune", "--store", storeDir]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /kept 1 packages; removed 1 packages/);
    assert.equal(await store.has(used.tarball.integrity), true);
    assert.equal(await store.has(unused.tarball.integrity), false);
    assert.deepEqual(await store.checkFiles(used), []);
  });

  test("prune --max-size keeps unlinked packages most recently linked first, within the size", async () => {
    await using dir = await tempDir();
    const storeDir = join(dir.path, "store");
    const store = await PackageStore.open(storeDir);
    const linked = await addCorpus(store, "semver-7.8.6.tgz");
    const older = await addCorpus(store, "wrap-ansi-7.0.0.tgz");
    const newer = await addCorpus(store, "ansi-styles-4.3.0.tgz");
    await linkPackage(store, linked, join(dir.path, "project", "node_modules", "semver"));
    // Each linked once and then unlinked, wrap-ansi first: ansi-styles is the more recent.
    for (const [name, index] of [
      ["wrap-ansi", older],
      ["ansi-styles", newer],
    ] as const) {
      const target = join(dir.path, `gone-${name}`, "node_modules", name);
      await linkPackage(store, index, target);
      await rm(join(dir.path, `gone-${name}`), { recursive: true });
    }
    const bytes = async (index: typeof linked) => {
      let total = 0;
      for (const f of index.files.values()) total += (await stat(store.filePath(f))).size;
      return total;
    };
    const max = (await bytes(linked)) + (await bytes(newer)) + 1;
    const pruned = await cairn(["store", "prune", "--store", storeDir, "--max-size", String(max)]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /kept 2 packages; removed 1 packages/);
    assert.equal(await store.has(linked.tarball.integrity), true);
    assert.equal(await store.has(newer.tarball.integrity), true);
    assert.equal(await store.has(older.tarball.integrity), false);
    // The next install of the pruned package stores and verifies it again.
    const again = await addCorpus(store, "wrap-ansi-7.0.0.tgz");
    assert.deepEqual(await store.checkFiles(again), []);
  });
});
