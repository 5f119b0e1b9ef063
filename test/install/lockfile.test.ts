/**
 * Cairn's lockfile is npm's package-lock.json v3: npm's own lockfile of the
 * corpus app reads and writes back to the same text (minus `resolved`),
 * Cairn's `cairn` objects ride along where npm ignores them, and hostile
 * lockfiles are refused with a code.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { InstallError, type InstallErrorCode } from "../../src/install/install-error.ts";
import {
  isSafeLocation,
  MAX_LOCKFILE_BYTES,
  readLockfile,
  writeLockfile,
} from "../../src/install/lockfile.ts";
import { npmStringify } from "../../src/install/npm-json.ts";
import type { PlacedPackage } from "../../src/install/tree.ts";
import { CORPUS_APP_LOCKFILE } from "../helpers/corpus.ts";

type Lock = { packages: Record<string, Record<string, unknown>>; [k: string]: unknown };

/**
 * The fixture as npm wrote it: its top-level `"private": true` was added by
 * hand after the packages (npm writes no such field, and never after an
 * object), so it is taken out; npm and Cairn both ignore it.
 */
async function npmWritten(): Promise<string> {
  const { private: _, ...lock } = JSON.parse(await readFile(CORPUS_APP_LOCKFILE, "utf8")) as Lock;
  return `${JSON.stringify(lock, null, 2)}\n`;
}

function refusal(code: InstallErrorCode) {
  return (err: unknown) => err instanceof InstallError && err.code === code;
}

const sha256Of = (i: number) => i.toString(16).padStart(64, "0");

describe("the lockfile", () => {
  test("npm's key order: scalars before objects, swKeyOrder first, then by locale", () => {
    const data = { packages: {}, zeta: 1, version: "1.0.0", a: [2], B: true, b: false };
    assert.equal(
      npmStringify(data),
      '{\n  "version": "1.0.0",\n  "a": [\n    2\n  ],\n  "b": false,\n  "B": true,\n  "zeta": 1,\n  "packages": {}\n}\n',
    );
  });

  test("npm's lockfile of the corpus app reads and writes back byte for byte", async () => {
    const text = await npmWritten();
    const { tree, lockfileVersion } = readLockfile(text);
    assert.equal(lockfileVersion, 3);
    assert.equal(tree.packages.size, Object.keys(JSON.parse(text).packages).length - 1);
    assert.equal(writeLockfile(tree), text);
  });

  test("resolved URLs are read and dropped: the text written is npm's minus them", async () => {
    const text = await npmWritten();
    const lock = JSON.parse(text) as Lock;
    for (const [location, entry] of Object.entries(lock.packages)) {
      if (location === "") continue;
      const name = location.slice(location.lastIndexOf("node_modules/") + 13);
      entry.resolved = `https://registry.example/${name}/-/${name.split("/").pop()}-${entry.version}.tgz`;
    }
    const withResolved = npmStringify(lock);
    assert.notEqual(withResolved, text);
    assert.match(withResolved, /"version": "7.29.7",\n {6}"resolved": "https:/);
    assert.equal(writeLockfile(readLockfile(withResolved).tree), text);
  });

  test("cairn objects are written, read back, and are all that differs from npm's text", async () => {
    const text = await npmWritten();
    const { tree } = readLockfile(text);
    let i = 0;
    const packages = new Map<string, PlacedPackage>();
    for (const [location, p] of tree.packages)
      packages.set(location, { ...p, sha256: sha256Of(++i), logIndex: 1000 + i });
    const written = writeLockfile({ ...tree, packages });
    // npm's order puts `dependencies` (a preferred key) first among objects, then the rest by name.
    assert.ok(
      written.includes(
        `"picocolors": "^1.1.1"\n      },\n      "cairn": {\n        "index": 1001,\n        "sha256": "${sha256Of(1)}"\n      },\n      "engines"`,
      ),
    );
    const again = readLockfile(written).tree;
    assert.deepEqual([...again.packages.values()], [...packages.values()]);
    const lock = JSON.parse(written) as Lock;
    for (const entry of Object.values(lock.packages)) delete entry.cairn;
    assert.equal(npmStringify(lock), text);
  });

  test("a v2 lockfile is read (its legacy dependencies ignored) and written as v3", async () => {
    const text = await npmWritten();
    const lock = JSON.parse(text) as Lock;
    const v2 = npmStringify({
      ...lock,
      lockfileVersion: 2,
      dependencies: { ms: { version: "2.1.3" } },
    });
    const { tree, lockfileVersion } = readLockfile(v2);
    assert.equal(lockfileVersion, 2);
    assert.equal(writeLockfile(tree), text);
  });

  test("workspaces: links and folders keep npm's form", () => {
    const lock = {
      name: "mono",
      lockfileVersion: 3,
      requires: true,
      packages: {
        "": { name: "mono", workspaces: ["packages/*"], devDependencies: { a: "^1.0.0" } },
        "node_modules/@s/b": { resolved: "packages/b", link: true },
        "node_modules/a": { resolved: "packages/a", link: true },
        "packages/a": { version: "1.0.0", devDependencies: { ms: "^2.0.0" } },
        "packages/b": { name: "@s/b", version: "0.1.0" },
      },
    };
    const text = npmStringify(lock);
    const { tree } = readLockfile(text);
    assert.equal(tree.packages.get("node_modules/a")?.link, "packages/a");
    assert.equal(tree.packages.get("packages/b")?.name, "@s/b");
    assert.equal(tree.packages.get("packages/a")?.name, "a");
    assert.equal(writeLockfile(tree), text);
  });

  test("locations: inside the project and in node_modules form only", () => {
    for (const ok of [
      "node_modules/a",
      "node_modules/@s/a/node_modules/b",
      "packages/x",
      "packages/x/node_modules/y",
    ])
      assert.ok(isSafeLocation(ok), ok);
    for (const bad of [
      "../x",
      "/etc",
      "node_modules/../../x",
      "node_modules/a/../../..",
      "node_modules/.bin",
      "node_modules/@s",
      "node_modules/a/node_modules",
      "node_modules/a/b",
      "node_modules/a\\..\\..\\x",
      "node_modules//a",
      "node_modules/a\u0000",
      "./node_modules/a",
      "",
    ])
      assert.ok(!isSafeLocation(bad), JSON.stringify(bad));
  });

  describe("refuses hostile lockfiles", () => {
    const lockWith = (packages: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ lockfileVersion: 3, packages, ...extra });
    const cases: [string, string, InstallErrorCode][] = [
      ["not JSON", "{", "not-json"],
      ["an array", "[]", "not-json"],
      ["npm 6's v1", JSON.stringify({ lockfileVersion: 1, dependencies: {} }), "lockfile-version"],
      ["a future version", lockWith({}, { lockfileVersion: 4 }), "lockfile-version"],
      ["no version", JSON.stringify({ packages: {} }), "lockfile-version"],
      ["no packages", JSON.stringify({ lockfileVersion: 3 }), "bad-field"],
      [
        "a path out of the project",
        lockWith({ "node_modules/../../etc": { version: "1.0.0" } }),
        "unsafe-path",
      ],
      ["an absolute path", lockWith({ "/tmp/x": { version: "1.0.0" } }), "unsafe-path"],
      [
        "a link out of the project",
        lockWith({ "node_modules/a": { link: true, resolved: "../elsewhere" } }),
        "unsafe-path",
      ],
      [
        "a link to nothing",
        lockWith({ "node_modules/a": { link: true, resolved: "packages/a" } }),
        "bad-field",
      ],
      [
        "a version that is not semver",
        lockWith({ "node_modules/a": { version: "latest" } }),
        "bad-field",
      ],
      [
        "a bad integrity",
        lockWith({ "node_modules/a": { version: "1.0.0", integrity: "md5-x" } }),
        "bad-field",
      ],
      [
        "dependencies not a map",
        lockWith({ "node_modules/a": { version: "1.0.0", dependencies: ["b"] } }),
        "bad-field",
      ],
      [
        "a non-string range",
        lockWith({ "node_modules/a": { version: "1.0.0", dependencies: { b: 1 } } }),
        "bad-field",
      ],
      [
        "a flag not boolean",
        lockWith({ "node_modules/a": { version: "1.0.0", dev: "yes" } }),
        "bad-field",
      ],
      ["an entry not an object", lockWith({ "node_modules/a": "1.0.0" }), "bad-field"],
      [
        "a bad cairn hash",
        lockWith({ "node_modules/a": { version: "1.0.0", cairn: { sha256: "zz", index: 1 } } }),
        "bad-field",
      ],
      [
        "a bad cairn index",
        lockWith({
          "node_modules/a": { version: "1.0.0", cairn: { sha256: sha256Of(1), index: -1 } },
        }),
        "bad-field",
      ],
      [
        "a git source",
        lockWith({
          "node_modules/a": { version: "1.0.0", resolved: "git+ssh://git@host/a.git#abc" },
        }),
        "unsupported-source",
      ],
      [
        "a local tarball",
        lockWith({ "node_modules/a": { version: "1.0.0", resolved: "file:../a-1.0.0.tgz" } }),
        "unsupported-source",
      ],
      ["too large", " ".repeat(MAX_LOCKFILE_BYTES + 1), "too-large"],
    ];
    for (const [what, text, code] of cases)
      test(what, () => assert.throws(() => readLockfile(text), refusal(code)));
  });
});
