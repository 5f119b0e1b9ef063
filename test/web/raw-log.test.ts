/**
 * The proof pages' server side reads the tree unchecked; on an intact tree
 * it must hand the browser exactly the proof an authenticated reader gives,
 * across tile boundaries, and on a tampered one it must hand over the
 * tampered hash rather than refuse.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import {
  DirectorySource,
  leafHash,
  proveInclusion,
  readCheckpoint,
  TileHashReader,
  verifyInclusion,
} from "../../src/log/index.ts";
import {
  type InclusionMaterial,
  inclusionMaterial,
  isUnreadable,
  rawLog,
  readEntries,
} from "../../src/web/raw-log.ts";
import { entryBytes, openTestLog, tempDir } from "../helpers/log.ts";

/** The material, every part of it read. */
async function readable(material: Promise<InclusionMaterial>) {
  const m = await material;
  assert.ok(!isUnreadable(m.entry) && !isUnreadable(m.proof), "every part was read");
  return { ...m, entry: m.entry as Uint8Array, proof: m.proof as Uint8Array[] };
}

/** Indexes worth proving in a tree of `size`: its ends, and each side of every tile boundary. */
function indexesOf(size: number): number[] {
  const picks = [0, 1, size - 2, size - 1, 127, 254, 255, 256, 257, 300, 511, 512, 513];
  return [...new Set(picks.filter((i) => i >= 0 && i < size))];
}

test("the unchecked proof equals the authenticated one at every size across tile boundaries", async () => {
  await using dir = await tempDir();
  const { storage, appender, key } = await openTestLog(dir.path);
  const source = new DirectorySource(dir.path);
  const entries: Uint8Array[] = [];
  try {
    for (const size of [1, 2, 3, 255, 256, 257, 300, 511, 512, 513, 600]) {
      const batch: Uint8Array[] = [];
      for (let i = entries.length; i < size; i++) batch.push(entryBytes(i));
      await appender.append(batch);
      entries.push(...batch);
      const cp = await readCheckpoint(source, [key.verifier]);
      assert.equal(cp.size, size);
      const trusted = new TileHashReader(size, cp.root, source);
      for (const index of indexesOf(size)) {
        const material = await readable(inclusionMaterial(rawLog(source), index));
        assert.equal(material.checkpoint.size, size);
        assert.deepEqual(
          Buffer.from(material.entry),
          Buffer.from(entries[index]),
          `entry ${index} of ${size}`,
        );
        const expected = await proveInclusion(index, size, trusted);
        assert.deepEqual(
          material.proof.map((h) => Buffer.from(h).toString("hex")),
          expected.map((h) => Buffer.from(h).toString("hex")),
          `proof of ${index} in ${size}`,
        );
        verifyInclusion(index, size, leafHash(material.entry), material.proof, cp.root);
        assert.equal(material.tiles.length > 0, size > 1);
        for (const path of material.tiles) assert.match(path, /^tile\/\d+\//);
      }
    }
    const all = await readEntries(source, 600, 250, 520);
    assert.deepEqual(
      all.map((e) => e.index),
      Array.from({ length: 270 }, (_, i) => 250 + i),
    );
    assert.deepEqual(
      all.map((e) => Buffer.from(e.bytes)),
      entries.slice(250, 520).map((e) => Buffer.from(e)),
    );
  } finally {
    await storage.close();
  }
});

test("the unchecked reader hands over a tampered hash", async () => {
  await using dir = await tempDir();
  const { storage, appender, key } = await openTestLog(dir.path);
  const entries = Array.from({ length: 300 }, (_, i) => entryBytes(i));
  await appender.append(entries.slice(0, 256));
  await appender.append(entries.slice(256));
  await storage.close();
  const source = new DirectorySource(dir.path);
  const cp = await readCheckpoint(source, [key.verifier]);

  const intact = await readable(inclusionMaterial(rawLog(source), 10));
  verifyInclusion(10, 300, leafHash(intact.entry), intact.proof, cp.root);
  assert.ok(intact.tiles.includes("tile/0/000"));

  // Flip one byte of hash 11 (leaf 10's sibling): the proof changes, and nothing refuses it.
  const path = join(dir.path, "tile", "0", "000");
  const tile = Buffer.from(await source.read("tile/0/000", 1 << 20));
  tile[11 * 32] ^= 0x01;
  await writeFile(path, tile);
  const tampered = await readable(inclusionMaterial(rawLog(source), 10));
  assert.notDeepEqual(tampered.proof[0], intact.proof[0]);
  assert.throws(() => verifyInclusion(10, 300, leafHash(tampered.entry), tampered.proof, cp.root), {
    code: "invalid-proof",
  });
  await assert.rejects(proveInclusion(10, 300, new TileHashReader(300, cp.root, source)), {
    code: "hash-mismatch",
  });
});

test("a tile or bundle that does not parse is reported as unreadable, not refused", async () => {
  await using dir = await tempDir();
  const { storage, appender } = await openTestLog(dir.path);
  await appender.append(Array.from({ length: 5 }, (_, i) => entryBytes(i)));
  await storage.close();
  const source = new DirectorySource(dir.path);
  await writeFile(join(dir.path, "tile", "0", "000.p", "5"), new Uint8Array(31));
  await writeFile(join(dir.path, "tile", "entries", "000.p", "5"), Uint8Array.of(0, 9, 1));
  const material = await inclusionMaterial(source, 3);
  assert.ok(isUnreadable(material.proof));
  assert.match(material.proof.unreadable, /tile\/0\/000\.p\/5 has 31 bytes/);
  assert.ok(isUnreadable(material.entry));
  assert.match(material.entry.unreadable, /truncated/);
});

test("a server that holds no log yet says so", async () => {
  await using dir = await tempDir();
  await assert.rejects(inclusionMaterial(new DirectorySource(dir.path), 0), {
    name: "WebError",
    code: "not-available",
  });
});

test("an index the checkpoint does not cover is out of range", async () => {
  await using dir = await tempDir();
  const { storage, appender } = await openTestLog(dir.path);
  await appender.append([entryBytes(0), entryBytes(1)]);
  await storage.close();
  await assert.rejects(inclusionMaterial(new DirectorySource(dir.path), 2), {
    code: "out-of-range",
  });
});
