import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { NoSourceError, SourceError } from "../../src/client/errors.ts";
import { LogClient } from "../../src/client/log-client.ts";
import { decodeEntry, type PackageEntry } from "../../src/registry/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { startTestOrigin } from "../helpers/origin.ts";

/** The check names of the errors a failed client call carries. */
function failedChecks(err: unknown): string[] {
  if (err instanceof NoSourceError) return err.errors.map((e) => `${e.code} ${e.source}`);
  if (err instanceof SourceError) return [`${err.code} ${err.source}`];
  throw err;
}

describe("log client", () => {
  test("stores the verified checkpoint, advances with proof, and reads verified entries", async () => {
    await using origin = await startTestOrigin();
    await using state = await tempDir();
    for (let i = 0; i < 5; i++) await origin.publish(`p${i}`, "1.0.0");
    const client = await LogClient.open({
      origin: origin.url,
      verifier: origin.key.verifier,
      stateDir: state.path,
    });
    assert.equal(client.checkpoint, undefined);
    // Each publish is its own batch: its entry, its registry signature (led by the key set in
    // the first batch), then the batch's snapshot entry.
    assert.equal((await client.refresh()).size, 16);
    for (let i = 5; i < 300; i++) await origin.publish(`p${i}`, "1.0.0");
    const again = await LogClient.open({
      origin: origin.url,
      verifier: origin.key.verifier,
      stateDir: state.path,
    });
    assert.equal(again.checkpoint?.size, 16);
    assert.equal((await again.refresh()).size, 901);
    const names: string[] = [];
    let read = 0;
    // From p3's publish entry (4 entries in the first batch, 3 in each after it).
    for await (const { first, entries } of again.entries(10, 901)) {
      assert.equal(first, 10 + read);
      read += entries.length;
      for (const e of entries.map(decodeEntry)) if (e.kind === "publish") names.push(e.name);
    }
    assert.deepEqual(
      names,
      Array.from({ length: 297 }, (_, i) => `p${i + 3}`),
    );
  });

  test("an origin that goes back, or forks, is refused, and the stored checkpoint stays", async () => {
    await using origin = await startTestOrigin();
    await using state = await tempDir();
    await origin.publish("a", "1.0.0");
    const early = await readFile(join(origin.treeDir, "checkpoint"));
    await origin.publish("b", "1.0.0");
    const client = await LogClient.open({
      origin: origin.url,
      verifier: origin.key.verifier,
      stateDir: state.path,
    });
    await client.refresh();

    // The same origin key signs a log that starts like the real one and then differs.
    {
      await using forked = await startTestOrigin({ keyFile: join(origin.dataDir, "key") });
      for (const name of ["a", "evil", "c"]) await forked.publish(name, "1.0.0");
      await using liar = await startMaliciousMirror({
        treeDir: forked.treeDir,
        attack: "fork",
        forkTreeDir: forked.treeDir,
      });
      const fooled = await LogClient.open({
        origin: liar.url,
        verifier: origin.key.verifier,
        stateDir: state.path,
      });
      const forkError = await fooled.refresh().then(
        () => assert.fail("a forked log was accepted"),
        (err: unknown) => failedChecks(err),
      );
      assert.ok(forkError.includes(`consistency ${liar.url}`), String(forkError));
      assert.equal(
        (
          await LogClient.open({
            origin: origin.url,
            verifier: origin.key.verifier,
            stateDir: state.path,
          })
        ).checkpoint?.size,
        7,
      );
    }

    await using stale = await startMaliciousMirror({
      treeDir: origin.treeDir,
      attack: "rollback",
      oldCheckpoint: early,
    });
    const rolledBack = await LogClient.open({
      origin: stale.url,
      verifier: origin.key.verifier,
      stateDir: state.path,
    });
    const rollbackError = await rolledBack.refresh().then(
      () => assert.fail("an older checkpoint was accepted"),
      (err: unknown) => failedChecks(err),
    );
    assert.deepEqual(rollbackError, [`rollback ${stale.url}`]);
  });

  test("when the origin does not answer, a mirror's checkpoint is verified and used", async () => {
    await using origin = await startTestOrigin();
    await using state = await tempDir();
    await origin.publish("a", "1.0.0");
    await using mirror = await startMaliciousMirror({ treeDir: origin.treeDir, attack: "honest" });
    const client = await LogClient.open({
      origin: "http://127.0.0.1:9/",
      verifier: origin.key.verifier,
      stateDir: state.path,
      mirrors: [mirror.url],
      useMirrorList: false,
      timeoutMs: 30_000, // never reached: port 9 refuses at once
    });
    assert.equal((await client.refresh()).size, 4);
    const [only] = await client
      .entries(0, 2)
      .next()
      .then((r) => r.value?.entries ?? []);
    assert.equal((decodeEntry(only) as PackageEntry).name, "a");
  });
});
