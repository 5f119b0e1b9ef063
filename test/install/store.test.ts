import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createReadStream, statSync } from "node:fs";
import { chmod, mkdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import pLimit from "p-limit";
import * as tar from "tar";
import { linkPackage } from "../../src/install/link.ts";
import { PackageStore } from "../../src/install/store.ts";
import { verifyStore } from "../../src/install/store-maintenance.ts";
import { corpusManifest, corpusTarball, corpusTarballs } from "../helpers/corpus.ts";
import { tempDir } from "../helpers/log.ts";
import { PROJECT_ROOT } from "../helpers/shared.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";
import { countFiles, filesUnder, integrityOf, tarFiles } from "./store-helpers.ts";

async function streamBytes(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function corpusPackage(file: string) {
  const t = (await corpusManifest()).find((c) => c.file === file);
  assert.ok(t, file);
  return { ...t, bytes: await readFile(await corpusTarball(file)) };
}

describe("package store", () => {
  test("every corpus package, added and linked, has exactly its tarball's files and bytes", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(join(dir.path, "store"));
    const tarballs = await corpusManifest();
    const folder = await corpusTarballs();
    const limit = pLimit(8);
    const stored = new Set<string>();
    let files = 0;
    await Promise.all(
      tarballs.map((t) =>
        limit(async () => {
          const bytes = await readFile(join(folder, t.file));
          const index = await store.addTarball(bytes, { integrity: t.integrity });
          const target = join(dir.path, "project", t.file);
          const { linked, copied } = await linkPackage(store, index, target);
          assert.equal(copied, 0);
          const expected = tarFiles(bytes);
          const actual = filesUnder(target);
          assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), t.file);
          for (const [path, { data, mode }] of expected) {
            assert.ok(data.equals(actual.get(path) as Buffer), `${t.file}: ${path}`);
            const st = statSync(join(target, path));
            assert.equal(st.nlink >= 2, true, "a hard link to the store");
            if (mode & 0o111) assert.equal(st.mode & 0o777, 0o555, `${t.file}: ${path}`);
            else assert.ok([0o444, 0o555].includes(st.mode & 0o777));
          }
          assert.equal(linked, expected.size);
          for (const f of index.files.values()) stored.add(store.filePath(f));
          files += expected.size;
          assert.equal(
            (await store.findIndex(index.name, index.version))?.tarball.sha256,
            index.tarball.sha256,
          );
        }),
      ),
    );
    // Stored once each: fewer store files than installed ones, and none that no index names.
    assert.equal(await countFiles(join(dir.path, "store", "v1", "files")), stored.size);
    assert.ok(stored.size < files);
    assert.equal(
      await countFiles(join(dir.path, "store", "v1", "tmp")),
      0,
      "no temporary file left",
    );
  });

  test("a file a package's bin names is executable, as npm makes it", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(dir.path);
    const semver = await corpusPackage("semver-7.8.6.tgz");
    const index = await store.addTarball(semver.bytes, semver);
    assert.equal(index.files.get("bin/semver.js")?.mode, 0o755);
    assert.equal(index.files.get("index.js")?.mode, 0o644);
    assert.equal(
      (await stat(store.filePath(index.files.get("bin/semver.js") as never))).mode & 0o777,
      0o555,
    );
  });

  test("adding a package again, whole or as a stream, rewrites nothing", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(dir.path);
    const pkg = await corpusPackage("semver-7.8.6.tgz");
    const first = await store.addTarball(pkg.bytes, pkg);
    const before = await Promise.all([...first.files.values()].map((f) => stat(store.filePath(f))));
    const indexBefore = await stat(store.indexPath(pkg.integrity));
    const again = await store.addTarball(createReadStream(await corpusTarball(pkg.file)), pkg);
    assert.deepEqual(again, first);
    const after = await Promise.all([...first.files.values()].map((f) => stat(store.filePath(f))));
    assert.deepEqual(
      after.map((s) => [s.ino, s.mtimeMs]),
      before.map((s) => [s.ino, s.mtimeMs]),
    );
    assert.equal((await stat(store.indexPath(pkg.integrity))).ino, indexBefore.ino);
    assert.equal(await store.has(pkg.integrity), true);
  });

  test("concurrent adds of the same tarballs through two store handles leave whole files", async () => {
    await using dir = await tempDir();
    const [a, b] = await Promise.all([PackageStore.open(dir.path), PackageStore.open(dir.path)]);
    const pkgs = await Promise.all(
      ["typescript-5.9.3.tgz", "semver-7.8.6.tgz", "semver-6.3.2.tgz", "js-yaml-3.15.2.tgz"].map(
        corpusPackage,
      ),
    );
    const results = await Promise.all(
      pkgs.flatMap((p) => [
        a.addTarball(p.bytes, p),
        b.addTarball(p.bytes, p),
        a.addTarball(p.bytes, p),
      ]),
    );
    for (let i = 0; i < pkgs.length; i++) {
      assert.deepEqual(results[3 * i], results[3 * i + 1]);
      assert.deepEqual(results[3 * i], results[3 * i + 2]);
    }
    const report = await verifyStore(a);
    assert.deepEqual(report.damaged, []);
    assert.ok(report.checked > 100);
    assert.equal(await countFiles(join(dir.path, "v1", "tmp")), 0, "no temporary file left");
  });

  test("two processes adding the same tarballs at once leave whole files and one index each", async () => {
    await using dir = await tempDir();
    const files = ["typescript-5.9.3.tgz", "semver-7.8.6.tgz", "js-yaml-3.15.2.tgz"];
    const pkgs = await Promise.all(files.map(corpusPackage));
    const script = `
      import { readFileSync } from "node:fs";
      import { PackageStore } from ${JSON.stringify(join(PROJECT_ROOT, "src", "install", "store.ts"))};
      const [dir, ...args] = process.argv.slice(1);
      const store = await PackageStore.open(dir);
      for (let i = 0; i < args.length; i += 2)
        await store.addTarball(readFileSync(args[i]), { integrity: args[i + 1] });
    `;
    const args = [dir.path];
    for (const p of pkgs) args.push(await corpusTarball(p.file), p.integrity);
    const run = () =>
      new Promise<number | null>((resolve) =>
        spawn(process.execPath, ["--input-type=module", "-e", script, ...args], {
          stdio: "inherit",
        }).on("exit", resolve),
      );
    assert.deepEqual(await Promise.all([run(), run()]), [0, 0]);
    const store = await PackageStore.open(dir.path);
    const report = await verifyStore(store);
    assert.deepEqual(report.damaged, []);
    assert.deepEqual(report.badIndexes, []);
    assert.equal(await countFiles(join(dir.path, "v1", "index")), pkgs.length);
    assert.equal(await countFiles(join(dir.path, "v1", "tmp")), 0, "no temporary file left");
  });

  test("a tampered tarball is refused before anything is stored", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(dir.path);
    const pkg = await corpusPackage("semver-7.8.6.tgz");
    const tampered = Buffer.from(pkg.bytes);
    tampered[tampered.length >> 1] ^= 0x01;
    await assert.rejects(store.addTarball(tampered, pkg), { code: "integrity-mismatch" });
    await assert.rejects(store.addTarball(pkg.bytes, { ...pkg, sha256: "0".repeat(64) }), {
      code: "integrity-mismatch",
    });
    await assert.rejects(store.addTarball(pkg.bytes, { integrity: "sha1-abc" }), {
      code: "bad-integrity",
    });
    assert.equal(await countFiles(join(dir.path, "v1", "files")), 0);
    assert.equal(await countFiles(join(dir.path, "v1", "index")), 0);
    assert.equal(await store.has(pkg.integrity), false);
  });

  const hostile: [string, Parameters<typeof rawTgz>[0]][] = [
    ["a path with ..", [packageJson("h", "1.0.0"), { name: "package/../evil.js", data: "x" }]],
    ["an absolute path", [packageJson("h", "1.0.0"), { name: "/tmp/evil.js", data: "x" }]],
    [
      "a symbolic link out of the package",
      [
        packageJson("h", "1.0.0"),
        { name: "package/out", type: "2", linkname: "../../../etc/passwd" },
      ],
    ],
    [
      "a hard link out of the package",
      [packageJson("h", "1.0.0"), { name: "package/out", type: "1", linkname: "/etc/passwd" }],
    ],
    ["a device file", [packageJson("h", "1.0.0"), { name: "package/tty", type: "3" }]],
    [
      "a path through a symbolic link",
      [
        packageJson("h", "1.0.0"),
        { name: "package/dir", type: "2", linkname: "." },
        { name: "package/dir/x.js", data: "x" },
      ],
    ],
    [
      "a file that is also a folder",
      [
        packageJson("h", "1.0.0"),
        { name: "package/a", data: "x" },
        { name: "package/a/b", data: "y" },
      ],
    ],
  ];
  for (const [what, entries] of hostile) {
    test(`a tarball with ${what} is refused and nothing is stored`, async () => {
      await using dir = await tempDir();
      const store = await PackageStore.open(dir.path);
      const bytes = rawTgz(entries);
      await assert.rejects(store.addTarball(bytes, { integrity: integrityOf(bytes) }), {
        name: "InstallError",
        code: "hostile-entry",
      });
      assert.equal(await countFiles(join(dir.path, "v1", "files")), 0);
      assert.equal(await countFiles(join(dir.path, "v1", "index")), 0);
    });
  }

  test("a tarball the tar library packs from a folder with a link out is refused", async () => {
    await using dir = await tempDir();
    await mkdir(join(dir.path, "src", "package"), { recursive: true });
    await writeFile(
      join(dir.path, "src", "package", "package.json"),
      '{"name":"h","version":"1.0.0"}',
    );
    await symlink("/etc/passwd", join(dir.path, "src", "package", "passwd"));
    const bytes = await streamBytes(tar.c({ gzip: true, cwd: join(dir.path, "src") }, ["package"]));
    const store = await PackageStore.open(join(dir.path, "store"));
    await assert.rejects(store.addTarball(bytes, { integrity: integrityOf(bytes) }), {
      code: "hostile-entry",
    });
    assert.equal(await countFiles(join(dir.path, "store", "v1", "files")), 0);
  });

  test("links inside a package are left out and .gitignore becomes .npmignore, as npm installs them", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(dir.path);
    const bytes = rawTgz([
      packageJson("shaped", "1.0.0", { bin: { shaped: "./bin/cli" } }),
      { name: "package/index.js", data: "module.exports = 1;\n" },
      { name: "package/alias.js", type: "2", linkname: "index.js" },
      { name: "package/.gitignore", data: "node_modules\n" },
      { name: "package/sub/.gitignore", data: "dropped\n" },
      { name: "package/sub/.npmignore", data: "kept\n" },
      { name: "package/bin/cli", data: "#!/usr/bin/env node\n" },
    ]);
    const index = await store.addTarball(bytes, { integrity: integrityOf(bytes) });
    assert.deepEqual(
      [...index.files.keys()],
      [".npmignore", "bin/cli", "index.js", "package.json", "sub/.npmignore"],
    );
    assert.equal(index.files.get("bin/cli")?.mode, 0o755);
    await linkPackage(store, index, join(dir.path, "project"));
    assert.equal(await readFile(join(dir.path, "project", ".npmignore"), "utf8"), "node_modules\n");
    assert.equal(await readFile(join(dir.path, "project", "sub", ".npmignore"), "utf8"), "kept\n");
    assert.equal((await stat(join(dir.path, "project", "bin", "cli"))).mode & 0o777, 0o555);
  });
});

describe("store damage", () => {
  async function damage(path: string, bytes: string, flag = "w") {
    await chmod(path, 0o644);
    await writeFile(path, bytes, { flag });
  }

  test("verifyStore finds a damaged file; a link re-fetches it, and an add repairs a missing one", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(join(dir.path, "store"));
    const pkg = await corpusPackage("semver-7.8.6.tgz");
    const index = await store.addTarball(pkg.bytes, pkg);
    const victim = index.files.get("index.js");
    assert.ok(victim);
    await damage(store.filePath(victim), "garbage");
    const report = await verifyStore(store);
    assert.deepEqual(
      report.damaged.map((d) => [d.sha256, d.problem, d.packages]),
      [
        [
          victim.sha256,
          "mismatch",
          [{ name: "semver", version: "7.8.6", integrity: pkg.integrity }],
        ],
      ],
    );
    await assert.rejects(linkPackage(store, index, join(dir.path, "a")), { code: "store-damaged" });
    let fetched = 0;
    const result = await linkPackage(store, index, join(dir.path, "a"), {
      refetch: async () => {
        fetched++;
        return pkg.bytes;
      },
    });
    assert.equal(fetched, 1);
    assert.equal(result.repaired, true);
    assert.deepEqual(
      filesUnder(join(dir.path, "a")),
      new Map([...tarFiles(pkg.bytes)].map(([p, f]) => [p, f.data])),
    );
    assert.deepEqual((await verifyStore(store)).damaged, []);

    await rm(store.filePath(victim));
    assert.equal((await verifyStore(store)).damaged[0]?.problem, "missing");
    await store.addTarball(pkg.bytes, pkg);
    assert.deepEqual((await verifyStore(store)).damaged, []);
  });

  test("verifyStore can drop damaged files and the indexes they break, so they are fetched again", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(dir.path);
    const pkg = await corpusPackage("semver-7.8.6.tgz");
    const index = await store.addTarball(pkg.bytes, pkg);
    await damage(store.filePath(index.files.get("package.json") as never), "{}");
    await mkdir(join(dir.path, "v1", "index", "00"), { recursive: true });
    await writeFile(join(dir.path, "v1", "index", "00", "broken.json"), "{");
    const report = await verifyStore(store, { removeDamaged: true });
    assert.equal(report.damaged.length, 1);
    assert.equal(report.badIndexes.length, 1);
    assert.equal(await store.has(pkg.integrity), false);
    assert.deepEqual((await verifyStore(store)).damaged, []);
    assert.deepEqual((await verifyStore(store)).badIndexes, []);
  });

  test("an edit through one project's link is caught, and projects linked again get the store's bytes", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(join(dir.path, "store"));
    const pkg = await corpusPackage("semver-7.8.6.tgz");
    const index = await store.addTarball(pkg.bytes, pkg);
    const [a, b, c] = ["a", "b", "c"].map((p) => join(dir.path, p, "node_modules", "semver"));
    await linkPackage(store, index, a);
    await linkPackage(store, index, b);
    const original = await readFile(join(a, "index.js"));
    // Read-only stops other users; root (as here) writes anyway, in place and at the same size.
    assert.equal((await stat(join(a, "index.js"))).mode & 0o222, 0);
    const edited = Buffer.from(original);
    edited[0] = edited[0] === 0x41 ? 0x42 : 0x41;
    await damage(join(a, "index.js"), edited.toString("latin1"), "r+");
    assert.equal((await store.checkFiles(index)).length, 1);
    await assert.rejects(linkPackage(store, index, c), { code: "store-damaged" });
    const refetch = async () => pkg.bytes;
    assert.equal((await linkPackage(store, index, c, { refetch })).repaired, true);
    assert.deepEqual(await readFile(join(c, "index.js")), original);
    // B shared the edited inode; linked again, it gets the repaired file.
    assert.equal((await linkPackage(store, index, b, { refetch })).repaired, false);
    assert.deepEqual(await readFile(join(b, "index.js")), original);
    assert.deepEqual((await verifyStore(store)).damaged, []);
  });

  test("a store file made writable through a link, bytes unchanged, is made read-only again", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(join(dir.path, "store"));
    const pkg = await corpusPackage("semver-7.8.6.tgz");
    const index = await store.addTarball(pkg.bytes, pkg);
    const project = join(dir.path, "semver");
    await linkPackage(store, index, project);
    await chmod(join(project, "index.js"), 0o644);
    await chmod(join(project, "bin", "semver.js"), 0o755);
    assert.deepEqual(await store.checkFiles(index), []);
    assert.equal((await stat(join(project, "index.js"))).mode & 0o777, 0o444);
    assert.equal((await stat(join(project, "bin", "semver.js"))).mode & 0o777, 0o555);
  });

  test("a project on another device gets writable copies, and edits to them stay there", async (t) => {
    await using dir = await tempDir();
    const shm = "/dev/shm";
    const otherDevice = await stat(shm).then(
      async (s) => s.dev !== (await stat(dir.path)).dev,
      () => false,
    );
    if (!otherDevice) {
      t.skip("no second file system to link across");
      return;
    }
    const storeDir = join(shm, `cairn-store-test-${process.pid}`);
    await using _cleanup = {
      [Symbol.asyncDispose]: () => rm(storeDir, { recursive: true, force: true }),
    };
    const store = await PackageStore.open(storeDir);
    const pkg = await corpusPackage("semver-7.8.6.tgz");
    const index = await store.addTarball(pkg.bytes, pkg);
    const target = join(dir.path, "semver");
    const result = await linkPackage(store, index, target);
    assert.deepEqual(result, { linked: 0, copied: index.files.size, repaired: false });
    assert.equal((await stat(join(target, "bin", "semver.js"))).mode & 0o777, 0o755);
    assert.equal((await stat(join(target, "index.js"))).mode & 0o777, 0o644);
    await writeFile(join(target, "index.js"), "edited");
    assert.deepEqual(await store.checkFiles(index), []);
    assert.deepEqual((await verifyStore(store)).damaged, []);
  });
});
