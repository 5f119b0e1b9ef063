/** `cairn takedown` and `cairn restore`: on a stopped origin's data directory, and over HTTP with a moderator's token. */
import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { startOrigin } from "../../src/npm/origin-server.ts";
import { cairn } from "../helpers/cli.ts";
import { startTestOrigin, testOriginConfig } from "../helpers/origin.ts";
import { signUp } from "../helpers/registry-client.ts";

describe("cairn takedown", () => {
  test("on the data directory of a stopped origin, then over HTTP as a moderator", async () => {
    const origin = await startTestOrigin();
    const { dataDir } = origin;
    await origin.publish("evil", "1.0.0");
    await origin.publish("evil", "1.1.0");
    // Stopped (disposal would remove the data directory): the command opens the registry itself.
    await origin.close();
    const down = await cairn([
      "takedown",
      "evil@1.1.0",
      "--reason",
      "Malware: reads ~/.npmrc",
      "--data",
      dataDir,
    ]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /took down evil@1\.1\.0: log entry \d+/);

    const again = await startOrigin(testOriginConfig(dataDir, { moderators: ["carol"] }));
    try {
      const tgz = await fetch(new URL("evil/-/evil-1.1.0.tgz", again.url));
      assert.equal(tgz.status, 451);
      const body = (await tgz.json()) as { reason: string };
      assert.equal(body.reason, "Malware: reads ~/.npmrc");
      const list = (await (await fetch(new URL("-/cairn/takedowns", again.url))).json()) as {
        takedowns: { actor: string }[];
      };
      assert.deepEqual(
        list.takedowns.map((t) => t.actor),
        ["cairn:operator"],
      );

      const carol = await signUp(again.url, "carol", "correct horse battery");
      const mallory = await signUp(again.url, "mallory", "correct horse battery");
      const args = (token: string) => [
        "restore",
        "evil@1.1.0",
        "--reason",
        "Cleared",
        "--registry",
        again.url,
        "--token",
        token,
      ];
      const refused = await cairn(args(mallory));
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /not a moderator/);
      const restored = await cairn(args(carol));
      assert.equal(restored.code, 0, restored.stderr);
      assert.equal((await fetch(new URL("evil/-/evil-1.1.0.tgz", again.url))).status, 200);
    } finally {
      await again.close();
      await rm(dirname(dataDir), { recursive: true, force: true });
    }
  });

  test("a purged version is restored over HTTP from its tarball and manifest, checked first", async () => {
    await using origin = await startTestOrigin({ settings: { moderators: ["carol"] } });
    await origin.publish("illegal", "1.0.0");
    const version = origin.registry.state.table("npm").document("illegal")?.versions["1.0.0"];
    const tarball = join(origin.dataDir, "..", "illegal.tgz");
    const manifest = join(origin.dataDir, "..", "manifest.json");
    const wrong = join(origin.dataDir, "..", "wrong.tgz");
    const held = async (sha256: string | undefined) =>
      (await origin.registry.blobs.get(sha256 as string)) as Uint8Array;
    await writeFile(tarball, await held(version?.artifact?.sha256));
    await writeFile(manifest, await held(version?.manifest.sha256));
    await writeFile(wrong, "not the tarball");
    const carol = await signUp(origin.url, "carol", "correct horse battery");
    const run = (kind: string, ...more: string[]) =>
      cairn([
        kind,
        "illegal@1.0.0",
        "--reason",
        "Court order",
        ...more,
        "--registry",
        origin.url,
        "--token",
        carol,
      ]);
    assert.equal((await run("takedown", "--purge")).code, 0);
    const size = origin.registry.appender.size;
    const bare = await run("restore");
    assert.match(bare.stderr, /purged/);
    const mismatched = await run("restore", "--tarball", wrong, "--manifest", manifest);
    assert.match(mismatched.stderr, /not the one the log names/);
    assert.equal(origin.registry.appender.size, size);
    const restored = await run("restore", "--tarball", tarball, "--manifest", manifest);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal((await fetch(new URL("illegal/-/illegal-1.0.0.tgz", origin.url))).status, 200);
    const index = version?.files?.sha256 as string;
    assert.equal((await fetch(new URL(`-/cairn/blob/sha256/${index}`, origin.url))).status, 200);
  });
});
