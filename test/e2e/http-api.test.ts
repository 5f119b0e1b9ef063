/** The npm API's HTTP details that clients depend on, and concurrent publishes over HTTP. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { registryFixture } from "../helpers/fixture.ts";
import { publish, signUp } from "../helpers/registry-client.ts";

const ABBREVIATED = "application/vnd.npm.install-v1+json";

describe("npm API over HTTP", () => {
  test("packuments: full and abbreviated, ETag and 304, modified and per-version time", async () => {
    await using fx = await registryFixture();
    const { server } = fx;
    const token = await signUp(server.url, "alice", "pw-alice");
    for (const v of ["1.0.0", "1.1.0"])
      assert.equal((await publish(server.url, token, "@scope/pkg", v)).status, 201);
    const url = new URL("@scope%2fpkg", server.url);

    const full = await fetch(url);
    assert.equal(full.status, 200);
    const doc = (await full.json()) as {
      time: Record<string, string>;
      versions: Record<string, { dist: { tarball: string } }>;
    };
    assert.deepEqual(Object.keys(doc.time).sort(), ["1.0.0", "1.1.0", "created", "modified"]);
    assert.equal(doc.versions["1.1.0"].dist.tarball, `${server.url}@scope/pkg/-/pkg-1.1.0.tgz`);
    assert.equal((await fetch(doc.versions["1.1.0"].dist.tarball)).status, 200);

    const abbreviated = await fetch(url, { headers: { accept: ABBREVIATED } });
    assert.ok(abbreviated.headers.get("content-type")?.startsWith(ABBREVIATED));
    const short = (await abbreviated.json()) as {
      modified: string;
      versions: Record<string, unknown>;
    };
    assert.equal(short.modified, doc.time.modified);
    const etag = abbreviated.headers.get("etag") as string;
    assert.match(etag, /^".+"$/);
    const again = await fetch(url, { headers: { accept: ABBREVIATED, "if-none-match": etag } });
    assert.equal(again.status, 304);
    assert.notEqual(full.headers.get("etag"), etag, "the two forms have different ETags");

    // A new publish changes the document, so the old ETag no longer matches.
    assert.equal((await publish(server.url, token, "@scope/pkg", "1.2.0")).status, 201);
    const changed = await fetch(url, { headers: { accept: ABBREVIATED, "if-none-match": etag } });
    assert.equal(changed.status, 200);
    assert.ok(
      Object.keys(((await changed.json()) as { versions: object }).versions).includes("1.2.0"),
    );
    assert.equal((await fetch(new URL("@scope%2fmissing", server.url))).status, 404);
  });

  test("50 clients publish distinct versions at once; two racing for one version: exactly one wins", async () => {
    await using fx = await registryFixture();
    const { server } = fx;
    const token = await signUp(server.url, "alice", "pw-alice");
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => publish(server.url, token, "busy", `1.0.${i}`)),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array(50).fill(201),
    );
    const doc = (await (await fetch(new URL("busy", server.url))).json()) as { versions: object };
    assert.equal(Object.keys(doc.versions).length, 50);

    const race = await Promise.all([
      publish(server.url, token, "busy", "2.0.0"),
      publish(server.url, token, "busy", "2.0.0"),
    ]);
    assert.deepEqual(race.map((r) => r.status).sort(), [201, 409]);
    const log = await fx.stopAndVerifyLog();
    assert.equal(log.packageEntries.length, 51);
  });
});
