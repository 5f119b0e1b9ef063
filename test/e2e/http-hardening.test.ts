/**
 * Small holes in the npm API, each closed and checked: names decoded once,
 * long valid names routed, dist-tag names ruled, read-only tokens allowed
 * HEAD, non-owners refused even for writes that change nothing, user
 * existence told only after authentication, over-long passwords refused at
 * login, owners' emails shown where npm reads them, and audits that say
 * they could not be done.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type RegistryFixture, registryFixture } from "../helpers/fixture.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { publish, putJson } from "../helpers/registry-client.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

async function codeOf(res: Response): Promise<string> {
  return ((await res.json()) as { code: string }).code;
}

function send(url: string, method: string, path: string, token?: string, body?: unknown) {
  return fetch(new URL(path, url), {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function signUpWith(url: string, name: string, password: string, email?: string) {
  return putJson(url, `/-/user/org.couchdb.user:${name}`, undefined, { name, password, email });
}

describe("npm API hardening", () => {
  let fx: RegistryFixture;
  let url: string;
  let alice: string;
  let bob: string;
  const checkpoint = async () => (await fetch(new URL("-/cairn/checkpoint", url))).text();
  /** A directory in the fixture holding a package.json of `name`@1.0.0. */
  const project = async (dir: string, name: string) => {
    const path = join(fx.dir.path, dir);
    await mkdir(path);
    await writeFile(join(path, "package.json"), JSON.stringify({ name, version: "1.0.0" }));
    return path;
  };

  before(async () => {
    fx = await registryFixture();
    url = fx.server.url;
    const signedUp = await signUpWith(url, "alice", "pw-alice", "alice@example.org");
    alice = ((await signedUp.json()) as { token: string }).token;
    bob = ((await (await signUpWith(url, "bob", "pw-bob")).json()) as { token: string }).token;
    assert.equal((await publish(url, alice, "pkg", "1.0.0")).status, 201);
  });
  after(() => fx[Symbol.asyncDispose]());

  test("names are decoded once: %252f is not a slash, /%25 is a name that does not exist", async () => {
    const before = await checkpoint();
    const tgz = rawTgz([packageJson("@sc/pkg", "1.0.0")]);
    const res = await putJson(
      url,
      "/@sc%252fpkg",
      alice,
      publishBody({ name: "@sc/pkg", version: "1.0.0" }, tgz),
    );
    assert.equal(res.status, 400);
    assert.equal(await codeOf(res), "invalid-name");
    assert.equal((await fetch(new URL("@sc%2fpkg", url))).status, 404);
    assert.equal(await checkpoint(), before);
    const percent = await fetch(new URL("%25", url));
    assert.equal(percent.status, 404);
    assert.equal(await codeOf(percent), "not-found");
  });

  test("a 214-character name, valid by npm's rules, publishes and installs with npm", async () => {
    const name = `long-${"x".repeat(209)}`;
    const npmrc = await writeNpmrc(fx.dir.path, url, alice);
    const pkg = await project("long", name);
    const published = await runNpm(["publish"], pkg, npmrc, fx.cache);
    assert.equal(published.code, 0, published.stderr);
    const app = await project("long-app", "app");
    const installed = await runNpm(["install", name], app, npmrc, fx.cache);
    assert.equal(installed.code, 0, installed.stderr);
  });

  test("dist-tag names outside the rule are refused and never logged", async () => {
    const before = await checkpoint();
    const bad = [
      "a".repeat(129),
      "a".repeat(1000),
      "nul\u0000tag",
      "../../x",
      "__proto__",
      "constructor",
      ".hidden",
      "1.x",
    ];
    // Past the longest path parameter (1,024) the router answers 414 before any handler.
    const huge = await send(
      url,
      "PUT",
      `/-/package/pkg/dist-tags/${"a".repeat(5000)}`,
      alice,
      "1.0.0",
    );
    assert.equal(huge.status, 414);
    for (const tag of bad) {
      const path = `/-/package/pkg/dist-tags/${encodeURIComponent(tag)}`;
      const set = await send(url, "PUT", path, alice, "1.0.0");
      assert.equal(set.status, 400, tag.slice(0, 20));
      assert.equal(await codeOf(set), "invalid-tag");
      const removed = await send(url, "DELETE", path, alice);
      assert.equal(removed.status, 404, tag.slice(0, 20));
    }
    const tgz = rawTgz([packageJson("pkg", "2.0.0")]);
    const tagged = await putJson(
      url,
      "/pkg",
      alice,
      publishBody({ name: "pkg", version: "2.0.0" }, tgz, "../../x"),
    );
    assert.equal(tagged.status, 400);
    assert.equal(await codeOf(tagged), "invalid-tag");
    assert.equal(await checkpoint(), before);

    const ok = await send(url, "PUT", "/-/package/pkg/dist-tags/next-2.x_rc", alice, "1.0.0");
    assert.equal(ok.status, 201, await ok.text());
  });

  test("npm publish --tag with a bad name fails and publishes nothing", async () => {
    const npmrc = await writeNpmrc(fx.dir.path, url, alice);
    const pkg = await project("tagged", "tagged");
    const res = await runNpm(["publish", "--tag", "../../x"], pkg, npmrc, fx.cache);
    assert.notEqual(res.code, 0);
    assert.equal((await fetch(new URL("tagged", url))).status, 404);
  });

  test("a read-only token may HEAD and GET, not write", async () => {
    const created = await send(url, "POST", "/-/npm/v1/tokens", alice, {
      password: "pw-alice",
      readonly: true,
    });
    assert.equal(created.status, 201);
    const { token } = (await created.json()) as { token: string };
    assert.equal((await send(url, "HEAD", "/-/whoami", token)).status, 200);
    assert.equal((await send(url, "GET", "/-/whoami", token)).status, 200);
    const write = await send(url, "PUT", "/-/package/pkg/dist-tags/beta", token, "1.0.0");
    assert.equal(write.status, 403);
    assert.equal(await codeOf(write), "forbidden");
  });

  test("a non-owner's writes are 403 even when they would change nothing", async () => {
    const before = await checkpoint();
    const doc = (await (await fetch(new URL("pkg", url))).json()) as { _rev: string };
    const noop = await putJson(url, "/pkg", bob, doc);
    assert.equal(noop.status, 403);
    assert.equal(await codeOf(noop), "forbidden");
    const viaRev = await putJson(url, `/pkg/-rev/${doc._rev}`, bob, { _id: "pkg", _rev: doc._rev });
    assert.equal(viaRev.status, 403);
    const tarball = await send(url, "DELETE", `/pkg/-/pkg-1.0.0.tgz/-rev/${doc._rev}`, bob);
    assert.equal(tarball.status, 403);
    assert.equal(await checkpoint(), before);
  });

  test("whether a user exists is told only to a signed-in owner", async () => {
    for (const user of ["bob", "ghost"]) {
      const anonymous = await send(url, "PUT", "/-/package/pkg/owners", undefined, { user });
      assert.equal(anonymous.status, 401, user);
      const nonOwner = await send(url, "PUT", "/-/package/pkg/owners", bob, { user });
      assert.equal(nonOwner.status, 403, user);
      assert.equal(await codeOf(nonOwner), "forbidden");
      const lookup = await send(url, "GET", `/-/user/org.couchdb.user:${user}`);
      assert.equal(lookup.status, 401, user);
    }
    const owner = await send(url, "PUT", "/-/package/pkg/owners", alice, { user: "ghost" });
    assert.equal(owner.status, 404);
    assert.equal(await codeOf(owner), "not-found");
  });

  test("login refuses a password longer than sign-up allows", async () => {
    const password = "p".repeat(1024);
    assert.equal((await signUpWith(url, "carol", password)).status, 201);
    assert.equal((await signUpWith(url, "carol", password)).status, 201);
    const longer = await signUpWith(url, "carol", `${password}x`);
    assert.equal(longer.status, 401);
    assert.equal(await codeOf(longer), "bad-credentials");
  });

  test("npm owner ls shows the email given at sign-up; others see no one's email but their own", async () => {
    const npmrc = await writeNpmrc(fx.dir.path, url, alice);
    const ls = await runNpm(["owner", "ls", "pkg"], fx.dir.path, npmrc, fx.cache);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout.trim(), "alice <alice@example.org>");
    const self = await send(url, "GET", "/-/user/org.couchdb.user:alice", alice);
    assert.equal(((await self.json()) as { email?: string }).email, "alice@example.org");
    const other = await send(url, "GET", "/-/user/org.couchdb.user:alice", bob);
    assert.equal(((await other.json()) as { email?: string }).email, undefined);
  });

  test("npm audit says the audit could not be done, not that nothing was found", async () => {
    const npmrc = await writeNpmrc(fx.dir.path, url, alice);
    const app = await project("audited", "audited");
    const installed = await runNpm(["install", "pkg@1.0.0"], app, npmrc, fx.cache);
    assert.equal(installed.code, 0, installed.stderr);
    const audit = await runNpm(["audit"], app, npmrc, fx.cache);
    assert.notEqual(audit.code, 0);
    assert.doesNotMatch(audit.stdout, /found 0 vulnerabilities/);
    assert.match(audit.stderr, /audit endpoint returned an error/);
    assert.match(audit.stdout, /no-advisory-source/);
  });
});
