import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { PackageStore } from "../../src/install/store.ts";
import {
  type FileIndex,
  formatFileIndex,
  integrityKey,
  isSafeRelativePath,
  parseFileIndex,
} from "../../src/npm/file-index.ts";
import { fileIndexOfTarball } from "../../src/npm/unpack.ts";
import { canonicalJson } from "../../src/registry/canonical-json.ts";
import { tempDir } from "../helpers/log.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";
import { integrityOf } from "./store-helpers.ts";

/** The worked example of file-index.ts, unwrapped. */
const EXAMPLE =
  '{"files":{"index.js":{"mode":420,"sha256":"6e66e366f0aefb84ad8110afcd9b2245702c643c831edf8316ff048fec739d2e","size":20},' +
  '"package.json":{"mode":420,"sha256":"f4036b9374448649aa335a35a6636f85f843323f3ec5da8e10d3207da54b3991","size":33}},' +
  '"name":"is-x","tarball":{"integrity":"sha512-OVWVX8WUbLkx0LEif7rPjPwFjjSQTwdsmlCo8oQwnWStPFmx3dQ6mhnqLGcJnnnpCQbuEDIq/STd7/NWvrhKew==",' +
  '"sha256":"1264ab866793e0b2d937dcf1e34d61cc403ac9c75bfc702a37996e9526439014","size":177},"v":1,"version":"1.0.0"}';

describe("file index", () => {
  test("the worked example is what the store records for that package, and parses back to itself", async () => {
    await using dir = await tempDir();
    const store = await PackageStore.open(dir.path);
    const tgz = rawTgz([
      packageJson("is-x", "1.0.0"),
      { name: "package/index.js", data: "module.exports = 1;\n" },
    ]);
    const index = await store.addTarball(tgz, { integrity: integrityOf(tgz) });
    const example = parseFileIndex(EXAMPLE);
    assert.deepEqual(index.files, example.files);
    assert.equal(formatFileIndex(example), EXAMPLE);
    // The tarball's own bytes depend on the gzip in use; when it matches the example's, so does the index.
    if (index.tarball.sha256 === example.tarball.sha256)
      assert.equal(formatFileIndex(index), EXAMPLE);
  });

  test("fileIndexOfTarball computes the index the store records, storing nothing", async () => {
    await using dir = await tempDir();
    const tgz = rawTgz([packageJson("is-x", "1.0.0"), { name: "package/bin.js", data: "#!" }]);
    const expected = { integrity: integrityOf(tgz), name: "alias-of-is-x" };
    const computed = await fileIndexOfTarball(tgz, expected);
    assert.equal(computed.name, "alias-of-is-x");
    const stored = await (await PackageStore.open(dir.path)).addTarball(tgz, expected);
    assert.equal(formatFileIndex(computed), formatFileIndex(stored));
  });

  const refusals: [string, string][] = [
    ["not canonical (whitespace)", EXAMPLE.replace('{"files"', '{ "files"')],
    [
      "not canonical (key order)",
      EXAMPLE.replace('"v":1,"version":"1.0.0"', '"version":"1.0.0","v":1'),
    ],
    ["an unknown version", EXAMPLE.replace('"v":1', '"v":2')],
    ["an unknown field", EXAMPLE.replace('"v":1', '"v":1,"x":0')],
    ["a path with ..", EXAMPLE.replace('"index.js"', '"../index.js"')],
    ["an absolute path", EXAMPLE.replace('"index.js"', '"/index.js"')],
    ["an empty path part", EXAMPLE.replace('"index.js"', '"lib//index.js"')],
    ["a mode other than 0644 or 0755", EXAMPLE.replace('"mode":420', '"mode":511')],
    ["a short sha256", EXAMPLE.replace('"sha256":"6e66', '"sha256":"6e6')],
    ["a fractional size", EXAMPLE.replace('"size":20', '"size":20.5')],
    ["a bad integrity", EXAMPLE.replace("sha512-OVWV", "sha1-OVWV")],
    ["a non-canonical integrity", EXAMPLE.replace("NWvrhKew==", "NWvrhKex==")],
    ["a file that is also a folder", EXAMPLE.replace('"index.js"', '"package.json/x"')],
    ["not JSON", EXAMPLE.slice(1)],
    ["a path that is not Unicode", EXAMPLE.replace('"index.js"', '"\\ud800.js"')],
  ];
  for (const [what, text] of refusals) {
    test(`an index with ${what} is refused`, () => {
      assert.throws(() => parseFileIndex(text), { name: "PackageFilesError", code: "bad-index" });
    });
  }

  test("the index is written as canonicalJson writes it, and parses back to itself", () => {
    const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
    const size = fc.nat({ max: Number.MAX_SAFE_INTEGER });
    // Paths that sort differently by code unit than by code point or number: digits, astral characters.
    const part = fc.oneof(
      fc.constantFrom("0", "10", "9", "__proto__", "a", "B", "\u00e9", "\u{1f600}", "\uffff"),
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }).filter((p) => !p.includes("/")),
    );
    const path = fc
      .array(part, { minLength: 1, maxLength: 3 })
      .map((parts) => parts.join("/"))
      .filter((p) => p !== "." && p !== ".." && !p.split("/").some((x) => x === "." || x === ".."));
    const file = fc
      .record({ sha256: hex64, mode: fc.constantFrom(0o644, 0o755), size })
      .map((f) => ({ ...f }));
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(path, file), { selector: ([p]) => p, maxLength: 12 }),
        (files) => {
          const index: FileIndex = {
            ...parseFileIndex(EXAMPLE),
            files: new Map(files.filter(([p]) => !files.some(([q]) => q.startsWith(`${p}/`)))),
          };
          const json: Record<string, unknown> = Object.create(null);
          for (const [p, f] of index.files) json[p] = f;
          const generic = canonicalJson({
            v: 1,
            name: index.name,
            version: index.version,
            tarball: index.tarball,
            files: json,
          });
          assert.equal(formatFileIndex(index), generic);
          assert.deepEqual(parseFileIndex(generic), index);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a safe path is one without empty, . or .. parts", () => {
    const byParts = (path: string) =>
      path.length > 0 && path.split("/").every((p) => p !== "" && p !== "." && p !== "..");
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("a", ".", "/"), maxLength: 9 }), (path) => {
        assert.equal(isSafeRelativePath(path), byParts(path), JSON.stringify(path));
      }),
      { numRuns: 3000 },
    );
    for (const path of ["a", "a/b", "...", "a/.b", ".a/b..", "a.../..b"])
      assert.equal(isSafeRelativePath(path), true, path);
    for (const path of ["", "/a", "a/", "a//b", ".", "..", "./a", "a/./b", "a/..", "../a", "a\0b"])
      assert.equal(isSafeRelativePath(path), false, path);
  });

  test("a path named __proto__ is an ordinary path", () => {
    const index: FileIndex = {
      ...parseFileIndex(EXAMPLE),
      files: new Map([["__proto__", { sha256: "0".repeat(64), mode: 0o644, size: 1 }]]),
    };
    assert.deepEqual([...parseFileIndex(formatFileIndex(index)).files.keys()], ["__proto__"]);
  });

  test("the store key is the hex of the sha512 in an SRI string", () => {
    const sri =
      "sha512-OVWVX8WUbLkx0LEif7rPjPwFjjSQTwdsmlCo8oQwnWStPFmx3dQ6mhnqLGcJnnnpCQbuEDIq/STd7/NWvrhKew==";
    assert.equal(
      integrityKey(`sha1-abcd ${sri}`),
      Buffer.from(sri.slice(7), "base64").toString("hex"),
    );
    assert.throws(() => integrityKey("sha1-abcd"), { code: "bad-integrity" });
    assert.throws(() => integrityKey(`${sri.slice(0, -3)}x==`), { code: "bad-integrity" });
  });
});
