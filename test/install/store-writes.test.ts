import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeSync } from "node:fs";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type FilePut, putFileSync, SETTLE_MS } from "../../src/install/store-writes.ts";
import { tempDir } from "../helpers/log.ts";

const BYTES = Buffer.from("module.exports = 42;\n".repeat(500));

function putOf(dir: string, data: Uint8Array, name = "file"): FilePut {
  return {
    kind: "file",
    target: join(dir, name),
    tmp: join(dir, `${name}.tmp`),
    sha256: createHash("sha256").update(data).digest("hex"),
    size: data.length,
    mode: 0o444,
    chmod: false,
  };
}

describe("putFileSync", () => {
  test("a new file gets its bytes, a read-only mode and a settled mtime, and no temporary name is left", async () => {
    await using dir = await tempDir();
    const put = putOf(dir.path, BYTES);
    const before = Date.now();
    putFileSync(put, BYTES);
    assert.deepEqual(readFileSync(put.target), BYTES);
    const st = statSync(put.target);
    assert.equal(st.mode & 0o777, 0o444);
    assert.ok(st.mtimeMs <= before - SETTLE_MS + 1000);
    assert.deepEqual(readdirSync(dir.path), ["file"]);
  });

  test("a whole file already there is kept, its inode unchanged", async () => {
    await using dir = await tempDir();
    const put = putOf(dir.path, BYTES);
    putFileSync(put, BYTES);
    const ino = statSync(put.target).ino;
    putFileSync(put, BYTES);
    assert.equal(statSync(put.target).ino, ino);
    assert.deepEqual(readdirSync(dir.path), ["file"]);
  });

  test("a whole file made writable through a project's link is read-only again", async () => {
    await using dir = await tempDir();
    const put = putOf(dir.path, BYTES);
    putFileSync(put, BYTES);
    const ino = statSync(put.target).ino;
    await chmod(put.target, 0o644);
    putFileSync(put, BYTES);
    assert.equal(statSync(put.target).ino, ino);
    assert.equal(statSync(put.target).mode & 0o777, 0o444);
  });

  for (const [what, bytes] of [
    ["damaged at the same size", Buffer.from(BYTES).fill(0x41, 0, 10)],
    ["short, as a crash mid-write leaves it", BYTES.subarray(0, 4096)],
    ["empty", Buffer.alloc(0)],
  ] as const) {
    test(`a file already there ${what} is replaced with the right bytes`, async () => {
      await using dir = await tempDir();
      const put = putOf(dir.path, BYTES);
      await writeFile(put.target, bytes);
      await chmod(put.target, 0o444);
      putFileSync(put, BYTES);
      assert.deepEqual(readFileSync(put.target), BYTES);
      assert.equal(statSync(put.target).mode & 0o777, 0o444);
      assert.deepEqual(readdirSync(dir.path), ["file"]);
    });
  }

  test("a writer that finds another still writing puts its own copy; both end with the right bytes", async () => {
    await using dir = await tempDir();
    const put = putOf(dir.path, BYTES);
    // The first writer has created the name and written half when the second comes.
    const first = openSync(put.target, "wx", 0o444);
    try {
      writeSync(first, BYTES.subarray(0, BYTES.length / 2));
      putFileSync(put, BYTES);
      assert.deepEqual(readFileSync(put.target), BYTES);
      writeSync(first, BYTES.subarray(BYTES.length / 2));
    } finally {
      closeSync(first);
    }
    assert.deepEqual(readFileSync(put.target), BYTES);
    // The first writer's own check now finds whole bytes and keeps them.
    putFileSync(put, BYTES);
    assert.deepEqual(readFileSync(put.target), BYTES);
    assert.deepEqual(readdirSync(dir.path), ["file"]);
  });

  test("a failed write leaves no name behind", async () => {
    await using dir = await tempDir();
    const put = putOf(dir.path, BYTES);
    // Not bytes: the write throws after the name was created.
    assert.throws(() => putFileSync(put, 42 as never), { code: "ERR_INVALID_ARG_TYPE" });
    assert.deepEqual(readdirSync(dir.path), []);
  });
});
