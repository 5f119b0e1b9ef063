/**
 * `cairn verify --replay`, the monitor: it recomputes every snapshot from
 * the entries, vouches for an honest origin's log, and names the first
 * entry of a log whose snapshot entry lies, even though the log is signed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { encodeEntry } from "../../src/registry/entries.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { snapshotEntry } from "../../src/registry/state-batch.ts";
import { cairn } from "../helpers/cli.ts";
import { publishEntry } from "../helpers/entries.ts";
import { openTestLog, tempDir } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";

describe("cairn verify --replay", () => {
  test("an honest origin's snapshots all replay", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    for (const name of ["a", "b"]) await origin.publish(name, "1.0.0");
    await origin.publish("a", "1.1.0");
    const result = await cairn([
      "verify",
      origin.url,
      "--key",
      origin.key.verifierKey,
      "--state",
      dir.path,
      "--replay",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      // Three publishes, each with its registry signature (the first after the key set) and a snapshot.
      /replayed 10 entries: every snapshot entry matches .*entry 9, snapshot [0-9a-f]{64}, 2 packages/,
    );
  });

  test("a signed log whose snapshot hides a version is caught at that entry", async () => {
    await using dir = await tempDir();
    const treeDir = join(dir.path, "tree");
    const { storage, appender, key } = await openTestLog(treeDir);
    // The snapshot entry describes the state before the second publish: it hides 1.1.0.
    const honest = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    const first = publishEntry("a", "1.0.0", { tag: "latest" });
    const batch = honest.begin(0);
    batch.add(first);
    const built = batch.snapshot(1);
    const lie = snapshotEntry(built, 2);
    await appender.append(
      [first, publishEntry("a", "1.1.0", { tag: "latest" }), lie].map(encodeEntry),
    );
    await storage.close();
    const result = await cairn([
      "verify",
      treeDir,
      "--key",
      key.verifierKey,
      "--state",
      join(dir.path, "state"),
      "--replay",
    ]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /replay .*entry 2: snapshot root [0-9a-f]{64} does not match the state/,
    );
  });
});
