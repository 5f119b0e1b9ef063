/**
 * Kill -9 in the middle of a stream of publishes: after a restart every
 * acknowledged publish is there and the log verifies.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { DirectorySource, parseVerifierKey, verifyLog } from "../../src/log/index.ts";
import { packageEntries } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { publish, signUp } from "../helpers/registry-client.ts";
import { startServe } from "../helpers/serve.ts";

describe("durability", () => {
  test("every acknowledged publish survives SIGKILL", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    const first = await startServe(["--data", data]);
    const token = await signUp(first.url, "alice", "pw-alice");
    const acknowledged: string[] = [];
    let killed = false;
    let failed = false;
    // Eight publishers in parallel; the one whose publish is the 150th acknowledged
    // kills the server, and the rest stop when their connection dies with it. A
    // publish refused before that fails the test at once instead of waiting forever.
    const publishers = Array.from({ length: 8 }, async (_, p) => {
      for (let i = 0; !killed && !failed; i++) {
        const version = `${p}.${i}.0`;
        let status: number;
        try {
          const res = await publish(first.url, token, "durable", version);
          await res.text();
          status = res.status;
        } catch (err) {
          if (killed) return;
          failed = true;
          throw err;
        }
        if (status === 201) {
          acknowledged.push(version);
          if (acknowledged.length === 150) {
            killed = true;
            first.child.kill("SIGKILL");
          }
        } else if (!killed) {
          failed = true;
          throw new Error(`publish of ${version} answered ${status} before the server was killed`);
        }
      }
    });
    for (const result of await Promise.allSettled(publishers))
      if (result.status === "rejected") throw result.reason;
    await first.stop();

    await using second = await startServe(["--data", data]);
    const res = await fetch(new URL("durable", second.url));
    const versions = Object.keys(
      ((await res.json()) as { versions: Record<string, unknown> }).versions,
    );
    const missing = acknowledged.filter((v) => !versions.includes(v));
    assert.deepEqual(missing, [], `${missing.length} acknowledged publishes lost`);
    await second.stop();
    const verifier = parseVerifierKey(second.verifierKey);
    await verifyLog(new DirectorySource(join(data, "tree")), [verifier]);
    const published = await packageEntries(join(data, "tree"), verifier);
    assert.ok(published.length >= acknowledged.length);
    assert.equal(
      published.length,
      versions.length,
      "the log and the packument agree after recovery",
    );
  });
});
