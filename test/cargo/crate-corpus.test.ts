/**
 * The crate corpus works with the real cargo before any registry is
 * involved: every crate packages against a local registry holding only the
 * corpus, and the application resolves and builds offline from it.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cp, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { cargoAvailable, lockedPackages, makeCargoHome, runCargo } from "../helpers/cargo.ts";
import {
  type CorpusCrate,
  CrateSourcesMissing,
  copyCargoApp,
  corpusAptPackages,
  locateCrateSources,
  prepareCrateCorpus,
} from "../helpers/crate-corpus.ts";
import { manifestDependencies } from "../helpers/crate-manifest.ts";
import { type PackagedCrate, packageCrates } from "../helpers/crate-packages.ts";
import {
  addToLocalRegistry,
  createLocalRegistry,
  makeSparseConfig,
} from "../helpers/local-crate-registry.ts";
import { serveDirectory } from "../helpers/static-server.ts";

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

test("missing sources fail naming the Debian packages to install", async () => {
  const packages = await corpusAptPackages();
  await assert.rejects(
    locateCrateSources(join(tmpdir(), "cairn-no-crate-sources")),
    (error) => error instanceof CrateSourcesMissing && isDeepStrictEqual(error.packages, packages),
  );
});

describe("the crate corpus", { skip: !cargoAvailable() && "cargo is not installed" }, () => {
  let root: string;
  let crates: CorpusCrate[];
  let packaged: PackagedCrate[];
  let registry: string;
  let cargoHome: string;
  let packagingSeconds: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "cairn-crate-corpus-"));
    crates = await prepareCrateCorpus(join(root, "sources"));
    registry = await createLocalRegistry(join(root, "registry"));
    cargoHome = await makeCargoHome(join(root, "cargo-home"), { localRegistry: registry });
    const started = performance.now();
    packaged = await packageCrates(crates, {
      cargoHome,
      outDir: join(root, "crates"),
      afterEach: (done) => addToLocalRegistry(registry, done),
    });
    packagingSeconds = seconds(started);
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("every crate comes after the crates it needs, and depends only on the corpus", async () => {
    const names = new Set(crates.map((crate) => crate.name));
    assert.equal(names.size, (await corpusAptPackages()).length);
    const seen = new Set<string>();
    for (const crate of crates) {
      for (const need of crate.needs) assert.ok(seen.has(need), `${crate.name} before ${need}`);
      seen.add(crate.name);
      const text = await readFile(join(crate.dir, "Cargo.toml"), "utf8");
      assert.doesNotMatch(text, /dev-dependencies/, `${crate.name} keeps dev-dependencies`);
      for (const dep of manifestDependencies(text))
        assert.ok(names.has(dep.crate), `${crate.name} depends on ${dep.crate}`);
      for (const debianFile of [".cargo_vcs_info.json", ".cargo-checksum.json", "debian"])
        await assert.rejects(stat(join(crate.dir, debianFile)), `${crate.name}/${debianFile}`);
    }
  });

  test("Debian's own manifest cannot be packaged against the corpus", async () => {
    // serde_json's optional indexmap and its dev-dependencies (trybuild…) are not in the corpus.
    const serdeJson = crates.find((crate) => crate.name === "serde_json") as CorpusCrate;
    const [source] = (await locateCrateSources()).filter((dir) => dir.includes("/serde_json-"));
    const unprepared = join(root, "unprepared", "serde_json");
    await cp(source, unprepared, { recursive: true });
    await assert.rejects(
      packageCrates([{ ...serdeJson, dir: unprepared }], {
        cargoHome,
        outDir: join(root, "unprepared-out"),
      }),
      /no matching package named/,
    );
  });

  test("the application resolves and builds offline from a local registry of the corpus", async (t) => {
    let bytes = 0;
    for (const { file } of packaged) bytes += (await stat(file)).size;
    t.diagnostic(
      `${packaged.length} crates packaged in ${packagingSeconds} s, ${bytes} bytes of .crate files`,
    );

    const app = await copyCargoApp(join(root, "app"));
    const targetDir = join(root, "target");
    await runCargo(["generate-lockfile", "--offline"], { cwd: app, cargoHome });
    const locked = await lockedPackages(join(app, "Cargo.lock"));
    const checksums = new Map<string, string>();
    for (const { crate, file } of packaged)
      checksums.set(
        `${crate.name}@${crate.version}`,
        createHash("sha256")
          .update(await readFile(file))
          .digest("hex"),
      );
    const dependencies = locked.filter((pkg) => pkg.name !== "cargo-app");
    assert.deepEqual(
      dependencies.map((pkg) => `${pkg.name}@${pkg.version}`).sort(),
      [...checksums.keys()].sort(),
      "the application uses every crate of the corpus",
    );
    for (const pkg of dependencies)
      assert.equal(pkg.checksum, checksums.get(`${pkg.name}@${pkg.version}`), pkg.name);

    const started = performance.now();
    await runCargo(["build", "--offline", "--locked"], { cwd: app, cargoHome, targetDir });
    t.diagnostic(`clean cargo build of the application in ${seconds(started)} s`);
    const { stdout } = await runCargo(
      [
        "run",
        "--offline",
        "--locked",
        "--quiet",
        "--",
        "--pattern",
        "^a",
        "apple",
        "banana",
        "avocado",
      ],
      { cwd: app, cargoHome, targetDir },
    );
    assert.deepEqual(JSON.parse(stdout), { pattern: "^a", matches: ["apple", "avocado"] });
  });

  test("the same files served as a static sparse registry give the same Cargo.lock", async () => {
    await using server = await serveDirectory(registry);
    const index = await makeSparseConfig(registry, server.url);
    const sparseHome = await makeCargoHome(join(root, "sparse-home"), { sparseIndex: index });
    const app = await copyCargoApp(join(root, "sparse-app"));
    await runCargo(["generate-lockfile"], { cwd: app, cargoHome: sparseHome });
    await runCargo(["fetch", "--locked"], { cwd: app, cargoHome: sparseHome });
    const [cacheDir] = await readdir(join(sparseHome, "registry", "cache"));
    const downloaded = await readdir(join(sparseHome, "registry", "cache", cacheDir));
    assert.equal(downloaded.length, packaged.length, "every crate downloaded from the server");
    assert.equal(
      await readFile(join(app, "Cargo.lock"), "utf8"),
      await readFile(join(root, "app", "Cargo.lock"), "utf8"),
    );
  });
});
