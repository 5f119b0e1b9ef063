import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { type PackageSource, type PlannedTree, planTree } from "../../src/install/ideal-tree.ts";
import { CORPUS_APP_LOCKFILE, CORPUS_APP_PACKAGE_JSON } from "../helpers/corpus.ts";
import { corpusPackages } from "../helpers/corpus-packages.ts";
import { type LockEntry, lockView, planView } from "../helpers/plan-view.ts";
import { fixturePath } from "../helpers/shared.ts";

const LINUX = { os: "linux", cpu: "x64", libc: "glibc" };

async function memorySource(): Promise<PackageSource> {
  const packages = await corpusPackages();
  return { get: (name) => packages.get(name) };
}

async function plan(packageJson: string): Promise<PlannedTree> {
  const project = JSON.parse(readFileSync(packageJson, "utf8"));
  const source = await memorySource();
  const started = performance.now();
  const planned = await planTree(project, source, { platform: LINUX });
  const ms = performance.now() - started;
  console.log(`${packageJson}: planned ${planned.packages.size} packages in ${ms.toFixed(1)} ms`);
  assert.deepEqual(
    planned.problems.filter((p) => !p.optional),
    [],
  );
  return planned;
}

function lockOf(file: string): Record<string, LockEntry> {
  return JSON.parse(readFileSync(file, "utf8")).packages;
}

for (const [label, packageJson, lockfile] of [
  // npm 11 against the corpus served by test/helpers/upstream-registry.ts (see the corpus README).
  [
    "the corpus app",
    CORPUS_APP_PACKAGE_JSON,
    fixturePath("corpus", "app-package-lock.corpus-registry.json"),
  ],
  [
    "the second app",
    fixturePath("corpus", "second-app-package.json"),
    fixturePath("corpus", "second-app-package-lock.json"),
  ],
]) {
  test(`${label}: the plan is the packages section npm wrote from the corpus`, async () => {
    assert.deepEqual(planView(await plan(packageJson)), lockView(lockOf(lockfile)));
  });
}

test("the corpus app: against the lockfile npm wrote from the public registry, only the ansi packages differ", async () => {
  // That lockfile was written against the public npm registry, where these packages have versions
  // the corpus lacks; the placements npm chose there put ansi-regex 6, ansi-styles 6 and strip-ansi 7
  // at the top. From the corpus alone, npm 11 itself puts the older majors there (the test above).
  const view = planView(await plan(CORPUS_APP_PACKAGE_JSON));
  const npm = lockView(lockOf(CORPUS_APP_LOCKFILE));
  const differs = [...new Set([...Object.keys(view), ...Object.keys(npm)])].filter(
    (location) => view[location] !== npm[location],
  );
  const ansi = /(^|\/)node_modules\/(ansi-regex|ansi-styles|strip-ansi)$/;
  assert.deepEqual(
    differs.filter((location) => !ansi.test(location)),
    [],
  );
  assert.equal(differs.length, 23);
});
