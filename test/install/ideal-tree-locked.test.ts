/**
 * Planning from a lockfile that package.json has moved away from: the
 * locked versions that still fit stay, only what is missing or unsatisfied
 * is resolved afresh, and what nothing needs any more goes. Real npm is the
 * judge: it writes the first lockfile, then plans the second from it
 * against a registry that has newer versions by then.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { ResolvablePackage } from "../../src/client/resolve.ts";
import { planTree } from "../../src/install/ideal-tree.ts";
import { readLockfile } from "../../src/install/lockfile.ts";
import { registryPackage as p } from "../helpers/corpus-packages.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { servePackuments } from "../helpers/packument-registry.ts";
import { lockView, planView } from "../helpers/plan-view.ts";

type Manifest = Record<string, unknown>;

interface Scenario {
  readonly title: string;
  /** The registry and project when the lockfile was written. */
  readonly before: { packages: ResolvablePackage[]; dependencies: Manifest };
  /** The registry and project now. */
  readonly after: { packages: ResolvablePackage[]; dependencies: Manifest };
  /** What npm 11 plans now, from the lockfile (plan-view.ts). */
  readonly expected: Record<string, string>;
}

const SCENARIOS: Scenario[] = [
  {
    title: "a new dependency leaves the locked versions alone, newer ones notwithstanding",
    before: {
      packages: [p("a", { "1.0.0": { dependencies: { b: "^1.0.0" } } }), p("b", { "1.0.0": {} })],
      dependencies: { a: "^1.0.0" },
    },
    after: {
      packages: [
        p("a", {
          "1.0.0": { dependencies: { b: "^1.0.0" } },
          "1.1.0": { dependencies: { b: "^1.0.0" } },
        }),
        p("b", { "1.0.0": {}, "1.1.0": {} }),
        p("c", { "1.0.0": { dependencies: { b: "^1.0.0" } } }),
      ],
      dependencies: { a: "^1.0.0", c: "^1.0.0" },
    },
    expected: {
      "node_modules/a": "a@1.0.0",
      "node_modules/b": "b@1.0.0",
      "node_modules/c": "c@1.0.0",
    },
  },
  {
    title: "a range the locked version no longer meets is resolved again; what only it needed goes",
    before: {
      packages: [
        p("a", { "1.0.0": { dependencies: { b: "^1.0.0" } } }),
        p("b", { "1.0.0": {} }),
        p("d", { "1.0.0": {} }),
      ],
      dependencies: { a: "^1.0.0", d: "^1.0.0" },
    },
    after: {
      packages: [
        p("a", { "1.0.0": { dependencies: { b: "^1.0.0" } }, "2.0.0": {} }),
        p("b", { "1.0.0": {}, "1.1.0": {} }),
        p("d", { "1.0.0": {}, "1.1.0": {} }),
      ],
      dependencies: { a: "^2.0.0", d: "^1.0.0" },
    },
    expected: { "node_modules/a": "a@2.0.0", "node_modules/d": "d@1.0.0" },
  },
  {
    title: "a new dependency on another major of a locked package gets it nested",
    before: {
      packages: [p("a", { "1.0.0": { dependencies: { b: "^1.0.0" } } }), p("b", { "1.0.0": {} })],
      dependencies: { a: "^1.0.0" },
    },
    after: {
      packages: [
        p("a", { "1.0.0": { dependencies: { b: "^1.0.0" } } }),
        p("b", { "1.0.0": {}, "1.1.0": {}, "2.0.0": {} }),
        p("e", { "1.0.0": { dependencies: { b: "^2.0.0" } } }),
      ],
      dependencies: { a: "^1.0.0", e: "^1.0.0" },
    },
    expected: {
      "node_modules/a": "a@1.0.0",
      "node_modules/b": "b@1.0.0",
      "node_modules/e": "e@1.0.0",
      "node_modules/e/node_modules/b": "b@2.0.0",
    },
  },
  {
    title: "a dependency moved to devDependencies keeps its version and takes the dev flag",
    before: {
      packages: [p("a", { "1.0.0": { dependencies: { b: "^1.0.0" } } }), p("b", { "1.0.0": {} })],
      dependencies: { a: "^1.0.0" },
    },
    after: {
      packages: [
        p("a", {
          "1.0.0": { dependencies: { b: "^1.0.0" } },
          "1.5.0": { dependencies: { b: "^1.0.0" } },
        }),
        p("b", { "1.0.0": {}, "1.2.0": {} }),
        p("f", { "1.0.0": {} }),
      ],
      dependencies: { f: "^1.0.0", devDependencies: { a: "^1.0.0" } },
    },
    expected: {
      "node_modules/a": "a@1.0.0 dev",
      "node_modules/b": "b@1.0.0 dev",
      "node_modules/f": "f@1.0.0",
    },
  },
];

function projectOf(dependencies: Manifest): Manifest {
  const { devDependencies, ...prod } = dependencies;
  return {
    name: "app",
    version: "1.0.0",
    dependencies: prod,
    ...(devDependencies ? { devDependencies } : {}),
  };
}

for (const scenario of SCENARIOS) {
  test(scenario.title, async (t) => {
    const registry = await servePackuments(scenario.before.packages);
    const dir = await mkdtemp(join(tmpdir(), "cairn-locked-plan-"));
    t.after(async () => {
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    });
    const project = join(dir, "project");
    await mkdir(project);
    const npmrc = await writeNpmrc(dir, registry.url);
    const lockOnly = async (dependencies: Manifest, cache: string) => {
      await writeFile(join(project, "package.json"), JSON.stringify(projectOf(dependencies)));
      const args = ["install", "--package-lock-only", "--ignore-scripts"];
      const result = await runNpm(args, project, npmrc, join(dir, cache));
      assert.equal(result.code, 0, result.stderr);
      return readFile(join(project, "package-lock.json"), "utf8");
    };
    const first = await lockOnly(scenario.before.dependencies, "cache-before");
    registry.setPackages(scenario.after.packages);
    const byName = new Map(scenario.after.packages.map((pkg) => [pkg.name, pkg]));
    const planned = await planTree(
      projectOf(scenario.after.dependencies),
      { get: (name) => byName.get(name) },
      { lockedTree: readLockfile(first).tree },
    );
    assert.deepEqual(planView(planned), scenario.expected);
    assert.deepEqual(planned.problems, []);
    const second = await lockOnly(scenario.after.dependencies, "cache-after");
    assert.deepEqual(lockView(JSON.parse(second).packages), scenario.expected, "npm agrees");
  });
}

test("without the lockfile, the same project plans the newest versions", async () => {
  const scenario = SCENARIOS[0];
  const byName = new Map(scenario.after.packages.map((pkg) => [pkg.name, pkg]));
  const planned = await planTree(projectOf(scenario.after.dependencies), {
    get: (name) => byName.get(name),
  });
  assert.deepEqual(planView(planned), {
    "node_modules/a": "a@1.1.0",
    "node_modules/b": "b@1.1.0",
    "node_modules/c": "c@1.0.0",
  });
});
