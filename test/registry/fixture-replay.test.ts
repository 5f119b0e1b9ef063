/**
 * Pins test/fixtures/logs/npm-v1: a log written by an earlier version of the
 * origin (see its README). Every later version must decode it, replay it to
 * the same snapshots and documents, and verify its checkpoint.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import {
  bundlePath,
  DirectorySource,
  equalBytes,
  MAX_BUNDLE_BYTES,
  parseBundle,
  parseVerifierKey,
  readCheckpoint,
  TILE_WIDTH,
  verifyLog,
} from "../../src/log/index.ts";
import { decodeEntry, encodeEntry } from "../../src/registry/entries.ts";
import { encodeDocument } from "../../src/registry/package-document.ts";
import { replayInto } from "../../src/registry/replay.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { sha256Hex } from "../../src/util/sha256.ts";

const FIXTURE = join(import.meta.dirname, "..", "fixtures", "logs", "npm-v1");
const ORIGIN = "fixture.cairn.example/npm-v1";

interface Expected {
  readonly size: number;
  readonly snapshots: readonly { readonly index: number; readonly id: string }[];
  readonly finalId: string;
  readonly documents: Readonly<Record<string, string>>;
  readonly listPackages: unknown;
}

const expected = JSON.parse(await readFile(join(FIXTURE, "expected.json"), "utf8")) as Expected;
const source = new DirectorySource(join(FIXTURE, "tree"));
const verifier = parseVerifierKey((await readFile(join(FIXTURE, "vkey.txt"), "utf8")).trim());

async function fixtureEntries(): Promise<Uint8Array[]> {
  const entries: Uint8Array[] = [];
  for (let bundle = 0; bundle * TILE_WIDTH < expected.size; bundle++) {
    const width = Math.min(TILE_WIDTH, expected.size - bundle * TILE_WIDTH);
    const data = await source.read(bundlePath(bundle, width), MAX_BUNDLE_BYTES);
    entries.push(...parseBundle(data, width));
  }
  return entries;
}

describe("the npm-v1 fixture log", () => {
  test("the checkpoint verifies with the fixture's key and its root is the tree's", async () => {
    const { checkpoint } = await verifyLog(source, [verifier], { origin: ORIGIN });
    assert.equal(checkpoint.size, expected.size);
    assert.equal((await readCheckpoint(source, [verifier], ORIGIN)).size, expected.size);
  });

  test("every entry decodes and encodes back to the same bytes", async () => {
    const entries = await fixtureEntries();
    assert.equal(entries.length, expected.size);
    const snapshots: { index: number; id: string }[] = [];
    entries.forEach((bytes, index) => {
      const entry = decodeEntry(bytes);
      const again = Buffer.from(encodeEntry(entry)).toString("utf8");
      assert.equal(again, Buffer.from(bytes).toString("utf8"), `entry ${index} (${entry.kind})`);
      assert.ok(equalBytes(encodeEntry(entry), bytes), `entry ${index} (${entry.kind})`);
      if (entry.kind === "snapshot") snapshots.push({ index, id: entry.root.sha256 });
    });
    assert.deepEqual(snapshots, expected.snapshots);
    assert.ok(snapshots.length >= 2);
  });

  test("a fresh state replays it to the same snapshot, documents and package list", async () => {
    const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
    try {
      await replayInto(state, source, expected.size);
      assert.equal(state.logSize, expected.size);
      assert.equal(state.snapshot?.id, expected.finalId);
      for (const [key, hash] of Object.entries(expected.documents)) {
        assert.equal(state.documentHash(key), hash, `documentHash(${key})`);
        const doc = state.table("npm").document(key.slice("npm/".length));
        assert.ok(doc, key);
        assert.equal(sha256Hex(encodeDocument(doc)), hash, `encodeDocument of ${key}`);
      }
      assert.deepEqual(state.table("npm").listPackages(), expected.listPackages);
    } finally {
      state.close();
    }
  });
});
