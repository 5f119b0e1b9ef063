/**
 * One Cairn as the uplink of another: a package published on the upstream
 * is imported on first request, its tarball fetched on first download and
 * bound in the downstream's log, and a package published downstream never
 * takes versions from the upstream.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { startOrigin } from "../../src/npm/origin-server.ts";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import { packageEntries } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, testOriginConfig } from "../helpers/origin.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

interface Packument {
  readonly "dist-tags": Record<string, string>;
  readonly time: Record<string, string>;
  readonly versions: Record<
    string,
    { dist: { integrity: string; tarball: string }; dependencies?: Record<string, string> }
  >;
}

async function getJson(url: string) {
  const res = await fetch(url, { headers: { accept: "application/json" } });
  return { status: res.status, body: (await res.json()) as Packument };
}

test("a Cairn imports from another Cairn on first request and logs every version", async () => {
  await using upstream = await startTestOrigin();
  await upstream.publish("left", "1.0.0");
  await upstream.publish("left", "1.1.0", { dependencies: { right: "^1.0.0" } });
  await upstream.publish("mine", "9.9.9");
  await using dir = await tempDir("cairn-downstream-");
  const data = join(dir.path, "data");
  const downstream = await startOrigin(
    testOriginConfig(data, { uplinks: { up: { url: upstream.url } } }),
  );
  try {
    // Published here first: the upstream's `mine` must never show through.
    const tgz = rawTgz([packageJson("mine", "1.0.0")]);
    await publishNpm(downstream.registry, {
      actor: "alice",
      ...(await parsePublish("mine", publishBody({ name: "mine", version: "1.0.0" }, tgz))),
    });

    const up = await getJson(`${upstream.url}left`);
    const down = await getJson(`${downstream.url}left`);
    assert.equal(down.status, 200);
    assert.deepEqual(Object.keys(down.body.versions).sort(), ["1.0.0", "1.1.0"]);
    assert.deepEqual(down.body["dist-tags"], { latest: "1.1.0" });
    assert.equal(down.body.time["1.0.0"], up.body.time["1.0.0"], "the upstream's publish time");
    assert.equal(
      down.body.versions["1.1.0"].dist.integrity,
      up.body.versions["1.1.0"].dist.integrity,
    );
    assert.match(down.body.versions["1.1.0"].dist.tarball, new RegExp(`^${downstream.url}`));
    assert.deepEqual(down.body.versions["1.1.0"].dependencies, { right: "^1.0.0" });

    const tarball = await fetch(down.body.versions["1.1.0"].dist.tarball);
    assert.equal(tarball.status, 200);
    const fromUp = await fetch(up.body.versions["1.1.0"].dist.tarball);
    assert.deepEqual(
      Buffer.from(await tarball.arrayBuffer()),
      Buffer.from(await fromUp.arrayBuffer()),
    );

    const mine = await getJson(`${downstream.url}mine`);
    assert.deepEqual(Object.keys(mine.body.versions), ["1.0.0"]);

    // The tarball is served before the entry that binds it is appended: wait for that.
    await downstream.uplinks?.settled();
    const entries = await packageEntries(join(data, "tree"), downstream.key.verifier);
    const kinds = entries.filter((e) => e.name === "left").map((e) => e.kind);
    assert.deepEqual(kinds.sort(), ["artifact", "dist-tag", "import", "import"]);
    assert.ok(!entries.some((e) => e.name === "mine" && e.kind === "import"));
  } finally {
    await downstream.close();
  }
});
