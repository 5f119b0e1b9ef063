/**
 * Fuzzing the lockfile and package.json: a mutated lockfile is refused with
 * a coded InstallError or read into a tree whose every location lies inside
 * the project and which writes back stably; cairn ci's check and the
 * package.json edits refuse the same way or give sound results.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { InstallError } from "../../src/install/install-error.ts";
import { lockfileDisagreement } from "../../src/install/lock-sync.ts";
import { isSafeLocation, readLockfile, writeLockfile } from "../../src/install/lockfile.ts";
import { addDependency, removeDependency } from "../../src/install/package-json-edit.ts";
import { parseManifest } from "../../src/install/project.ts";
import { assertCoded, fuzzRuns, mutateText, mutations, timed } from "./fuzz.ts";

const SHA = "ab".repeat(32);
const LOCKFILE = `{
  "name": "mono",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "mono",
      "version": "1.0.0",
      "workspaces": ["packages/*"],
      "dependencies": { "@s/a": "^1.0.0", "b": "npm:c@^2.0.0" },
      "devDependencies": { "w": "*" }
    },
    "node_modules/@s/a": {
      "version": "1.2.0",
      "resolved": "https://registry.example/@s/a/-/a-1.2.0.tgz",
      "integrity": "sha512-AAAA",
      "dependencies": { "d": "~3.1.0" },
      "optionalDependencies": { "e": "1.0.0" },
      "cairn": { "sha256": "${SHA}", "index": 12 }
    },
    "node_modules/@s/a/node_modules/d": { "version": "3.1.4", "integrity": "sha1-AA==", "dev": true },
    "node_modules/b": { "name": "c", "version": "2.0.1", "peer": true, "os": ["linux"], "cpu": "x64" },
    "node_modules/e": { "version": "1.0.0", "optional": true, "bin": { "e": "bin/e.js" } },
    "node_modules/w": { "resolved": "packages/w", "link": true },
    "packages/w": { "version": "0.0.1", "license": "MIT", "peerDependencies": { "b": "2" } }
  }
}
`;

const PACKAGE_JSON = `{
  "name": "app",
  "dependencies": { "z": "^1.0.0", "a": "1.x" },
  "devDependencies": { "m": "*" },
  "peerDependencies": { "p": "2" },
  "peerDependenciesMeta": { "p": { "optional": true } }
}
`;

describe("fuzzing the lockfile", () => {
  test("the seed lockfile is read", () => {
    assert.equal(readLockfile(LOCKFILE).tree.packages.size, 6);
  });

  test("a mutated lockfile is refused with a code, or read into a safe tree that writes back stably", () => {
    fc.assert(
      fc.property(mutations, (ms) => {
        const text = mutateText(LOCKFILE, ms);
        let tree: ReturnType<typeof readLockfile>["tree"];
        try {
          tree = timed(() => readLockfile(text)).tree;
        } catch (err) {
          assertCoded(err, InstallError);
          return;
        }
        for (const p of tree.packages.values()) {
          assert.ok(isSafeLocation(p.location), p.location);
          if (p.link !== undefined) assert.ok(tree.packages.has(p.link), p.link);
        }
        const written = writeLockfile(tree);
        assert.equal(writeLockfile(readLockfile(written).tree), written);
        try {
          const verdict = timed(() =>
            lockfileDisagreement(
              {
                root: { location: "", name: "mono", manifest: tree.root.manifest },
                workspaces: [],
              },
              tree,
            ),
          );
          assert.ok(verdict === undefined || typeof verdict === "string");
        } catch (err) {
          assertCoded(err, InstallError);
        }
      }),
      fuzzRuns(400),
    );
  });

  test("a mutated package.json is refused with a code, or edited into one that keeps the edit", () => {
    fc.assert(
      fc.property(mutations, fc.constantFrom("a", "q", "@s/n"), (ms, name) => {
        const text = mutateText(PACKAGE_JSON, ms);
        try {
          const added = timed(() => addDependency(text, name, "^1.2.3"));
          const deps = parseManifest(added).dependencies as Record<string, string>;
          assert.equal(deps[name], "^1.2.3");
          const removed = parseManifest(removeDependency(added, name));
          for (const field of ["dependencies", "devDependencies", "optionalDependencies"])
            assert.ok(!Object.hasOwn((removed[field] ?? {}) as object, name));
        } catch (err) {
          assertCoded(err, InstallError);
        }
      }),
      fuzzRuns(400),
    );
  });
});
