/**
 * What cairn writes is its owner's alone: the origin's data directory (key,
 * user and state databases, tree) and a client's $CAIRN_HOME.
 */
import assert from "node:assert/strict";
import { mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { publish, signUp } from "../helpers/registry-client.ts";
import { startServe } from "../helpers/serve.ts";

/** Every path under `dir` (itself included) that its group or others may read, write or enter. */
async function openToOthers(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (path: string) => {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) found.push(`${path} ${(info.mode & 0o777).toString(8)}`);
    if (info.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(dir);
  return found;
}

describe("file modes", () => {
  test("cairn serve and cairn sync create every file 0600 and every directory 0700", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    const home = join(dir.path, "home");
    const server = await startServe(["--data", data, "--no-durable"]);
    try {
      const token = await signUp(server.url, "alice", "s3cret-pass");
      assert.equal((await publish(server.url, token, "private-files", "1.0.0")).status, 201);
      const synced = await cairn(
        [
          "sync",
          "--origin",
          server.url,
          "--key",
          server.verifierKey,
          "--index",
          join(home, "index.sqlite"),
        ],
        { env: { CAIRN_HOME: home } },
      );
      assert.equal(synced.code, 0, synced.stderr);
    } finally {
      await server.stop();
    }
    for (const name of ["key", "auth.sqlite", "state.sqlite"])
      assert.equal((await stat(join(data, name))).mode & 0o777, 0o600, name);
    assert.deepEqual(await openToOthers(data), []);
    assert.deepEqual(await openToOthers(home), []);
  });

  test("cairn serve closes a data directory that others could enter", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    await mkdir(data, { mode: 0o755 });
    const server = await startServe(["--data", data, "--no-durable"]);
    await server.stop();
    assert.equal((await stat(data)).mode & 0o777, 0o700);
  });
});
