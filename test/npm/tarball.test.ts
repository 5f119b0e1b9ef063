import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { DEFAULT_TARBALL_LIMITS, inspectTarball, TarballError } from "../../src/npm/tarball.ts";
import { corpusTarballs } from "../helpers/corpus.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

const code = (c: string) => (e: unknown) => e instanceof TarballError && e.code === c;

describe("tarball inspection", () => {
  test("every real package in the corpus passes, with its manifest read", async () => {
    const dir = await corpusTarballs();
    const files = readdirSync(dir).filter((f) => f.endsWith(".tgz"));
    assert.ok(files.length >= 431);
    const roots = new Set<string>();
    for (const file of files) {
      const summary = inspectTarball(readFileSync(join(dir, file)));
      assert.equal(typeof summary.manifest.name, "string", file);
      assert.ok(
        file.startsWith(`${String(summary.manifest.name).replace("@", "").replace("/", "-")}-`) ||
          file.includes(String(summary.manifest.version)),
        file,
      );
      roots.add(summary.root);
    }
    assert.ok(
      roots.has("package") && roots.size > 1,
      "corpus has tarballs with other top-level folders",
    );
  });

  test("a minimal package", () => {
    const summary = inspectTarball(
      rawTgz([packageJson("a", "1.0.0"), { name: "package/index.js", data: "x" }]),
    );
    assert.deepEqual(
      [summary.root, summary.files, summary.manifest.version],
      ["package", 2, "1.0.0"],
    );
  });

  test("paths that escape, links out, devices and extra roots are refused", () => {
    const pj = packageJson("a", "1.0.0");
    const cases: [string, Parameters<typeof rawTgz>[0]][] = [
      ["unsafe-path", [pj, { name: "package/../../etc/passwd", data: "x" }]],
      ["unsafe-path", [pj, { name: "/etc/passwd", data: "x" }]],
      ["unsafe-path", [pj, { name: "package/evil", type: "2", linkname: "../../../etc/passwd" }]],
      ["unsafe-path", [pj, { name: "package/evil", type: "2", linkname: "/etc/passwd" }]],
      ["unsafe-path", [pj, { name: "package/evil", type: "1", linkname: "other/file" }]],
      ["bad-entry-type", [pj, { name: "package/dev", type: "3" }]],
      ["bad-entry-type", [pj, { name: "package/fifo", type: "6" }]],
      ["unsafe-path", [pj, { name: "other/index.js", data: "x" }]],
      ["no-manifest", [{ name: "package/index.js", data: "x" }]],
      ["bad-manifest", [{ name: "package/package.json", data: "{nope" }]],
      ["bad-manifest", [{ name: "package/package.json", data: "[]" }]],
    ];
    for (const [expected, entries] of cases) {
      assert.throws(
        () => inspectTarball(rawTgz(entries)),
        code(expected),
        JSON.stringify(entries.at(-1)),
      );
    }
    const internal = inspectTarball(
      rawTgz([pj, { name: "package/lib/link", type: "2", linkname: "../index.js" }]),
    );
    assert.equal(internal.files, 2);
  });

  test("not gzip, not tar, and over the limits", () => {
    assert.throws(() => inspectTarball(Buffer.from("plain text")), code("not-gzip"));
    assert.throws(() => inspectTarball(Buffer.of(0x1f, 0x8b, 1, 2, 3)), code("not-gzip"));
    assert.throws(() => inspectTarball(gzipSync(Buffer.alloc(2048, 7))), code("bad-tar"));
    const small = { ...DEFAULT_TARBALL_LIMITS, maxCompressedBytes: 100 };
    assert.throws(
      () =>
        inspectTarball(
          rawTgz([packageJson("a", "1.0.0"), { name: "package/x", data: "y".repeat(5000) }]),
          small,
        ),
      code("too-large"),
    );
    // A gzip bomb: tiny compressed, huge unpacked.
    const bomb = rawTgz([
      packageJson("a", "1.0.0"),
      { name: "package/zeros", data: Buffer.alloc(20 * 1024 * 1024) },
    ]);
    assert.ok(bomb.length < 100_000);
    assert.throws(
      () => inspectTarball(bomb, { ...DEFAULT_TARBALL_LIMITS, maxUnpackedBytes: 1024 * 1024 }),
      code("too-large"),
    );
    const many = Array.from({ length: 20 }, (_, i) => ({ name: `package/f${i}`, data: "x" }));
    assert.throws(
      () =>
        inspectTarball(rawTgz([packageJson("a", "1.0.0"), ...many]), {
          ...DEFAULT_TARBALL_LIMITS,
          maxFiles: 10,
        }),
      code("too-large"),
    );
  });
});
