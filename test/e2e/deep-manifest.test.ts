/**
 * A publish whose manifest nests deep (issue 12, finding 1) is refused with
 * a coded 4xx before anything is appended, and the origin keeps accepting
 * writes and restarts.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../helpers/log.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { publish, putJson, signUp } from "../helpers/registry-client.ts";
import { startServe } from "../helpers/serve.ts";
import { rawTgz } from "../helpers/tar.ts";

/** `{"a":{"a":…"1.0.0"…}}`, `depth` objects deep, as text: JSON.stringify itself overflows on it. */
function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}"1.0.0"${"}".repeat(depth)}`;
}

const logSize = async (url: string) =>
  Number((await (await fetch(new URL("-/cairn/checkpoint", url))).text()).split("\n")[1]);

test("a manifest nested 4,400 deep is refused with a code; nothing is appended; writes and restarts go on", async () => {
  await using dir = await tempDir();
  const data = join(dir.path, "data");
  let server = await startServe(["--data", data]);
  try {
    const alice = await signUp(server.url, "alice", "pw-alice");
    assert.equal((await publish(server.url, alice, "pkg", "1.0.0")).status, 201);
    const before = await logSize(server.url);
    const blobs = await readdir(join(data, "tree", "blob", "sha256"));
    // Deep in a resolution field, deeper than the stack allows, deep elsewhere, and a field of the wrong shape.
    for (const [field, value, answer] of [
      ["dependencies", nested(4400), "invalid-json"],
      ["dependencies", nested(20_000), "invalid-json"],
      ["config", nested(4400), "invalid-json"],
      ["dependencies", nested(2), "bad-field"],
      ["engines", '[">=0.4"]', "bad-field"],
    ] as const) {
      const manifest = { name: "pkg", version: "1.0.1", [field]: "VALUE" };
      // The same field in the tarball's package.json, so that the field itself is what is judged.
      const packed = JSON.stringify(manifest).replace('"VALUE"', value);
      const tgz = rawTgz([{ name: "package/package.json", data: packed }]);
      const body = JSON.stringify(publishBody(manifest, tgz)).replace('"VALUE"', value);
      const res = await putJson(server.url, "/pkg", alice, body);
      const { error, code } = (await res.json()) as { error: string; code: string };
      assert.equal(res.status, 400, `${field}: ${error}`);
      assert.equal(code, answer, `${field}: ${error}`);
    }
    assert.equal(await logSize(server.url), before);
    assert.deepEqual(await readdir(join(data, "tree", "blob", "sha256")), blobs);
    assert.equal((await publish(server.url, alice, "pkg", "1.0.2")).status, 201);
    await server.stop();
    server = await startServe(["--data", data]);
    assert.equal((await publish(server.url, alice, "pkg", "1.0.3")).status, 201);
  } finally {
    await server.stop();
  }
});
