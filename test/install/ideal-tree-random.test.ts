/**
 * The planner against real npm 11 on made-up registries: each case is a
 * registry of ten packages with four versions each, whose dependencies,
 * peers (some optional), optional dependencies and ranges are drawn from a
 * seeded generator, and a project with dependencies and devDependencies on
 * them. npm (with --force, so a peer conflict is a warning, as the plan
 * treats it) writes its lockfile; the plan must have the same locations,
 * versions and flags. Hundreds of seeds were compared while the planner was
 * written; these few stay as a regression check (1681786112 has a package
 * nothing reaches, which npm records as extraneous and nothing else).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { ResolvablePackage } from "../../src/client/resolve.ts";
import { planTree } from "../../src/install/ideal-tree.ts";
import { registryPackage } from "../helpers/corpus-packages.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { servePackuments } from "../helpers/packument-registry.ts";
import { lockView, planView } from "../helpers/plan-view.ts";

const NAMES = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
const VERSIONS = ["1.0.0", "1.1.0", "2.0.0", "3.0.0"];
const RANGES = ["^1.0.0", "^2.0.0", "*", ">=1", "^3.0.0", "1 || 2", "~1.0.0", "^1.1.0"];

/** A linear congruential generator: the same seed, the same registry. */
function generator(seed: number): { next(): number; pick<T>(list: readonly T[]): T } {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return { next, pick: (list) => list[Math.floor(next() * list.length)] };
}

function randomCase(seed: number) {
  const random = generator(seed);
  const packages: ResolvablePackage[] = NAMES.map((name, i) => {
    const versions: Record<string, Record<string, unknown>> = {};
    for (const version of VERSIONS) {
      const fields: Record<string, Record<string, string>> = {
        dependencies: {},
        peerDependencies: {},
        optionalDependencies: {},
      };
      // Only on later names, so the graph has no cycles through peers npm would refuse.
      for (const other of NAMES.slice(i + 1)) {
        const roll = random.next();
        const range = random.pick(RANGES);
        if (roll < 0.3) fields.dependencies[other] = range;
        else if (roll < 0.38) fields.peerDependencies[other] = range;
        else if (roll < 0.42) fields.optionalDependencies[other] = range;
      }
      const manifest: Record<string, unknown> = {};
      for (const [field, deps] of Object.entries(fields)) {
        if (Object.keys(deps).length > 0) manifest[field] = deps;
      }
      const optionalPeers = Object.keys(fields.peerDependencies).filter(() => random.next() < 0.4);
      if (optionalPeers.length > 0) {
        manifest.peerDependenciesMeta = Object.fromEntries(
          optionalPeers.map((n) => [n, { optional: true }]),
        );
      }
      versions[version] = manifest;
    }
    return registryPackage(name, versions);
  });
  const dependencies: Record<string, string> = {};
  const devDependencies: Record<string, string> = {};
  for (const name of NAMES) {
    const roll = random.next();
    const range = random.pick(["^1.0.0", "^2.0.0", "*", "^3.0.0"]);
    if (roll < 0.25) dependencies[name] = range;
    else if (roll < 0.4) devDependencies[name] = range;
  }
  return { packages, project: { name: "app", version: "1.0.0", dependencies, devDependencies } };
}

for (const seed of [7, 99, 4242, 581840384, 1681786112]) {
  test(`random registry ${seed}: the plan is what npm 11 writes`, async (t) => {
    const { packages, project } = randomCase(seed);
    const byName = new Map(packages.map((p) => [p.name, p]));
    const plan = await planTree(project, { get: (name) => byName.get(name) });
    const registry = await servePackuments(packages);
    const dir = await mkdtemp(join(tmpdir(), "cairn-random-"));
    t.after(async () => {
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    });
    const projectDir = join(dir, "project");
    await mkdir(projectDir);
    await writeFile(join(projectDir, "package.json"), JSON.stringify(project));
    const npmrc = await writeNpmrc(dir, registry.url);
    const args = ["install", "--package-lock-only", "--ignore-scripts", "--force"];
    const result = await runNpm(args, projectDir, npmrc, join(dir, "cache"));
    assert.equal(result.code, 0, result.stderr);
    const lock = JSON.parse(await readFile(join(projectDir, "package-lock.json"), "utf8"));
    assert.deepEqual(planView(plan), lockView(lock.packages));
  });
}
