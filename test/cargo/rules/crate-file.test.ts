/**
 * `.crate` checks: the ones cargo made for the captured publishes pass;
 * hand-built hostile archives are refused with the code of what is wrong.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { DEFAULT_CRATE_LIMITS, inspectCrate } from "../../../src/cargo/rules/crate-file.ts";
import { CargoError } from "../../../src/cargo/rules/errors.ts";
import { parsePublishBody } from "../../../src/cargo/rules/publish-body.ts";
import { gzipBombOf, type RawTarEntry, rawTar, rawTgz } from "../../helpers/tar.ts";

const code = (c: string) => (e: unknown) => e instanceof CargoError && e.code === c;
const FIXTURES = join(import.meta.dirname, "..", "..", "fixtures", "cargo");
const probe = { name: "probe", version: "1.0.0" };
const manifest = (text = '[package]\nname = "probe"\nversion = "1.0.0"\n'): RawTarEntry => ({
  name: "probe-1.0.0/Cargo.toml",
  data: text,
});
const lib: RawTarEntry = { name: "probe-1.0.0/src/lib.rs", data: "pub fn f() {}\n" };

describe("the .crate files cargo made", () => {
  test("pass, with cargo's normalized manifest read", async () => {
    for (const file of ["probe-full", "probe_min"]) {
      const publish = parsePublishBody(readFileSync(join(FIXTURES, `${file}.body`)));
      const summary = await inspectCrate(publish.crate, publish);
      assert.equal((summary.manifest.package as Record<string, unknown>).name, publish.name);
      assert.ok(summary.paths.has("Cargo.toml") && summary.paths.has("Cargo.toml.orig"), file);
      assert.ok(summary.paths.has("src/lib.rs"));
    }
  });
});

describe("hostile .crate files", () => {
  test("a minimal crate passes", async () => {
    const summary = await inspectCrate(rawTgz([manifest(), lib]), probe);
    assert.deepEqual([summary.files, [...summary.paths]], [2, ["Cargo.toml", "src/lib.rs"]]);
  });

  test("paths: other roots, absolute, `..`, backslashes", async () => {
    for (const name of [
      "other-1.0.0/src/x.rs",
      "probe-1.0.1/src/x.rs",
      "Probe-1.0.0/src/x.rs",
      "/probe-1.0.0/x",
      "probe-1.0.0/../x",
      "probe-1.0.0/src/../../x",
      "probe-1.0.0/..\\..\\x",
      "C:/probe-1.0.0/x",
      "x",
    ])
      await assert.rejects(
        inspectCrate(rawTgz([manifest(), { name, data: "x" }]), probe),
        code("unsafe-path"),
        name,
      );
  });

  test("links, devices, FIFOs and duplicated files", async () => {
    for (const entry of [
      { name: "probe-1.0.0/l", type: "2", linkname: "/etc/passwd" },
      { name: "probe-1.0.0/l", type: "2", linkname: "src/lib.rs" },
      { name: "probe-1.0.0/h", type: "1", linkname: "probe-1.0.0/src/lib.rs" },
      { name: "probe-1.0.0/c", type: "3" },
      { name: "probe-1.0.0/f", type: "6" },
      { ...lib, data: "other" },
    ])
      await assert.rejects(
        inspectCrate(rawTgz([manifest(), lib, entry]), probe),
        code("bad-crate"),
        entry.name,
      );
  });

  test("Cargo.toml: missing, misspelled, twice, a folder, not TOML, another crate, unfinished", async () => {
    const cases: [RawTarEntry[], string][] = [
      [[lib], "bad-manifest"],
      [[{ ...manifest(), name: "probe-1.0.0/cargo.toml" }, lib], "bad-manifest"],
      [[manifest(), { ...manifest(), name: "probe-1.0.0/CARGO.TOML" }], "bad-manifest"],
      [[manifest(), manifest()], "bad-crate"],
      [[{ name: "probe-1.0.0/Cargo.toml", type: "5" }, lib], "bad-manifest"],
      [[manifest("[package\nname=")], "bad-manifest"],
      [[manifest('name = "probe"\n')], "bad-manifest"],
      [[manifest('[package]\nname = "other"\nversion = "1.0.0"\n')], "bad-manifest"],
      [[manifest('[package]\nname = "probe"\nversion = "1.0.1"\n')], "bad-manifest"],
      [[manifest('[package]\nname = "probe"\n')], "bad-manifest"],
      [[manifest('[package]\nname = "probe"\nversion.workspace = true\n')], "bad-manifest"],
      [
        [
          manifest(
            '[package]\nname = "probe"\nversion = "1.0.0"\n[dependencies]\nx = { workspace = true }\n',
          ),
        ],
        "bad-manifest",
      ],
      [
        [
          manifest(
            '[package]\nname = "probe"\nversion = "1.0.0"\n[patch.crates-io]\nx = { path = "x" }\n',
          ),
        ],
        "bad-manifest",
      ],
      [[], "bad-crate"],
    ];
    for (const [entries, expected] of cases)
      await assert.rejects(
        inspectCrate(rawTgz(entries), probe),
        code(expected),
        JSON.stringify(entries).slice(0, 160),
      );
  });

  test("a Cargo.toml nested deeper is just a file", async () => {
    await inspectCrate(
      rawTgz([manifest(), { name: "probe-1.0.0/sub/Cargo.toml", data: "not toml [" }]),
      probe,
    );
  });

  test("not gzip, broken gzip, not a tar", async () => {
    await assert.rejects(inspectCrate(new Uint8Array(), probe), code("not-gzip"));
    await assert.rejects(inspectCrate(rawTar([manifest()]), probe), code("not-gzip"));
    const good = rawTgz([manifest(), lib]);
    await assert.rejects(inspectCrate(good.subarray(0, good.length - 10), probe), code("not-gzip"));
    await assert.rejects(inspectCrate(gzipSync(Buffer.alloc(2048, 7)), probe), code("bad-crate"));
  });

  test("caps: compressed size, unpacked size, file count, bombs", async () => {
    const small = { ...DEFAULT_CRATE_LIMITS, maxCompressedBytes: 100 };
    await assert.rejects(inspectCrate(rawTgz([manifest(), lib]), probe, small), code("too-large"));
    const files = { ...DEFAULT_CRATE_LIMITS, maxFiles: 2 };
    await assert.rejects(
      inspectCrate(rawTgz([manifest(), lib, { ...lib, name: "probe-1.0.0/b.rs" }]), probe, files),
      code("too-large"),
    );
    const unpacked = { ...DEFAULT_CRATE_LIMITS, maxUnpackedBytes: 1000 };
    await assert.rejects(
      inspectCrate(
        rawTgz([manifest(), { name: "probe-1.0.0/big", data: Buffer.alloc(4000) }]),
        probe,
        unpacked,
      ),
      code("too-large"),
    );
    // A header that declares more than the cap stops before any of it inflates.
    const declared = gzipBombOf([manifest()], "probe-1.0.0/zeros", 600);
    assert.ok(declared.length < DEFAULT_CRATE_LIMITS.maxCompressedBytes);
    await assert.rejects(inspectCrate(declared, probe), code("too-large"));
    await assert.rejects(
      inspectCrate(gzipBombOf([manifest()], "probe-1.0.0/zeros", 100), probe),
      code("compression-ratio"),
    );
  });

  test("random byte changes give a summary or a CargoError, never anything else", async () => {
    const good = rawTgz([
      manifest(),
      lib,
      { name: "probe-1.0.0/README.md", data: "hello ".repeat(50) },
    ]);
    let seed = 5;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 400; round++) {
      const bytes = Buffer.from(good);
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      try {
        await inspectCrate(bytes, probe);
      } catch (err) {
        assert.ok(err instanceof CargoError, String(err));
      }
    }
  });
});
