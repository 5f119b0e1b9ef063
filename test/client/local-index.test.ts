/**
 * Bootstrapping the local index from a SQLite snapshot served by a mirror:
 * the blob streams to disk and is checked before it is unpacked, so an
 * altered or cut-off copy is refused, named, and fetched from the origin.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { syncIndex } from "../../src/client/local-index.ts";
import { LogClient } from "../../src/client/log-client.ts";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { tempDir } from "../helpers/log.ts";
import { type Attack, startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { startTestOrigin } from "../helpers/origin.ts";

describe("local index bootstrap", () => {
  for (const attack of ["database-byte", "truncate"] as Attack[]) {
    test(`a mirror's ${attack} SQLite snapshot is refused and the origin's is used`, async () => {
      await using origin = await startTestOrigin();
      for (const name of ["a", "b", "c"]) await origin.publish(name, "1.0.0");
      const published = await origin.registry.publishDatabase();
      assert.ok(published);
      await origin.publish("d", "1.0.0");
      await using liar = await startMaliciousMirror({ treeDir: origin.treeDir, attack });
      await using home = await tempDir();
      const client = await LogClient.open({
        origin: origin.url,
        verifier: origin.key.verifier,
        stateDir: home.path,
        // Never set aside, so the snapshot is asked of it whatever else it broke first.
        hardPenaltyMs: 0,
      });
      client.pool.setMirrors([liar.url]);
      const path = join(home.path, "index", "index.sqlite");
      const report = await syncIndex(client, path);

      assert.equal(report.bootstrappedAt, published.entry.size);
      const blobPath = `blob/sha256/${published.entry.blob.sha256}`;
      assert.ok(liar.requests.includes(blobPath), "the mirror was asked for the snapshot");
      const failures = client.pool.stats().get(liar.url)?.failures ?? 0;
      assert.ok(failures >= 1, "the mirror's failure is counted");
      const index = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
      assert.deepEqual(index.table("npm").packageNames().sort(), ["a", "b", "c", "d"]);
      assert.equal(index.snapshot?.id, origin.registry.state.snapshot?.id);
      index.close();
      // Nothing of the refused download is left beside the index.
      assert.deepEqual(await readdir(join(home.path, "index")), ["index.sqlite"]);
    });
  }

  test("an index bootstrapped from a snapshot made after a popularity entry still knows that entry", async () => {
    await using origin = await startTestOrigin({ settings: { popularityInterval: 3600 } });
    await origin.publish("a", "1.0.0");
    const popularity = await origin.publishPopularity();
    assert.ok(popularity);
    await origin.publish("b", "1.0.0");
    const database = await origin.registry.publishDatabase();
    assert.ok(database && database.entry.size > popularity.index);
    await using home = await tempDir();
    const client = await LogClient.open({
      origin: origin.url,
      verifier: origin.key.verifier,
      stateDir: home.path,
    });
    const path = join(home.path, "index", "index.sqlite");
    const report = await syncIndex(client, path);
    assert.equal(report.bootstrappedAt, database.entry.size);
    const index = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
    try {
      assert.deepEqual(index.popularity, { index: popularity.index, entry: popularity.entry });
    } finally {
      index.close();
    }
  });
});
