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
    let stop = false;
    // Eight publishers in parallel, each publishing versions until the server dies.
    const publishers = Array.from({ length: 8 }, async (_, p) => {
      for (let i = 0; !stop; i++) {
        const version = `${p}.${i}.0`;
        try {
          const res = await publish(first.url, token, "durable", version);
          await res.text();
          if (res.status === 201) acknowledged.push(version);
        } catch {
          return; // the connection died with the server
        }
      }
    });
    while (acknowledged.length < 150) await new Promise((r) => setTimeout(r, 5));
    first.child.kill("SIGKILL");
    stop = true;
    await Promise.all(publishers);
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
