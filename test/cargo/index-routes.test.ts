/**
 * cargo's sparse index routes over a state folded from hand-made crate
 * entries: config.json, index files at cargo's paths with ETag and
 * Last-Modified and 304s, 404 for every other spelling; then real cargo
 * resolving a lockfile from them, twice, the second time on 304s.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import {
  CARGO_INDEX_PREFIX,
  cargoStateReads,
  registerCargoReadApi,
} from "../../src/cargo/read-api.ts";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { createHttpApp } from "../../src/npm/http-app.ts";
import type { PackageEntry } from "../../src/registry/entries.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { cargoAvailable, lockedPackages, makeCargoHome, runCargo } from "../helpers/cargo.ts";
import { crateDependency, cratePublish, madeUpHash } from "../helpers/crate-entries.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { startServe } from "../helpers/serve.ts";

const hex = madeUpHash;

/** A crate with normal dependencies on this registry only (no serde), published at `time`. */
const publish = (
  name: string,
  version: string,
  time: string,
  deps: readonly (readonly [string, string])[] = [],
) =>
  cratePublish(name, version, {
    time,
    resolution: { deps: deps.map(([n, req]) => crateDependency(n, req)), features: {} },
  });

const T0 = "2026-11-30T06:00:00.000Z";
const T1 = "2026-11-30T07:00:00.000Z";

let state: RegistryState;
let app: FastifyInstance;
let base: string;
/** Requests the index routes saw, as `<status> <path>`. */
const seen: string[] = [];

before(async () => {
  state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
  state.apply(0, [
    publish("Foo-Bar", "1.0.0", T0),
    publish("Foo-Bar", "1.1.0", T0),
    publish("ab", "0.1.0", T0, [["Foo-Bar", "^1.0"]]),
  ]);
  app = createHttpApp();
  app.addHook("onResponse", async (req, reply) => {
    if (req.url.startsWith(CARGO_INDEX_PREFIX))
      seen.push(`${reply.statusCode} ${req.url.slice(CARGO_INDEX_PREFIX.length)}`);
  });
  registerCargoReadApi(
    app,
    cargoStateReads(() => state),
  );
  base = await app.listen({ host: "127.0.0.1", port: 0 });
});

after(async () => {
  await app.close();
  state.close();
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${CARGO_INDEX_PREFIX}${path}`, { headers });

test("config.json points downloads at the static tree's blobs on the host asked, and the API at the same base", async () => {
  const res = await get("config.json");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    dl: `${base}/-/cairn/blob/sha256/{sha256-checksum}`,
    api: base,
  });
  // fetch will not set Host: ask as a client of a server under another name would.
  const other = await new Promise<string>((resolve, reject) => {
    const req = request(`${base}${CARGO_INDEX_PREFIX}config.json`, {
      headers: { host: "index.example:8080" },
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
  assert.equal(
    (JSON.parse(other) as { dl: string }).dl,
    "http://index.example:8080/-/cairn/blob/sha256/{sha256-checksum}",
  );
});

test("a crate's index file at its lowercase path, one line per version, with validators", async () => {
  const res = await get("fo/o-/foo-bar");
  assert.equal(res.status, 200);
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.headers.get("etag"), `"${createHash("sha256").update(bytes).digest("hex")}"`);
  assert.equal(res.headers.get("last-modified"), new Date(T0).toUTCString());
  const lines = new TextDecoder().decode(bytes).split("\n");
  assert.equal(lines.pop(), "");
  assert.deepEqual(
    lines.map((l) => JSON.parse(l)).map((l) => [l.name, l.vers, l.yanked]),
    [
      ["Foo-Bar", "1.0.0", false],
      ["Foo-Bar", "1.1.0", false],
    ],
  );
  assert.equal((await get("2/ab")).status, 200);
});

test("304 for a matching If-None-Match or a later If-Modified-Since, 200 once the file changed", async () => {
  const first = await get("fo/o-/foo-bar");
  const etag = first.headers.get("etag") ?? "";
  const lastModified = first.headers.get("last-modified") ?? "";
  await first.arrayBuffer();
  assert.equal((await get("fo/o-/foo-bar", { "if-none-match": etag })).status, 304);
  assert.equal((await get("fo/o-/foo-bar", { "if-modified-since": lastModified })).status, 304);
  // If-None-Match decides when sent, even beside a date that would match.
  const stale = await get("fo/o-/foo-bar", {
    "if-none-match": '"0000"',
    "if-modified-since": lastModified,
  });
  assert.equal(stale.status, 200);
  await stale.arrayBuffer();

  const size = state.logSize;
  const yank: PackageEntry = {
    v: 1,
    kind: "yank",
    ecosystem: "cargo",
    name: "Foo-Bar",
    version: "1.0.0",
    yanked: true,
    time: T1,
    actor: "alice",
  };
  state.apply(size, [yank]);
  const changed = await get("fo/o-/foo-bar", {
    "if-none-match": etag,
    "if-modified-since": lastModified,
  });
  assert.equal(changed.status, 200);
  assert.notEqual(changed.headers.get("etag"), etag);
  assert.equal(changed.headers.get("last-modified"), new Date(T1).toUTCString());
  assert.match(await changed.text(), /"vers":"1\.0\.0".*"yanked":true/);
  assert.equal((await get("fo/o-/foo-bar", { "if-modified-since": lastModified })).status, 200);
  state.apply(size + 1, [{ ...yank, yanked: false, time: T1 }]);
});

test("404 for other spellings, upper case, wrong folders, unknown crates and non-paths", async () => {
  for (const path of [
    "fo/o_/foo_bar",
    "Fo/o-/Foo-Bar",
    "fo/o-/Foo-Bar",
    "foo-bar",
    "1/f/foo-bar",
    "ba/rr/barrr",
    "3/a/abc",
    "2/aB",
    "2/ab/",
    "2/ab%2F",
    "",
  ]) {
    const res = await get(path);
    assert.equal(res.status, 404, path);
    assert.ok(Array.isArray(((await res.json()) as { errors: unknown }).errors), path);
  }
});

test("real cargo resolves a lockfile from the index, and revalidates it with 304s the second time", {
  skip: !cargoAvailable() && "cargo is not installed",
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "cargo-index-routes-"));
  try {
    const cargoHome = await makeCargoHome(join(dir, "home"), {
      sparseIndex: `${base}${CARGO_INDEX_PREFIX}`,
    });
    const app = join(dir, "app");
    await runCargo(["new", "--vcs", "none", "--lib", "app"], { cwd: dir, cargoHome });
    await writeFile(
      join(app, "Cargo.toml"),
      '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nab = "0.1"\n\n[workspace]\n',
    );
    seen.length = 0;
    await runCargo(["generate-lockfile"], { cwd: app, cargoHome });
    const locked = await lockedPackages(join(app, "Cargo.lock"));
    assert.deepEqual(
      locked.filter((p) => p.source).map((p) => [p.name, p.version, p.checksum]),
      [
        ["Foo-Bar", "1.1.0", hex("crate Foo-Bar@1.1.0")],
        ["ab", "0.1.0", hex("crate ab@0.1.0")],
      ],
    );
    assert.deepEqual(seen.sort(), ["200 2/ab", "200 config.json", "200 fo/o-/foo-bar"]);
    seen.length = 0;
    await runCargo(["generate-lockfile"], { cwd: app, cargoHome });
    assert.deepEqual(seen.sort(), ["200 config.json", "304 2/ab", "304 fo/o-/foo-bar"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the origin serves the index beside the npm API", async () => {
  await using origin = await startTestOrigin();
  await origin.publish("cargo", "1.0.0");
  const config = await fetch(new URL(`${CARGO_INDEX_PREFIX.slice(1)}config.json`, origin.url));
  const root = origin.url.slice(0, -1);
  assert.deepEqual(await config.json(), {
    dl: `${root}/-/cairn/blob/sha256/{sha256-checksum}`,
    api: root,
  });
  const missing = await fetch(new URL(`${CARGO_INDEX_PREFIX.slice(1)}se/rd/serde`, origin.url));
  assert.equal(missing.status, 404);
  await missing.arrayBuffer();
  // An npm package named like the prefix keeps its packument.
  const packument = await fetch(new URL("cargo", origin.url));
  assert.equal(((await packument.json()) as { name: string }).name, "cargo");
});

test("cairn serve prints the sparse index URL, and cargo reads the registry from it", async () => {
  await using dir = await tempDir();
  await using server = await startServe(["--data", join(dir.path, "data")]);
  const index = /cargo index: {2}sparse\+(\S+)/.exec(server.stdout())?.[1];
  assert.equal(index, `${server.url}${CARGO_INDEX_PREFIX.slice(1)}`);
  const config = (await (await fetch(`${index}config.json`)).json()) as { api: string };
  assert.equal(config.api, server.url.replace(/\/$/, ""));
  if (!cargoAvailable()) return;
  const cargoHome = await makeCargoHome(join(dir.path, "home"), { sparseIndex: index });
  await runCargo(["new", "--vcs", "none", "--lib", "app"], { cwd: dir.path, cargoHome });
  const app = join(dir.path, "app");
  await writeFile(
    join(app, "Cargo.toml"),
    '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nnope = "1"\n\n[workspace]\n',
  );
  await assert.rejects(
    runCargo(["generate-lockfile"], { cwd: app, cargoHome }),
    /no matching package named `nope` found/,
  );
});
