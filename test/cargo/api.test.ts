/**
 * cargo's web API with the real cargo as the judge: `cargo publish` of
 * corpus crates (in publish order) and of made-up ones to a real origin,
 * `cargo login`, `cargo yank` and `--undo`, `cargo owner --add/--remove/
 * --list` and `cargo search`; and the refusals cargo prints from crates.io's
 * JSON error shape, each leaving the log and the blob store as they were.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CARGO_INDEX_PREFIX } from "../../src/cargo/read-api.ts";
import { indexPath } from "../../src/cargo/rules/index-path.ts";
import { cargoAvailable, makeCargoHome, runCargo } from "../helpers/cargo.ts";
import { type MadeCrate, writeCrateSources } from "../helpers/crate-body.ts";
import { prepareCrateCorpus } from "../helpers/crate-corpus.ts";
import { packageCrates } from "../helpers/crate-packages.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { signUp } from "../helpers/registry-client.ts";

/** Corpus crates published here: the first ones in publish order. */
const CORPUS_CRATES = 4;

describe("cargo's web API, with the real cargo", {
  skip: !cargoAvailable() && "cargo is not installed",
}, () => {
  let root: string;
  let origin: TestOrigin;
  let alice: string;
  let bob: string;
  let aliceHome: string;
  let bobHome: string;

  const homeFor = (origin: TestOrigin, name: string, token?: string) =>
    makeCargoHome(join(root, name), {
      sparseIndex: new URL(CARGO_INDEX_PREFIX.slice(1), origin.url).href,
      ...(token !== undefined ? { token } : {}),
    });
  const cargo = (args: readonly string[], cwd: string, cargoHome: string) =>
    runCargo(args, { cwd, cargoHome });
  // Run from outside the crate (rustup obeys toolchain files in the working directory).
  const publish = (dir: string, cargoHome: string) =>
    runCargo(
      [
        ...["publish", "--registry", "cairn", "--no-verify", "--allow-dirty"],
        ...["--manifest-path", join(dir, "Cargo.toml")],
      ],
      { cwd: root, cargoHome, targetDir: join(root, "target") },
    );
  const made = (crate: MadeCrate, extra: Record<string, Uint8Array> = {}) =>
    writeCrateSources(join(root, "made", `${crate.name}-${crate.version}`), crate, extra);

  /** The log's size and the stored blobs: what a refused publish must leave alone. */
  const stored = async (o: TestOrigin = origin) => ({
    size: o.registry.appender.size,
    blobs: (await readdir(join(o.treeDir, "blob", "sha256"))).sort(),
  });

  /** Runs a publish cargo must fail, and returns what cargo printed. */
  const refusedPublish = async (dir: string, cargoHome: string, o: TestOrigin = origin) => {
    const before = await stored(o);
    const error = await publish(dir, cargoHome).then(
      () => assert.fail("cargo publish succeeded"),
      (err: Error) => err.message,
    );
    assert.deepEqual(await stored(o), before, "a refused publish writes nothing");
    return error;
  };

  const indexLines = async (name: string) => {
    const res = await fetch(
      new URL(`${CARGO_INDEX_PREFIX.slice(1)}${indexPath(name)}`, origin.url),
    );
    assert.equal(res.status, 200, name);
    return (await res.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { vers: string; cksum: string; yanked: boolean });
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "cairn-cargo-api-"));
    origin = await startTestOrigin();
    alice = await signUp(origin.url, "alice", "alice's long password");
    bob = await signUp(origin.url, "bob", "bob's long password");
    aliceHome = await homeFor(origin, "alice-home", alice);
    bobHome = await homeFor(origin, "bob-home", bob);
  });
  after(async () => {
    await origin[Symbol.asyncDispose]();
    await rm(root, { recursive: true, force: true });
  });

  test("cargo publish of corpus crates, in order; each cksum is the SHA-256 of the .crate cargo packages", async () => {
    const crates = (await prepareCrateCorpus(join(root, "corpus"))).slice(0, CORPUS_CRATES);
    // `cargo package` makes the same bytes `cargo publish` then uploads (its archives are reproducible).
    const packaged = await packageCrates(crates, {
      cargoHome: aliceHome,
      outDir: join(root, "packaged"),
      afterEach: async ({ crate }) => {
        const { stderr } = await publish(crate.dir, aliceHome);
        assert.match(
          stderr,
          new RegExp(`Uploaded ${crate.name} v${crate.version} to registry \`cairn\``),
        );
      },
    });
    for (const { crate, file } of packaged) {
      const sha256 = createHash("sha256")
        .update(await readFile(file))
        .digest("hex");
      const [line] = await indexLines(crate.name);
      assert.deepEqual([line.vers, line.cksum], [crate.version, sha256], crate.name);
    }
  });

  test("cargo login saves a token cargo then publishes with", async () => {
    const home = await homeFor(origin, "login-home");
    const dir = await made({ name: "login_made", version: "1.0.0" });
    await refusedPublish(dir, home);
    await cargo(["login", "--registry", "cairn", alice], root, home);
    assert.match(await readFile(join(home, "credentials.toml"), "utf8"), new RegExp(alice));
    await publish(dir, home);
    assert.deepEqual(origin.registry.state.table("cargo").owners("login_made"), ["alice"]);
  });

  describe("refusals, as cargo prints them", () => {
    before(async () => {
      await publish(await made({ name: "tiny_crate", version: "0.1.0" }), aliceHome);
    });

    test("the name in another case", async () => {
      const error = await refusedPublish(
        await made({ name: "Tiny_Crate", version: "0.2.0" }),
        aliceHome,
      );
      assert.match(error, /\(status 409 Conflict\): crate was previously named `tiny_crate`/);
    });

    test("the name with - for _", async () => {
      const error = await refusedPublish(
        await made({ name: "tiny-crate", version: "0.2.0" }),
        aliceHome,
      );
      assert.match(error, /\(status 409 Conflict\): crate was previously named `tiny_crate`/);
    });

    test("a version already uploaded, but for its build metadata (cargo sees it in the index first)", async () => {
      const error = await refusedPublish(
        await made({ name: "tiny_crate", version: "0.1.0+extra" }),
        aliceHome,
      );
      assert.match(error, /crate tiny_crate@0\.1\.0\+extra already exists on `cairn` index/);
    });

    test("a version by someone not an owner", async () => {
      const error = await refusedPublish(
        await made({ name: "tiny_crate", version: "0.2.0" }),
        bobHome,
      );
      assert.match(error, /\(status 403 Forbidden\): bob may not publish tiny_crate/);
    });

    test("a .crate over the registry's size limit", async () => {
      await using small = await startTestOrigin({ settings: { maxTarballBytes: 4096 } });
      const token = await signUp(small.url, "alice", "alice's long password");
      const home = await homeFor(small, "small-home", token);
      const dir = await made(
        { name: "too_big", version: "1.0.0" },
        { "noise.bin": randomBytes(16384) },
      );
      const error = await refusedPublish(dir, home, small);
      assert.match(error, /\(status 413 Payload Too Large\): max upload size is: 4096/);
    });

    test("without a token", async () => {
      const home = await homeFor(origin, "no-token-home");
      const error = await refusedPublish(
        await made({ name: "tiny_crate", version: "0.3.0" }),
        home,
      );
      assert.match(error, /no token found for `cairn`/);
    });
  });

  test("cargo yank and yank --undo", async () => {
    const { stderr } = await cargo(
      ["yank", "--registry", "cairn", "--vers", "0.1.0", "tiny_crate"],
      root,
      aliceHome,
    );
    assert.match(stderr, /Yank tiny_crate@0.1.0/);
    assert.equal((await indexLines("tiny_crate"))[0].yanked, true);
    const undone = await cargo(
      ["yank", "--registry", "cairn", "--vers", "0.1.0", "--undo", "tiny_crate"],
      root,
      aliceHome,
    );
    assert.match(undone.stderr, /Unyank tiny_crate@0.1.0/);
    assert.equal((await indexLines("tiny_crate"))[0].yanked, false);
    const notOwner = await cargo(
      ["yank", "--registry", "cairn", "--vers", "0.1.0", "tiny_crate"],
      root,
      bobHome,
    ).then(
      () => assert.fail("bob yanked alice's crate"),
      (err: Error) => err.message,
    );
    assert.match(notOwner, /\(status 403 Forbidden\): bob is not an owner of tiny_crate/);
  });

  test("cargo owner --add, --list and --remove", async () => {
    const owner = (...args: string[]) =>
      cargo(["owner", "--registry", "cairn", ...args, "tiny_crate"], root, aliceHome);
    const added = await owner("--add", "bob");
    assert.match(added.stderr, /Owner user bob has been added as an owner of crate tiny_crate/);
    assert.deepEqual((await owner("--list")).stdout.trim().split("\n"), ["alice", "bob"]);
    await owner("--remove", "bob");
    assert.deepEqual((await owner("--list")).stdout.trim().split("\n"), ["alice"]);
    const unknown = await owner("--add", "nobody").then(
      () => assert.fail("an unknown user became an owner"),
      (err: Error) => err.message,
    );
    assert.match(unknown, /\(status 404 Not Found\): could not find user with login `nobody`/);
  });

  test("cargo search, names with - included", async () => {
    await publish(await made({ name: "dash-name", version: "1.2.0" }), aliceHome);
    const search = async (q: string) =>
      (await cargo(["search", "--registry", "cairn", "--limit", "5", q], root, aliceHome)).stdout;
    assert.match(await search("tiny"), /^tiny_crate = "0\.1\.0" +# the tiny_crate crate$/m);
    assert.match(await search("dash-name"), /^dash-name = "1\.2\.0" +# the dash-name crate$/m);
  });
});
