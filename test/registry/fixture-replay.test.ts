/**
 * Pins the logs under test/fixtures/logs (see their README), each written
 * by an earlier version of the origin: every later version must decode
 * them, replay them to the same snapshots and documents, and verify their
 * checkpoints. cargo-v1 also pins each snapshot's cargo index view and
 * each crate's index file, rendered from the replayed documents.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CARGO } from "../../src/cargo/rules/ecosystem.ts";
import { indexFile } from "../../src/cargo/rules/index-file.ts";
import { keyName } from "../../src/cargo/rules/name.ts";
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
import { decodeEntry, type Entry, encodeEntry } from "../../src/registry/entries.ts";
import { buildIndexView, type IndexRow, viewShardCount } from "../../src/registry/index-view.ts";
import { encodeDocument } from "../../src/registry/package-document.ts";
import { replayInto } from "../../src/registry/replay.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { sha256Hex } from "../../src/util/sha256.ts";

interface Expected {
  readonly size: number;
  readonly snapshots: readonly { readonly index: number; readonly id: string }[];
  readonly finalId: string;
  readonly documents: Readonly<Record<string, string>>;
  readonly listPackages: unknown;
}

interface CargoExpected extends Expected {
  readonly snapshots: readonly {
    readonly index: number;
    readonly id: string;
    /** The cargo index view's meta hash the snapshot entry names, null when it names none. */
    readonly cargoIndex: string | null;
  }[];
  /** Each crate's index file SHA-256 at the end of the log (null: no file), by document key. */
  readonly indexFiles: Readonly<Record<string, string | null>>;
  readonly listPackages: Readonly<Record<string, unknown>>;
}

async function openFixture<T extends Expected>(name: string) {
  const dir = join(import.meta.dirname, "..", "fixtures", "logs", name);
  const expected = JSON.parse(await readFile(join(dir, "expected.json"), "utf8")) as T;
  const source = new DirectorySource(join(dir, "tree"));
  const verifier = parseVerifierKey((await readFile(join(dir, "vkey.txt"), "utf8")).trim());
  const entries = async (): Promise<Uint8Array[]> => {
    const all: Uint8Array[] = [];
    for (let bundle = 0; bundle * TILE_WIDTH < expected.size; bundle++) {
      const width = Math.min(TILE_WIDTH, expected.size - bundle * TILE_WIDTH);
      const data = await source.read(bundlePath(bundle, width), MAX_BUNDLE_BYTES);
      all.push(...parseBundle(data, width));
    }
    return all;
  };
  return { origin: `fixture.cairn.example/${name}`, expected, source, verifier, entries };
}

/** A fresh state replaying the fixture to its full size. */
async function replayed(fixture: { source: DirectorySource; expected: Expected }) {
  const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
  await replayInto(state, fixture.source, fixture.expected.size);
  return state;
}

/** What every fixture log must keep: its checkpoint, its entries' bytes, its snapshots and documents. */
function describeFixtureLog(fixture: Awaited<ReturnType<typeof openFixture>>): void {
  const { expected, source, verifier, origin } = fixture;

  test("the checkpoint verifies with the fixture's key and its root is the tree's", async () => {
    const { checkpoint } = await verifyLog(source, [verifier], { origin });
    assert.equal(checkpoint.size, expected.size);
    assert.equal((await readCheckpoint(source, [verifier], origin)).size, expected.size);
  });

  test("every entry decodes and encodes back to the same bytes", async () => {
    const entries = await fixture.entries();
    assert.equal(entries.length, expected.size);
    const snapshots: { index: number; id: string }[] = [];
    entries.forEach((bytes, index) => {
      const entry = decodeEntry(bytes);
      const again = Buffer.from(encodeEntry(entry)).toString("utf8");
      assert.equal(again, Buffer.from(bytes).toString("utf8"), `entry ${index} (${entry.kind})`);
      assert.ok(equalBytes(encodeEntry(entry), bytes), `entry ${index} (${entry.kind})`);
      if (entry.kind === "snapshot") snapshots.push({ index, id: entry.root.sha256 });
    });
    assert.deepEqual(
      snapshots,
      expected.snapshots.map(({ index, id }) => ({ index, id })),
    );
    assert.ok(snapshots.length >= 2);
  });

  test("a fresh state replays it to the same snapshot and documents", async () => {
    const state = await replayed(fixture);
    try {
      assert.equal(state.logSize, expected.size);
      assert.equal(state.snapshot?.id, expected.finalId);
      for (const [key, hash] of Object.entries(expected.documents)) {
        assert.equal(state.documentHash(key), hash, `documentHash(${key})`);
        const slash = key.indexOf("/");
        const doc = state.table(key.slice(0, slash)).document(key.slice(slash + 1));
        assert.ok(doc, key);
        assert.equal(sha256Hex(encodeDocument(doc)), hash, `encodeDocument of ${key}`);
      }
    } finally {
      state.close();
    }
  });
}

const npm = await openFixture<Expected>("npm-v1");

describe("the npm-v1 fixture log", () => {
  describeFixtureLog(npm);

  test("its replay lists the same packages", async () => {
    const state = await replayed(npm);
    try {
      assert.deepEqual(state.table("npm").listPackages(), npm.expected.listPackages);
    } finally {
      state.close();
    }
  });
});

const cargo = await openFixture<CargoExpected>("cargo-v1");

describe("the cargo-v1 fixture log", () => {
  describeFixtureLog(cargo);

  test("it holds what it was written to cover", async () => {
    const entries = (await cargo.entries()).map(decodeEntry);
    const kinds = new Set(entries.map((e: Entry) => e.kind));
    for (const kind of ["publish", "yank", "owner", "unpublish", "database", "snapshot"])
      assert.ok(kinds.has(kind as Entry["kind"]), kind);
    const database = entries.find((e) => e.kind === "database");
    assert.equal(database?.kind === "database" && database.schema, 3);
    const ecosystems = new Set(entries.flatMap((e) => ("ecosystem" in e ? [e.ecosystem] : [])));
    assert.deepEqual([...ecosystems].sort(), ["cargo", "npm"]);
  });

  test("each snapshot entry names the cargo index view it was written with", async () => {
    const named = (await cargo.entries())
      .map((bytes, index) => ({ index, entry: decodeEntry(bytes) }))
      .flatMap(({ index, entry }) =>
        entry.kind === "snapshot"
          ? [{ index, id: entry.root.sha256, cargoIndex: entry.indexes?.[CARGO]?.sha256 ?? null }]
          : [],
      );
    assert.deepEqual(named, cargo.expected.snapshots);
    assert.ok(named.every((s) => s.cargoIndex !== null));
  });

  test("its replay renders every crate's index file and the final view byte for byte", async () => {
    const state = await replayed(cargo);
    try {
      const rows: IndexRow[] = [];
      const hashes: Record<string, string | null> = {};
      for (const { name } of state.table(CARGO).listPackages({ all: true })) {
        const doc = state.table(CARGO).document(keyName(name));
        assert.ok(doc, name);
        const file = indexFile(doc);
        hashes[`${CARGO}/${keyName(name)}`] = file ? sha256Hex(file) : null;
        if (file) rows.push({ key: keyName(name), name: doc.name, file: sha256Hex(file) });
      }
      assert.deepEqual(hashes, cargo.expected.indexFiles);
      // The view rebuilt from those files alone is the one the last snapshot entry names.
      const view = buildIndexView(CARGO, rows, viewShardCount(rows.length));
      assert.equal(view.id, cargo.expected.snapshots.at(-1)?.cargoIndex);
      const lists = Object.fromEntries(
        [...ECOSYSTEMS.keys()].sort().map((id) => [id, state.table(id).listPackages()]),
      );
      assert.deepEqual(lists, cargo.expected.listPackages);
    } finally {
      state.close();
    }
  });
});
