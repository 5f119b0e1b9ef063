/** The password-hashing pool: scrypt's bytes, and a bounded queue. */
import assert from "node:assert/strict";
import { scryptSync } from "node:crypto";
import { describe, test } from "node:test";
import { HashingError, PasswordHasher } from "../../src/origin/password-hasher.ts";

const OPTIONS = { N: 2 ** 10, r: 8, p: 1, maxmem: 256 * 2 ** 10 * 8 };
const salt = new Uint8Array(16).fill(7);

describe("password hasher", () => {
  test("hashes as scrypt does, queues at most maxQueue and refuses past it as busy", async () => {
    const hasher = new PasswordHasher({ workers: 1, maxQueue: 2 });
    const loads: number[] = [];
    hasher.on("load", (load) => loads.push(load));
    const accepted = [0, 1, 2].map((i) => hasher.scrypt(`pw${i}`, salt, 32, OPTIONS));
    await assert.rejects(
      hasher.scrypt("one too many", salt, 32, OPTIONS),
      (err) => err instanceof HashingError && err.code === "busy",
    );
    const hashes = await Promise.all(accepted);
    hashes.forEach((hash, i) => {
      assert.deepEqual(hash, scryptSync(`pw${i}`, salt, 32, OPTIONS));
    });
    assert.equal(Math.max(...loads), 3, "one running and two waiting at most");
    assert.equal(loads.at(-1), 0);
    assert.equal(hasher.full, false);
    await hasher.close();
  });
});
