/**
 * The local index for crates, end to end with real processes: crates
 * published to a real origin through cargo's web API (by hand, and the
 * corpus with the real `cargo publish`), `cairn sync`, then `ls`, `show`,
 * `search`, `diff` and `resolve` with `--ecosystem cargo` answering offline;
 * the corpus application resolves to the Cargo.lock the real cargo writes
 * from the same origin. npm packages of the same log stay npm's answers.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CARGO_INDEX_PREFIX } from "../../src/cargo/read-api.ts";
import { cargoAvailable, lockedPackages, makeCargoHome, runCargo } from "../helpers/cargo.ts";
import { type CliResult, cairn } from "../helpers/cli.ts";
import {
  crateFile,
  crateMetadata,
  cratePublishBody,
  type MadeCrate,
} from "../helpers/crate-body.ts";
import { copyCargoApp, prepareCrateCorpus } from "../helpers/crate-corpus.ts";
import { packageCrates } from "../helpers/crate-packages.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { signUp } from "../helpers/registry-client.ts";

function ok(result: CliResult): string {
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

/** A cairn client with its own home and index, following `origin`. */
function client(root: string, name: string) {
  const home = join(root, name);
  const index = join(home, "index.sqlite");
  return (args: string[]) => cairn([...args, "--index", index], { env: { CAIRN_HOME: home } });
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("the local index answers about crates", () => {
  let root: string;
  let origin: TestOrigin;
  let alice: string;
  let run: ReturnType<typeof client>;
  const api = (path: string) => new URL(`api/v1/${path}`, origin.url);

  /** Publishes `crate` through cargo's API, `deps` replacing its metadata's dependencies. */
  async function publish(crate: MadeCrate, edit: (m: Record<string, unknown>) => void = () => {}) {
    const metadata = crateMetadata(crate) as Record<string, unknown>;
    edit(metadata);
    const res = await fetch(api("crates/new"), {
      method: "PUT",
      headers: { authorization: alice },
      body: new Uint8Array(cratePublishBody(metadata, crateFile(crate))),
    });
    assert.equal(res.status, 200, await res.text());
  }
  async function yank(name: string, version: string, undo = false) {
    const res = await fetch(api(`crates/${name}/${version}/${undo ? "unyank" : "yank"}`), {
      method: undo ? "PUT" : "DELETE",
      headers: { authorization: alice },
    });
    assert.equal(res.status, 200, await res.text());
  }
  let syncOutput = "";
  const sync = async () => {
    syncOutput = ok(await run(["sync", "--origin", origin.url, "--key", origin.key.verifierKey]));
    return /snapshot ([0-9a-f]{64})/.exec(syncOutput)?.[1] ?? "";
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "cairn-cargo-index-"));
    origin = await startTestOrigin();
    alice = await signUp(origin.url, "alice", "alice's long password");
    run = client(root, "home");
    // An npm package of the same name as a crate: each ecosystem answers for its own.
    await origin.publish("tiny-log", "9.0.0");
    await publish({ name: "tiny-log", version: "0.1.0" });
    await publish({ name: "tiny-log", version: "0.1.1" });
    await publish({ name: "tiny-log", version: "0.2.0-rc.1" });
    await publish({ name: "tiny_app", version: "1.0.0", deps: [["tiny-log", "^0.1"]] }, (m) => {
      const deps = m.deps as Record<string, unknown>[];
      deps.push(
        { ...deps[0], name: "tiny-log", kind: "build", version_req: "0.1" },
        { ...deps[0], optional: true, target: "cfg(windows)", default_features: false },
      );
      m.features = { default: ["extra"], extra: [] };
    });
    // The first sync starts from a SQLite snapshot: crates' derived tables are rebuilt from its rows.
    assert.ok(await origin.publishDatabase());
  });
  after(async () => {
    await origin?.[Symbol.asyncDispose]();
    await rm(root, { recursive: true, force: true });
  });

  test("sync, then ls, show, search, diff and resolve of crates, offline", async () => {
    const first = await sync();
    assert.match(syncOutput, /^started from the SQLite snapshot/);
    assert.equal(
      ok(await run(["ls"]))
        .trim()
        .split("\n").length,
      1,
    );
    assert.match(ok(await run(["ls"])), /^tiny-log@9\.0\.0 {2}1 versions/);
    const listed = JSON.parse(ok(await run(["ls", "-e", "cargo", "--json"]))) as {
      name: string;
      latest: string;
      versions: number;
    }[];
    assert.deepEqual(
      listed.map((r) => [r.name, r.latest, r.versions]),
      // In the order of the names crates.io compares (tiny_app before tiny_log).
      [
        ["tiny_app", "1.0.0", 1],
        ["tiny-log", "0.1.1", 3],
      ],
    );
    // Prefixes are compared as crates.io compares names.
    assert.match(ok(await run(["ls", "--ecosystem", "cargo", "TINY_L"])), /^tiny-log@0\.1\.1 /);

    const shown = JSON.parse(ok(await run(["show", "-e", "cargo", "tiny_app@^1", "--json"])));
    const crate = crateFile({ name: "tiny_app", version: "1.0.0", deps: [["tiny-log", "^0.1"]] });
    assert.equal(shown.version, "1.0.0");
    assert.equal(shown.crate.sha256, sha256(crate));
    assert.equal(typeof shown.logIndex, "number");
    const line = await (
      await fetch(new URL(`${CARGO_INDEX_PREFIX.slice(1)}ti/ny/tiny_app`, origin.url))
    ).text();
    assert.deepEqual(shown.index, JSON.parse(line), "show gives the index line the origin serves");
    assert.deepEqual(
      shown.index.deps.map((d: Record<string, unknown>) => [d.kind, d.optional, d.target]),
      [
        ["normal", false, null],
        ["normal", true, "cfg(windows)"],
        ["build", false, null],
      ],
    );
    const text = ok(await run(["show", "-e", "cargo", "tiny-log"]));
    assert.match(text, /^tiny-log@0\.1\.1: the tiny-log crate\n/);
    assert.match(ok(await run(["show", "-e", "cargo", "tiny_app"])), /tiny-log 0\.1 \(build\)/);
    assert.match(
      ok(await run(["show", "-e", "cargo", "tiny_app"])),
      /tiny-log \^0\.1 \(optional; no default features; target cfg\(windows\)\)/,
    );
    // cargo's requirement syntax: `=` exact, pre-releases only when named.
    assert.equal(
      JSON.parse(ok(await run(["show", "-e", "cargo", "tiny-log@=0.1.0", "--json"]))).version,
      "0.1.0",
    );
    assert.equal(
      JSON.parse(ok(await run(["show", "-e", "cargo", "tiny-log@^0.2.0-rc", "--json"]))).version,
      "0.2.0-rc.1",
    );
    const missing = await run(["show", "-e", "cargo", "tiny-log@^3"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[no-matching-version\]/);
    assert.match(ok(await run(["show", "tiny-log"])), /^tiny-log@9\.0\.0/);

    const found = JSON.parse(ok(await run(["search", "-e", "cargo", "tiny", "--json"])));
    assert.deepEqual(
      found.hits.map((h: { name: string; version: string }) => [h.name, h.version]).sort(),
      [
        ["tiny-log", "0.1.1"],
        ["tiny_app", "1.0.0"],
      ],
    );

    const resolved = JSON.parse(ok(await run(["resolve", "-e", "cargo", "tiny_app@1", "--json"])));
    assert.deepEqual(
      resolved.packages.map((p: { name: string; version: string }) => `${p.name}@${p.version}`),
      ["cairn-resolve@0.0.0", "tiny-log@0.1.1", "tiny_app@1.0.0"],
    );

    // A yank: listed and resolved around, named by diff; a Cargo.lock still holding it keeps it.
    await yank("tiny-log", "0.1.1");
    const second = await sync();
    assert.match(ok(await run(["ls", "-e", "cargo"])), /\ntiny-log@0\.1\.0 /);
    const diff = ok(await run(["diff", "-e", "cargo", first, second]));
    assert.equal(diff, "~ tiny-log: yanked 0.1.1\n1 packages changed\n");
    assert.equal(ok(await run(["diff", first, second])), "0 packages changed\n");
    const yanked = JSON.parse(ok(await run(["show", "-e", "cargo", "tiny-log@0.1.1", "--json"])));
    assert.equal(yanked.index.yanked, true);
    assert.equal(typeof yanked.yanked, "string");
    assert.match(ok(await run(["show", "-e", "cargo", "tiny-log@0.1.1"])), /\nYANKED on /);

    const toml = join(root, "Cargo.toml");
    await writeFile(
      toml,
      '[package]\nname = "app"\nversion = "0.1.0"\n\n[dependencies]\ntiny-log = "0.1"\n',
    );
    const fresh = ok(await run(["resolve", "-e", "cargo", "--cargo-toml", toml]));
    assert.match(fresh, /name = "tiny-log"\nversion = "0\.1\.0"\nchecksum = "[0-9a-f]{64}"/);
    const lock = join(root, "Cargo.lock");
    await writeFile(
      lock,
      'version = 4\n\n[[package]]\nname = "tiny-log"\nversion = "0.1.1"\nsource = "sparse+http://x/"\n',
    );
    const kept = ok(
      await run(["resolve", "-e", "cargo", "--cargo-toml", toml, "--cargo-lock", lock]),
    );
    assert.match(kept, /name = "tiny-log"\nversion = "0\.1\.1"\n/);
    await yank("tiny-log", "0.1.1", true);
    const third = await sync();
    assert.equal(
      ok(await run(["diff", "-e", "cargo", second, third])),
      "~ tiny-log: unyanked 0.1.1\n1 packages changed\n",
    );
  });

  test("a bad ecosystem or a cargo flag without cargo is a usage error", async () => {
    const bad = await run(["ls", "-e", "pypi"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /"pypi" is not one of npm, cargo/);
    const npmWithToml = await run(["resolve", "--cargo-toml", join(root, "Cargo.toml")]);
    assert.equal(npmWithToml.code, 1);
    assert.match(npmWithToml.stderr, /need --ecosystem cargo/);
    const cargoWithPackageJson = await run(["resolve", "-e", "cargo", "--package-json", "x.json"]);
    assert.equal(cargoWithPackageJson.code, 1);
    assert.match(cargoWithPackageJson.stderr, /--package-json and --dev are npm's/);
  });
});

describe("cairn resolve of the corpus application", {
  skip: !cargoAvailable() && "cargo is not installed",
}, () => {
  let root: string;
  let origin: TestOrigin;
  let cargoHome: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "cairn-cargo-resolve-"));
    origin = await startTestOrigin();
    const token = await signUp(origin.url, "alice", "alice's long password");
    cargoHome = await makeCargoHome(join(root, "cargo-home"), {
      sparseIndex: new URL(CARGO_INDEX_PREFIX.slice(1), origin.url).href,
      token,
    });
    const crates = await prepareCrateCorpus(join(root, "corpus"));
    // Each crate packages against the crates published before it, then is published.
    await packageCrates(crates, {
      cargoHome,
      outDir: join(root, "packaged"),
      afterEach: async ({ crate }) => {
        await runCargo(
          [
            ...["publish", "--registry", "cairn", "--no-verify", "--allow-dirty"],
            ...["--manifest-path", join(crate.dir, "Cargo.toml")],
          ],
          { cwd: root, cargoHome, targetDir: join(root, "target") },
        );
      },
    });
  });
  after(async () => {
    await origin?.[Symbol.asyncDispose]();
    await rm(root, { recursive: true, force: true });
  });

  test("equals the Cargo.lock the real cargo generates from the same origin, package for package", async () => {
    const run = client(root, "home");
    ok(await run(["sync", "--origin", origin.url, "--key", origin.key.verifierKey]));
    const app = await copyCargoApp(join(root, "app"));
    const resolved = JSON.parse(
      ok(await run(["resolve", "-e", "cargo", "--cargo-toml", join(app, "Cargo.toml"), "--json"])),
    ) as {
      packages: {
        name: string;
        version: string;
        checksum?: string;
        dependencies: { name: string; version: string }[];
      }[];
    };

    await runCargo(["generate-lockfile"], { cwd: app, cargoHome });
    const lockText = await readFile(join(app, "Cargo.lock"), "utf8");
    const locked = await lockedPackages(join(app, "Cargo.lock"));
    assert.ok(locked.length > 28, `${locked.length} packages`);
    const counts = new Map<string, number>();
    for (const p of resolved.packages) counts.set(p.name, (counts.get(p.name) ?? 0) + 1);
    const ours = resolved.packages.map((p) => ({
      name: p.name,
      version: p.version,
      checksum: p.checksum,
      dependencies: p.dependencies.map((d) =>
        (counts.get(d.name) ?? 0) > 1 ? `${d.name} ${d.version}` : d.name,
      ),
    }));
    const cargos = (
      locked as unknown as {
        name: string;
        version: string;
        checksum?: string;
        dependencies?: string[];
      }[]
    ).map((p) => ({
      name: p.name,
      version: p.version,
      checksum: p.checksum,
      dependencies: p.dependencies ?? [],
    }));
    assert.deepEqual(ours, cargos);

    // The text is Cargo.lock's packages, less the source the index does not know.
    const text = ok(await run(["resolve", "-e", "cargo", "--cargo-toml", join(app, "Cargo.toml")]));
    const withoutSource = lockText
      .replace(/^#.*\n|^version = \d+\n\n/gm, "")
      .replace(/^source = .*\n/gm, "");
    assert.equal(text, withoutSource);
  });
});
