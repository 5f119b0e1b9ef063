/** The npm read API over a bare RegistryState and an in-memory blob map, as a mirror would serve it. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { createHttpApp } from "../../src/npm/http-app.ts";
import { registerNpmReadApi } from "../../src/npm/read-api.ts";
import { registerReadOnlyRefusals, writeRoutes } from "../../src/npm/read-only.ts";
import { type NpmApiOptions, registerNpmWriteApi } from "../../src/npm/routes.ts";
import {
  BlobError,
  boundArtifact,
  verifyBlob,
  verifyTarball,
} from "../../src/registry/blob-check.ts";
import { canonicalJsonBytes } from "../../src/registry/canonical-json.ts";
import type { PublishEntry } from "../../src/registry/entries.ts";
import { type PackageReader, stateReads } from "../../src/registry/package-reader.ts";
import { RegistryState } from "../../src/registry/state.ts";

const ABBREVIATED = "application/vnd.npm.install-v1+json";
const blobs = new Map<string, Uint8Array>();

function put(bytes: Uint8Array) {
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  blobs.set(sha256, bytes);
  return { sha256, size: bytes.length };
}

let clock = 0;
function publish(name: string, version: string, options: { badSha512?: boolean } = {}) {
  const tarball = new TextEncoder().encode(`tarball of ${name}@${version}`);
  const manifest = { name, version, description: `the ${name} package`, keywords: ["demo"] };
  const sha512 = createHash("sha512")
    .update(options.badSha512 ? "other bytes" : tarball)
    .digest("base64");
  const entry: PublishEntry = {
    v: 1,
    kind: "publish",
    ecosystem: "npm",
    name,
    version,
    tag: "latest",
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, clock++)).toISOString(),
    actor: "alice",
    artifact: { ...put(tarball), sha512, sha1: "b".repeat(40) },
    manifest: put(canonicalJsonBytes(manifest)),
    resolution: { dependencies: { "left-pad": "^1.0.0" } },
    description: manifest.description,
    keywords: manifest.keywords,
  };
  return entry;
}

function fakeReader(state: RegistryState): PackageReader {
  const blob = (ref: { sha256: string }) => {
    const bytes = blobs.get(ref.sha256);
    if (!bytes) throw new BlobError("missing", `no blob ${ref.sha256}`);
    return bytes;
  };
  return {
    ...stateReads(state),
    manifest: async (entry) => {
      const bytes = blob(entry.manifest);
      verifyBlob(entry.manifest, bytes);
      return bytes;
    },
    tarball: async (entry) => {
      const artifact = boundArtifact(entry);
      const bytes = blob(artifact);
      verifyTarball(artifact, bytes);
      return bytes;
    },
  };
}

describe("npm read API", () => {
  let app: FastifyInstance;
  let url: string;

  before(async () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    const entries = [
      publish("plain", "1.0.0"),
      publish("@scope/pkg", "2.0.0"),
      publish("broken", "1.0.0", { badSha512: true }),
    ];
    state.apply(0, entries);
    const reader = fakeReader(state);
    // As the servers build it; the damaged tarball's 5xx is logged, so quietly here.
    app = createHttpApp({ logLevel: "silent" });
    registerNpmReadApi(app, reader);
    registerReadOnlyRefusals(app, "https://origin.example/");
    url = await app.listen({ host: "127.0.0.1", port: 0 });
  });
  after(() => app.close());

  test("abbreviated and full packuments, and 304 on a matching ETag", async () => {
    const short = await fetch(`${url}/@scope%2fpkg`, { headers: { accept: ABBREVIATED } });
    assert.equal(short.status, 200);
    const doc = (await short.json()) as { versions: Record<string, Record<string, unknown>> };
    assert.deepEqual(doc.versions["2.0.0"].dependencies, { "left-pad": "^1.0.0" });
    assert.equal(doc.versions["2.0.0"].description, undefined);

    const full = await fetch(`${url}/plain`);
    const fullDoc = (await full.json()) as { versions: Record<string, { description: string }> };
    assert.equal(fullDoc.versions["1.0.0"].description, "the plain package");

    const etag = full.headers.get("etag") as string;
    assert.equal((await fetch(`${url}/plain`, { headers: { "if-none-match": etag } })).status, 304);
  });

  test("a tarball is served only when its bytes match the entry", async () => {
    const good = await fetch(`${url}/@scope/pkg/-/pkg-2.0.0.tgz`);
    assert.equal(good.status, 200);
    assert.equal(await good.text(), "tarball of @scope/pkg@2.0.0");

    const bad = await fetch(`${url}/broken/-/broken-1.0.0.tgz`);
    assert.equal(bad.status, 503);
    const body = await bad.text();
    assert.equal((JSON.parse(body) as { code: string }).code, "mismatch");
    assert.ok(!body.includes("tarball of"));
  });

  test("search finds packages by description and keyword", async () => {
    const res = await fetch(`${url}/-/v1/search?text=demo`);
    const body = (await res.json()) as { total: number; objects: { package: { name: string } }[] };
    // Search reads the entries, not the blobs: a package whose tarball is damaged is still found.
    assert.equal(body.total, 3);
    assert.deepEqual(body.objects.map((o) => o.package.name).sort(), [
      "@scope/pkg",
      "broken",
      "plain",
    ]);
  });

  test("search pages out of range are clamped, and repeated text is a 400", async () => {
    for (const query of ["size=-1&from=99999999999999999999", "size=1e400&from=-5", "size=abc"]) {
      const res = await fetch(`${url}/-/v1/search?text=demo&${query}`);
      assert.equal(res.status, 200, query);
      assert.ok(((await res.json()) as { total: number }).total >= 0);
    }
    const twice = await fetch(`${url}/-/v1/search?text=a&text=b`);
    assert.equal(twice.status, 400);
    assert.equal(((await twice.json()) as { code: string }).code, "bad-request");
  });

  test("a publish is refused with 405, naming the origin", async () => {
    const res = await fetch(`${url}/plain`, { method: "PUT", body: "{}" });
    assert.equal(res.status, 405);
    const body = (await res.json()) as { error: string; code: string };
    assert.equal(body.code, "read-only");
    assert.match(body.error, /https:\/\/origin\.example\//);
  });

  test("an unknown route is 404 not-found, in the same shape as every error", async () => {
    const res = await fetch(`${url}/-/no/such/route`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, "not-found");
  });

  test("the refusals cover exactly the write side's changing routes", async () => {
    const writes = Fastify();
    const changing: string[] = [];
    writes.addHook("onRoute", (route) => {
      for (const method of [route.method].flat())
        if (method !== "GET" && method !== "HEAD") changing.push(`${method} ${route.url}`);
    });
    registerNpmWriteApi(writes, {} as NpmApiOptions);
    await writes.ready();
    assert.deepEqual(
      writeRoutes()
        .map(([method, path]) => `${method} ${path}`)
        .sort(),
      changing.sort(),
    );
  });
});
