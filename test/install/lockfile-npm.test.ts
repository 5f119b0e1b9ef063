/**
 * Interop with the real npm: a lockfile Cairn writes (no `resolved`, a
 * `cairn` object per package) installs with `npm ci` from a local registry
 * serving the corpus, into the tree it describes; `npm install` afterwards
 * changes nothing but the `cairn` objects; and Cairn's `ci` check refuses
 * a changed package.json exactly where `npm ci` does.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { lockfileDisagreement } from "../../src/install/lock-sync.ts";
import { readLockfile, writeLockfile } from "../../src/install/lockfile.ts";
import { npmStringify } from "../../src/install/npm-json.ts";
import { readProject } from "../../src/install/project.ts";
import type { PlacedPackage, ProjectTree } from "../../src/install/tree.ts";
import { CORPUS_APP_LOCKFILE, CORPUS_APP_PACKAGE_JSON } from "../helpers/corpus.ts";
import { npmSandbox } from "../helpers/npm-sandbox.ts";
import type { UpstreamRegistry } from "../helpers/upstream-registry.ts";

type Json = Record<string, unknown>;
type Lock = { packages: Record<string, Json>; [k: string]: unknown };

const IN_SYNC = /can only install packages when your package\.json and package-lock\.json/;

/** npm's lockfile text without `resolved` on registry packages: what Cairn writes, bar its `cairn` objects. */
function withoutResolved(text: string): string {
  const lock = JSON.parse(text) as Lock;
  for (const entry of Object.values(lock.packages)) if (entry.link !== true) delete entry.resolved;
  return npmStringify(lock);
}

/** Cairn's lockfile for the tree npm locked: a `cairn` object on each package. */
function cairnLockfile(npmText: string): { tree: ProjectTree; text: string } {
  const { tree } = readLockfile(npmText);
  let i = 0;
  const packages = new Map<string, PlacedPackage>();
  for (const [location, p] of tree.packages)
    packages.set(location, { ...p, sha256: (++i).toString(16).padStart(64, "0"), logIndex: i });
  const withHashes = { ...tree, packages };
  return { tree: withHashes, text: writeLockfile(withHashes) };
}

/**
 * The platform bindings unrs-resolver lists as optional dependencies that
 * the corpus does not hold (only this machine's are in it): without them in
 * the registry, npm ci re-resolves them, fails, and calls the lockfile out
 * of sync, whoever wrote it.
 */
async function addMissingOptionals(upstream: UpstreamRegistry): Promise<void> {
  const lock = JSON.parse(await readFile(CORPUS_APP_LOCKFILE, "utf8")) as Lock;
  const held = new Set(
    Object.keys(lock.packages).map((l) => l.slice(l.lastIndexOf("node_modules/") + 13)),
  );
  for (const entry of Object.values(lock.packages))
    for (const [name, version] of Object.entries(
      (entry.optionalDependencies ?? {}) as Record<string, string>,
    ))
      if (!held.has(name)) await upstream.addPackage(name, [version]);
}

describe("the lockfile and the real npm", () => {
  const sandbox = npmSandbox();
  const npm = sandbox.npm;
  /** The lockfile npm wrote for the corpus app against the local registry. */
  let npmText: string;
  let lock: ReturnType<typeof cairnLockfile>;

  before(async () => {
    await addMissingOptionals(sandbox.upstream);
    const path = join(sandbox.dir, "npm-lock");
    await mkdir(path);
    await copyFile(CORPUS_APP_PACKAGE_JSON, join(path, "package.json"));
    const locked = await npm(path, ["install", "--package-lock-only", "--ignore-scripts"]);
    assert.equal(locked.code, 0, locked.stderr);
    npmText = await readFile(join(path, "package-lock.json"), "utf8");
    lock = cairnLockfile(npmText);
  });

  test("npm's own lockfile reads and writes back as npm wrote it, minus resolved", () => {
    assert.match(npmText, /"resolved": "http:/);
    assert.equal(writeLockfile(readLockfile(npmText).tree), withoutResolved(npmText));
  });

  async function app(name: string, pkg?: Json, lockText = lock.text): Promise<string> {
    const path = join(sandbox.dir, name);
    await mkdir(path);
    if (pkg) await writeFile(join(path, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
    else await copyFile(CORPUS_APP_PACKAGE_JSON, join(path, "package.json"));
    await writeFile(join(path, "package-lock.json"), lockText);
    return path;
  }

  test("npm ci installs what Cairn's lockfile holds (its hidden lockfile reads back), and npm install then changes only the cairn objects", async () => {
    const path = await app("ci");
    const ci = await npm(path, ["ci", "--ignore-scripts"]);
    assert.equal(ci.code, 0, ci.stderr);
    const hiddenText = await readFile(join(path, "node_modules", ".package-lock.json"), "utf8");
    const hidden = JSON.parse(hiddenText) as Lock;
    // npm's hidden lockfile (no project entry) reads and writes back too.
    assert.equal(
      writeLockfile(readLockfile(hiddenText).tree, { hidden: true }),
      withoutResolved(hiddenText),
    );
    const installed = Object.entries(hidden.packages).map(
      ([l, e]) => `${l} ${e.version} ${e.integrity}`,
    );
    const locked = [...lock.tree.packages.values()]
      .filter((p) => installed.some((line) => line.startsWith(`${p.location} `)) || !p.optional)
      .map((p) => `${p.location} ${p.version} ${p.integrity}`);
    assert.deepEqual(installed.sort(), locked.sort());
    // Platform-specific optional packages aside, everything was installed.
    assert.ok(installed.length > 400, `${installed.length} packages installed`);

    // Without this setting npm writes the registry's URL back as `resolved`.
    const install = await npm(
      path,
      ["install", "--ignore-scripts"],
      ["omit-lockfile-registry-resolved=true"],
    );
    assert.equal(install.code, 0, install.stderr);
    assert.equal(await readFile(join(path, "package-lock.json"), "utf8"), withoutResolved(npmText));
  });

  describe("cairn ci refuses a package.json changed after locking exactly where npm ci does", async () => {
    const corpus = JSON.parse(await readFile(CORPUS_APP_PACKAGE_JSON, "utf8")) as Json & {
      dependencies: Record<string, string>;
    };
    const deps = corpus.dependencies;
    const without = (name: string) =>
      Object.fromEntries(Object.entries(deps).filter(([n]) => n !== name));
    const editLock = (edit: (l: Lock) => void) => (text: string) => {
      const l = JSON.parse(text) as Lock;
      edit(l);
      return npmStringify(l);
    };
    const nestedSemver = (range: string) =>
      editLock((l) => {
        const core = l.packages["node_modules/@babel/core"] as {
          dependencies: Record<string, string>;
        };
        core.dependencies.semver = range;
      });
    const withDeps = (extra: Json) => ({ ...corpus, dependencies: { ...deps, ...extra } });
    const cases: {
      what: string;
      pkg: Json;
      /** What npm ci says, checked too, so that a case cannot pass by both refusing for another reason. */
      refused: boolean;
      lockEdit?: (text: string) => string;
      workspace?: boolean;
    }[] = [
      { what: "nothing changed", pkg: corpus, refused: false },
      {
        what: "a range the locked version no longer satisfies",
        pkg: withDeps({ semver: "^6.0.0" }),
        refused: true,
      },
      {
        what: "a range the locked version still satisfies",
        pkg: withDeps({ semver: "^7.0.0" }),
        refused: false,
      },
      {
        what: "a dependency removed",
        pkg: { ...corpus, dependencies: without("lodash") },
        refused: false,
      },
      {
        what: "a dependency added that the tree already holds",
        pkg: withDeps({ ms: "^2.1.0" }),
        refused: false,
      },
      {
        what: "a dependency moved to devDependencies",
        pkg: { ...corpus, dependencies: without("react"), devDependencies: { react: deps.react } },
        refused: false,
      },
      {
        what: "an alias the locked version satisfies",
        pkg: withDeps({ semver: "npm:semver@^7.1.0" }),
        refused: false,
      },
      { what: "a dist-tag", pkg: withDeps({ semver: "latest" }), refused: false },
      {
        what: "a peer dependency the locked version does not satisfy",
        pkg: { ...corpus, peerDependencies: { ms: "^1.0.0" } },
        refused: true,
      },
      {
        what: "an optional peer dependency the locked version does not satisfy",
        pkg: {
          ...corpus,
          peerDependencies: { ms: "^1.0.0" },
          peerDependenciesMeta: { ms: { optional: true } },
        },
        refused: false,
      },
      {
        what: "a package the lockfile lost",
        pkg: corpus,
        lockEdit: editLock((l) => delete l.packages["node_modules/ms"]),
        refused: true,
      },
      {
        // npm keeps the project's semver 7 for @babel/core and prunes its own 6.3.2.
        what: "a nested range its own copy fails but one farther up satisfies",
        pkg: corpus,
        lockEdit: nestedSemver("^7.0.0"),
        refused: false,
      },
      {
        what: "a nested range nothing on its path satisfies",
        pkg: corpus,
        lockEdit: nestedSemver("6.3.1"),
        refused: true,
      },
      {
        what: "a workspace added",
        pkg: { ...corpus, workspaces: ["packages/*"] },
        workspace: true,
        refused: true,
      },
    ];
    for (const [i, c] of cases.entries())
      test(c.what, async () => {
        const path = await app(`sync-${i}`, c.pkg, c.lockEdit ? c.lockEdit(lock.text) : lock.text);
        if (c.workspace) {
          await mkdir(join(path, "packages", "w"), { recursive: true });
          await writeFile(
            join(path, "packages", "w", "package.json"),
            '{"name": "w", "version": "1.0.0"}\n',
          );
        }
        const ci = await npm(path, ["ci", "--dry-run", "--ignore-scripts"]);
        const npmRefuses = IN_SYNC.test(ci.stderr);
        if (!npmRefuses) assert.equal(ci.code, 0, ci.stderr);
        const { tree } = readLockfile(await readFile(join(path, "package-lock.json"), "utf8"));
        const disagreement = lockfileDisagreement(await readProject(path), tree);
        assert.equal(npmRefuses, c.refused, ci.stderr);
        assert.equal(
          disagreement !== undefined,
          npmRefuses,
          `cairn: ${disagreement}\nnpm: ${ci.stderr}`,
        );
      });
  });
});
