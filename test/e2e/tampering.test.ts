/**
 * The tampering suite: a mirror that lies, in each way the malicious-mirror
 * helper knows, in front of the verifying proxy and `cairn verify`. For every
 * attack both must name the mirror and the check that failed, never pass its
 * bytes on, and finish the install from an honest source (the origin, or an
 * honest second mirror); an honest source is never reported.
 *
 * The log has a full first tile (dist-tag entries fill it), so hash tiles
 * have a level above 0 and full tiles are checked against their parents.
 *
 * The proxy runs both ways: sparse (each package through the snapshot: the
 * last entry's bundle, the root, a shard, the document) and full (every
 * entry replayed). It takes its checkpoint from the origin: a mirror's
 * checkpoint (rollback, other key, fork) meets the health check run at each
 * refresh; tiles and bundles are read when entries are synced or the
 * snapshot entry is read, blobs when first asked for. The snapshot attacks
 * (stale, altered or trimmed documents, shards and roots) meet only the
 * sparse proxy, and `cairn verify`, which checks the latest snapshot's files. Here a mirror is not set aside after a failure, so every read meets
 * the attack; each case also checks the mirror was asked for what it alters.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type AuditResult, auditTree } from "../../src/client/audit.ts";
import type { Check, SourceError } from "../../src/client/errors.ts";
import { HttpSource } from "../../src/log/index.ts";
import { treeUrl } from "../../src/log/urls.ts";
import { Mirror } from "../../src/mirror/mirror.ts";
import { type ProxyOptions, type RunningProxy, startProxy } from "../../src/proxy/server.ts";
import { boundArtifact } from "../../src/registry/blob-check.ts";
import { parseRoot } from "../../src/registry/snapshot.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { type Attack, startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";

const ABBREVIATED = "application/vnd.npm.install-v1+json";
/** Where a timeout is the expected outcome: a mirror that stalls. */
const STALL_TIMEOUT_MS = 1500;
/** Where no read should time out, even on a loaded machine (an endless body streams 64 MiB to its cap). */
const TIMEOUT_MS = 60_000;
const timeoutFor = (attack: Attack) => (attack === "stall" ? STALL_TIMEOUT_MS : TIMEOUT_MS);
const PACKAGES = ["pkg-a", "pkg-b", "@scope/pkg-c", "pkg-d"];

interface World {
  origin: TestOrigin;
  /** A second log signed with the origin's key, larger than the real one. */
  fork: TestOrigin;
  /** An honest mirror's verified copy of the origin's tree: what the malicious mirror starts from. */
  treeDir: string;
  /** The origin's checkpoint at size 2. */
  oldCheckpoint: Uint8Array;
  /** The origin's packuments as served, by name: the proxy must serve the same text. */
  packuments: Map<string, { full: string; abbreviated: string }>;
  /** The origin's tarballs by file name. */
  tarballs: Map<string, Buffer>;
  tarballPaths: Set<string>;
  manifestPaths: Set<string>;
  /** The latest snapshot's files: documents, shards, root. */
  snapshotPaths: { document: Set<string>; shard: Set<string>; root: Set<string> };
  close(): Promise<void>;
}

const urlPath = (name: string) => name.replace("/", "%2f");
const originBase = (url: string) => url.replace(/\/$/, "");

async function buildWorld(): Promise<World> {
  const origin = await startTestOrigin();
  await origin.publish("pkg-a", "1.0.0");
  await origin.publish("pkg-b", "1.0.0", { dependencies: { "pkg-a": "^1.0.0" } });
  const oldCheckpoint = await readFile(`${origin.treeDir}/checkpoint`);
  await origin.publish("pkg-a", "1.1.0");
  await origin.publish("pkg-b", "1.1.0", { dependencies: { "pkg-a": "^1.1.0" } });
  await origin.publish("@scope/pkg-c", "1.0.0", { dependencies: { "pkg-b": "^1.1.0" } });
  await Promise.all(
    Array.from({ length: 260 }, (_, i) =>
      origin.registry.setDistTag("alice", "npm", "pkg-a", `t${i % 3}`, i % 2 ? "1.0.0" : "1.1.0"),
    ),
  );
  await origin.publish("pkg-d", "1.0.0", { dependencies: { "@scope/pkg-c": "^1.0.0" } });

  // The fork: the same names and versions with other contents, signed with the same key.
  const fork = await startTestOrigin({ keyFile: `${origin.dataDir}/key` });
  for (const name of PACKAGES)
    await fork.publish(name, "1.0.0", { description: "not what the origin published" });
  await Promise.all(
    Array.from({ length: 300 }, (_, i) =>
      fork.registry.setDistTag("alice", "npm", "pkg-a", `t${i % 3}`, "1.0.0"),
    ),
  );

  const mirrorDir = await tempDir("cairn-honest-mirror-");
  const mirror = await Mirror.open({
    from: origin.url,
    verifier: origin.key.verifier,
    dataDir: mirrorDir.path,
    durable: false,
  });
  try {
    await mirror.sync();
  } finally {
    mirror.close();
  }

  const packuments = new Map<string, { full: string; abbreviated: string }>();
  const tarballs = new Map<string, Buffer>();
  for (const name of PACKAGES) {
    const url = new URL(urlPath(name), origin.url);
    const full = await (await fetch(url)).text();
    const abbreviated = await (await fetch(url, { headers: { accept: ABBREVIATED } })).text();
    packuments.set(name, { full, abbreviated });
    for (const v of Object.values(JSON.parse(full).versions) as Version[]) {
      const res = await fetch(v.dist.tarball);
      assert.equal(res.status, 200);
      tarballs.set(new URL(v.dist.tarball).pathname, Buffer.from(await res.arrayBuffer()));
    }
  }
  const tarballPaths = new Set<string>();
  const manifestPaths = new Set<string>();
  for (const name of PACKAGES) {
    for (const row of origin.registry.state.table("npm").versions(name)) {
      tarballPaths.add(`blob/sha256/${boundArtifact(row.entry).sha256}`);
      manifestPaths.add(`blob/sha256/${row.entry.manifest.sha256}`);
    }
  }
  const blobPath = (sha256: string) => `blob/sha256/${sha256}`;
  const state = origin.registry.state;
  const rootPath = blobPath(state.snapshot?.id ?? "");
  const shardHashes = parseRoot(await readFile(join(origin.treeDir, rootPath)));
  const snapshotPaths = {
    document: new Set(PACKAGES.map((name) => blobPath(state.documentHash(`npm/${name}`) ?? ""))),
    shard: new Set(shardHashes.map(blobPath)),
    root: new Set([rootPath]),
  };
  return {
    origin,
    fork,
    snapshotPaths,
    treeDir: mirror.treeDir,
    oldCheckpoint,
    packuments,
    tarballs,
    tarballPaths,
    manifestPaths,
    close: async () => {
      await fork[Symbol.asyncDispose]();
      await origin[Symbol.asyncDispose]();
      await mirrorDir[Symbol.asyncDispose]();
    },
  };
}

interface Version {
  version: string;
  dist: { tarball: string; integrity: string };
}

/**
 * Installs every package through `registry` as a client would (full and
 * abbreviated packuments, then every tarball) and checks each byte against
 * what the origin serves and the packument's integrity.
 */
async function installAll(world: World, registry: string): Promise<void> {
  const from = originBase(world.origin.url);
  const to = originBase(registry);
  for (const name of PACKAGES) {
    const url = new URL(urlPath(name), registry);
    const expected = world.packuments.get(name) as { full: string; abbreviated: string };
    const full = await fetch(url);
    assert.equal(full.status, 200, `${name}: ${await full.clone().text()}`);
    const text = await full.text();
    assert.equal(text, expected.full.replaceAll(from, to), `${name}: full packument`);
    const short = await fetch(url, { headers: { accept: ABBREVIATED } });
    assert.equal(short.status, 200);
    assert.equal(await short.text(), expected.abbreviated.replaceAll(from, to), name);
    for (const v of Object.values(JSON.parse(text).versions) as Version[]) {
      const res = await fetch(v.dist.tarball);
      assert.equal(res.status, 200, `${name}@${v.version}: ${await res.clone().text()}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      const want = world.tarballs.get(new URL(v.dist.tarball).pathname);
      assert.ok(want?.equals(bytes), `${name}@${v.version}: the origin's tarball`);
      const integrity = `sha512-${createHash("sha512").update(bytes).digest("base64")}`;
      assert.equal(integrity, v.dist.integrity, `${name}@${v.version}: dist.integrity`);
    }
  }
}

interface Case {
  readonly attack: Attack;
  /** The check the proxy names; none for the honest control. */
  readonly proxy?: Check;
  /** Other checks the proxy may name besides (a fork's tiles and blobs are not the real log's). */
  readonly proxyAlso?: readonly Check[];
  /** The check `cairn verify` names. */
  readonly verify?: Check;
  /** Whether a requested path is one the attack changes, to show it was exercised. */
  readonly attacked: (path: string, world: World) => boolean;
  /** The proxy sees the mirror honest first: a rollback is going back from a checkpoint it served. */
  readonly honestFirst?: boolean;
  /** `cairn verify` holds a checkpoint of the real log first (from auditing the origin). */
  readonly stored?: boolean;
  /** The attack is on snapshot files, which only a sparse proxy reads. */
  readonly sparseOnly?: boolean;
}

const isHashTile = (p: string) => p.startsWith("tile/") && !p.startsWith("tile/entries/");
const isBundle = (p: string) => p.startsWith("tile/entries/");

const CASES: readonly Case[] = [
  { attack: "honest", attacked: () => true, stored: true },
  {
    attack: "tarball-byte",
    proxy: "blob",
    verify: "blob",
    attacked: (p, w) => w.tarballPaths.has(p),
  },
  {
    attack: "manifest-byte",
    proxy: "blob",
    verify: "blob",
    attacked: (p, w) => w.manifestPaths.has(p),
  },
  { attack: "tile-byte", proxy: "tile", verify: "tile", attacked: isHashTile },
  { attack: "bundle-byte", proxy: "bundle", verify: "bundle", attacked: isBundle },
  { attack: "drop-entry", proxy: "bundle", verify: "bundle", attacked: isBundle },
  {
    attack: "drop-tarball",
    proxy: "unavailable",
    verify: "unavailable",
    attacked: (p, w) => w.tarballPaths.has(p),
  },
  {
    attack: "rollback",
    proxy: "rollback",
    verify: "rollback",
    attacked: (p) => p === "checkpoint",
    honestFirst: true,
    stored: true,
  },
  {
    attack: "other-key",
    proxy: "signature",
    verify: "signature",
    attacked: (p) => p === "checkpoint",
  },
  {
    attack: "fork",
    proxy: "consistency",
    proxyAlso: ["tile", "unavailable"],
    verify: "consistency",
    attacked: (p) => p === "checkpoint",
    stored: true,
  },
  { attack: "truncate", proxy: "truncated", verify: "truncated", attacked: () => true },
  { attack: "endless", proxy: "size", verify: "size", attacked: (p) => p !== "checkpoint" },
  { attack: "stall", proxy: "timeout", verify: "timeout", attacked: () => true },
  ...(
    [
      ["document-byte", "document"],
      ["document-stale", "document"],
      ["document-hide-version", "document"],
      ["shard-stale", "shard"],
      ["shard-hide-package", "shard"],
      ["root-stale", "root"],
    ] as const
  ).map(
    ([attack, file]): Case => ({
      attack,
      proxy: "blob",
      verify: "blob",
      sparseOnly: true,
      attacked: (p, w) => w.snapshotPaths[file].has(p),
    }),
  ),
];

function mirrorOf(world: World, attack: Attack) {
  return startMaliciousMirror({
    treeDir: world.treeDir,
    attack,
    oldCheckpoint: world.oldCheckpoint,
    forkTreeDir: world.fork.treeDir,
    historyTreeDir: world.origin.treeDir,
  });
}

/**
 * Asserts that every problem names `source` and `check` (or one of `also`),
 * and at least one names `check`; that there is none when `check` is unset.
 */
function assertBlamed(
  problems: readonly SourceError[],
  source: string,
  check?: Check,
  also: readonly Check[] = [],
): void {
  const seen = problems.map((p) => `${p.source} ${p.code}: ${p.message}`);
  if (!check) {
    assert.deepEqual(seen, []);
    return;
  }
  assert.ok(
    problems.some((p) => p.code === check),
    `want a ${check} problem, got ${JSON.stringify(seen)}`,
  );
  for (const p of problems) {
    assert.equal(p.source, source, `only ${source} is blamed: ${seen}`);
    assert.ok([check, ...also].includes(p.code), `${p.code} is not ${check}: ${seen}`);
  }
}

async function withProxy(
  world: World,
  options: Partial<ProxyOptions> & { mirrors: string[] },
  run: (proxy: RunningProxy) => Promise<void>,
): Promise<SourceError[]> {
  await using dir = await tempDir("cairn-proxy-");
  const problems: SourceError[] = [];
  const proxy = await startProxy({
    host: "127.0.0.1",
    port: 0,
    dataDir: dir.path,
    origin: world.origin.url,
    verifier: world.origin.key.verifier,
    useMirrorList: false,
    maxLag: 0,
    refreshMs: 60_000,
    timeoutMs: TIMEOUT_MS,
    // Not set aside after a failure: every read tries the mirror first, so every kind of read meets the attack.
    hardPenaltyMs: 0,
    softPenaltyMs: 0,
    onProblem: (err) => problems.push(err),
    ...options,
  });
  try {
    await run(proxy);
  } finally {
    await proxy.close();
  }
  return problems;
}

function audit(
  world: World,
  url: string,
  stateDir: string,
  timeoutMs = TIMEOUT_MS,
): Promise<AuditResult> {
  const source = new HttpSource(treeUrl(url), { timeoutMs });
  return auditTree(source, world.origin.key.verifier, { stateDir });
}

describe("tampering mirrors", () => {
  let world: World;
  before(async () => {
    world = await buildWorld();
  });
  after(() => world?.close());

  for (const c of CASES) {
    for (const full of c.sparseOnly ? [false] : [false, true]) {
      test(`${full ? "full" : "sparse"} proxy, ${c.attack}: ${c.proxy ? `refused by the ${c.proxy} check, installed from the origin` : "no problem"}`, async () => {
        await using mirror = await mirrorOf(world, c.honestFirst ? "honest" : c.attack);
        const problems = await withProxy(
          world,
          {
            full,
            mirrors: [mirror.url],
            timeoutMs: timeoutFor(c.attack),
            // A stalled mirror is set aside after its first timeout, or every read would wait for it.
            softPenaltyMs: c.attack === "stall" ? 60_000 : 0,
          },
          async (proxy) => {
            if (c.honestFirst) {
              mirror.attack = c.attack;
              await proxy.reader.update();
            }
            await installAll(world, proxy.url);
          },
        );
        assert.ok(
          mirror.requests.some((p) => c.attacked(p, world)),
          `the attack was exercised: ${mirror.requests.join(", ")}`,
        );
        assertBlamed(problems, mirror.url, c.proxy, c.proxyAlso);
      });
    }

    test(`verify, ${c.attack}: ${c.verify ? `the ${c.verify} check fails` : "no problem"}`, async () => {
      await using state = await tempDir("cairn-verify-");
      if (c.stored) assertBlamed((await audit(world, world.origin.url, state.path)).problems, "");
      await using mirror = await mirrorOf(world, c.attack);
      const result = await audit(world, mirror.url, state.path, timeoutFor(c.attack));
      assertBlamed(result.problems, treeUrl(mirror.url), c.verify);
      assert.ok(
        mirror.requests.some((p) => c.attacked(p, world)),
        mirror.requests.join(", "),
      );
      // The lie moved nothing: an honest copy and the origin still verify against the same state.
      mirror.attack = "honest";
      assertBlamed((await audit(world, mirror.url, state.path)).problems, "");
      assertBlamed((await audit(world, world.origin.url, state.path)).problems, "");
    });
  }

  test("proxy: a mirror whose checkpoint is older than the origin's, on first sight, is behind (freshness)", async () => {
    await using mirror = await mirrorOf(world, "rollback");
    const problems = await withProxy(world, { mirrors: [mirror.url] }, (proxy) =>
      installAll(world, proxy.url),
    );
    assertBlamed(problems, mirror.url, "freshness");
  });

  for (const attack of ["fork", "truncate", "tarball-byte"] as const) {
    test(`proxy, ${attack} beside an honest mirror: the honest one serves, and is never reported`, async () => {
      await using bad = await mirrorOf(world, attack);
      await using good = await mirrorOf(world, "honest");
      let originRequests = 0;
      const problems = await withProxy(world, { mirrors: [bad.url, good.url] }, async (proxy) => {
        await installAll(world, proxy.url);
        originRequests = proxy.reader.client.pool.stats().get(world.origin.url)?.requests ?? 0;
      });
      // The health check asks both mirrors; for other reads, which is asked first is random.
      const c = CASES.find((c) => c.attack === attack) as Case;
      if (attack !== "tarball-byte" || bad.requests.some((p) => world.tarballPaths.has(p)))
        assertBlamed(problems, bad.url, c.proxy, c.proxyAlso);
      else assertBlamed(problems, bad.url);
      // Everything but the checkpoint and the key chain (read once, to learn the root keys) came
      // from the mirrors, and what verified came from the honest one.
      assert.equal(originRequests, 2);
      for (const path of world.tarballPaths) assert.ok(good.requests.includes(path), path);
    });
  }

  test("proxy: with the origin down, its stored checkpoint exposes a fork served by a mirror", async () => {
    await using dir = await tempDir("cairn-proxy-");
    await using fork = await mirrorOf(world, "fork");
    await using good = await mirrorOf(world, "honest");
    const common = {
      host: "127.0.0.1",
      port: 0,
      dataDir: dir.path,
      verifier: world.origin.key.verifier,
      useMirrorList: false,
      maxLag: 0,
      timeoutMs: TIMEOUT_MS,
    };
    // First, the real log's checkpoint, from the origin.
    await (await startProxy({ ...common, origin: world.origin.url })).close();
    const down = await closedPort();
    const problems: SourceError[] = [];
    const proxy = await startProxy({
      ...common,
      origin: down,
      mirrors: [fork.url, good.url],
      onProblem: (err) => problems.push(err),
    });
    try {
      await installAll(world, proxy.url);
    } finally {
      await proxy.close();
    }
    assertBlamed(
      problems.filter((p) => p.source !== down),
      fork.url,
      "consistency",
      ["tile", "unavailable"],
    );
    for (const p of problems.filter((p) => p.source === down)) assert.equal(p.code, "unavailable");
    assert.ok(fork.requests.includes("checkpoint"));
  });

  test("cairn verify: names the mirror and the check; passes an honest copy", async () => {
    await using state = await tempDir("cairn-verify-");
    await using mirror = await mirrorOf(world, "fork");
    const key = world.origin.key.verifierKey;
    const verify = (url: string, timeoutMs = TIMEOUT_MS) =>
      cairn(["verify", url, "--key", key, "--state", state.path, "--timeout", `${timeoutMs}`]);
    const ok = await verify(world.origin.url);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: /);

    const forked = await verify(mirror.url);
    assert.equal(forked.code, 1);
    assert.ok(
      forked.stderr.includes(`${treeUrl(mirror.url)}: consistency check failed`),
      forked.stderr,
    );
    mirror.attack = "tarball-byte";
    const tampered = await verify(mirror.url);
    assert.equal(tampered.code, 1);
    assert.ok(
      tampered.stderr.includes(`${treeUrl(mirror.url)}: blob check failed`),
      tampered.stderr,
    );
    mirror.attack = "stall";
    const stalled = await verify(mirror.url, STALL_TIMEOUT_MS);
    assert.equal(stalled.code, 1);
    assert.ok(
      stalled.stderr.includes(`${treeUrl(mirror.url)}: timeout check failed`),
      stalled.stderr,
    );

    mirror.attack = "honest";
    const honest = await verify(mirror.url);
    assert.equal(honest.code, 0, honest.stderr);
  });
});

/** A URL nothing listens on. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}
