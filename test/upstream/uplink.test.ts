/**
 * The pull-through cache against the local upstream registry: what an
 * uplink's faults do (each refused with a coded error, nothing cached, a
 * later honest answer accepted), removals, dependency confusion, one
 * upstream exchange for many concurrent requests, outages, legacy names,
 * the audit, reading dependencies ahead, and following.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import semver from "semver";
import { PackageStore } from "../../src/install/store.ts";
import { fileIndexBytes, parseFileIndex } from "../../src/npm/file-index.ts";
import { type RunningOrigin, startOrigin } from "../../src/npm/origin-server.ts";
import type { OriginConfig, UplinkSettings } from "../../src/origin/config.ts";
import type { ArtifactEntry } from "../../src/registry/entries.ts";
import { deltaPath } from "../../src/store/delta-path.ts";
import { unixfsOfBytes } from "../../src/store/unixfs.ts";
import { packageEntries } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { testOriginConfig } from "../helpers/origin.ts";
import { publish, signUp } from "../helpers/registry-client.ts";
import { startUpstreamRegistry, type UpstreamRegistry } from "../helpers/upstream-registry.ts";

interface Packument {
  readonly "dist-tags": Record<string, string>;
  readonly time: Record<string, string>;
  readonly versions: Record<
    string,
    { deprecated?: string; dist: { tarball: string; signatures?: { keyid: string }[] } }
  >;
}

interface Downstream extends RunningOrigin {
  readonly data: string;
  get(path: string, accept?: string): Promise<Response>;
  packument(name: string): Promise<Packument>;
  /** The package entries of its log about `name`, by kind. */
  kinds(name: string): Promise<string[]>;
}

let dirs: Awaited<ReturnType<typeof tempDir>>[] = [];

async function downstream(
  upstream: UpstreamRegistry,
  uplink: Partial<UplinkSettings> = {},
  settings: Partial<OriginConfig> = {},
  options: { follow?: boolean; now?: () => number } = {},
): Promise<Downstream> {
  const dir = await tempDir("cairn-uplink-");
  dirs.push(dir);
  const data = join(dir.path, "data");
  // Reading ahead is off unless a test turns it on: it would go on importing in the
  // background, and the tests that count upstream requests share one upstream.
  const origin = await startOrigin(
    testOriginConfig(data, {
      uplinks: { up: { url: upstream.url, readAhead: false, ...uplink } },
      ...settings,
    }),
    { follow: options.follow ?? false, ...(options.now ? { now: options.now } : {}) },
  );
  const get = (path: string, accept = "application/json") =>
    fetch(new URL(path, origin.url), { headers: { accept } });
  return {
    ...origin,
    data,
    get,
    packument: async (name) => {
      const res = await get(name.replace("/", "%2f"));
      assert.equal(res.status, 200, `${name}: ${res.status}`);
      return (await res.json()) as Packument;
    },
    kinds: async (name) =>
      (await packageEntries(join(data, "tree"), origin.key.verifier))
        .filter((e) => e.name === name)
        .map((e) => e.kind),
  };
}

/** Whether the origin holds the tarball of name@version. */
function bound(cairn: Downstream, name: string, version: string): boolean {
  return cairn.registry.state.table("npm").version(name, version)?.entry.artifact !== undefined;
}

/** A package's oldest version: never the one the origin prefetches (latest). */
function oldest(doc: Packument): string {
  const [first] = Object.keys(doc.versions).sort((a, b) => (semver.lt(a, b) ? -1 : 1));
  assert.notEqual(first, doc["dist-tags"].latest);
  return first;
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { code: string }).code;
}

describe("an origin with an uplink", () => {
  let upstream: UpstreamRegistry;
  const running: Downstream[] = [];
  const start = async (...args: Parameters<typeof downstream>) => {
    const d = await downstream(...args);
    running.push(d);
    return d;
  };

  before(async () => {
    upstream = await startUpstreamRegistry();
  });
  after(async () => {
    for (const d of running) await d.close();
    await upstream.close();
    for (const dir of dirs) await dir[Symbol.asyncDispose]();
    dirs = [];
  });

  test("a tampered tarball is refused with nothing kept, and the honest one accepted later", async () => {
    const cairn = await start(upstream);
    const name = "upstream-only";
    const doc = await cairn.packument(name);
    upstream.tamperTarball(name, "1.0.0");
    const refused = await fetch(doc.versions["1.0.0"].dist.tarball);
    assert.equal(refused.status, 502);
    assert.equal(await errorCode(refused), "integrity-mismatch");
    assert.equal(bound(cairn, name, "1.0.0"), false, "nothing bound");
    upstream.clearFaults();
    const honest = await fetch(doc.versions["1.0.0"].dist.tarball);
    assert.equal(honest.status, 200);
    assert.deepEqual(
      Buffer.from(await honest.arrayBuffer()),
      await upstream.tarball(name, "1.0.0"),
    );
    await cairn.uplinks?.settled();
    assert.equal(bound(cairn, name, "1.0.0"), true);
    // Bound, it is signed with the registry key (in the batch that bound it); unbound, it was not.
    assert.equal(doc.versions["1.0.0"].dist.signatures, undefined);
    const { keys } = (await (await cairn.get("-/npm/v1/keys")).json()) as {
      keys: { keyid: string }[];
    };
    assert.deepEqual(
      (await cairn.packument(name)).versions["1.0.0"].dist.signatures?.map((s) => s.keyid),
      [keys[0].keyid],
    );
  });

  test("a bound tarball names its version's files, stored, and the next version bound gets deltas", async () => {
    const cairn = await start(upstream);
    const name = "accepts";
    const doc = await cairn.packument(name);
    // The import fetches latest's tarball itself; a prerelease above it is bound next, and its
    // previous version (the highest lower one with files) is latest.
    const older = doc["dist-tags"].latest;
    const newer = semver.rsort(Object.keys(doc.versions))[0];
    assert.ok(semver.gt(newer, older));
    for (const version of [older, newer]) {
      assert.equal((await fetch(doc.versions[version].dist.tarball)).status, 200);
      await cairn.uplinks?.settled();
    }
    await cairn.deltasIdle();
    const entries = (await packageEntries(join(cairn.data, "tree"), cairn.key.verifier)).filter(
      (e): e is ArtifactEntry => e.name === name && e.kind === "artifact",
    );
    assert.equal(entries.length, 2);
    // The index is the one the installer's store makes of the same tarball, byte for byte.
    const store = await PackageStore.open(join(cairn.data, "install-store"));
    for (const entry of entries) {
      assert.ok(entry.files, `${entry.version} names its files`);
      const tarball = await upstream.tarball(name, entry.version);
      const index = await store.addTarball(tarball, {
        integrity: `sha512-${entry.artifact.sha512}`,
      });
      assert.deepEqual(
        await cairn.registry.blobs.get(entry.files.sha256),
        Buffer.from(fileIndexBytes(index)),
      );
      for (const file of index.files.values())
        assert.ok(await cairn.registry.blobs.has(file.sha256), file.sha256);
    }
    // package.json differs between any two versions: the newer one's is a delta from the older's.
    const [from, to] = await Promise.all(
      [older, newer].map(async (v) => {
        const bytes = entries.find((e) => e.version === v)?.files;
        assert.ok(bytes);
        const index = parseFileIndex(
          new TextDecoder().decode(await cairn.registry.blobs.get(bytes.sha256)),
        );
        return index.files.get("package.json")?.sha256;
      }),
    );
    assert.ok(from && to && from !== to);
    const delta = await fetch(new URL(`/-/cairn/${deltaPath(from, to)}`, cairn.url));
    assert.equal(delta.status, 200);
  });

  test("a bound tarball over 1 MiB records its UnixFS root, its nodes stored", async () => {
    const cairn = await start(upstream);
    const name = "zod";
    const doc = await cairn.packument(name);
    const version = doc["dist-tags"].latest;
    const res = await fetch(doc.versions[version].dist.tarball);
    assert.equal(res.status, 200);
    const tarball = Buffer.from(await res.arrayBuffer());
    assert.ok(tarball.length > 1 << 20, `${name}@${version} is over 1 MiB`);
    await cairn.uplinks?.settled();
    const entry = (await packageEntries(join(cairn.data, "tree"), cairn.key.verifier)).find(
      (e): e is ArtifactEntry => e.name === name && e.kind === "artifact" && e.version === version,
    );
    const dag = unixfsOfBytes(tarball);
    assert.equal(entry?.artifact.unixfs, dag.root);
    for (const node of dag.nodes) assert.ok(await cairn.registry.blobs.has(node.sha256));
    // The version a client reads carries it.
    assert.equal(
      cairn.registry.state.table("npm").version(name, version)?.entry.artifact?.unixfs,
      dag.root,
    );
  });

  test("a packument whose integrity disagrees with its tarball is refused until the upstream corrects it", async () => {
    const cairn = await start(upstream);
    const name = "LegacyCaps";
    upstream.wrongIntegrity(name, "1.0.0");
    const lying = await cairn.packument(name);
    const refused = await fetch(lying.versions["1.0.0"].dist.tarball);
    assert.equal(refused.status, 502);
    assert.equal(await errorCode(refused), "integrity-mismatch");
    assert.equal(bound(cairn, name, "1.0.0"), false, "nothing bound");
    upstream.clearFaults();
    // The mismatch sends the importer back to the packument, which now tells the truth.
    const honest = await fetch(lying.versions["1.0.0"].dist.tarball);
    assert.equal(honest.status, 200);
    assert.deepEqual(
      Buffer.from(await honest.arrayBuffer()),
      await upstream.tarball(name, "1.0.0"),
    );
    const kinds = await cairn.kinds(name);
    assert.equal(kinds.filter((k) => k === "import").length, 3, "the correction is logged");
    // Once bound, a version's hashes never change again.
    upstream.wrongIntegrity(name, "1.0.0");
    await cairn.uplinks?.refresh(name);
    assert.equal((await cairn.kinds(name)).filter((k) => k === "import").length, 3);
    upstream.clearFaults();
  });

  for (const [fault, code, status] of [
    ["truncate", "truncated", 502],
    ["endless", "too-large", 502],
    ["stall", "timeout", 504],
    ["status", "bad-status", 502],
  ] as const) {
    test(`a ${fault} from the upstream is a ${status} ${code}, and nothing is kept`, async () => {
      const cairn = await start(upstream, {
        timeout: 0.5,
        maxPackumentBytes: 1 << 20,
        maxTarballBytes: 1 << 20,
      });
      // A packument never seen, then a tarball never fetched, each under the fault.
      if (fault === "status") upstream.status(500, "packument", "escape-html");
      else upstream[fault]("packument", "escape-html");
      const cold = await cairn.get("escape-html");
      assert.equal(cold.status, status);
      assert.equal(await errorCode(cold), code);
      assert.equal(cairn.registry.state.table("npm").getPackage("escape-html"), undefined);
      upstream.clearFaults();
      const doc = await cairn.packument("escape-html");
      // Not latest, whose tarball the origin fetches at once by itself.
      const older = oldest(doc);
      if (fault === "status") upstream.status(500, "tarball", "escape-html");
      else upstream[fault]("tarball", "escape-html");
      const tarball = await fetch(doc.versions[older].dist.tarball);
      assert.equal(tarball.status, status);
      assert.equal(await errorCode(tarball), code);
      assert.equal(bound(cairn, "escape-html", older), false);
      upstream.clearFaults();
      assert.equal((await fetch(doc.versions[older].dist.tarball)).status, 200);
    });
  }

  test("a version the upstream removes is removed here too, and never returns as latest", async () => {
    const cairn = await start(upstream);
    const name = "@upstream/only";
    assert.equal((await cairn.packument(name))["dist-tags"].latest, "1.1.0");
    await upstream.removeVersion(name, "1.1.0");
    await cairn.uplinks?.refresh(name);
    const doc = await cairn.packument(name);
    assert.deepEqual(Object.keys(doc.versions), ["1.0.0"]);
    assert.equal(doc["dist-tags"].latest, "1.0.0");
    // A takedown by the uplink, with its reason in public: every copy withholds the bytes.
    assert.ok((await cairn.kinds(name)).includes("takedown"));
    const gone = await cairn.get(`${name}/-/only-1.1.0.tgz`);
    assert.equal(gone.status, 451);
    assert.match(((await gone.json()) as { reason: string }).reason, /withdrawn by uplink/);
  });

  test("a whole package is withdrawn only on a second 404 a max age after the first", async () => {
    let now = Date.parse("2026-11-30T00:00:00Z");
    const cairn = await start(upstream, { maxAge: 60 }, {}, { now: () => now });
    await upstream.addPackage("short-lived", ["1.0.0"]);
    assert.equal((await cairn.get("short-lived")).status, 200);
    await upstream.removeVersion("short-lived", "1.0.0");
    await cairn.uplinks?.refresh("short-lived");
    const first = await cairn.get("short-lived");
    assert.equal(first.status, 200, "one 404 withdraws nothing");
    assert.match(first.headers.get("cairn-stale") ?? "", /not-found/);
    now += 61_000;
    await cairn.uplinks?.refresh("short-lived");
    assert.equal((await cairn.get("short-lived")).status, 451);
    assert.ok((await cairn.kinds("short-lived")).includes("takedown"));
  });

  test("a plain refresh never changes the hashes of a version, fetched or not", async () => {
    const cairn = await start(upstream);
    const name = "@upstream/only";
    await cairn.packument(name);
    const imports = async () => (await cairn.kinds(name)).filter((k) => k === "import").length;
    const count = await imports();
    upstream.wrongIntegrity(name, "1.0.0");
    try {
      await cairn.uplinks?.refresh(name);
      assert.equal(await imports(), count);
    } finally {
      upstream.clearFaults();
    }
  });

  test("deprecations and tag moves upstream become entries", async () => {
    const cairn = await start(upstream);
    await cairn.packument("ms");
    const latest = (await cairn.packument("ms"))["dist-tags"].latest;
    await upstream.deprecate("ms", latest, "use something else");
    await upstream.setDistTag("ms", "legacy", latest);
    await cairn.uplinks?.refresh("ms");
    const doc = await cairn.packument("ms");
    assert.equal(doc.versions[latest].deprecated, "use something else");
    assert.equal(doc["dist-tags"].legacy, latest);
    const kinds = await cairn.kinds("ms");
    assert.ok(kinds.includes("deprecate") && kinds.includes("dist-tag"));
  });

  test("a name published here is never looked up upstream, and the upstream's versions never appear", async () => {
    const cairn = await start(upstream);
    upstream.resetStats();
    const token = await signUp(cairn.url, "alice", "correct horse battery");
    // `upstream-only` exists upstream: a new publish of it would shadow it, so it is refused.
    const shadow = await publish(cairn.url, token, "upstream-only", "9.0.0");
    assert.equal(shadow.status, 409);
    // A name the upstream does not have is published here, and stays local.
    const own = await publish(cairn.url, token, "only-here", "1.0.0");
    assert.equal(own.status, 201);
    await upstream.addPackage("only-here", ["5.0.0"]);
    upstream.resetStats();
    await cairn.uplinks?.refresh("only-here");
    const doc = await cairn.packument("only-here");
    assert.deepEqual(Object.keys(doc.versions), ["1.0.0"]);
    assert.equal(upstream.stats.packuments.get("only-here") ?? 0, 0, "never asked upstream");
    assert.ok(!(await cairn.kinds("only-here")).includes("import"));
  });

  test("a scope configured as local never reaches the upstream", async () => {
    const cairn = await start(upstream, {}, { packages: { "@upstream/*": { uplink: null } } });
    upstream.resetStats();
    assert.equal((await cairn.get("@upstream%2fonly")).status, 404);
    assert.equal(upstream.stats.packuments.get("@upstream/only") ?? 0, 0);
  });

  test("50 concurrent cold requests for a packument and for a tarball make one upstream fetch each", async () => {
    const cairn = await start(upstream);
    upstream.resetStats();
    const held = upstream.hold("packument", "accepts");
    const answers = Array.from({ length: 50 }, () => cairn.get("accepts"));
    await held.arrived;
    held.release();
    const docs = await Promise.all(answers);
    assert.ok(docs.every((r) => r.status === 200));
    assert.equal(upstream.stats.packuments.get("accepts"), 1);
    const doc = (await docs[0].json()) as Packument;
    const url = doc.versions[oldest(doc)].dist.tarball;
    const file = url.slice(url.lastIndexOf("/") + 1);
    const tarballHeld = upstream.hold("tarball", "accepts");
    const tarballs = Array.from({ length: 50 }, () => fetch(url));
    await tarballHeld.arrived;
    tarballHeld.release();
    assert.ok((await Promise.all(tarballs)).every((r) => r.status === 200));
    assert.equal(upstream.stats.tarballs.get(file), 1);
  });

  test("with the upstream away, imported packages are served marked stale; a new one is a 502 naming it", async () => {
    const cairn = await start(upstream, { maxAge: 0.001 });
    const doc = await cairn.packument("negotiator");
    const latest = doc["dist-tags"].latest;
    assert.equal((await fetch(doc.versions[latest].dist.tarball)).status, 200);
    assert.equal((await cairn.get("no-such-package")).status, 404);
    await cairn.uplinks?.idle();
    await upstream.down();
    try {
      // This read starts a refresh (the packument is past its max age), which fails.
      assert.equal((await cairn.get("negotiator")).status, 200);
      await cairn.uplinks?.idle();
      const stale = await cairn.get("negotiator");
      assert.equal(stale.status, 200);
      assert.match(stale.headers.get("cairn-stale") ?? "", /^uplink up unreachable since /);
      assert.equal((await fetch(doc.versions[latest].dist.tarball)).status, 200);
      // Known missing stays a 404 (npm then skips an optional peer, as it would online).
      assert.equal((await cairn.get("no-such-package")).status, 404);
      const unseen = await cairn.get("vary");
      assert.equal(unseen.status, 502);
      const body = (await unseen.json()) as { code: string; error: string };
      assert.equal(body.code, "unreachable");
      assert.match(body.error, /uplink up/);
    } finally {
      await upstream.up();
    }
    await cairn.get("negotiator");
    await cairn.uplinks?.idle();
    assert.equal((await cairn.get("negotiator")).headers.get("cairn-stale"), null);
  });

  test("a name the uplink lacks stays a 404 after a restart with the uplink away", async () => {
    await using dir = await tempDir("cairn-uplink-");
    const config = testOriginConfig(join(dir.path, "data"), {
      uplinks: { up: { url: upstream.url } },
    });
    const first = await startOrigin(config, { follow: false });
    try {
      assert.equal((await fetch(new URL("never-published", first.url))).status, 404);
    } finally {
      await first.close();
    }
    await upstream.down();
    const second = await startOrigin(config, { follow: false });
    try {
      assert.equal((await fetch(new URL("never-published", second.url))).status, 404);
      assert.equal((await fetch(new URL("never-asked", second.url))).status, 502);
    } finally {
      await second.close();
      await upstream.up();
    }
  });

  test("a legacy name imports and installs its tarball, but cannot be published anew", async () => {
    const cairn = await start(upstream);
    const doc = await cairn.packument("LegacyCaps");
    assert.deepEqual(Object.keys(doc.versions).sort(), ["1.0.0", "1.0.1"]);
    assert.equal((await fetch(doc.versions["1.0.1"].dist.tarball)).status, 200);
    const token = await signUp(cairn.url, "bob", "correct horse battery");
    const refused = await publish(cairn.url, token, "NewCaps", "1.0.0");
    assert.equal(refused.status, 400);
    assert.equal(await errorCode(refused), "invalid-name");
  });

  test("an upstream that wants a token gets it, from the config or the environment", async () => {
    const guarded = await startUpstreamRegistry({ token: "s3cret" });
    try {
      const without = await start(guarded);
      const refused = await without.get("upstream-only");
      assert.equal(refused.status, 502);
      assert.equal(await errorCode(refused), "unauthorized");
      const withToken = await start(guarded, { token: "s3cret" });
      assert.equal((await withToken.get("upstream-only")).status, 200);
      process.env.CAIRN_TEST_UPLINK_TOKEN = "s3cret";
      const fromEnv = await start(guarded, { tokenEnv: "CAIRN_TEST_UPLINK_TOKEN" });
      assert.equal((await fromEnv.get("upstream-only")).status, 200);
    } finally {
      delete process.env.CAIRN_TEST_UPLINK_TOKEN;
      await guarded.close();
    }
  });

  test("npm's audit requests go to the uplink", async () => {
    const cairn = await start(upstream);
    upstream.setAdvisories({ "escape-html": [{ id: 1, title: "a test advisory" }] });
    const res = await fetch(new URL("-/npm/v1/security/advisories/bulk", cairn.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ "escape-html": ["1.0.3"] }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { "escape-html": [{ id: 1, title: "a test advisory" }] });
  });

  test("a first import reads its dependencies ahead, one upstream request each, even when a client asks meanwhile", async () => {
    const cairn = await start(upstream, { readAhead: true });
    const deps = ["mime-types", "mime-db", "negotiator"];
    upstream.resetStats();
    const held = upstream.hold("packument", "mime-db");
    await cairn.packument("accepts");
    // mime-types was read ahead (accepts depends on it), and its own import reads mime-db ahead.
    await held.arrived;
    const asked = cairn.get("mime-db");
    held.release();
    assert.equal((await asked).status, 200);
    await cairn.uplinks?.idle();
    for (const name of deps) {
      assert.equal(cairn.registry.state.table("npm").source(name)?.uplink, "up", name);
      assert.equal(upstream.stats.packuments.get(name), 1, name);
      // Each package read ahead has its latest tarball, as one asked for does.
      assert.ok((await cairn.kinds(name)).includes("artifact"), name);
    }
    // A package already imported reads nothing ahead again on later requests.
    upstream.resetStats();
    await cairn.packument("accepts");
    await cairn.uplinks?.idle();
    assert.equal(upstream.stats.packuments.size, 0);
  });

  test("without reading ahead, only what clients ask for is imported", async () => {
    const cairn = await start(upstream, { readAhead: false });
    await cairn.packument("accepts");
    await cairn.uplinks?.idle();
    assert.equal(cairn.registry.state.table("npm").source("mime-types"), undefined);
  });

  test("reading ahead never imports a name that routes nowhere", async () => {
    const cairn = await start(
      upstream,
      { readAhead: true },
      { packages: { negotiator: { uplink: null } } },
    );
    upstream.resetStats();
    await cairn.packument("accepts");
    await cairn.uplinks?.idle();
    assert.equal(cairn.registry.state.table("npm").source("mime-types")?.uplink, "up");
    assert.equal(cairn.registry.state.table("npm").source("negotiator"), undefined);
    assert.equal(upstream.stats.packuments.get("negotiator") ?? 0, 0);
  });

  test("following imports a closure before anyone asks, and follows the change feed", async () => {
    const cairn = await start(
      upstream,
      { follow: ["accepts"], changes: new URL("_changes", upstream.url).href },
      {},
      { follow: true },
    );
    const [follower] = cairn.followers;
    const first = await follower.nextSync();
    assert.deepEqual(first.missing, []);
    await cairn.uplinks?.settled();
    // accepts and its dependencies (mime-types, mime-db, negotiator): each latest tarball held.
    for (const name of ["accepts", "mime-types", "mime-db", "negotiator"]) {
      assert.ok((await cairn.kinds(name)).includes("artifact"), name);
    }
    const next = follower.nextSync();
    await upstream.addVersion("accepts", "1.99.0");
    await next;
    await cairn.uplinks?.settled();
    const doc = await cairn.packument("accepts");
    assert.equal(doc["dist-tags"].latest, "1.99.0");
    assert.equal(
      cairn.registry.state.table("npm").version("accepts", "1.99.0")?.entry.artifact !== undefined,
      true,
    );
  });
});
