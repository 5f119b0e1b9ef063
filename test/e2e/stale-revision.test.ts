/**
 * Packument updates honour `_rev`: a body edited from a stale copy gets 409
 * ("stale-revision") and changes nothing, so a version published after the
 * copy was read is never unpublished by its absence. Races are staged, not
 * timed: a proxy in front of the registry lets a second maintainer publish
 * after npm has read the packument and before npm writes it back.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startCountingProxy } from "../helpers/counting-proxy.ts";
import { type RegistryFixture, registryFixture } from "../helpers/fixture.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { publish, putJson, signUp } from "../helpers/registry-client.ts";

interface Packument {
  _rev: string;
  versions: Record<string, { deprecated?: string }>;
  maintainers: { name: string }[];
}

async function packument(url: string, name: string): Promise<Packument> {
  const res = await fetch(new URL(name.replace("/", "%2f"), url));
  assert.equal(res.status, 200);
  return (await res.json()) as Packument;
}

async function checkpoint(url: string): Promise<string> {
  return (await fetch(new URL("-/cairn/checkpoint", url))).text();
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { code: string }).code;
}

/**
 * A reverse proxy that, the first time a client reads `path`, holds the
 * answer until `race` has run against the registry, then hands over the
 * (now stale) packument.
 */
function racingProxy(target: string, path: string, race: () => Promise<void>) {
  let armed = true;
  return startCountingProxy(target, {
    beforeAnswer: async (method, url) => {
      if (!armed || method !== "GET" || new URL(url, target).pathname !== path) return;
      armed = false;
      await race();
    },
  });
}

describe("stale packument updates", () => {
  let fx: RegistryFixture;
  let url: string;
  let alice: string;
  let bob: string;

  before(async () => {
    fx = await registryFixture();
    url = fx.server.url;
    alice = await signUp(url, "alice", "pw-alice");
    bob = await signUp(url, "bob", "pw-bob");
  });
  after(() => fx[Symbol.asyncDispose]());

  /** `name`@1.0.0 by alice, with bob as a second owner. */
  async function shared(name: string) {
    assert.equal((await publish(url, alice, name, "1.0.0")).status, 201);
    const doc = await packument(url, name);
    const added = await putJson(url, `/${name}/-rev/${doc._rev}`, alice, {
      _id: name,
      _rev: doc._rev,
      maintainers: [{ name: "alice" }, { name: "bob" }],
    });
    assert.equal(added.status, 200, await added.text());
  }

  test("raw: a stale deprecate body gets 409 and the newer version survives", async () => {
    await shared("raw-pkg");
    const stale = await packument(url, "raw-pkg");
    assert.equal((await publish(url, bob, "raw-pkg", "1.0.6")).status, 201);
    const before = await checkpoint(url);

    stale.versions["1.0.0"].deprecated = "use 1.0.6";
    const put = await putJson(url, "/raw-pkg", alice, stale);
    assert.equal(put.status, 409);
    assert.equal(await errorCode(put), "stale-revision");
    const viaRev = await putJson(url, `/raw-pkg/-rev/${stale._rev}`, alice, stale);
    assert.equal(viaRev.status, 409);
    assert.equal(await errorCode(viaRev), "stale-revision");
    const { _rev: _, ...withoutRev } = stale;
    const noRev = await putJson(url, "/raw-pkg", alice, withoutRev);
    assert.equal(noRev.status, 409);
    assert.equal(await errorCode(noRev), "stale-revision");
    const unpublishAll = await fetch(new URL(`raw-pkg/-rev/${stale._rev}`, url), {
      method: "DELETE",
      headers: { authorization: `Bearer ${alice}` },
    });
    assert.equal(unpublishAll.status, 409);
    assert.equal(await errorCode(unpublishAll), "stale-revision");

    assert.equal(await checkpoint(url), before, "nothing was appended");
    const now = await packument(url, "raw-pkg");
    assert.deepEqual(Object.keys(now.versions).sort(), ["1.0.0", "1.0.6"]);
    assert.equal(now.versions["1.0.0"].deprecated, undefined);

    const mismatched = await putJson(url, `/raw-pkg/-rev/${stale._rev}`, alice, now);
    assert.equal(mismatched.status, 400);
    assert.equal(await errorCode(mismatched), "bad-request");

    // Edited from the current copy, the same change applies; the revision moves on.
    now.versions["1.0.0"].deprecated = "use 1.0.6";
    const fresh = await putJson(url, "/raw-pkg", alice, now);
    assert.equal(fresh.status, 200, await fresh.text());
    const after = await packument(url, "raw-pkg");
    assert.equal(after.versions["1.0.0"].deprecated, "use 1.0.6");
    assert.deepEqual(Object.keys(after.versions).sort(), ["1.0.0", "1.0.6"]);
    assert.notEqual(after._rev, now._rev);
  });

  test("npm deprecate racing a publish: 409, nothing lost, and a second run succeeds", async () => {
    await shared("race-deprecate");
    const proxy = await racingProxy(url, "/race-deprecate", async () => {
      assert.equal((await publish(url, bob, "race-deprecate", "1.0.6")).status, 201);
    });
    try {
      const npmrc = await writeNpmrc(fx.dir.path, proxy.url, alice);
      const args = ["deprecate", "race-deprecate@1.0.0", "use 1.0.6"];
      const raced = await runNpm(args, fx.dir.path, npmrc, fx.cache);
      assert.notEqual(raced.code, 0, raced.stdout);
      assert.match(raced.stderr, /409/);
      const doc = await packument(url, "race-deprecate");
      assert.deepEqual(Object.keys(doc.versions).sort(), ["1.0.0", "1.0.6"]);
      assert.equal(doc.versions["1.0.0"].deprecated, undefined);

      const again = await runNpm(args, fx.dir.path, npmrc, fx.cache);
      assert.equal(again.code, 0, again.stderr);
      const done = await packument(url, "race-deprecate");
      assert.deepEqual(Object.keys(done.versions).sort(), ["1.0.0", "1.0.6"]);
      assert.equal(done.versions["1.0.0"].deprecated, "use 1.0.6");
    } finally {
      await proxy.close();
    }
  });

  test("npm owner add racing a publish: 409, nothing lost, and a second run succeeds", async () => {
    await shared("race-owner");
    await signUp(url, "carol", "pw-carol");
    const proxy = await racingProxy(url, "/race-owner", async () => {
      assert.equal((await publish(url, bob, "race-owner", "1.0.6")).status, 201);
    });
    try {
      const npmrc = await writeNpmrc(fx.dir.path, proxy.url, alice);
      const args = ["owner", "add", "carol", "race-owner"];
      const raced = await runNpm(args, fx.dir.path, npmrc, fx.cache);
      assert.notEqual(raced.code, 0, raced.stdout);
      assert.match(raced.stderr, /409/);
      const doc = await packument(url, "race-owner");
      assert.deepEqual(Object.keys(doc.versions).sort(), ["1.0.0", "1.0.6"]);
      assert.deepEqual(doc.maintainers.map((m) => m.name).sort(), ["alice", "bob"]);

      const again = await runNpm(args, fx.dir.path, npmrc, fx.cache);
      assert.equal(again.code, 0, again.stderr);
      const done = await packument(url, "race-owner");
      assert.deepEqual(Object.keys(done.versions).sort(), ["1.0.0", "1.0.6"]);
      assert.deepEqual(done.maintainers.map((m) => m.name).sort(), ["alice", "bob", "carol"]);
    } finally {
      await proxy.close();
    }
  });

  test("npm unpublish of one version still works through the revision check", async () => {
    await shared("unpub");
    assert.equal((await publish(url, alice, "unpub", "1.0.1")).status, 201);
    const npmrc = await writeNpmrc(fx.dir.path, url, alice);
    const res = await runNpm(["unpublish", "unpub@1.0.0", "--force"], fx.dir.path, npmrc, fx.cache);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(Object.keys((await packument(url, "unpub")).versions), ["1.0.1"]);
  });
});
