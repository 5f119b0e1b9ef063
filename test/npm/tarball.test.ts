import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { inspectTarball, TarballError } from "../../src/npm/tarball.ts";
import { DEFAULT_TARBALL_LIMITS } from "../../src/registry/tarball-limits.ts";
import { corpusTarballs } from "../helpers/corpus.ts";
import { gzipBomb, packageJson, rawTgz } from "../helpers/tar.ts";

const code = (c: string) => (e: unknown) => e instanceof TarballError && e.code === c;

describe("tarball inspection", () => {
  test("every real package in the corpus passes, with its manifest read", async () => {
    const dir = await corpusTarballs();
    const files = readdirSync(dir).filter((f) => f.endsWith(".tgz"));
    assert.ok(files.length >= 431);
    const roots = new Set<string>();
    for (const file of files) {
      const summary = await inspectTarball(readFileSync(join(dir, file)));
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

  test("a minimal package", async () => {
    const summary = await inspectTarball(
      rawTgz([packageJson("a", "1.0.0"), { name: "package/index.js", data: "x" }]),
    );
    assert.deepEqual(
      [summary.root, summary.files, summary.manifest.version],
      ["package", 2, "1.0.0"],
    );
  });

  test("paths that escape, links out, devices and extra roots are refused", async () => {
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
      await assert.rejects(
        () => inspectTarball(rawTgz(entries)),
        code(expected),
        JSON.stringify(entries.at(-1)),
      );
    }
    const internal = await inspectTarball(
      rawTgz([pj, { name: "package/lib/link", type: "2", linkname: "../index.js" }]),
    );
    assert.equal(internal.files, 2);
  });

  test("not gzip, not tar, and over the limits", async () => {
    await assert.rejects(() => inspectTarball(Buffer.from("plain text")), code("not-gzip"));
    await assert.rejects(() => inspectTarball(Buffer.of(0x1f, 0x8b, 1, 2, 3)), code("not-gzip"));
    await assert.rejects(() => inspectTarball(gzipSync(Buffer.alloc(2048, 7))), code("bad-tar"));
    const small = { ...DEFAULT_TARBALL_LIMITS, maxCompressedBytes: 100 };
    await assert.rejects(
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
    await assert.rejects(
      () => inspectTarball(bomb, { ...DEFAULT_TARBALL_LIMITS, maxUnpackedBytes: 1024 * 1024 }),
      code("too-large"),
    );
    const many = Array.from({ length: 20 }, (_, i) => ({ name: `package/f${i}`, data: "x" }));
    await assert.rejects(
      () =>
        inspectTarball(rawTgz([packageJson("a", "1.0.0"), ...many]), {
          ...DEFAULT_TARBALL_LIMITS,
          maxFiles: 10,
        }),
      code("too-large"),
    );
  });
});

describe("tarball inspection: links, duplicates, bombs", () => {
  const pj = packageJson("a", "1.0.0");
  const link = (name: string, linkname: string) => ({ name, type: "2", linkname });

  test("a link through another link is refused, in either order; a file inside a link too", async () => {
    // a/b -> .. is package/; a/c -> b/.. then follows b and climbs out of the package.
    const chained = [link("package/a/b", ".."), link("package/a/c", "b/..")];
    for (const entries of [chained, [...chained].reverse()]) {
      await assert.rejects(inspectTarball(rawTgz([pj, ...entries])), code("unsafe-path"));
    }
    await assert.rejects(
      inspectTarball(rawTgz([pj, link("package/a/b", ".."), { name: "package/a/b/x", data: "x" }])),
      code("unsafe-path"),
    );
    await assert.rejects(
      inspectTarball(
        rawTgz([
          pj,
          link("package/a/b", ".."),
          { name: "package/h", type: "1", linkname: "package/a/b/package.json" },
        ]),
      ),
      code("unsafe-path"),
    );
    // A link to a link, each inside the package, is fine.
    const summary = await inspectTarball(
      rawTgz([pj, link("package/a/b", ".."), link("package/a/c", "b"), link("package/d", "a/c")]),
    );
    assert.equal(summary.files, 4);
  });

  test("a path twice is refused: two package.json files, or one in other case", async () => {
    const other = {
      name: "package/package.json",
      data: JSON.stringify({ name: "a", version: "1.0.0", scripts: { postinstall: "x" } }),
    };
    await assert.rejects(inspectTarball(rawTgz([pj, other])), code("duplicate-entry"));
    await assert.rejects(
      inspectTarball(
        rawTgz([pj, { name: "package/x.js", data: "1" }, { name: "package/x.js", data: "2" }]),
      ),
      code("duplicate-entry"),
    );
    await assert.rejects(
      inspectTarball(rawTgz([pj, { name: "package/PACKAGE.JSON", data: "{}" }])),
      code("duplicate-entry"),
    );
  });

  test("a gzip bomb is refused by its ratio before it is inflated whole", async () => {
    const bomb = gzipBomb("a", "1.0.0", 480);
    assert.ok(bomb.length < 600_000);
    let read = 0;
    async function* slowly() {
      for (let at = 0; at < bomb.length; at += 4096) {
        read = at + 4096;
        yield bomb.subarray(at, at + 4096);
      }
    }
    await assert.rejects(inspectTarball(slowly()), code("compression-ratio"));
    assert.ok(read < bomb.length, "refused before the whole tarball was read");
    // Within a cap raised for it, a smaller one passes.
    const small = rawTgz([pj, { name: "package/zeros", data: Buffer.alloc(20 * 1024 * 1024) }]);
    await assert.rejects(inspectTarball(small), code("compression-ratio"));
    const summary = await inspectTarball(small, { ...DEFAULT_TARBALL_LIMITS, maxRatio: 10_000 });
    assert.equal(summary.unpackedBytes, 20 * 1024 * 1024 + String(pj.data).length);
  });

  test("the paths of the package are listed, relative to its folder", async () => {
    const summary = await inspectTarball(
      rawTgz([
        pj,
        { name: "package/lib/index.js", data: "x" },
        { name: "package/binding.gyp", data: "{}" },
      ]),
    );
    assert.deepEqual([...summary.paths].sort(), ["binding.gyp", "lib/index.js", "package.json"]);
  });
});

describe("tarball inspection inflated inline (as a store thread does)", () => {
  const inline = { keepFiles: true, inline: true };

  test("every corpus tarball gives the same summary and bytes as the stream", async () => {
    const dir = await corpusTarballs();
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".tgz"))) {
      const bytes = readFileSync(join(dir, file));
      const streamed = await inspectTarball(bytes, DEFAULT_TARBALL_LIMITS, { keepFiles: true });
      const whole = await inspectTarball(bytes, DEFAULT_TARBALL_LIMITS, inline);
      assert.deepEqual(whole, streamed, file);
    }
  });

  test("not gzip, cut short, not tar, and over each cap are refused as by the stream", async () => {
    const pj = packageJson("a", "1.0.0");
    const ok = rawTgz([pj, { name: "package/x", data: "y".repeat(5000) }]);
    const limits = DEFAULT_TARBALL_LIMITS;
    const refused = async (bytes: Uint8Array, expected: string, l = limits) => {
      await assert.rejects(inspectTarball(bytes, l, inline), code(expected));
      await assert.rejects(inspectTarball(bytes, l), code(expected));
    };
    await refused(Buffer.from("plain text"), "not-gzip");
    await refused(Buffer.of(0x1f), "not-gzip");
    await refused(Buffer.of(0x1f, 0x8b, 1, 2, 3), "not-gzip");
    await refused(ok.subarray(0, ok.length - 10), "not-gzip");
    await refused(gzipSync(Buffer.alloc(2048, 7)), "bad-tar");
    await refused(ok, "too-large", { ...limits, maxCompressedBytes: 100 });
    const zeros = rawTgz([pj, { name: "package/zeros", data: Buffer.alloc(20 * 1024 * 1024) }]);
    await refused(zeros, "too-large", { ...limits, maxUnpackedBytes: 1024 * 1024, maxRatio: 1e6 });
    await refused(zeros, "compression-ratio");
    await refused(gzipBomb("a", "1.0.0", 480), "compression-ratio");
    const raised = await inspectTarball(zeros, { ...limits, maxRatio: 10_000 }, inline);
    assert.equal(raised.unpackedBytes, 20 * 1024 * 1024 + String(pj.data).length);
  });
});
