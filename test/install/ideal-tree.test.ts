import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { ResolvablePackage } from "../../src/client/resolve.ts";
import {
  type PlannedTree,
  type PlanOptions,
  planTree,
  type WorkspaceInput,
} from "../../src/install/ideal-tree.ts";
import { readProject } from "../../src/install/project.ts";
import { registryPackage } from "../helpers/corpus-packages.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { servePackuments } from "../helpers/packument-registry.ts";
import { lockView, planView } from "../helpers/plan-view.ts";

type Manifest = Record<string, unknown>;

const LINUX = { os: "linux", cpu: "x64", libc: "glibc" };

interface Scenario {
  readonly title: string;
  readonly packages: readonly ResolvablePackage[];
  readonly project: Manifest;
  /** Workspace folder -> its package.json. */
  readonly workspaces?: Readonly<Record<string, Manifest>>;
  /** The plan's view (see plan-view.ts), which is also what npm 11 writes. */
  readonly expected: Record<string, string>;
  /** Problems the plan reports: code name from. */
  readonly problems?: readonly string[];
  /** Planned but not installed on Linux x64 glibc: location -> why. */
  readonly skipped?: Readonly<Record<string, string>>;
  /** What npm's lockfile adds after unpacking tarballs: bundled packages, which the plan leaves to the tarball. */
  readonly npmAdds?: Readonly<Record<string, string>>;
}

const p = registryPackage;
const versions = (...list: string[]) => Object.fromEntries(list.map((v) => [v, {}]));

const SCENARIOS: Scenario[] = [
  {
    title: "a conflicting version is nested under its dependent; a sibling gets its own copy",
    packages: [
      p("a", { "1.0.0": { dependencies: { b: "^1.0.0" } } }),
      p("c", { "1.0.0": { dependencies: { b: "^1.0.0" } } }),
      p("b", versions("1.0.0", "1.1.0", "2.0.0")),
    ],
    project: { name: "app", version: "1.0.0", dependencies: { a: "^1", b: "^2", c: "^1" } },
    expected: {
      "node_modules/a": "a@1.0.0",
      "node_modules/a/node_modules/b": "b@1.1.0",
      "node_modules/b": "b@2.0.0",
      "node_modules/c": "c@1.0.0",
      "node_modules/c/node_modules/b": "b@1.1.0",
    },
  },
  {
    title:
      "a version already placed is reused where Node finds it, and hoisted when nothing is there",
    packages: [
      p("a", { "1.0.0": { dependencies: { d: "^1.0.0" } } }),
      p("d", { "1.0.0": { dependencies: { e: "*" } }, "1.5.0": { dependencies: { e: "*" } } }),
      p("e", versions("3.0.0")),
      p("z", { "1.0.0": { dependencies: { d: "~1.0.0" } } }),
    ],
    project: { name: "app", version: "1.0.0", dependencies: { a: "1", z: "1" } },
    expected: {
      "node_modules/a": "a@1.0.0",
      "node_modules/d": "d@1.5.0",
      "node_modules/e": "e@3.0.0",
      "node_modules/z": "z@1.0.0",
      "node_modules/z/node_modules/d": "d@1.0.0",
    },
  },
  {
    title: "peers are placed beside their dependent and flagged peer",
    packages: [
      p("plugin", { "1.0.0": { peerDependencies: { host: "^2.0.0" } } }),
      p("host", { "1.0.0": {}, "2.0.0": { dependencies: { util: "^1.0.0" } } }),
      p("util", versions("1.0.0")),
      p("w", { "1.0.0": { dependencies: { plugin: "^1.0.0" } } }),
    ],
    project: { name: "app", version: "1.0.0", dependencies: { plugin: "^1.0.0" } },
    expected: {
      "node_modules/host": "host@2.0.0 peer",
      "node_modules/plugin": "plugin@1.0.0",
      "node_modules/util": "util@1.0.0 peer",
    },
  },
  {
    title: "a peer that conflicts at the top goes down with its dependent's peer set",
    packages: [
      p("plugin", { "1.0.0": { peerDependencies: { host: "^2.0.0" } } }),
      p("host", versions("1.0.0", "2.0.0")),
      p("w", { "1.0.0": { dependencies: { plugin: "^1.0.0" } } }),
    ],
    project: { name: "app", version: "1.0.0", dependencies: { host: "^1.0.0", w: "^1.0.0" } },
    expected: {
      "node_modules/host": "host@1.0.0",
      "node_modules/w": "w@1.0.0",
      "node_modules/w/node_modules/host": "host@2.0.0 peer",
      "node_modules/w/node_modules/plugin": "plugin@1.0.0",
    },
  },
  {
    title:
      "optional packages of every platform are planned; one that fails to load is left out, and what needs it is not installed",
    packages: [
      p("native", {
        "1.0.0": {
          optionalDependencies: { "native-linux": "1.0.0", "native-win": "1.0.0" },
        },
      }),
      p("native-linux", { "1.0.0": { os: ["linux"], cpu: ["x64"] } }),
      p("native-win", { "1.0.0": { os: ["win32"], dependencies: { "win-only": "^1.0.0" } } }),
      p("win-only", versions("1.0.0")),
      p("fragile", { "1.0.0": { dependencies: { ghost: "^9.0.0", helper: "^1.0.0" } } }),
      p("ghost", versions("1.0.0")),
      p("helper", versions("1.0.0")),
    ],
    project: {
      name: "app",
      version: "1.0.0",
      dependencies: { native: "^1.0.0" },
      optionalDependencies: { fragile: "^1.0.0" },
    },
    expected: {
      "node_modules/fragile": "fragile@1.0.0 optional",
      "node_modules/helper": "helper@1.0.0 optional",
      "node_modules/native": "native@1.0.0",
      "node_modules/native-linux": "native-linux@1.0.0 optional",
      "node_modules/native-win": "native-win@1.0.0 optional",
      "node_modules/win-only": "win-only@1.0.0 optional",
    },
    problems: ["ETARGET ghost node_modules/fragile"],
    skipped: {
      "node_modules/fragile": "failed",
      "node_modules/helper": "failed",
      "node_modules/native-win": "platform",
      "node_modules/win-only": "platform",
    },
  },
  {
    title: "dev, optional, devOptional and peer flags as npm records them",
    packages: [
      p("prod", { "1.0.0": { dependencies: { shared: "^1.0.0" } } }),
      p("devonly", { "1.0.0": { dependencies: { shared: "^1.0.0", deep: "^1.0.0" } } }),
      p("opt", { "1.0.0": { dependencies: { both: "^1.0.0" } } }),
      p("shared", versions("1.0.0")),
      p("deep", versions("1.0.0")),
      p("both", versions("1.0.0")),
    ],
    project: {
      name: "app",
      version: "1.0.0",
      dependencies: { prod: "^1.0.0" },
      devDependencies: { devonly: "^1.0.0", both: "^1.0.0" },
      optionalDependencies: { opt: "^1.0.0" },
    },
    expected: {
      "node_modules/both": "both@1.0.0 devOptional",
      "node_modules/deep": "deep@1.0.0 dev",
      "node_modules/devonly": "devonly@1.0.0 dev",
      "node_modules/opt": "opt@1.0.0 optional",
      "node_modules/prod": "prod@1.0.0",
      "node_modules/shared": "shared@1.0.0",
    },
  },
  {
    title: "bundled dependencies are not planned: they come inside their parent's tarball",
    packages: [
      p("bundler", {
        "1.0.0": {
          dependencies: { inner: "^1.0.0", outer: "^1.0.0" },
          bundleDependencies: ["inner"],
        },
      }),
      p("inner", versions("1.0.0")),
      p("outer", versions("1.0.0")),
    ],
    project: { name: "app", version: "1.0.0", dependencies: { bundler: "^1.0.0" } },
    expected: {
      "node_modules/bundler": "bundler@1.0.0",
      "node_modules/outer": "outer@1.0.0",
    },
    npmAdds: { "node_modules/bundler/node_modules/inner": "inner@1.0.0" },
  },
  {
    title: "an npm: alias sits under its own name and names its package",
    packages: [
      p("b", versions("1.0.0", "2.0.0")),
      p("@s/c", { "1.0.0": { dependencies: { "b-one": "npm:b@^1.0.0" } } }),
    ],
    project: {
      name: "app",
      version: "1.0.0",
      dependencies: { "my-b": "npm:b@^1.0.0", b: "^2.0.0", "@s/c": "1" },
    },
    expected: {
      "node_modules/@s/c": "@s/c@1.0.0",
      "node_modules/b": "b@2.0.0",
      "node_modules/b-one": "b@1.0.0",
      "node_modules/my-b": "b@1.0.0",
    },
  },
  {
    title: "workspaces are links to their folders; their dependencies are hoisted to the root",
    packages: [p("lib", versions("1.0.0", "2.0.0")), p("tool", versions("1.0.0"))],
    project: {
      name: "mono",
      version: "1.0.0",
      workspaces: ["packages/*"],
      devDependencies: { tool: "^1.0.0" },
    },
    workspaces: {
      "packages/a": { name: "a", version: "1.0.0", dependencies: { lib: "^1.0.0", b: "^1.0.0" } },
      "packages/b": {
        name: "b",
        version: "1.0.0",
        dependencies: { lib: "^2.0.0" },
        devDependencies: { tool: "^1.0.0" },
      },
    },
    expected: {
      "node_modules/a": "link packages/a",
      "node_modules/b": "link packages/b",
      "node_modules/lib": "lib@1.0.0",
      "node_modules/tool": "tool@1.0.0 dev",
      "packages/a": "a@1.0.0",
      "packages/b": "b@1.0.0",
      "packages/b/node_modules/lib": "lib@2.0.0",
    },
  },
];

async function plan(scenario: Scenario, options: PlanOptions = {}): Promise<PlannedTree> {
  const byName = new Map(scenario.packages.map((pkg) => [pkg.name, pkg]));
  const workspaces: WorkspaceInput[] = Object.entries(scenario.workspaces ?? {}).map(
    ([folder, manifest]) => ({ folder, manifest }),
  );
  return planTree(
    scenario.project,
    { get: (name) => byName.get(name) },
    { platform: LINUX, workspaces, ...options },
  );
}

describe("planning a tree", () => {
  for (const scenario of SCENARIOS) {
    test(scenario.title, async () => {
      const planned = await plan(scenario);
      assert.deepEqual(planView(planned), scenario.expected);
      assert.deepEqual(
        planned.problems.map((x) => `${x.code} ${x.name} ${x.from}`),
        scenario.problems ?? [],
      );
      assert.deepEqual(Object.fromEntries(planned.skipped), scenario.skipped ?? {});
    });
  }
});

describe("npm 11 writes the same packages for every scenario", () => {
  for (const scenario of SCENARIOS) {
    test(scenario.title, async (t) => {
      const registry = await servePackuments(scenario.packages);
      const dir = await mkdtemp(join(tmpdir(), "cairn-plan-"));
      t.after(async () => {
        await registry.close();
        await rm(dir, { recursive: true, force: true });
      });
      const project = join(dir, "project");
      await mkdir(project);
      await writeFile(join(project, "package.json"), JSON.stringify(scenario.project));
      for (const [folder, manifest] of Object.entries(scenario.workspaces ?? {})) {
        await mkdir(join(project, folder), { recursive: true });
        await writeFile(join(project, folder, "package.json"), JSON.stringify(manifest));
      }
      const npmrc = await writeNpmrc(dir, registry.url);
      const args = ["install", "--package-lock-only", "--ignore-scripts"];
      const result = await runNpm(args, project, npmrc, join(dir, "cache"));
      assert.equal(result.code, 0, result.stderr);
      const lock = JSON.parse(await readFile(join(project, "package-lock.json"), "utf8"));
      assert.deepEqual(lockView(lock.packages), { ...scenario.expected, ...scenario.npmAdds });
      if (scenario.workspaces) {
        const { workspaces } = await readProject(project);
        assert.deepEqual(
          workspaces.map((w) => w.location),
          Object.keys(scenario.workspaces),
        );
      }
    });
  }
});

describe("what the plan leaves to the installer", () => {
  const flags = SCENARIOS.find((s) => s.title.startsWith("dev, optional")) as Scenario;

  test("--omit keeps every package in the plan and names what is not installed", async () => {
    const dev = await plan(flags, { omit: ["dev"] });
    assert.deepEqual(planView(dev), flags.expected);
    assert.deepEqual(Object.fromEntries(dev.skipped), {
      "node_modules/deep": "omit",
      "node_modules/devonly": "omit",
    });
    // devOptional goes only when both dev and optional are omitted, as npm's shouldOmit says.
    const both = await plan(flags, { omit: ["dev", "optional"] });
    assert.deepEqual([...both.skipped.keys()].sort(), [
      "node_modules/both",
      "node_modules/deep",
      "node_modules/devonly",
      "node_modules/opt",
    ]);
  });

  test("an optional package whose engines.node does not accept this Node is not installed", async () => {
    const scenario: Scenario = {
      ...flags,
      packages: [
        ...flags.packages.filter((x) => x.name !== "opt"),
        p("opt", { "1.0.0": { engines: { node: ">=99" }, dependencies: { both: "^1.0.0" } } }),
      ],
    };
    const planned = await plan(scenario, { nodeVersion: "v24.1.0" });
    assert.deepEqual(planView(planned), flags.expected);
    assert.deepEqual(Object.fromEntries(planned.skipped), { "node_modules/opt": "engine" });
  });

  test("a required package that does not fit the platform is a problem npm stops on", async () => {
    const scenario: Scenario = {
      ...flags,
      packages: [
        ...flags.packages.filter((x) => x.name !== "prod"),
        p("prod", { "1.0.0": { os: ["win32"], dependencies: { shared: "^1.0.0" } } }),
      ],
    };
    const planned = await plan(scenario);
    assert.deepEqual(
      planned.problems.map((x) => [x.code, x.from, x.optional]),
      [["EBADPLATFORM", "node_modules/prod", false]],
    );
  });

  test("the project's own peer conflict is ERESOLVE, which npm stops on", async () => {
    const scenario: Scenario = {
      title: "conflict",
      packages: [
        p("plugin", { "1.0.0": { peerDependencies: { host: "^2.0.0" } } }),
        p("host", versions("1.0.0", "2.0.0")),
      ],
      project: { name: "app", version: "1.0.0", dependencies: { host: "^1.0.0", plugin: "1" } },
      expected: {},
    };
    const planned = await plan(scenario);
    const fatal = planned.problems.filter((x) => !x.optional);
    assert.deepEqual(
      fatal.map((x) => [x.code, x.name]),
      [["ERESOLVE", "host"]],
    );
  });

  test("a network source is asked to prefetch what comes next, and gives the same plan", async () => {
    const scenario = SCENARIOS[0];
    const byName = new Map(scenario.packages.map((pkg) => [pkg.name, pkg]));
    const prefetched: string[] = [];
    const asked: string[] = [];
    const planned = await planTree(
      scenario.project,
      {
        prefetch: (names) => prefetched.push(...names),
        get: async (name) => {
          asked.push(name);
          await new Promise((resolve) => setImmediate(resolve));
          return byName.get(name);
        },
      },
      { platform: LINUX },
    );
    assert.deepEqual(planView(planned), scenario.expected);
    assert.deepEqual(prefetched, ["a", "b", "c"]);
    assert.deepEqual(asked, ["a", "b", "c"]);
  });
});

describe("a network source: versions picked ahead of the walk", () => {
  for (const scenario of SCENARIOS) {
    test(`the same plan: ${scenario.title}`, async () => {
      const byName = new Map(scenario.packages.map((pkg) => [pkg.name, pkg]));
      const source = {
        prefetch: () => {},
        get: async (name: string) => {
          await new Promise((resolve) => setImmediate(resolve));
          return byName.get(name);
        },
      };
      const workspaces: WorkspaceInput[] = Object.entries(scenario.workspaces ?? {}).map(
        ([folder, manifest]) => ({ folder, manifest }),
      );
      const planned = await planTree(scenario.project, source, { platform: LINUX, workspaces });
      const expected = await plan(scenario);
      assert.deepEqual(planView(planned), planView(expected));
      assert.deepEqual(planned.problems, expected.problems);
      assert.deepEqual(planned.skipped, expected.skipped);
    });
  }

  test("a deep dependency is asked for while the walk still waits on a shallower one", async () => {
    const packages = [
      p("a", { "1.0.0": { dependencies: { slow: "1" } } }),
      p("slow", versions("1.0.0")),
      p("z", { "1.0.0": { dependencies: { z2: "1" } } }),
      p("z2", { "1.0.0": { dependencies: { z3: "1" } } }),
      p("z3", versions("1.0.0")),
    ];
    const byName = new Map(packages.map((pkg) => [pkg.name, pkg]));
    // The walk steps a (and waits for slow) before z; z3 is only named by z2's document.
    const events: string[] = [];
    const placed: string[] = [];
    const planned = await planTree(
      { dependencies: { a: "1", z: "1" } },
      {
        prefetch: () => {},
        get: async (name) => {
          events.push(`asked ${name}`);
          if (name === "slow") {
            for (let turn = 0; turn < 50; turn++)
              await new Promise((resolve) => setImmediate(resolve));
            events.push("slow answered");
          }
          return byName.get(name);
        },
      },
      { platform: LINUX, onPlaced: (name, version) => placed.push(`${name}@${version}`) },
    );
    assert.deepEqual(planView(planned), {
      "node_modules/a": "a@1.0.0",
      "node_modules/slow": "slow@1.0.0",
      "node_modules/z": "z@1.0.0",
      "node_modules/z2": "z2@1.0.0",
      "node_modules/z3": "z3@1.0.0",
    });
    assert.ok(events.indexOf("asked z3") < events.indexOf("slow answered"), events.join(", "));
    assert.deepEqual(placed.sort(), ["a@1.0.0", "slow@1.0.0", "z2@1.0.0", "z3@1.0.0", "z@1.0.0"]);
  });
});

test("a version's tarball hashes and log index, when the source has them, reach the plan", async () => {
  const artifact = { integrity: "sha512-AAAA", sha256: "ab".repeat(32), logIndex: 7 };
  const base = p("b", versions("1.0.0"));
  const b = { ...base, versions: base.versions.map((v) => ({ ...v, artifact })) };
  const planned = await planTree({ dependencies: { b: "1" } }, { get: () => b });
  const placed = planned.packages.get("node_modules/b");
  assert.deepEqual(
    [placed?.integrity, placed?.sha256, placed?.logIndex],
    [artifact.integrity, artifact.sha256, 7],
  );
});

test("--legacy-peer-deps installs no peers anywhere", async () => {
  const peers = SCENARIOS.find((s) => s.title.startsWith("peers are placed")) as Scenario;
  const planned = await plan(peers, { legacyPeerDeps: true });
  assert.deepEqual(planView(planned), { "node_modules/plugin": "plugin@1.0.0" });
  const nested = SCENARIOS.find((s) => s.title.startsWith("a peer that conflicts")) as Scenario;
  const flat = await plan(nested, { legacyPeerDeps: true });
  assert.deepEqual(planView(flat), {
    "node_modules/host": "host@1.0.0",
    "node_modules/plugin": "plugin@1.0.0",
    "node_modules/w": "w@1.0.0",
  });
});
