/**
 * cargo's sparse index as the origin, a mirror and `cairn proxy` serve it,
 * with the real cargo as the judge: `cargo generate-lockfile` and `cargo
 * fetch` of a small application, each run with a fresh CARGO_HOME (so an
 * empty index cache), must give the same Cargo.lock from every server.
 *
 * The proxy sits in front of a mirror that lies the ways a sparse index
 * can: an index line changed (a version's `cksum`), a yank hidden, a crate's
 * index file rolled back to an older state, a `.crate` altered. It must
 * name the mirror and the failed check, pass none of the lie on, and finish
 * from the origin. It checks crates exactly as npm packages: documents
 * through the signed snapshot, blobs against their SHA-256.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CARGO_INDEX_PREFIX } from "../../src/cargo/read-api.ts";
import { indexPath } from "../../src/cargo/rules/index-path.ts";
import { keyName } from "../../src/cargo/rules/name.ts";
import type { Check, SourceError } from "../../src/client/errors.ts";
import { type RunningProxy, startProxy } from "../../src/proxy/server.ts";
import { cargoAvailable, makeCargoHome, runCargo } from "../helpers/cargo.ts";
import { startCountingProxy } from "../helpers/counting-proxy.ts";
import { tempDir } from "../helpers/log.ts";
import { type Attack, startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { servedMirror, syncedMirror } from "../helpers/synced-mirror.ts";
import { publishTinyCrate, tinyCrate } from "../helpers/tiny-crates.ts";

const TIMEOUT_MS = 60_000;
/** The crates the application locks: tiny-a twice (0.1 through Tiny_B, 0.2 directly), tinyc 1.0.0 (1.0.1 is yanked). */
const LOCKED = [
  ["Tiny_B", "1.0.0", [["tiny-a", "^0.1"]]],
  ["tiny-a", "0.1.0", []],
  ["tiny-a", "0.2.0", []],
  ["tinyc", "1.0.0", []],
] as const;
const CRATES = ["tiny-a", "Tiny_B", "tinyc"];

interface World {
  origin: TestOrigin;
  /** An honest mirror's copy of the origin's tree, which the lying mirror starts from. */
  treeDir: string;
  /** The application (its Cargo.toml), copied for each run. */
  manifest: string;
  /** The Cargo.lock from the origin, what every other server must give. */
  lock: string;
  /** The document blob paths of the crates, in the latest snapshot. */
  documentPaths: Set<string>;
  /** The `.crate` blob paths. */
  cratePaths: Set<string>;
  close(): Promise<void>;
}

const APP_MANIFEST = `[package]
name = "app"
version = "0.1.0"
edition = "2021"

[dependencies]
Tiny_B = "1"
tiny-a = "0.2"
tinyc = "1"

[workspace]
`;

/**
 * In a fresh CARGO_HOME: resolves the application against `index` (a
 * sparse URL) and fetches every crate; returns Cargo.lock. `home` is kept
 * for a second run when given.
 */
async function lockAndFetch(index: string, home?: string): Promise<string> {
  await using dir = await tempDir("cairn-cargo-run-");
  const cargoHome = home ?? (await makeCargoHome(join(dir.path, "home"), { sparseIndex: index }));
  const app = join(dir.path, "app");
  await runCargo(["new", "--vcs", "none", "--lib", "app"], { cwd: dir.path, cargoHome });
  await writeFile(join(app, "Cargo.toml"), APP_MANIFEST);
  await runCargo(["generate-lockfile"], { cwd: app, cargoHome });
  await runCargo(["fetch"], { cwd: app, cargoHome });
  return readFile(join(app, "Cargo.lock"), "utf8");
}

const sparseUrl = (base: string) => `${base.replace(/\/$/, "")}${CARGO_INDEX_PREFIX}`;

async function buildWorld(): Promise<World> {
  const origin = await startTestOrigin();
  try {
    return await publishAndMirror(origin);
  } catch (err) {
    await origin[Symbol.asyncDispose]();
    throw err;
  }
}

/** The crate's name as the state keys it. */
const keyOf = keyName;

async function publishAndMirror(origin: TestOrigin): Promise<World> {
  await publishTinyCrate(origin, "tiny-a", "0.1.0");
  await publishTinyCrate(origin, "Tiny_B", "1.0.0", [["tiny-a", "^0.1"]]);
  await publishTinyCrate(origin, "tinyc", "1.0.0");
  await publishTinyCrate(origin, "tiny-a", "0.2.0");
  await publishTinyCrate(origin, "tinyc", "1.0.1");
  await origin.registry.change("alice", "cargo", "tinyc", [
    { kind: "yank", version: "1.0.1", yanked: true },
  ]);
  const mirrorDir = await tempDir("cairn-honest-mirror-");
  // An honest mirror's copy: what the lying mirror starts from.
  (await syncedMirror(origin, mirrorDir.path)).close();
  const state = origin.registry.state;
  const documentPaths = new Set(
    CRATES.map(
      (name) =>
        `blob/sha256/${state.documentHash(`cargo/${name.toLowerCase().replaceAll("-", "_")}`)}`,
    ),
  );
  const cratePaths = new Set<string>();
  for (const name of CRATES)
    for (const row of state.table("cargo").versions(keyOf(name)))
      cratePaths.add(`blob/sha256/${row.entry.artifact?.sha256}`);
  return {
    origin,
    treeDir: join(mirrorDir.path, "tree"),
    manifest: APP_MANIFEST,
    lock: "",
    documentPaths,
    cratePaths,
    close: async () => {
      await origin[Symbol.asyncDispose]();
      await mirrorDir[Symbol.asyncDispose]();
    },
  };
}

/** Every problem names `source` and `check`, and there is one; none when `check` is unset. */
function assertBlamed(problems: readonly SourceError[], source: string, check?: Check): void {
  const seen = problems.map((p) => `${p.source} ${p.code}: ${p.message}`);
  if (!check) {
    assert.deepEqual(seen, []);
    return;
  }
  assert.ok(problems.length > 0, `want a ${check} problem, got none`);
  for (const p of problems) {
    assert.equal(p.source, source, seen.join("; "));
    assert.equal(p.code, check, seen.join("; "));
  }
}

/**
 * The proxy's reads of crates: a document in any spelling cargo counts as
 * the same, `.crate` files by crate and version (yanked ones too), and 404
 * for what is not there, however the request is spelled.
 */
async function proxyReads(proxy: RunningProxy): Promise<void> {
  const doc = await proxy.reader.documentOf("cargo", "TINY_A");
  assert.deepEqual([doc?.ecosystem, doc?.name], ["cargo", "tiny-a"]);
  assert.equal(await proxy.reader.documentOf("npm", "tiny-a"), undefined);
  const download = (crate: string, version: string) =>
    fetch(`${proxy.url}cargo/crates/${crate}/${version}/download`);
  const yanked = await download("tinyc", "1.0.1");
  assert.equal(yanked.status, 200);
  assert.ok(Buffer.from(await yanked.arrayBuffer()).equals(tinyCrate("tinyc", "1.0.1")));
  const other = await download("TINY_A", "0.1.0");
  assert.equal(other.status, 200);
  await other.arrayBuffer();
  for (const [crate, version] of [
    ["tiny-a", "9.9.9"],
    ["tiny-a", "__proto__"],
    ["__proto__", "1.0.0"],
    ["nope", "1.0.0"],
    ["a".repeat(65), "1.0.0"],
  ]) {
    const res = await download(crate, version);
    assert.equal(res.status, 404, `${crate}@${version}`);
    assert.ok(((await res.json()) as { errors?: unknown }).errors, `${crate}@${version}`);
  }
}

describe("cargo's sparse index from the origin, a mirror and the proxy", {
  skip: !cargoAvailable() && "cargo is not installed",
}, () => {
  let world: World;
  before(async () => {
    world = await buildWorld();
  });
  after(() => world?.close());

  test("the origin: Cargo.lock pins the crates' SHA-256, a yanked version is skipped, a second run revalidates with 304s", async () => {
    await using counting = await startCountingProxy(world.origin.url, { keepHost: true });
    await using dir = await tempDir("cairn-cargo-home-");
    const index = sparseUrl(counting.url);
    const home = await makeCargoHome(join(dir.path, "home"), { sparseIndex: index });
    world.lock = await lockAndFetch(index, home);
    const locked = [
      ...world.lock.matchAll(
        /name = "(.*)"\nversion = "(.*)"\nsource = "(.*)"\nchecksum = "(.*)"/g,
      ),
    ];
    assert.deepEqual(
      locked.map(([, name, version, , checksum]) => [name, version, checksum]),
      LOCKED.map(([name, version, deps]) => [
        name,
        version,
        createHash("sha256")
          .update(tinyCrate(name, version, deps))
          .digest("hex"),
      ]),
    );
    const indexFiles = CRATES.map((name) => `GET ${CARGO_INDEX_PREFIX}${indexPath(name)}`);
    for (const request of indexFiles) assert.ok(counting.requests.includes(request), request);
    // The downloads came from the static tree on the host cargo asked.
    assert.ok(counting.requests.some((r) => r.startsWith("GET /-/cairn/blob/sha256/")));

    // Same CARGO_HOME: cargo sends the ETags back and every index file answers 304, with no body.
    counting.requests.length = 0;
    const isIndexFile = (path: string) =>
      path.startsWith(CARGO_INDEX_PREFIX) && !path.endsWith("config.json");
    const before = counting.bytesOf(isIndexFile);
    assert.equal(await lockAndFetch(index, home), world.lock);
    for (const request of indexFiles) assert.ok(counting.requests.includes(request), request);
    assert.equal(counting.bytesOf(isIndexFile), before);
  });

  test("a mirror: the same Cargo.lock, downloads from the mirror, the API at the origin", async () => {
    assert.ok(world.lock, "the origin's test ran first");
    await using mirror = await servedMirror(world.origin);
    const config = await (await fetch(`${sparseUrl(mirror.url)}config.json`)).json();
    assert.deepEqual(config, {
      dl: `${mirror.url}-/cairn/blob/sha256/{sha256-checksum}`,
      api: world.origin.url.replace(/\/$/, ""),
    });
    assert.equal(await lockAndFetch(sparseUrl(mirror.url)), world.lock);
  });

  const CASES: readonly {
    attack: Attack;
    check?: Check;
    attacked: (path: string) => boolean;
    /** Also with a proxy that replays the whole log (documents are not read then, so only blob attacks). */
    full?: boolean;
  }[] = [
    { attack: "honest", attacked: (p) => world.cratePaths.has(p), full: true },
    { attack: "document-edit-version", check: "blob", attacked: (p) => world.documentPaths.has(p) },
    { attack: "document-unyank", check: "blob", attacked: (p) => world.documentPaths.has(p) },
    { attack: "document-stale", check: "blob", attacked: (p) => world.documentPaths.has(p) },
    {
      attack: "tarball-byte",
      check: "blob",
      attacked: (p) => world.cratePaths.has(p),
      full: true,
    },
  ];
  for (const c of CASES)
    for (const full of c.full ? [false, true] : [false])
      test(`the ${full ? "full" : "sparse"} proxy over a mirror, ${c.attack}: ${c.check ? `refused by the ${c.check} check, fetched from the origin` : "no problem"}`, async () => {
        assert.ok(world.lock, "the origin's test ran first");
        await using mirror = await startMaliciousMirror({
          treeDir: world.treeDir,
          attack: c.attack,
          historyTreeDir: world.origin.treeDir,
        });
        await using dir = await tempDir("cairn-proxy-");
        const problems: SourceError[] = [];
        const proxy = await startProxy({
          host: "127.0.0.1",
          port: 0,
          dataDir: dir.path,
          full,
          origin: world.origin.url,
          verifier: world.origin.key.verifier,
          mirrors: [mirror.url],
          useMirrorList: false,
          maxLag: 0,
          refreshMs: 60_000,
          timeoutMs: TIMEOUT_MS,
          // Not set aside after a failure: every read tries the mirror first and meets the attack.
          hardPenaltyMs: 0,
          softPenaltyMs: 0,
          onProblem: (err) => problems.push(err),
        });
        try {
          const config = await (await fetch(`${sparseUrl(proxy.url)}config.json`)).json();
          assert.deepEqual(config, {
            dl: `${proxy.url}cargo/crates/{crate}/{version}/download`,
            api: world.origin.url.replace(/\/$/, ""),
          });
          assert.equal(await lockAndFetch(sparseUrl(proxy.url)), world.lock);
          if (c.attack === "honest") await proxyReads(proxy);
        } finally {
          await proxy.close();
        }
        assert.ok(
          mirror.requests.some(c.attacked),
          `attack exercised: ${mirror.requests.join(", ")}`,
        );
        assertBlamed(problems, mirror.url, c.check);
      });
});
