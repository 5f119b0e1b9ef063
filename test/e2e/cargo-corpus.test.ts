/**
 * The crate corpus end to end, as a Rust user meets Cairn: 28 real crates
 * (Debian's sources of serde, serde_json, regex, clap and what they need)
 * published with `cargo publish` to a real `cairn serve`, then the
 * application that uses them built with `cargo build` from the origin, from
 * a real `cairn mirror`, and through `cairn proxy` in front of that mirror
 * and a second one that changes a byte of every `.crate` it serves. Each
 * build starts from an empty CARGO_HOME (no index cache, no downloads); all
 * three must lock the same crates with the same checksums, and the proxy
 * must have caught and benched the lying mirror.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CARGO_INDEX_PREFIX } from "../../src/cargo/read-api.ts";
import { type CairnServer, startCairnServer } from "../helpers/cairn-server.ts";
import { cargoAvailable, lockedPackages, makeCargoHome, runCargo } from "../helpers/cargo.ts";
import { cairn } from "../helpers/cli.ts";
import { type CorpusCrate, copyCargoApp, prepareCrateCorpus } from "../helpers/crate-corpus.ts";
import { tempDir } from "../helpers/log.ts";
import { type MaliciousMirror, startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { signUp } from "../helpers/registry-client.ts";
import { type ServeProcess, startServe } from "../helpers/serve.ts";

interface SourcesReport {
  sources: { url: string; origin: boolean; failures: number; benched: boolean }[];
}

const sparseIndex = (base: string) => new URL(CARGO_INDEX_PREFIX.slice(1), base).href;

describe("cargo builds the corpus app from the origin, a mirror, and cairn proxy over a lying mirror", {
  skip: !cargoAvailable() && "cargo is not installed",
}, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let crates: CorpusCrate[];
  let origin: ServeProcess | undefined;
  let mirror: CairnServer | undefined;
  let liar: MaliciousMirror | undefined;
  let proxy: CairnServer | undefined;

  before(async () => {
    dir = await tempDir();
    crates = await prepareCrateCorpus(join(dir.path, "crates"));
    const data = join(dir.path, "origin");
    origin = await startServe(["--data", data, "--no-durable", "--database-interval", "0"]);
    const token = await signUp(origin.url, "alice", "s3cret-pass");
    const publisher = await makeCargoHome(join(dir.path, "publisher"), {
      sparseIndex: sparseIndex(origin.url),
      token,
    });
    // In publish order, each from outside its directory (rustup obeys toolchain files there).
    for (const crate of crates)
      await runCargo(
        [
          ...["publish", "--registry", "cairn", "--no-verify", "--allow-dirty"],
          ...["--manifest-path", join(crate.dir, "Cargo.toml")],
        ],
        { cwd: dir.path, cargoHome: publisher, targetDir: join(dir.path, "package-target") },
      );
    mirror = await startCairnServer([
      ...["mirror", "--from", origin.url, "--key", origin.verifierKey],
      ...["--data", join(dir.path, "mirror"), "--port", "0", "--no-durable"],
    ]);
    await mirror.waitFor(/synced: /);
    liar = await startMaliciousMirror({
      treeDir: join(dir.path, "mirror", "tree"),
      attack: "tarball-byte",
    });
    for (const url of [mirror.url, liar.url]) {
      const added = await cairn(["mirrors", "add", url, "--data", data]);
      assert.equal(added.code, 0, added.stderr);
    }
    proxy = await startCairnServer([
      ...["proxy", "--origin", origin.url, "--key", origin.verifierKey],
      ...["--data", join(dir.path, "proxy"), "--port", "0"],
    ]);
  });

  after(async () => {
    await proxy?.stop();
    await liar?.close();
    await mirror?.stop();
    await origin?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** Builds and runs the app with a fresh CARGO_HOME reading `base`'s index; its Cargo.lock packages. */
  async function build(name: string, base: string) {
    const cargoHome = await makeCargoHome(join(dir.path, `${name}-home`), {
      sparseIndex: sparseIndex(base),
    });
    const app = await copyCargoApp(join(dir.path, `${name}-app`));
    const manifest = ["--manifest-path", join(app, "Cargo.toml")];
    // One target directory: what cargo compiled once it may reuse; every build still resolves
    // and downloads everything afresh into its own CARGO_HOME.
    const targetDir = join(dir.path, "target");
    await runCargo(["build", ...manifest], { cwd: dir.path, cargoHome, targetDir });
    const ran = await runCargo(
      [
        "run",
        "--offline",
        "--locked",
        "--quiet",
        ...manifest,
        "--",
        "--pattern",
        "b+",
        "abc",
        "xyz",
        "bb",
      ],
      { cwd: dir.path, cargoHome, targetDir },
    );
    return { packages: await lockedPackages(join(app, "Cargo.lock")), output: ran.stdout };
  }

  test("the same crates and checksums from all three, every byte checked, the liar benched", async (t) => {
    const fromOrigin = await build("origin", origin?.url ?? "");
    const registryCrates = fromOrigin.packages.filter((p) => p.source !== undefined);
    assert.equal(registryCrates.length, crates.length, "every corpus crate is locked");
    for (const p of registryCrates) assert.match(p.checksum ?? "", /^[0-9a-f]{64}$/, p.name);

    const fromMirror = await build("mirror", mirror?.url ?? "");
    const viaProxy = await build("proxy", proxy?.url ?? "");
    assert.deepEqual(fromMirror.packages, fromOrigin.packages);
    assert.deepEqual(viaProxy.packages, fromOrigin.packages);
    assert.equal(fromOrigin.output.trim(), '{"pattern":"b+","matches":["abc","bb"]}');
    assert.equal(viaProxy.output, fromOrigin.output);

    const res = await fetch(new URL("-/cairn-proxy/sources", proxy?.url));
    assert.equal(res.status, 200);
    const report = (await res.json()) as SourcesReport;
    for (const s of report.sources)
      t.diagnostic(`${s.url}: ${s.failures} failures${s.benched ? ", benched" : ""}`);
    const lying = report.sources.find((s) => s.url === liar?.url);
    assert.ok(lying && lying.failures > 0, "the lying mirror was never caught");
    assert.ok(lying.benched, "the lying mirror is not benched");
    assert.equal(report.sources.find((s) => s.url === mirror?.url)?.failures, 0);
  });
});
