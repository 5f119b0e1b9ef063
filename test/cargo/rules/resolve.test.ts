/**
 * The resolver against the real cargo: each case is a small registry served
 * to `cargo generate-lockfile` and a root Cargo.toml; the packages and edges
 * of the Cargo.lock cargo writes must equal what `resolveCrates` gives for
 * the same versions. Cases that cargo cannot resolve must fail both ways,
 * ours with the named code.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CargoError, type CargoErrorCode } from "../../../src/cargo/rules/errors.ts";
import { parseRootManifest } from "../../../src/cargo/rules/manifest.ts";
import { type PackageRef, resolveCrates } from "../../../src/cargo/rules/resolve.ts";
import { cargoAvailable, makeCargoHome, runCargo } from "../../helpers/cargo.ts";
import { startFakeSparseRegistry } from "../../helpers/cargo-publish.ts";
import { copyCargoApp, prepareCrateCorpus } from "../../helpers/crate-corpus.ts";
import { randomRegistry } from "../../helpers/random-registry.ts";
import {
  corpusVersions,
  graphLines,
  indexFiles,
  lockGraph,
  lookupOf,
  type RegistrySpec,
  registryVersions,
  writeLocalRegistry,
  writeRootCrate,
} from "../../helpers/resolve-registry.ts";

interface Case {
  readonly name: string;
  readonly registry: RegistrySpec;
  /** The root's dependency and feature tables. */
  readonly root: string;
  /** cargo must fail, and we with this code. */
  readonly fails?: CargoErrorCode;
}

/** Eight crates of five versions each, then one whose every version needs a crate that does not exist. */
const DOOMED: RegistrySpec = {
  ...Object.fromEntries(
    Array.from({ length: 8 }, (_, k) => [
      `k${k}`,
      Object.fromEntries(Array.from({ length: 5 }, (_, v) => [`1.${v}.0`, {}])),
    ]),
  ),
  bad: Object.fromEntries(
    Array.from({ length: 10 }, (_, v) => [`1.${v}.0`, { deps: [{ name: "missing", req: "1" }] }]),
  ),
};
const DOOMED_ROOT = `[dependencies]\nbad = "1"\n${Array.from({ length: 8 }, (_, k) => `k${k} = "1"`).join("\n")}\n`;

/** `c 1.1.0` by default needs `d` below 1, which is only yanked; `c 0.0.3` needs nothing. */
const DEFAULT_NEEDS_YANKED: RegistrySpec = {
  c: {
    "1.1.0": { deps: [{ name: "d", req: "<1", optional: true }], features: { default: ["d"] } },
    "0.0.3": {},
  },
  d: { "0.1.0": { yanked: true }, "1.0.0": {} },
};

/** Whichever of the two is chosen first gets 1.1.0, the other 1.0.0 (they pin `shared` apart). */
function rivals(first: string, second: string, shared: string): RegistrySpec {
  const pin = (v: string) => ({ deps: [{ name: shared, req: `=${v}` }] });
  return {
    [first]: { "1.0.0": pin("1.1.0"), "1.1.0": pin("1.0.0") },
    [second]: { "1.0.0": pin("1.0.0"), "1.1.0": pin("1.1.0") },
    [shared]: { "1.0.0": {}, "1.1.0": {} },
  };
}

/** Over a sparse index, cargo first meets `c` through `b` (with defaults); through `a` only a pass later. */
const LEARNT_IN_PASSES: RegistrySpec = {
  a: { "1.0.0": { deps: [{ name: "m1", req: "1" }] } },
  m1: { "1.0.0": { deps: [{ name: "m2", req: "1" }] } },
  m2: { "1.0.0": { deps: [{ name: "c", req: "^1.1.0", default_features: false }] } },
  b: { "1.0.0": { deps: [{ name: "c", req: "*" }] } },
  ...DEFAULT_NEEDS_YANKED,
};

const CASES: Case[] = [
  {
    name: "ranges that force two majors, and two minors of a 0.x crate",
    registry: {
      a: { "1.0.0": {}, "1.4.0": {}, "2.0.0": {}, "2.1.0": {} },
      b: {
        "1.0.0": {
          deps: [
            { name: "a", req: "2" },
            { name: "z", req: "0.2" },
          ],
        },
      },
      z: { "0.1.0": {}, "0.1.5": {}, "0.2.0": {}, "0.2.3": {}, "0.0.1": {}, "0.0.2": {} },
      w: {
        "1.0.0": {
          deps: [
            { name: "z", req: "=0.1.0" },
            { name: "z", req: "0.0.1" },
          ],
        },
      },
    },
    root: '[dependencies]\na = "1"\nb = "1"\nz = "0.1"\nw = "1"\n',
  },
  {
    name: "backtracking out of the first choice",
    registry: {
      a: {
        "1.0.0": { deps: [{ name: "shared", req: "^2.1" }] },
        "1.1.0": { deps: [{ name: "shared", req: "=2.0.0" }] },
      },
      b: {
        "1.0.0": { deps: [{ name: "shared", req: ">=2.1, <3" }] },
        "1.1.0": { deps: [{ name: "shared", req: ">=2.1, <3" }] },
        "1.2.0": { deps: [{ name: "shared", req: ">=2.1, <3" }] },
      },
      shared: { "2.0.0": {}, "2.1.0": {}, "2.2.0": {} },
    },
    root: '[dependencies]\na = "1"\nb = "1"\n',
  },
  {
    name: "the dependency with the fewest candidates is chosen first, across crates",
    registry: {
      a: {
        "1.0.0": { deps: [{ name: "s", req: "=1.1.0" }] },
        "1.1.0": { deps: [{ name: "s", req: "=1.0.0" }] },
        "1.2.0": { deps: [{ name: "s", req: "=1.0.0" }] },
      },
      b: {
        "1.0.0": { deps: [{ name: "s", req: "=1.0.0" }] },
        "1.1.0": { deps: [{ name: "s", req: "=1.1.0" }] },
      },
      s: { "1.0.0": {}, "1.1.0": {} },
      y: { "1.0.0": { deps: [{ name: "b", req: "1" }] } },
    },
    // y (one candidate) goes before a (three); then y's b (two) before a.
    root: '[dependencies]\na = "1"\ny = "1"\n',
  },
  {
    name: "ties go by the manifest's order: normal, dev, build, then each target's normal, build, dev",
    registry: { ...rivals("zz", "aa", "s1"), ...rivals("zb", "ab", "s2") },
    root: [
      '[dependencies]\nzz = "1"',
      '[build-dependencies]\naa = "1"',
      "[target.'cfg(unix)'.build-dependencies]\nzb = \"1\"",
      "[target.'cfg(unix)'.dev-dependencies]\nab = \"1\"",
    ].join("\n\n"),
  },
  {
    name: "yanked versions skipped; pre-releases only when asked for",
    registry: {
      y: { "1.0.0": {}, "1.1.0": { yanked: true } },
      p: { "1.0.0": {}, "1.1.0-beta.1": {} },
      q: { "1.0.0": {}, "2.0.0-rc.1": {}, "2.0.0-rc.2": {} },
      r: { "1.0.0": { deps: [{ name: "q", req: "=2.0.0-rc.1" }] } },
      s: { "1.0.0": {}, "1.5.0-beta.1": {} },
    },
    root: '[dependencies]\ny = "1"\np = "1"\nr = "1"\ns = ">=1.0.0-alpha"\n',
  },
  {
    name: "features: optional dependencies turned on by other crates, implicit, dep: and weak features",
    registry: {
      lib: {
        "1.0.0": {
          deps: [
            { name: "opt", req: "1", optional: true },
            { name: "imp", req: "1", optional: true },
            { name: "weakdep", req: "1", optional: true },
            { name: "never", req: "1", optional: true },
            { name: "always", req: "1", default_features: false },
          ],
          features: {
            default: ["w"],
            extra: ["dep:opt", "opt/fancy"],
            more: ["imp"],
            w: ["weakdep?/x"],
            alwaysf: ["always/on"],
          },
        },
      },
      other: { "1.0.0": { deps: [{ name: "lib", req: "1", features: ["extra"] }] } },
      opt: {
        "1.0.0": {
          deps: [{ name: "fancydep", req: "1", optional: true }],
          features: { fancy: ["dep:fancydep"] },
        },
      },
      fancydep: { "1.0.0": {} },
      imp: { "1.0.0": {} },
      weakdep: { "1.0.0": { features: { x: [] } } },
      never: { "1.0.0": {} },
      always: {
        "1.0.0": {
          deps: [
            { name: "ondep", req: "1", optional: true },
            { name: "defdep", req: "1", optional: true },
          ],
          features: { default: ["defdep"], on: ["ondep"] },
        },
      },
      ondep: { "1.0.0": {} },
      defdep: { "1.0.0": {} },
    },
    root: '[dependencies]\nlib = { version = "1", features = ["more"] }\nother = "1"\n',
  },
  {
    name: "features unify: a later request turns on more of an active crate",
    registry: {
      first: { "1.0.0": { deps: [{ name: "core1", req: "1", default_features: false }] } },
      second: { "1.0.0": { deps: [{ name: "core1", req: "1", features: ["big"] }] } },
      core1: {
        "1.0.0": {
          deps: [
            { name: "bigdep", req: "1", optional: true },
            { name: "defdep", req: "1", optional: true },
          ],
          features: { default: ["defdep"], big: ["bigdep"] },
        },
      },
      bigdep: { "1.0.0": {}, "1.1.0": {} },
      defdep: { "1.0.0": {} },
    },
    root: '[dependencies]\nfirst = "1"\nsecond = "1"\n',
  },
  {
    name: "a version without the feature asked for is passed over",
    registry: {
      fe: { "1.0.0": { features: { newfeat: [] } }, "1.1.0": { features: {} } },
    },
    root: '[dependencies]\nfe = { version = "1", features = ["newfeat"] }\n',
  },
  {
    name: "versions cargo reads as invalid lines are never candidates",
    registry: {
      devopt: {
        "1.0.0": {},
        "1.1.0": {
          deps: [{ name: "x", req: "1", optional: true, kind: "dev" }],
          features: { f: ["dep:x"] },
        },
      },
      nodep: { "1.0.0": {}, "1.1.0": { features: { f: ["nothere/x"] } } },
      unused: {
        "1.0.0": {},
        "1.1.0": { deps: [{ name: "x", req: "1", optional: true }], features: { x: [] } },
      },
      weakreq: {
        "1.0.0": {},
        "1.1.0": { deps: [{ name: "x", req: "1" }], features: { f: ["x?/y"] } },
      },
      x: { "1.0.0": { features: { y: [] } } },
    },
    root: '[dependencies]\ndevopt = "1"\nnodep = "1"\nunused = "1"\nweakreq = "1"\n',
  },
  {
    name: "renamed dependencies, also turned on through a feature by their new name",
    registry: {
      ren: { "1.0.0": {}, "2.0.0": {}, "2.3.0": {} },
      ren2: { "1.0.0": { features: { x: [] } } },
      user: {
        "1.0.0": {
          deps: [{ name: "alias", package: "ren2", req: "1", optional: true }],
          features: { f: ["alias/x"] },
        },
      },
    },
    root: '[dependencies]\nold = { package = "ren", version = "1" }\nnew = { package = "ren", version = "2" }\nuser = { version = "1", features = ["f"] }\n',
  },
  {
    name: "target, build and dev dependencies",
    registry: {
      tdep: {
        "1.0.0": {
          deps: [
            { name: "win", req: "1", target: "cfg(windows)" },
            { name: "mac", req: "1", target: "x86_64-apple-darwin" },
            { name: "bld", req: "1", kind: "build" },
            { name: "devonly", req: "1", kind: "dev" },
          ],
        },
      },
      win: { "1.0.0": {} },
      mac: { "1.0.0": {} },
      bld: { "1.0.0": {} },
      devonly: { "1.0.0": {} },
      rootdev: { "1.0.0": { deps: [{ name: "devonly", req: "1", kind: "dev" }] } },
      rootbuild: { "1.0.0": {} },
      unixonly: { "1.0.0": {} },
    },
    root: [
      '[dependencies]\ntdep = "1"',
      '[dev-dependencies]\nrootdev = "1"',
      '[build-dependencies]\nrootbuild = "1"',
      "[target.'cfg(unix)'.dependencies]\nunixonly = \"1\"",
    ].join("\n\n"),
  },
  {
    name: "optional root dependencies are all in the lockfile",
    registry: { maybe: { "1.0.0": {} }, viafeature: { "1.0.0": {} } },
    root: '[dependencies]\nmaybe = { version = "1", optional = true }\nviafeature = { version = "1", optional = true }\n\n[features]\nsome = ["dep:viafeature"]\n',
  },
  {
    name: "links: a second crate linking the same library takes a version that does not",
    registry: {
      l1: { "1.0.0": { links: "native" } },
      l2: { "1.0.0": {}, "1.1.0": { links: "native" } },
    },
    root: '[dependencies]\nl1 = "1"\nl2 = "1"\n',
  },
  {
    name: "links conflict without a way out",
    registry: { m1: { "1.0.0": { links: "z" } }, m2: { "1.0.0": { links: "z" } } },
    root: '[dependencies]\nm1 = "1"\nm2 = "1"\n',
    fails: "links-conflict",
  },
  {
    name: "exact requirements that clash",
    registry: {
      a: { "1.0.0": {}, "1.1.0": {} },
      b: { "1.0.0": { deps: [{ name: "a", req: "=1.1.0" }] } },
    },
    root: '[dependencies]\na = "=1.0.0"\nb = "1"\n',
    fails: "version-conflict",
  },
  {
    name: "no version matches (the only one is yanked)",
    registry: { gone: { "1.0.0": { yanked: true } } },
    root: '[dependencies]\ngone = "1"\n',
    fails: "no-matching-version",
  },
  {
    name: "a crate the registry does not have",
    registry: { here: { "1.0.0": { deps: [{ name: "nowhere", req: "1" }] } } },
    root: '[dependencies]\nhere = "1"\n',
    fails: "no-such-crate",
  },
  {
    name: "a dependency spelled otherwise than the published name (cargo only suggests it)",
    registry: { "foo-bar": { "1.0.0": {} } },
    root: '[dependencies]\nfoo_bar = "1"\n',
    fails: "no-such-crate",
  },
  {
    name: "a registry crate with the root's name is another package",
    registry: {
      root: { "0.1.0": {}, "0.1.1": {} },
      c: { "1.0.0": { deps: [{ name: "root", req: "0.1" }] } },
    },
    root: '[dependencies]\nc = "1"\n',
  },
  {
    name: "crates that depend on each other",
    registry: {
      a: { "1.0.0": { deps: [{ name: "b", req: "1" }] } },
      b: { "1.0.0": { deps: [{ name: "a", req: "1", kind: "build" }] } },
    },
    root: '[dependencies]\na = "1"\n',
    fails: "dependency-cycle",
  },
  {
    name: "a dependency only a later feature request turns on: cargo jumps back past that request",
    registry: {
      a: { "1.0.0": { deps: [{ name: "c", req: "^1.1.0", default_features: false }] } },
      b: { "1.0.0": { deps: [{ name: "c", req: "*" }] } },
      ...DEFAULT_NEEDS_YANKED,
    },
    root: '[dependencies]\na = "1"\nb = "1"\nd = "1"\n',
    fails: "no-matching-version",
  },
  {
    name: "what cargo learns in an earlier pass over the sparse index steers a later pass",
    registry: LEARNT_IN_PASSES,
    root: '[dependencies]\na = "1"\nb = "1"\nd = "1"\n',
  },
  {
    name: "a crate missing under every version of another, behind crates with many versions",
    registry: DOOMED,
    root: DOOMED_ROOT,
    fails: "no-such-crate",
  },
];

const code = (c: CargoErrorCode) => (err: unknown) => err instanceof CargoError && err.code === c;

describe("resolving without cargo", () => {
  const lookup = lookupOf(
    registryVersions({ a: { "1.0.0": { deps: [{ name: "b", req: "1" }] } }, b: { "1.0.0": {} } }),
  );
  const root = parseRootManifest(
    '[package]\nname = "root"\nversion = "0.1.0"\n[dependencies]\na = "1"\n',
  );

  test("the module's example: every package with the packages it depends on", () => {
    const registry = lookupOf(
      registryVersions({
        a: { "1.0.0": {}, "1.2.0": { deps: [{ name: "b", req: "0.3" }] } },
        b: { "0.3.4": {}, "0.4.0": {} },
      }),
    );
    assert.deepEqual(resolveCrates(root, registry), [
      { name: "root", version: "0.1.0", dependencies: [{ name: "a", version: "1.2.0" }] },
      { name: "a", version: "1.2.0", dependencies: [{ name: "b", version: "0.3.4" }] },
      { name: "b", version: "0.3.4", dependencies: [] },
    ]);
  });

  test("Cargo.toml: dependencies outside a registry and malformed tables are refused", () => {
    const manifest = (tables: string) => `[package]\nname = "root"\nversion = "0.1.0"\n${tables}`;
    assert.throws(
      () => parseRootManifest(manifest('[dependencies]\nx = { path = "../x" }')),
      code("bad-dependency"),
    );
    assert.throws(
      () => parseRootManifest(manifest('[dependencies]\nx = { git = "https://example.org/x" }')),
      code("bad-dependency"),
    );
    assert.throws(() => parseRootManifest(manifest("[dependencies]\nx = 1")), code("bad-manifest"));
    assert.throws(
      () => parseRootManifest(manifest('[dependencies]\nx = "not a req"')),
      code("bad-version-req"),
    );
    assert.throws(() => parseRootManifest("[package\n"), code("bad-manifest"));
    assert.throws(() => parseRootManifest('[dependencies]\nx = "1"'), code("bad-manifest"));
  });

  test("a feature the root does not have fails the request", () => {
    const features = { features: ["nope"], defaultFeatures: true, commandLine: true };
    assert.throws(() => resolveCrates(root, lookup, { features }), code("missing-feature"));
  });

  test("a request that fails whatever is active is not retried under every other choice", () => {
    const manifest = parseRootManifest(
      `[package]\nname = "root"\nversion = "0.1.0"\n${DOOMED_ROOT}`,
    );
    const doomed = lookupOf(registryVersions(DOOMED));
    // 5^8 combinations of the other crates would be tried without it.
    assert.throws(() => resolveCrates(manifest, doomed, { maxSteps: 100 }), code("no-such-crate"));
  });

  test("from an index known in full, one pass: the later feature request is jumped past", () => {
    const manifest = parseRootManifest(
      '[package]\nname = "root"\nversion = "0.1.0"\n[dependencies]\na = "1"\nb = "1"\nd = "1"\n',
    );
    const passes = lookupOf(registryVersions(LEARNT_IN_PASSES));
    assert.ok(graphLines(resolveCrates(manifest, passes)).includes("b 1.0.0 -> c 0.0.3"));
    assert.throws(
      () => resolveCrates(manifest, passes, { index: "local" }),
      code("no-matching-version"),
    );
  });

  test("backtracking stops at the step limit", () => {
    assert.equal(resolveCrates(root, lookup).length, 3);
    assert.throws(() => resolveCrates(root, lookup, { maxSteps: 2 }), code("resolve-too-complex"));
  });
});

describe("resolving as cargo does", { skip: !cargoAvailable() && "cargo is not installed" }, () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "cairn-resolve-"));
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  /** Serves `registry`, runs `args` in a root crate made of `root`; cargo's error, if any. */
  async function withCargo(
    id: string,
    registry: RegistrySpec,
    root: string,
    steps: (dir: string, cargo: (args: string[]) => Promise<void>) => Promise<void>,
  ) {
    const versions = registryVersions(registry);
    const server = await startFakeSparseRegistry(indexFiles(versions), () => ({
      status: 400,
      detail: "no publishing here",
    }));
    try {
      const dir = join(scratch, id);
      await writeRootCrate(join(dir, "root"), "root", root);
      let run = 0;
      await steps(join(dir, "root"), async (args) => {
        const cargoHome = await makeCargoHome(join(dir, `home-${run++}`), {
          sparseIndex: `${server.url}index/`,
        });
        await runCargo(args, { cwd: join(dir, "root"), cargoHome });
      });
    } finally {
      await server.close();
    }
    return versions;
  }

  /** cargo's Cargo.lock as graph lines, or undefined when cargo cannot resolve; and the registry's versions. */
  async function cargoResolves(id: string, registry: RegistrySpec, root: string) {
    let failed = false;
    const versions = await withCargo(id, registry, root, async (_dir, cargo) => {
      await cargo(["generate-lockfile"]).catch(() => {
        failed = true;
      });
    });
    const lock = failed
      ? undefined
      : graphLines(await lockGraph(join(scratch, id, "root", "Cargo.lock")));
    const manifest = parseRootManifest(`[package]\nname = "root"\nversion = "0.1.0"\n\n${root}`);
    return { lock, manifest, lookup: lookupOf(versions) };
  }

  for (const [i, c] of CASES.entries()) {
    test(c.name, async () => {
      const { lock, manifest, lookup } = await cargoResolves(`case-${i}`, c.registry, c.root);
      if (c.fails !== undefined) {
        assert.equal(lock, undefined, "cargo fails too");
        assert.throws(() => resolveCrates(manifest, lookup), code(c.fails));
        return;
      }
      assert.ok(lock, "cargo resolves it");
      assert.deepEqual(graphLines(resolveCrates(manifest, lookup)), lock);
    });
  }

  test("random registries: the same packages and edges as cargo, or both fail", async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const { registry, root } = randomRegistry(seed);
      const { lock, manifest, lookup } = await cargoResolves(`random-${seed}`, registry, root);
      let ours: string[] | undefined;
      try {
        ours = graphLines(resolveCrates(manifest, lookup));
      } catch (err) {
        assert.ok(err instanceof CargoError, String(err));
      }
      assert.deepEqual(ours, lock, `seed ${seed}`);
    }
  });

  test('from a local registry cargo resolves in one pass, as `index: "local"` does', async () => {
    for (const [id, registry, root] of [
      ["local-passes", LEARNT_IN_PASSES, '[dependencies]\na = "1"\nb = "1"\nd = "1"\n'],
      ["local-case-0", CASES[0].registry, CASES[0].root],
    ] as const) {
      const versions = registryVersions(registry);
      const dir = join(scratch, id);
      const cargoHome = await makeCargoHome(join(dir, "home"), {
        localRegistry: await writeLocalRegistry(join(dir, "registry"), versions),
      });
      await writeRootCrate(join(dir, "root"), "root", root);
      const lock = await runCargo(["generate-lockfile", "--offline"], {
        cwd: join(dir, "root"),
        cargoHome,
      }).then(
        async () => graphLines(await lockGraph(join(dir, "root", "Cargo.lock"))),
        () => undefined,
      );
      const manifest = parseRootManifest(`[package]\nname = "root"\nversion = "0.1.0"\n\n${root}`);
      let ours: string[] | undefined;
      try {
        ours = graphLines(resolveCrates(manifest, lookupOf(versions), { index: "local" }));
      } catch (err) {
        assert.ok(err instanceof CargoError, String(err));
      }
      assert.deepEqual(ours, lock, id);
    }
  });

  test("a locked version is kept, even once yanked, and preferred over a newer one", async () => {
    const registry: RegistrySpec = { y: { "1.0.0": {}, "1.1.0": {} }, z: { "1.0.0": {} } };
    const later: RegistrySpec = {
      y: { "1.0.0": {}, "1.1.0": { yanked: true }, "1.2.0": {} },
      z: { "1.0.0": {}, "1.1.0": {} },
    };
    const server = await startFakeSparseRegistry(indexFiles(registryVersions(registry)), () => ({
      status: 400,
      detail: "no publishing here",
    }));
    const dir = join(scratch, "locked");
    try {
      const sparseIndex = `${server.url}index/`;
      await writeRootCrate(dir, "root", '[dependencies]\ny = "1"\n');
      const cargoHome = await makeCargoHome(join(scratch, "locked-home-1"), { sparseIndex });
      await runCargo(["generate-lockfile"], { cwd: dir, cargoHome });
      const locked: PackageRef[] = await lockGraph(join(dir, "Cargo.lock"));
      // The registry moves on; the application adds a dependency and cargo resolves again from its lockfile.
      for (const [path, text] of indexFiles(registryVersions(later))) server.files.set(path, text);
      const root = '[dependencies]\ny = "1"\nz = "1"\n';
      await writeRootCrate(dir, "root", root);
      const laterHome = await makeCargoHome(join(scratch, "locked-home-2"), { sparseIndex });
      await runCargo(["update", "--workspace"], { cwd: dir, cargoHome: laterHome });
      const manifest = parseRootManifest(`[package]\nname = "root"\nversion = "0.1.0"\n\n${root}`);
      const lookup = lookupOf(registryVersions(later));
      const ours = resolveCrates(manifest, lookup, { locked });
      assert.deepEqual(graphLines(ours), graphLines(await lockGraph(join(dir, "Cargo.lock"))));
      assert.ok(graphLines(ours).includes("y 1.1.0 -> "));
      assert.ok(graphLines(resolveCrates(manifest, lookup)).includes("y 1.2.0 -> "));
    } finally {
      await server.close();
    }
  });
});

describe("the crate corpus", { skip: !cargoAvailable() && "cargo is not installed" }, () => {
  test("the application resolves as cargo resolves it, in milliseconds", async (t) => {
    const scratch = await mkdtemp(join(tmpdir(), "cairn-resolve-corpus-"));
    t.after(() => rm(scratch, { recursive: true, force: true }));
    const versions = corpusVersions(await prepareCrateCorpus(join(scratch, "sources")));
    const server = await startFakeSparseRegistry(indexFiles(versions), () => ({
      status: 400,
      detail: "no publishing here",
    }));
    t.after(() => server.close());
    const app = await copyCargoApp(join(scratch, "app"));
    const cargoHome = await makeCargoHome(join(scratch, "home"), {
      sparseIndex: `${server.url}index/`,
    });
    await runCargo(["generate-lockfile"], { cwd: app, cargoHome });
    const cargos = await lockGraph(join(app, "Cargo.lock"));

    const root = parseRootManifest(await readFile(join(app, "Cargo.toml"), "utf8"));
    const lookup = lookupOf(versions);
    const ours = resolveCrates(root, lookup);
    assert.deepEqual(graphLines(ours), graphLines(cargos));
    assert.equal(ours.length, versions.length + 1, "every corpus crate and the application");

    const runs = 20;
    const started = performance.now();
    for (let i = 0; i < runs; i++) resolveCrates(root, lookup);
    const each = (performance.now() - started) / runs;
    t.diagnostic(`resolving the application (${ours.length} packages): ${each.toFixed(2)} ms`);
    assert.ok(each < 100, `${each} ms`);
  });
});
