/**
 * The resolver against the real cargo: each case is a small registry served
 * to `cargo generate-lockfile` and a root Cargo.toml; the packages and edges
 * of the Cargo.lock cargo writes must equal what `resolveCrates` gives for
 * the same versions. Cases that cargo cannot resolve must fail both ways,
 * ours with the named code.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CargoError, type CargoErrorCode } from "../../../src/cargo/rules/errors.ts";
import { parseRootManifest } from "../../../src/cargo/rules/manifest.ts";
import { type PackageRef, resolveCrates } from "../../../src/cargo/rules/resolve.ts";
import { cargoAvailable, makeCargoHome, runCargo } from "../../helpers/cargo.ts";
import { startFakeSparseRegistry } from "../../helpers/cargo-publish.ts";
import {
  graphLines,
  indexFiles,
  lockGraph,
  lookupOf,
  type RegistrySpec,
  registryVersions,
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
];

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

  for (const [i, c] of CASES.entries()) {
    test(c.name, async () => {
      let cargoError: unknown;
      const versions = await withCargo(`case-${i}`, c.registry, c.root, async (_dir, cargo) => {
        await cargo(["generate-lockfile"]).catch((err) => {
          cargoError = err;
        });
      });
      const root = parseRootManifest(`[package]\nname = "root"\nversion = "0.1.0"\n\n${c.root}`);
      if (c.fails !== undefined) {
        assert.ok(cargoError, "cargo fails too");
        assert.throws(
          () => resolveCrates(root, lookupOf(versions)),
          (err) => err instanceof CargoError && err.code === c.fails,
        );
        return;
      }
      if (cargoError) throw cargoError;
      const ours = resolveCrates(root, lookupOf(versions));
      const cargos = await lockGraph(join(scratch, `case-${i}`, "root", "Cargo.lock"));
      assert.deepEqual(graphLines(ours), graphLines(cargos));
    });
  }
});
