import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { openCheckpoint, parseVerifierKey } from "../../src/log/index.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { startServe } from "../helpers/serve.ts";

describe("cairn serve", () => {
  test("first start creates a 0600 key, serves a signed empty log, and cairn key prints the same key", async () => {
    await using dir = await tempDir();
    await using server = await startServe([
      "--data",
      dir.path,
      "--origin",
      "test.example/registry",
    ]);
    assert.equal((await stat(join(dir.path, "key"))).mode & 0o777, 0o600);
    const res = await fetch(new URL("-/cairn/checkpoint", server.url));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "public, max-age=5");
    const cp = openCheckpoint(new Uint8Array(await res.arrayBuffer()), [
      parseVerifierKey(server.verifierKey),
    ]);
    assert.deepEqual([cp.origin, cp.size], ["test.example/registry", 0]);
    const key = await cairn(["key", "--data", dir.path]);
    assert.equal(key.stdout.trim(), server.verifierKey);
    assert.deepEqual(await (await fetch(new URL("-/ping", server.url))).json(), {});
    assert.equal(await server.stop(), 0);
  });

  test("only canonical tree paths are served", async () => {
    await using dir = await tempDir();
    await using server = await startServe(["--data", dir.path]);
    for (const path of [
      "-/cairn/.lock",
      "-/cairn/tile/0/0",
      "-/cairn/%2e%2e/key",
      "-/cairn/blob/sha256/xyz",
      "-/cairn/tile/0/000",
    ]) {
      const res = await fetch(new URL(path, server.url));
      assert.equal(res.status, 404, path);
      assert.ok(((await res.json()) as { error?: string }).error, path);
    }
  });

  test("a restart keeps the key and the log", async () => {
    await using dir = await tempDir();
    const first = await startServe(["--data", dir.path]);
    await first.stop();
    await using second = await startServe(["--data", dir.path]);
    assert.equal(second.verifierKey, first.verifierKey);
  });

  test("settings come from the config file, and a bad one is a clear error", async () => {
    await using dir = await tempDir();
    await writeFile(
      join(dir.path, "config.json"),
      JSON.stringify({ origin: "from-file.example/log" }),
    );
    await using server = await startServe(["--data", dir.path]);
    assert.match(server.verifierKey, /^from-file\.example\/log\+/);
    await server.stop();
    await writeFile(join(dir.path, "config.json"), JSON.stringify({ prot: 80 }));
    const bad = await cairn(["serve", "--data", dir.path]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown setting "prot"/);
  });

  test("with sign-up closed, npm adduser is refused and cairn user add creates users", async () => {
    await using dir = await tempDir();
    await using server = await startServe(["--data", dir.path, "--no-signup"]);
    const login = (password: string) =>
      fetch(new URL("-/user/org.couchdb.user:carol", server.url), {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "carol", password }),
      });
    assert.equal((await login("pw-carol")).status, 403);
    const added = await cairn(["user", "add", "carol", "--data", dir.path], {
      input: "pw-carol\n",
    });
    assert.equal(added.code, 0, added.stderr);
    assert.equal((await login("pw-carol")).status, 201);
    assert.equal((await login("wrong")).status, 401);
  });
});
