/**
 * The local upstream the uplink tests and benchmarks run against: the real
 * npm installs the corpus app from it, its packuments look like the public
 * registry's, and each fault and change a test can make is observable.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { get, type IncomingHttpHeaders } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { startCairnServer } from "../helpers/cairn-server.ts";
import { CORPUS_APP_LOCKFILE, CORPUS_APP_PACKAGE_JSON } from "../helpers/corpus.ts";
import { tempDir } from "../helpers/log.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import {
  type AbbreviatedPackument,
  type ChangesPage,
  type Packument,
  packFileName,
  startUpstreamRegistry,
  UPSTREAM_REGISTRY_COMMAND,
  type UpstreamRegistry,
} from "../helpers/upstream-registry.ts";
import { unpackTarball } from "../helpers/upstream-tarballs.ts";

const ABBREVIATED = "application/vnd.npm.install-v1+json";

interface Lockfile {
  packages: Record<
    string,
    { name?: string; version?: string; integrity?: string; optional?: boolean }
  >;
}

/** `<pack file name> <integrity>` of every package a lockfile holds, wherever in the tree. */
function resolved(lock: Lockfile): Set<string> {
  const lines = new Set<string>();
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === "") continue;
    const name = entry.name ?? key.slice(key.lastIndexOf("node_modules/") + 13);
    lines.add(`${packFileName(name, entry.version as string)} ${entry.integrity}`);
  }
  return lines;
}

const sha512 = (bytes: Uint8Array) =>
  `sha512-${createHash("sha512").update(bytes).digest("base64")}`;

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** False when the connection ended before the response did. */
  complete: boolean;
}

/**
 * A GET read with node:http, so a cut body is seen as such. `stopAfter`
 * bytes, the request is abandoned (for endless bodies); `onData` sees each
 * chunk's running total (for stalled ones).
 */
function rawGet(
  url: string,
  options: {
    headers?: Record<string, string>;
    stopAfter?: number;
    onData?(total: number): void;
  } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let total = 0;
      const done = (complete: boolean) =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          complete,
        });
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        total += chunk.length;
        options.onData?.(total);
        if (options.stopAfter !== undefined && total >= options.stopAfter) {
          req.destroy();
          done(false);
        }
      });
      res.on("end", () => done(true));
      res.on("error", () => done(false));
      res.on("aborted", () => done(false));
    });
    req.on("error", reject);
  });
}

async function getJson<T = Packument>(
  url: string,
  accept?: string,
): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { headers: accept ? { accept } : {} });
  return { status: res.status, body: (await res.json()) as T };
}

describe("the local upstream registry", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let upstream: UpstreamRegistry;
  let base: string;

  before(async () => {
    dir = await tempDir();
    upstream = await startUpstreamRegistry();
    base = upstream.url.replace(/\/$/, "");
  });

  after(async () => {
    await upstream?.close();
    await dir?.[Symbol.asyncDispose]();
  });

  /** `npm install` in `app` from the upstream, with a cache of its own. */
  async function npmInstall(app: string): Promise<void> {
    const npmrc = await writeNpmrc(app, upstream.url);
    const result = await runNpm(
      ["install", "--ignore-scripts"],
      app,
      npmrc,
      join(app, ".npm-cache"),
    );
    assert.equal(result.code, 0, result.stderr);
  }

  test("npm installs the corpus app from it with an empty cache, resolving exactly the lockfile's versions", async () => {
    // No lockfile: npm reads every packument and picks versions, so the synthesized ones must not win.
    const app = join(dir.path, "app");
    await mkdir(app);
    await copyFile(CORPUS_APP_PACKAGE_JSON, join(app, "package.json"));
    upstream.resetStats();
    await npmInstall(app);

    const expected = resolved(JSON.parse(await readFile(CORPUS_APP_LOCKFILE, "utf8")) as Lockfile);
    const written = JSON.parse(await readFile(join(app, "package-lock.json"), "utf8")) as Lockfile;
    assert.deepEqual(resolved(written), expected);
    let installed = 0;
    const files = new Set<string>();
    for (const [key, entry] of Object.entries(written.packages)) {
      if (key === "") continue;
      const pkg = await readFile(join(app, key, "package.json"), "utf8").catch(() => undefined);
      if (pkg === undefined) {
        assert.ok(entry.optional, `${key} is missing and not optional`);
        continue;
      }
      const { name, version } = JSON.parse(pkg) as { name: string; version: string };
      assert.equal(version, entry.version, key);
      installed++;
      files.add(packFileName(name, version));
    }
    assert.ok(installed > 400, `only ${installed} packages installed`);
    // Every tarball came from the upstream (npm fetches one again for each place it goes in the tree).
    assert.deepEqual(new Set(upstream.stats.tarballs.keys()), files);
    assert.equal(upstream.stats.tarballRequests, installed);
    assert.ok(upstream.stats.packuments.size > 390);
  });

  test("npm installs a legacy capitalised name", async () => {
    const app = join(dir.path, "legacy");
    await mkdir(app);
    await writeFile(
      join(app, "package.json"),
      JSON.stringify({
        name: "legacy-app",
        version: "1.0.0",
        dependencies: { LegacyCaps: "^1.0.0" },
      }),
    );
    await npmInstall(app);
    const pkg = JSON.parse(
      await readFile(join(app, "node_modules/LegacyCaps/package.json"), "utf8"),
    );
    assert.deepEqual([pkg.name, pkg.version], ["LegacyCaps", "1.0.1"]);
  });

  test("full packuments carry a time per version, abbreviated ones only install fields, as npm's registry", async () => {
    const full = await getJson(`${base}/ms`);
    assert.equal(full.status, 200);
    const doc = full.body;
    assert.equal(doc.name, "ms");
    assert.equal(doc._id, "ms");
    assert.match(doc._rev, /^1-[0-9a-f]{32}$/);
    assert.equal(doc.maintainers.length, 1);
    assert.equal(typeof doc.description, "string");
    // The corpus's two releases, one older and one prerelease made from them.
    assert.deepEqual(Object.keys(doc.versions), ["1.0.0", "2.0.0", "2.1.3", "2.1.4-beta.0"]);
    assert.deepEqual(doc["dist-tags"], { latest: "2.1.3", next: "2.1.4-beta.0" });
    const times = Object.keys(doc.versions).map((v) => Date.parse(doc.time[v]));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      "times increase with versions",
    );
    assert.ok(Date.parse(doc.time.created) < times[0]);
    assert.equal(doc.time.modified, doc.time["2.1.4-beta.0"]);
    assert.ok(times.every((t) => t < Date.now()));
    const v = doc.versions["2.1.3"];
    assert.equal(v._id, "ms@2.1.3");
    assert.equal(v.dist.tarball, `${base}/ms/-/ms-2.1.3.tgz`);
    assert.match(v.dist.shasum, /^[0-9a-f]{40}$/);
    const bytes = Buffer.from(await (await fetch(v.dist.tarball)).arrayBuffer());
    assert.equal(v.dist.integrity, sha512(bytes));
    assert.equal(v.dist.shasum, createHash("sha1").update(bytes).digest("hex"));
    // The corpus tarball itself, whose integrity the lockfile holds.
    const lock = await readFile(CORPUS_APP_LOCKFILE, "utf8");
    assert.ok(lock.includes(v.dist.integrity));

    const res = await fetch(`${base}/ms`, {
      headers: { accept: `${ABBREVIATED}; q=1.0, application/json; q=0.8, */*` },
    });
    assert.equal(res.headers.get("content-type"), ABBREVIATED);
    const corgi = (await res.json()) as AbbreviatedPackument;
    assert.deepEqual(Object.keys(corgi).sort(), ["dist-tags", "modified", "name", "versions"]);
    assert.equal(corgi.modified, doc.time.modified);
    assert.deepEqual(Object.keys(corgi.versions), Object.keys(doc.versions));
    assert.equal(corgi.versions["2.1.3"].description, undefined);
    assert.equal(corgi.versions["2.1.3"].scripts, undefined);
    assert.deepEqual(corgi.versions["2.1.3"].dist, v.dist);
  });

  test("synthesized versions are the corpus tarball with only the version changed, the same bytes every time", async () => {
    const doc = await upstream.packument("ms");
    const older = await upstream.tarball("ms", "1.0.0");
    assert.equal(doc.versions["1.0.0"].dist.integrity, sha512(older));
    const unpacked = await unpackTarball(older);
    assert.equal(unpacked.manifest.version, "1.0.0");
    const original = await unpackTarball(await upstream.tarball("ms", "2.0.0"));
    assert.deepEqual({ ...unpacked.manifest, version: "2.0.0" }, original.manifest);
    assert.equal(unpacked.fileCount, original.fileCount);
    assert.equal(doc.versions["1.0.0"].dist.unpackedSize, unpacked.unpackedSize);

    await using again = await startUpstreamRegistry();
    const docAgain = await again.packument("ms");
    for (const version of ["1.0.0", "2.1.4-beta.0"])
      assert.equal(
        docAgain.versions[version].dist.integrity,
        doc.versions[version].dist.integrity,
        version,
      );
  });

  test("scoped names are served as @scope%2fname and @scope/name, unknown ones are 404", async () => {
    const encoded = await fetch(`${base}/@babel%2fcore`);
    const plain = await fetch(`${base}/@babel/core`);
    assert.equal(encoded.status, 200);
    assert.equal(await encoded.text(), await plain.text());
    const doc = await upstream.packument("@babel/core");
    const tarball = doc.versions[doc["dist-tags"].latest].dist.tarball as string;
    assert.match(tarball, /\/@babel\/core\/-\/core-7\.\d+\.\d+\.tgz$/);
    assert.equal((await fetch(tarball)).status, 200);
    assert.equal((await fetch(tarball.replace("@babel/core", "@babel%2fcore"))).status, 200);

    for (const path of ["/no-such-package", "/ms/-/ms-9.9.9.tgz", "/legacycaps", "/-/whoami"]) {
      const res = await getJson<unknown>(`${base}${path}`);
      assert.deepEqual(res, { status: 404, body: { error: "Not found" } }, path);
    }
  });

  test("packuments answer 304 to a matching If-None-Match or If-Modified-Since, per representation", async () => {
    const first = await fetch(`${base}/debug`);
    const etag = first.headers.get("etag") as string;
    const lastModified = first.headers.get("last-modified") as string;
    assert.ok(etag && lastModified);
    const before = upstream.stats.notModified;
    assert.equal(
      (await fetch(`${base}/debug`, { headers: { "if-none-match": etag } })).status,
      304,
    );
    assert.equal(
      (await fetch(`${base}/debug`, { headers: { "if-modified-since": lastModified } })).status,
      304,
    );
    assert.equal(upstream.stats.notModified, before + 2);
    const corgi = await fetch(`${base}/debug`, {
      headers: { accept: ABBREVIATED, "if-none-match": etag },
    });
    assert.equal(corgi.status, 200, "the abbreviated form has its own ETag");
    assert.notEqual(corgi.headers.get("etag"), etag);
    const older = new Date(Date.parse(lastModified) - 1000).toUTCString();
    assert.equal(
      (await fetch(`${base}/debug`, { headers: { "if-modified-since": older } })).status,
      200,
    );
    assert.equal(
      (await fetch(`${base}/debug`, { headers: { "if-none-match": '"other"' } })).status,
      200,
    );
  });

  test("with a token, a request without it is 401", async () => {
    await using guarded = await startUpstreamRegistry({ token: "s3cret" });
    const url = `${guarded.url}ms`;
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: "Bearer wrong" } })).status, 401);
    assert.equal((await fetch(`${guarded.url}_changes`)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: "Bearer s3cret" } })).status, 200);
    assert.equal(guarded.stats.unauthorized, 3);
  });

  test("an upstream can be without a change feed", async () => {
    await using feedless = await startUpstreamRegistry({ changeFeed: false });
    assert.equal((await fetch(`${feedless.url}_changes?since=0`)).status, 404);
    assert.equal((await fetch(`${feedless.url}ms`)).status, 200);
  });

  test("a tampered tarball no longer matches the packument's integrity; the packument is unchanged", async () => {
    const before = await upstream.packument("debug");
    const latest = before["dist-tags"].latest as string;
    const { integrity, tarball } = before.versions[latest].dist;
    upstream.tamperTarball("debug", latest);
    try {
      const served = Buffer.from(await (await fetch(tarball)).arrayBuffer());
      assert.notEqual(sha512(served), integrity);
      assert.equal(served.length, (await upstream.tarball("debug", latest)).length);
      assert.deepEqual(await upstream.packument("debug"), before);
    } finally {
      upstream.clearFaults();
    }
    assert.equal(sha512(Buffer.from(await (await fetch(tarball)).arrayBuffer())), integrity);
  });

  test("a packument can advertise the integrity of other bytes while the tarball stays honest", async () => {
    const honest = await upstream.packument("debug");
    const latest = honest["dist-tags"].latest as string;
    upstream.wrongIntegrity("debug", latest);
    try {
      const { body } = await getJson(`${base}/debug`);
      const dist = body.versions[latest].dist;
      const served = Buffer.from(await (await fetch(dist.tarball)).arrayBuffer());
      assert.equal(sha512(served), honest.versions[latest].dist.integrity);
      assert.notEqual(dist.integrity, sha512(served));
      assert.notEqual(dist.shasum, honest.versions[latest].dist.shasum);
      const corgi = await getJson<AbbreviatedPackument>(`${base}/debug`, ABBREVIATED);
      assert.equal(corgi.body.versions[latest].dist.integrity, dist.integrity);
    } finally {
      upstream.clearFaults();
    }
    assert.deepEqual(await upstream.packument("debug"), honest);
  });

  test("a truncated body is cut at half its declared length", async () => {
    upstream.truncate("tarball", "debug");
    upstream.truncate("packument");
    try {
      const doc = await upstream.packument("debug");
      const tarball = doc.versions[doc["dist-tags"].latest].dist.tarball as string;
      for (const url of [tarball, `${base}/ms`]) {
        const res = await rawGet(url);
        assert.equal(res.status, 200);
        assert.equal(res.complete, false, url);
        assert.equal(res.body.length, Math.floor(Number(res.headers["content-length"]) / 2), url);
      }
      const other = await upstream.packument("ms");
      const whole = await rawGet(other.versions["2.1.3"].dist.tarball);
      assert.ok(whole.complete, "only debug's tarballs are cut");
    } finally {
      upstream.clearFaults();
    }
  });

  test("an endless body keeps flowing past any size", async () => {
    upstream.endless("packument", "ms");
    try {
      const full = await upstream.packument("ms");
      const size = Buffer.byteLength(JSON.stringify(full));
      const res = await rawGet(`${base}/ms`, { stopAfter: size + 1024 * 1024 });
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-length"], undefined);
      assert.equal(res.headers["transfer-encoding"], "chunked");
      assert.ok(res.body.length >= size + 1024 * 1024);
    } finally {
      upstream.clearFaults();
    }
  });

  test("a stalled response sends its headers and a few bytes, then nothing until the connection is cut", async () => {
    upstream.stall("packument", "ms");
    let firstBytes = () => {};
    const started = new Promise<void>((resolve) => {
      firstBytes = resolve;
    });
    const pending = rawGet(`${base}/ms`, { onData: () => firstBytes() });
    await started;
    // Another request is answered in full meanwhile.
    assert.equal((await fetch(`${base}/debug`)).status, 200);
    await upstream.down();
    const res = await pending;
    assert.equal(res.complete, false);
    assert.ok(res.body.length > 0 && res.body.length < Number(res.headers["content-length"]));
    upstream.clearFaults();
    await assert.rejects(fetch(`${base}/ms`), "down: the connection is refused");
    await upstream.up();
    assert.equal((await fetch(`${base}/ms`)).status, 200);
  });

  test("a status fault answers that status, for one package, one kind or everything", async () => {
    upstream.status(503, "packument", "ms");
    try {
      assert.equal((await fetch(`${base}/ms`)).status, 503);
      assert.equal((await fetch(`${base}/debug`)).status, 200);
      const tarball = (await upstream.packument("ms")).versions["2.1.3"].dist.tarball;
      assert.equal((await fetch(tarball)).status, 200);
      upstream.status(500);
      assert.equal((await fetch(tarball)).status, 500);
      assert.equal((await fetch(`${base}/_changes`)).status, 500);
    } finally {
      upstream.clearFaults();
    }
    assert.equal((await fetch(`${base}/ms`)).status, 200);
  });

  test("a held request waits until released; arrived says it came in", async () => {
    const hold = upstream.hold("packument", "ms");
    let settled = false;
    const held = fetch(`${base}/ms`).then((res) => {
      settled = true;
      return res;
    });
    await hold.arrived;
    assert.equal((await fetch(`${base}/ms`)).status, 200, "only the next request is held");
    assert.equal(settled, false);
    hold.release();
    assert.equal((await held).status, 200);
  });

  test("registry changes show in the packuments, the tarballs and the change feed", async () => {
    const seq = upstream.seq;
    const rev = (await upstream.packument("ms"))._rev as string;
    const etag = (await fetch(`${base}/ms`)).headers.get("etag") as string;
    // A long poll from now ends at the first change.
    const polled = getJson<ChangesPage>(`${base}/_changes?feed=longpoll&since=${seq}`);

    await upstream.removeVersion("ms", "2.1.3");
    let doc = (await getJson(`${base}/ms`)).body;
    assert.equal(doc.versions["2.1.3"], undefined);
    assert.equal(doc.time["2.1.3"], undefined);
    assert.equal(doc.time.unpublished, undefined);
    assert.equal(doc["dist-tags"].latest, "2.0.0", "latest moves to the highest remaining release");
    assert.equal((await fetch(`${base}/ms/-/ms-2.1.3.tgz`)).status, 404);
    assert.notEqual(
      (await fetch(`${base}/ms`, { headers: { "if-none-match": etag } })).status,
      304,
    );
    const poll = (await polled).body;
    assert.equal(poll.results.length, 1);
    assert.equal(poll.results[0].id, "ms");
    assert.equal(poll.results[0].seq, seq + 1);

    await upstream.deprecate("ms", "2.0.0", "use something else");
    doc = (await getJson(`${base}/ms`)).body;
    assert.equal(doc.versions["2.0.0"].deprecated, "use something else");
    assert.equal(
      (await getJson<AbbreviatedPackument>(`${base}/ms`, ABBREVIATED)).body.versions["2.0.0"]
        .deprecated,
      "use something else",
    );
    await upstream.deprecate("ms", "2.0.0", "");
    assert.equal((await getJson(`${base}/ms`)).body.versions["2.0.0"].deprecated, undefined);

    await upstream.setDistTag("ms", "legacy", "1.0.0");
    assert.equal(
      (await getJson<AbbreviatedPackument>(`${base}/ms`, ABBREVIATED)).body["dist-tags"].legacy,
      "1.0.0",
    );

    const modifiedBefore = Date.parse((await upstream.packument("ms")).time.modified);
    await upstream.addVersion("ms", "3.0.0");
    await upstream.addVersion("ms", "4.0.0-rc.0");
    doc = (await getJson(`${base}/ms`)).body;
    assert.equal(
      doc["dist-tags"].latest,
      "3.0.0",
      "a new highest release becomes latest, a prerelease does not",
    );
    assert.ok(Date.parse(doc.time["3.0.0"]) > modifiedBefore);
    assert.ok(Date.parse(doc.time["4.0.0-rc.0"]) > Date.parse(doc.time["3.0.0"]));
    assert.equal(doc.time.modified, doc.time["4.0.0-rc.0"]);
    const added = Buffer.from(
      await (await fetch(doc.versions["3.0.0"].dist.tarball)).arrayBuffer(),
    );
    assert.equal(sha512(added), doc.versions["3.0.0"].dist.integrity);
    assert.equal((await unpackTarball(added)).manifest.version, "3.0.0");

    // Six changes to one package: the feed lists it once, at its last change, with its new revision.
    assert.equal(upstream.seq, seq + 6);
    const feed = (await getJson<ChangesPage>(`${base}/_changes?since=${seq}`)).body;
    assert.deepEqual(feed, {
      results: [{ seq: seq + 6, id: "ms", changes: [{ rev: doc._rev }] }],
      last_seq: seq + 6,
    });
    assert.notEqual(doc._rev, rev);
    assert.match(doc._rev, /^7-/);
    const page = (await getJson<ChangesPage>(`${base}/_changes?since=0&limit=2`)).body;
    assert.equal(page.results.length, 2);
    assert.equal(page.last_seq, page.results[1].seq);
  });

  test("a package can be added that exists only upstream; removing its last version unpublishes it", async () => {
    await upstream.addPackage("late-arrival", ["0.1.0", "0.2.0"]);
    const doc = (await getJson(`${base}/late-arrival`)).body;
    assert.deepEqual(Object.keys(doc.versions), ["0.1.0", "0.2.0"]);
    assert.equal(doc["dist-tags"].latest, "0.2.0");
    assert.ok(upstream.names.includes("late-arrival"));
    const only = (await getJson(`${base}/upstream-only`)).body;
    assert.equal(only["dist-tags"].latest, "2.0.0");

    await upstream.removeVersion("late-arrival", "0.1.0");
    await upstream.removeVersion("late-arrival", "0.2.0");
    assert.equal((await fetch(`${base}/late-arrival`)).status, 404);
    const feed = (await getJson<ChangesPage>(`${base}/_changes?since=${upstream.seq - 1}`)).body;
    assert.deepEqual(feed.results[0].deleted, true);
  });

  test("audits report the advisories set for the packages asked about; the counts are served as JSON", async () => {
    const advisory = { id: 1, title: "a flaw", severity: "high", vulnerable_versions: "<2.1.0" };
    upstream.setAdvisories({ ms: [advisory] });
    const res = await fetch(`${base}/-/npm/v1/security/advisories/bulk`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(JSON.stringify({ ms: ["2.0.0"], debug: ["4.4.3"] })),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ms: [advisory] });

    upstream.resetStats();
    await fetch(`${base}/ms`);
    await fetch(`${base}/ms`);
    const counts = (await getJson<Record<string, unknown>>(`${base}/-/upstream/stats`)).body;
    assert.equal(counts.requests, 2);
    assert.deepEqual(counts.packuments, { ms: 2 });
    assert.equal(counts.packumentBytes, upstream.stats.packumentBytes);
    assert.ok(upstream.stats.packumentBytes > 0);
  });

  test("run as its own process it prints its URL, serves, and stops on SIGTERM", async () => {
    const cli = await startCairnServer(
      ["--port", "0", "--lazy", "--token", "t0ken"],
      60_000,
      UPSTREAM_REGISTRY_COMMAND,
    );
    try {
      const doc = await fetch(`${cli.url}upstream-only`, {
        headers: { authorization: "Bearer t0ken" },
      });
      assert.equal(doc.status, 200);
      assert.equal(((await doc.json()) as Packument)["dist-tags"].latest, "2.0.0");
      assert.equal((await fetch(`${cli.url}upstream-only`)).status, 401);
    } finally {
      assert.equal(await cli.stop(), 0);
    }
  });
});
