/** Rate limits on sign-ins and writes, and reads that stay quick under a sign-in flood: a real origin on loopback. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { guardedWriteRoutes } from "../../src/npm/guards.ts";
import { startOrigin } from "../../src/npm/origin-server.ts";
import { ConfigError, checkConfig, type OriginConfig } from "../../src/origin/config.ts";
import { passwordHasher } from "../../src/origin/password-hasher.ts";
import { addressKey } from "../../src/util/rate-limit.ts";
import { madeCrateBody } from "../helpers/crate-body.ts";
import { tempDir } from "../helpers/log.ts";
import { testOriginConfig } from "../helpers/origin.ts";
import { publish, signUp } from "../helpers/registry-client.ts";

async function origin(settings: Partial<OriginConfig>) {
  const dir = await tempDir("cairn-guards-");
  let now = 1_000_000;
  const running = await startOrigin(
    testOriginConfig(join(dir.path, "data"), { scrubRate: 0, ...settings }),
    { now: () => now },
  );
  return {
    url: running.url,
    /** Moves the origin's clock on. */
    advance: (seconds: number) => {
      now += seconds * 1000;
    },
    [Symbol.asyncDispose]: async () => {
      await running.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

function login(url: string, name: string, password: string, headers: Record<string, string> = {}) {
  return fetch(new URL(`-/user/org.couchdb.user:${name}`, url), {
    method: "PUT",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ name, password }),
  });
}

async function codeOf(res: Response): Promise<string | undefined> {
  return ((await res.json()) as { code?: string }).code;
}

describe("rate limits", () => {
  test("failed logins lock the user out with 429 and Retry-After, and the lockout expires", async () => {
    await using server = await origin({ loginFailuresPerUser: 3, rateLimitWindow: 60 });
    await signUp(server.url, "alice", "right password");
    await signUp(server.url, "bob", "bob's password");
    const flood = await Promise.all(
      Array.from({ length: 5 }, () => login(server.url, "alice", "wrong password")),
    );
    const statuses = flood.map((r) => r.status).sort();
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    const refused = flood.find((r) => r.status === 429) as Response;
    assert.equal(await codeOf(refused), "rate-limited");
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `${retryAfter}`);

    const locked = await login(server.url, "alice", "right password");
    assert.equal(locked.status, 429, "the right password does not open a locked name");
    assert.equal(await codeOf(locked), "rate-limited");

    server.advance(retryAfter);
    const after = await login(server.url, "alice", "right password");
    assert.equal(after.status, 201, "the lockout expires");
    const other = await login(server.url, "bob", "wrong password");
    assert.equal(other.status, 401, "other names were never locked");
  });

  test("sign-ins per address are limited whatever the name, and X-Forwarded-For is not trusted by default", async () => {
    await using server = await origin({ loginsPerAddress: 3, rateLimitWindow: 900 });
    const spoofed = (i: number) => ({ "x-forwarded-for": `203.0.113.${i}` });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await login(server.url, `user${i}`, "pw", spoofed(i)));
    assert.deepEqual(
      answers.map((r) => r.status),
      [201, 201, 201, 429],
    );
    assert.equal(await codeOf(answers[3]), "rate-limited");
    assert.ok(Number(answers[3].headers.get("retry-after")) >= 1);
  });

  test("with a trusted proxy, each forwarded address has its own limit", async () => {
    await using server = await origin({ loginsPerAddress: 1, trustProxy: "127.0.0.1" });
    const from = (ip: string) => ({ "x-forwarded-for": ip });
    assert.equal((await login(server.url, "a", "pw", from("203.0.113.1"))).status, 201);
    assert.equal((await login(server.url, "b", "pw", from("203.0.113.2"))).status, 201);
    assert.equal((await login(server.url, "c", "pw", from("203.0.113.1"))).status, 429);
  });

  test("writes per user are limited", async () => {
    await using server = await origin({ writesPerUser: 2 });
    const token = await signUp(server.url, "alice", "pw");
    assert.equal((await publish(server.url, token, "pkg-a", "1.0.0")).status, 201);
    assert.equal((await publish(server.url, token, "pkg-a", "1.0.1")).status, 201);
    const third = await publish(server.url, token, "pkg-a", "1.0.2");
    assert.equal(third.status, 429);
    assert.equal(await codeOf(third), "rate-limited");
    assert.ok(Number(third.headers.get("retry-after")) >= 1);
    server.advance(900);
    assert.equal((await publish(server.url, token, "pkg-a", "1.0.2")).status, 201);
  });

  test("cargo's writes count against the user however the token is spelled", async () => {
    await using server = await origin({ writesPerUser: 2 });
    const token = await signUp(server.url, "alice", "pw");
    // Raw as cargo sends it, after "Bearer ", and after "Bearer" and a tab: one user each time.
    const statuses: number[] = [];
    let last: { errors?: { code: string }[] } | undefined;
    for (const authorization of [token, `Bearer ${token}`, `Bearer\t${token}`]) {
      const res = await fetch(new URL("api/v1/crates/new", server.url), {
        method: "PUT",
        headers: { authorization },
        body: new Uint8Array(madeCrateBody({ name: "limited", version: `1.0.${statuses.length}` })),
      });
      statuses.push(res.status);
      last = (await res.json()) as typeof last;
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    // In crates.io's error shape, which cargo prints.
    assert.equal(last?.errors?.[0]?.code, "rate-limited");
  });

  test("the guarded writes are these routes, listed here so a new write is added on purpose", () => {
    const npm = (prefix: string) => [
      `PUT ${prefix}`,
      `PUT ${prefix}/-rev/:rev`,
      `DELETE ${prefix}/-rev/:rev`,
      `DELETE ${prefix}/-/:file/-rev/:rev`,
    ];
    assert.deepEqual(
      guardedWriteRoutes().sort(),
      [
        "PUT /-/user/:id",
        "POST /-/npm/v1/tokens",
        "DELETE /-/npm/v1/tokens/token/:key",
        "PUT /-/package/:name/owners",
        "DELETE /-/package/:name/owners/:user",
        "PUT /-/package/:name/dist-tags/:tag",
        "DELETE /-/package/:name/dist-tags/:tag",
        ...npm("/:name"),
        ...npm("/@:scope/:name"),
        "PUT /api/v1/crates/new",
        "DELETE /api/v1/crates/:name/:version/yank",
        "PUT /api/v1/crates/:name/:version/unyank",
        "PUT /api/v1/crates/:name/owners",
        "DELETE /api/v1/crates/:name/owners",
        "PUT /-/cairn/takedown",
        "DELETE /-/cairn/takedown",
      ].sort(),
    );
  });

  test("a moderator's takedowns and restores count as writes", async () => {
    await using server = await origin({ writesPerUser: 3, moderators: ["mod"] });
    const owner = await signUp(server.url, "alice", "pw");
    assert.equal((await publish(server.url, owner, "pkg-t", "1.0.0")).status, 201);
    const token = await signUp(server.url, "mod", "pw");
    const moderate = (method: string) =>
      fetch(new URL("-/cairn/takedown", server.url), {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "pkg-t", version: "1.0.0", reason: "Malware" }),
      });
    const statuses: number[] = [];
    for (const method of ["PUT", "DELETE", "PUT", "DELETE"])
      statuses.push((await moderate(method)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
  });

  test("a checkpoint read during a flood of wrong logins is answered before the logins", async () => {
    await using server = await origin({ loginsPerAddress: 100, loginFailuresPerUser: 100 });
    await signUp(server.url, "alice", "right password");
    const flood = 16;
    const queued = new Promise<void>((resolve) => {
      const onLoad = (load: number) => {
        if (load < flood) return;
        passwordHasher.off("load", onLoad);
        resolve();
      };
      passwordHasher.on("load", onLoad);
    });
    let answered = 0;
    const logins = Array.from({ length: flood }, () =>
      login(server.url, "alice", "wrong password").then((r) => {
        answered++;
        return r.status;
      }),
    );
    await queued;
    const checkpoint = await fetch(new URL("-/cairn/checkpoint", server.url));
    assert.equal(checkpoint.status, 200);
    await checkpoint.text();
    const answeredBefore = answered;
    assert.deepEqual(await Promise.all(logins), Array(flood).fill(401));
    assert.ok(
      answeredBefore < flood / 2,
      `the checkpoint waited for ${answeredBefore} of ${flood} password hashes`,
    );
  });
});

describe("limits in the configuration", () => {
  test("bad values are refused", () => {
    assert.throws(() => checkConfig({ loginsPerAddress: -1 }, "t"), ConfigError);
    assert.throws(() => checkConfig({ rateLimitWindow: 0 }, "t"), ConfigError);
    assert.throws(() => checkConfig({ passwordHashers: 1.5 }, "t"), ConfigError);
    assert.throws(() => checkConfig({ trustProxy: "not-an-address" }, "t"), ConfigError);
    assert.throws(() => checkConfig({ trustProxy: "10.0.0.0/33" }, "t"), ConfigError);
    checkConfig({ trustProxy: "10.0.0.0/8, loopback, ::1" }, "t");
  });

  test("addresses are limited as themselves, IPv6 by /64", () => {
    assert.equal(addressKey("192.0.2.7"), "192.0.2.7");
    assert.equal(addressKey("::ffff:192.0.2.7"), "192.0.2.7");
    assert.equal(addressKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0::/64");
    assert.equal(addressKey("::1"), "0:0:0:0::/64");
  });
});
