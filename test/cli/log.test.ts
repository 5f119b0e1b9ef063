import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { encodeBase64, openCheckpoint } from "../../src/log/index.ts";
import { cairn } from "../helpers/cli.ts";
import { buildLog, TEST_ORIGIN, tempDir, testKey } from "../helpers/log.ts";
import { serveDirectory } from "../helpers/static-server.ts";

describe("cairn log show / verify", () => {
  const key = testKey();
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let http: Awaited<ReturnType<typeof serveDirectory>>;
  let root: string;

  before(async () => {
    dir = await tempDir();
    await buildLog(dir.path, 5000, 333, key);
    root = encodeBase64(
      openCheckpoint(await readFile(join(dir.path, "checkpoint")), [key.verifier]).root,
    );
    http = await serveDirectory(dir.path);
  });

  after(async () => {
    await http[Symbol.asyncDispose]();
    await dir[Symbol.asyncDispose]();
  });

  test("--help works on every subcommand", async () => {
    for (const args of [
      ["--help"],
      ["log", "--help"],
      ["log", "show", "--help"],
      ["log", "verify", "--help"],
    ]) {
      const result = await cairn(args);
      assert.equal(result.code, 0, args.join(" "));
      assert.match(result.stdout, /^Usage: cairn/);
    }
  });

  test("show prints origin, size, root and signer, from a directory and over HTTP", async () => {
    for (const location of [dir.path, http.url]) {
      const result = await cairn(["log", "show", location, "--key", key.verifierKey]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^origin +${TEST_ORIGIN}$`, "m"));
      assert.match(result.stdout, /^size +5000$/m);
      assert.ok(result.stdout.includes(`root       ${root}`));
      assert.match(
        result.stdout,
        new RegExp(`^signed by +${TEST_ORIGIN.replace(".", "\\.")}\\+[0-9a-f]{8} +verified$`, "m"),
      );
    }
  });

  test("verify accepts an honest log, from a directory and over HTTP", async () => {
    for (const location of [dir.path, http.url]) {
      const result = await cairn(["log", "verify", location, "--key", key.verifierKey]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^ok: .* size 5000/);
      assert.match(result.stdout, /20 entry bundles and 21 tiles hash up to the root/);
    }
  });

  test("verify rejects a log signed by another key", async () => {
    const result = await cairn(["log", "verify", dir.path, "--key", testKey().verifierKey]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no valid signature by a known key \[unverified-note\]/);
  });

  test("verify names the file that was tampered with", async () => {
    const path = join(dir.path, "tile/entries/007");
    const good = await readFile(path);
    const bad = Buffer.from(good);
    bad[100] ^= 0x20;
    await writeFile(path, bad);
    try {
      const result = await cairn(["log", "verify", http.url, "--key", key.verifierKey]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /tile\/0\/007 .* does not match the entries \[hash-mismatch\]/);
    } finally {
      await writeFile(path, good);
    }
  });

  test("a malformed verifier key is a clear error", async () => {
    const result = await cairn(["log", "verify", dir.path, "--key", "not-a-key"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /verifier key must be name\+keyid\+key \[malformed-key\]/);
  });
});
