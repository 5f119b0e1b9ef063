/**
 * cairn ci's check on small trees, for the rules the corpus does not reach
 * (lockfile-npm.test.ts compares the verdicts with the real npm ci).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InstallError } from "../../src/install/install-error.ts";
import { assertLockfileMatches, lockfileDisagreement } from "../../src/install/lock-sync.ts";
import { readLockfile } from "../../src/install/lockfile.ts";
import type { Project } from "../../src/install/project.ts";

const treeOf = (packages: Record<string, unknown>) =>
  readLockfile(JSON.stringify({ lockfileVersion: 3, packages })).tree;

const projectOf = (manifest: Record<string, unknown>, workspaces: Project["workspaces"] = []) => ({
  root: { location: "", name: "app", manifest },
  workspaces,
});

describe("cairn ci's check", () => {
  test("a workspace gets a dependency from its own node_modules, else from the project's", () => {
    const tree = treeOf({
      "node_modules/w": { resolved: "packages/w", link: true },
      "packages/w": { version: "1.0.0", dependencies: { a: "^1.0.0", b: "^2.0.0" } },
      "packages/w/node_modules/b": { version: "2.0.0" },
      "node_modules/a": { version: "1.2.0" },
      "node_modules/b": { version: "3.0.0" },
    });
    const w = {
      location: "packages/w",
      name: "w",
      manifest: { dependencies: { a: "^1.0.0", b: "^2.0.0" } },
    };
    assert.equal(
      lockfileDisagreement(projectOf({ workspaces: ["packages/*"] }, [w]), tree),
      undefined,
    );
    const moved = { ...w, location: "tools/w" };
    assert.match(lockfileDisagreement(projectOf({}, [moved]), tree) ?? "", /^Missing: workspace w/);
  });

  test("a dependency the parent bundles is not checked; acceptDependencies widens a range", () => {
    const tree = treeOf({
      "node_modules/p": {
        version: "1.0.0",
        dependencies: { q: "^9.0.0", r: "^1.0.0" },
        bundleDependencies: ["q"],
        acceptDependencies: { r: "^2.0.0" },
      },
      "node_modules/p/node_modules/q": { version: "1.0.0", inBundle: true },
      "node_modules/r": { version: "2.1.0" },
    });
    assert.equal(
      lockfileDisagreement(projectOf({ dependencies: { p: "^1.0.0" } }), tree),
      undefined,
    );
  });

  test("a peer installed below the package that wants it is a disagreement (npm's PEER LOCAL)", () => {
    const tree = treeOf({
      "node_modules/p": { version: "1.0.0", peerDependencies: { q: "^1.0.0" } },
      "node_modules/p/node_modules/q": { version: "1.0.0" },
    });
    assert.match(
      lockfileDisagreement(projectOf({ dependencies: { p: "1.0.0" } }), tree) ?? "",
      /peer/,
    );
  });

  test("a dist-tag holds while it names the locked version (npm ci re-resolves it)", () => {
    const tree = treeOf({
      "node_modules/a": { version: "1.0.0" },
      "node_modules/b": { name: "c", version: "2.0.0" },
    });
    const project = projectOf({ dependencies: { a: "latest", b: "npm:c@next" } });
    const tags: Record<string, string> = { "a latest": "1.0.0", "c next": "2.0.0" };
    assert.equal(
      lockfileDisagreement(project, tree, { distTag: (n, t) => tags[`${n} ${t}`] }),
      undefined,
    );
    tags["a latest"] = "1.1.0";
    assert.match(
      lockfileDisagreement(project, tree, { distTag: (n, t) => tags[`${n} ${t}`] }) ?? "",
      /^Invalid: .*a@1\.0\.0 does not satisfy a@latest/,
    );
    assert.equal(lockfileDisagreement(project, tree), undefined);
  });

  test("out-of-sync is a coded error naming the first disagreement; a git dependency is unsupported", () => {
    const tree = treeOf({ "node_modules/a": { version: "1.0.0" } });
    assert.throws(
      () => assertLockfileMatches(projectOf({ dependencies: { a: "^2.0.0" } }), tree),
      (err: unknown) =>
        err instanceof InstallError &&
        err.code === "out-of-sync" &&
        /a@\^2\.0\.0/.test(err.message),
    );
    assert.throws(
      () => assertLockfileMatches(projectOf({ dependencies: { a: "github:o/a" } }), tree),
      (err: unknown) => err instanceof InstallError && err.code === "unsupported-source",
    );
  });
});
