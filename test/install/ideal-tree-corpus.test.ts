import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { binLinks } from "../../src/install/bin-links.ts";
import { type PackageSource, type PlannedTree, planTree } from "../../src/install/ideal-tree.ts";
import { isolatedLayout } from "../../src/install/isolated.ts";
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

test("the corpus app: bins as npm links them, jest's own winning the `jest` command over jest-cli's", async () => {
  const planned = await plan(CORPUS_APP_PACKAGE_JSON);
  const links = binLinks(planned, planned.skipped);
  const top = Object.fromEntries(
    links.filter((l) => l.dir === "node_modules/.bin").map((l) => [l.name, l.link]),
  );
  assert.equal(top.jest, "../jest/bin/jest.js");
  assert.equal(top.tsc, "../typescript/bin/tsc");
  assert.equal(top.semver, "../semver/bin/semver.js");
  const nested = links.find((l) => l.dir === "node_modules/@babel/core/node_modules/.bin");
  assert.deepEqual(nested && [nested.name, nested.link], ["semver", "../semver/bin/semver.js"]);
});

test("the corpus app: the isolated layout gives every installed package its dependencies", async () => {
  const planned = await plan(CORPUS_APP_PACKAGE_JSON);
  const layout = isolatedLayout(planned, planned.skipped);
  const installed = [...planned.packages.keys()].filter((l) => !planned.skipped.has(l));
  assert.deepEqual([...layout.folders.keys()].sort(), installed.sort());
  const linked = new Set(layout.links.map((l) => l.path));
  const jest = layout.folders.get("node_modules/jest") as string;
  const jestCore = layout.folders.get("node_modules/@jest/core") as string;
  assert.ok(linked.has(`${jest.slice(0, jest.lastIndexOf("/jest"))}/@jest/core`));
  assert.ok(layout.links.some((l) => l.target === jestCore));
  // One folder per version: 433 tarballs minus the other platforms' 14 optional packages.
  assert.equal(new Set(layout.folders.values()).size, 433 - 14);
});

test("speed: the corpus app plans in tens of milliseconds from memory", async () => {
  const project = JSON.parse(readFileSync(CORPUS_APP_PACKAGE_JSON, "utf8"));
  const source = await memorySource();
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    await planTree(project, source, { platform: LINUX });
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(`corpus app plan: median ${times[5].toFixed(1)} ms, best ${times[0].toFixed(1)} ms`);
});
