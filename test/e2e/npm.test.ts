/** The real npm client against a real `cairn serve`: sign up, publish, view, install. */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { registryFixture } from "../helpers/fixture.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { signUp } from "../helpers/registry-client.ts";

/** Logs in again (an existing user gets a fresh token). */
async function signIn(url: string): Promise<string> {
  return signUp(url, "alice", "pw-alice");
}

describe("npm against cairn serve", () => {
  test("publish, view, whoami and install; every publish is in the signed log", async () => {
    await using fx = await registryFixture();
    const { dir, server } = fx;
    const token = await signUp(server.url, "alice", "s3cret-pass");
    const npmrc = await writeNpmrc(dir.path, server.url, token);
    const { cache } = fx;

    const pkg = join(dir.path, "pkg");
    await mkdir(pkg);
    for (const version of ["1.0.0", "1.1.0"]) {
      await writeFile(
        join(pkg, "package.json"),
        JSON.stringify({ name: "hello-cairn", version, main: "index.js" }),
      );
      await writeFile(join(pkg, "index.js"), `module.exports = ${JSON.stringify(version)};\n`);
      const published = await runNpm(["publish"], pkg, npmrc, cache);
      assert.equal(published.code, 0, published.stderr);
      assert.match(
        published.stdout,
        new RegExp(`\\+ hello-cairn@${version.replaceAll(".", "\\.")}`),
      );
    }
    const again = await runNpm(["publish"], pkg, npmrc, cache);
    assert.notEqual(again.code, 0, "the same version cannot be published twice");

    const whoami = await runNpm(["whoami"], dir.path, npmrc, cache);
    assert.equal(whoami.stdout.trim(), "alice");
    const view = await runNpm(["view", "hello-cairn", "--json"], dir.path, npmrc, cache);
    assert.equal(view.code, 0, view.stderr);
    const viewed = JSON.parse(view.stdout) as {
      versions: string[];
      "dist-tags": Record<string, string>;
      dist: { tarball: string };
    };
    assert.deepEqual(viewed.versions, ["1.0.0", "1.1.0"]);
    assert.equal(viewed["dist-tags"].latest, "1.1.0");
    assert.ok(
      viewed.dist.tarball.startsWith(server.url.replace(/\/$/, "")),
      "tarball URL uses the host the client used",
    );

    const app = join(dir.path, "app");
    await mkdir(app);
    await writeFile(
      join(app, "package.json"),
      JSON.stringify({ name: "app", version: "1.0.0", private: true }),
    );
    const install = await runNpm(["install", "hello-cairn@^1.0.0"], app, npmrc, cache);
    assert.equal(install.code, 0, install.stderr);
    assert.equal(
      await readFile(join(app, "node_modules/hello-cairn/index.js"), "utf8"),
      'module.exports = "1.1.0";\n',
    );
    const lock = JSON.parse(await readFile(join(app, "package-lock.json"), "utf8"));
    assert.match(lock.packages["node_modules/hello-cairn"].integrity, /^sha512-/);

    const result = await fx.stopAndVerifyLog();
    assert.deepEqual(
      result.packageEntries.map((e) => e.kind === "publish" && e.version),
      ["1.0.0", "1.1.0"],
    );
  });

  test("dist-tags: add, list, move and remove, owners only", async () => {
    await using fx = await registryFixture();
    const { dir, server } = fx;
    const npmrc = await fx.npmrcFor("alice");
    const { cache } = fx;
    const pkg = join(dir.path, "pkg");
    await mkdir(pkg);
    for (const version of ["1.0.0", "2.0.0-rc.1"]) {
      await writeFile(join(pkg, "package.json"), JSON.stringify({ name: "tagged", version }));
      const tag = version.includes("rc") ? ["--tag", "next"] : [];
      assert.equal((await runNpm(["publish", ...tag], pkg, npmrc, cache)).code, 0);
    }
    const npm = (...args: string[]) => runNpm(args, dir.path, npmrc, cache);
    assert.equal((await npm("dist-tag", "add", "tagged@1.0.0", "stable")).code, 0);
    const ls = await npm("dist-tag", "ls", "tagged");
    assert.deepEqual(ls.stdout.trim().split("\n").sort(), [
      "latest: 1.0.0",
      "next: 2.0.0-rc.1",
      "stable: 1.0.0",
    ]);
    assert.equal((await npm("dist-tag", "rm", "tagged", "stable")).code, 0);
    const broken = await npm("dist-tag", "add", "tagged@9.9.9", "broken");
    assert.notEqual(broken.code, 0, `9.9.9: ${broken.stdout} ${broken.stderr}`);
    const after = await fetch(new URL("-/package/tagged/dist-tags", server.url));
    assert.deepEqual(await after.json(), { latest: "1.0.0", next: "2.0.0-rc.1" });
    const bob = await writeNpmrc(
      join(dir.path, "pkg"),
      server.url,
      await signUp(server.url, "bob", "pw-bob"),
    );
    // Run where bob's .npmrc is the project config (alice's sits in dir.path).
    const stranger = await runNpm(["dist-tag", "add", "tagged@1.0.0", "mine"], pkg, bob, cache);
    assert.notEqual(stranger.code, 0);
    assert.match(stranger.stderr, /403/);
  });

  test("deprecate, undeprecate, owners and unpublish, each recorded in the log", async () => {
    await using fx = await registryFixture();
    const { dir, server } = fx;
    const alice = await writeNpmrc(
      dir.path,
      server.url,
      await signUp(server.url, "alice", "pw-alice"),
    );
    await signUp(server.url, "bob", "pw-bob");
    const { cache } = fx;
    const pkg = join(dir.path, "pkg");
    await mkdir(pkg);
    for (const version of ["1.0.0", "1.1.0", "1.2.0"]) {
      await writeFile(join(pkg, "package.json"), JSON.stringify({ name: "lifecycle", version }));
      assert.equal((await runNpm(["publish"], pkg, alice, cache)).code, 0);
    }
    const npm = async (...args: string[]) => {
      const result = await runNpm(args, dir.path, alice, cache);
      assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };
    const packument = async () =>
      (await (await fetch(new URL("lifecycle", server.url))).json()) as {
        versions: Record<string, { deprecated?: string }>;
        "dist-tags": Record<string, string>;
        maintainers: { name: string }[];
      };

    await npm("deprecate", "lifecycle@1.0.0", "use 1.1 or later");
    assert.equal((await packument()).versions["1.0.0"].deprecated, "use 1.1 or later");
    await npm("deprecate", "lifecycle@1.0.0", "");
    assert.equal((await packument()).versions["1.0.0"].deprecated, undefined);

    await npm("owner", "add", "bob", "lifecycle");
    assert.deepEqual(
      (await npm("owner", "ls", "lifecycle"))
        .trim()
        .split("\n")
        .map((l) => l.split(" ")[0])
        .sort(),
      ["alice", "bob"],
    );
    await npm("owner", "rm", "bob", "lifecycle");
    assert.deepEqual(
      (await packument()).maintainers.map((m) => m.name),
      ["alice"],
    );

    await npm("unpublish", "lifecycle@1.2.0");
    const after = await packument();
    assert.deepEqual(Object.keys(after.versions), ["1.0.0", "1.1.0"]);
    assert.equal(after["dist-tags"].latest, "1.1.0");
    await writeFile(
      join(pkg, "package.json"),
      JSON.stringify({ name: "lifecycle", version: "1.2.0" }),
    );
    assert.notEqual(
      (await runNpm(["publish"], pkg, alice, cache)).code,
      0,
      "an unpublished version can never come back",
    );

    await npm("unpublish", "lifecycle", "--force");
    assert.equal((await fetch(new URL("lifecycle", server.url))).status, 404);

    const log = await fx.stopAndVerifyLog();
    // 3 publishes, 2 deprecations, 2 owner changes, 1 version unpublish, 1 package unpublish.
    assert.deepEqual(
      log.packageEntries.map((e) => e.kind),
      [
        "publish",
        "publish",
        "publish",
        "deprecate",
        "deprecate",
        "owner",
        "owner",
        "unpublish",
        "unpublish",
      ],
    );
  });

  test("npm token list, create and revoke; a read-only token cannot publish", async () => {
    await using fx = await registryFixture();
    const { dir, server } = fx;
    const npmrc = await fx.npmrcFor("alice");
    const { cache } = fx;
    const npm = (...args: string[]) => runNpm(args, dir.path, npmrc, cache);
    const created = await npm("token", "create", "--password=pw-alice", "--json");
    assert.equal(created.code, 0, created.stderr);
    const token = (JSON.parse(created.stdout) as { token: string }).token;
    assert.match(token, /^cairn_/);
    const listed = await npm("token", "list", "--json");
    const tokens = JSON.parse(listed.stdout) as { key: string; token: string }[];
    assert.equal(tokens.length, 2);
    assert.ok(
      tokens.some((t) => token.startsWith(t.token)),
      "the listing shows a prefix of each token",
    );
    assert.notEqual((await npm("token", "create", "--password=wrong", "--json")).code, 0);
    const revoked = await npm("token", "revoke", token);
    assert.equal(revoked.code, 0, revoked.stderr);
    const whoami = await fetch(new URL("-/whoami", server.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(whoami.status, 401);

    const res = await fetch(new URL("-/npm/v1/tokens", server.url), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await signIn(server.url)}`,
      },
      body: JSON.stringify({ password: "pw-alice", readonly: true }),
    });
    assert.equal(res.status, 201);
    const readonly = ((await res.json()) as { token: string }).token;
    const pkg = join(dir.path, "pkg");
    await mkdir(pkg);
    await writeFile(join(pkg, "package.json"), JSON.stringify({ name: "ro", version: "1.0.0" }));
    const attempt = await runNpm(
      ["publish"],
      pkg,
      await writeNpmrc(pkg, server.url, readonly),
      cache,
    );
    assert.notEqual(attempt.code, 0);
    assert.match(attempt.stderr, /read-only/);
  });

  test("npm search finds packages by name, description and keyword; npm audit says it could not audit", async () => {
    await using fx = await registryFixture();
    const { dir } = fx;
    const npmrc = await fx.npmrcFor("alice");
    const { cache } = fx;
    const packages = [
      {
        name: "left-pad",
        version: "1.0.0",
        description: "pad a string on the left",
        keywords: ["string", "pad"],
      },
      {
        name: "right-trim",
        version: "2.0.0",
        description: "trim whitespace",
        keywords: ["string"],
      },
      {
        name: "@tools/padder",
        version: "0.1.0",
        description: "another padding tool",
        keywords: ["util"],
      },
    ];
    for (const manifest of packages) {
      const pkg = join(dir.path, manifest.name.replace("/", "_"));
      await mkdir(pkg);
      await writeFile(join(pkg, "package.json"), JSON.stringify(manifest));
      const published = await runNpm(["publish", "--access", "public"], pkg, npmrc, cache);
      assert.equal(published.code, 0, published.stderr);
    }
    const search = async (text: string) => {
      const result = await runNpm(["search", text, "--json"], dir.path, npmrc, cache);
      assert.equal(result.code, 0, result.stderr);
      return (JSON.parse(result.stdout) as { name: string }[]).map((p) => p.name);
    };
    assert.deepEqual(await search("left-pad"), ["left-pad"]);
    assert.deepEqual((await search("string")).sort(), ["left-pad", "right-trim"]);
    assert.deepEqual(await search("padding"), ["@tools/padder"]);
    assert.deepEqual(await search("nothing-matches-this"), []);

    const app = join(dir.path, "app");
    await mkdir(app);
    await writeFile(
      join(app, "package.json"),
      JSON.stringify({ name: "app", version: "1.0.0", dependencies: { "left-pad": "^1.0.0" } }),
    );
    assert.equal((await runNpm(["install"], app, npmrc, cache)).code, 0);
    // No advisory source: npm must report that it could not audit, never a clean audit.
    const audit = await runNpm(["audit"], app, npmrc, cache);
    assert.notEqual(audit.code, 0);
    assert.match(audit.stderr, /audit endpoint returned an error/);
  });

  test("publishing without a token, or to another user's package, is refused", async () => {
    await using fx = await registryFixture();
    const { dir, server } = fx;
    const alice = await signUp(server.url, "alice", "pw-alice");
    const bob = await signUp(server.url, "bob", "pw-bob");
    const { cache } = fx;
    const pkg = join(dir.path, "pkg");
    await mkdir(pkg);
    await writeFile(join(pkg, "package.json"), JSON.stringify({ name: "owned", version: "1.0.0" }));
    const anonymous = await runNpm(["publish"], pkg, await writeNpmrc(dir.path, server.url), cache);
    assert.notEqual(anonymous.code, 0);
    assert.equal(
      (await runNpm(["publish"], pkg, await writeNpmrc(dir.path, server.url, alice), cache)).code,
      0,
    );
    await writeFile(join(pkg, "package.json"), JSON.stringify({ name: "owned", version: "2.0.0" }));
    const stranger = await runNpm(
      ["publish"],
      pkg,
      await writeNpmrc(dir.path, server.url, bob),
      cache,
    );
    assert.notEqual(stranger.code, 0);
    assert.match(stranger.stderr, /403/);
  });
});
