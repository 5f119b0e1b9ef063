import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import {
  Appender,
  DirectorySource,
  FsLogStorage,
  isLogError,
  type LogSource,
  type LogStorage,
  leafHash,
  MemoryHashReader,
  openCheckpoint,
  proveConsistency,
  proveInclusion,
  TileHashReader,
  treeHash,
  verifyConsistency,
  verifyInclusion,
  verifyLog,
} from "../../src/log/index.ts";
import { entryBytes, openTestLog, TEST_ORIGIN, tempDir, testKey } from "../helpers/log.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** A source that serves a directory, flipping one bit of one file and recording what was read. */
class TamperingSource implements LogSource {
  readonly name = "tampering";
  readonly reads: string[] = [];
  readonly #inner: LogSource;
  tamper?: { path: string; bit: number };

  constructor(inner: LogSource) {
    this.#inner = inner;
  }

  async read(path: string, maxBytes: number): Promise<Uint8Array> {
    this.reads.push(path);
    const data = Uint8Array.from(await this.#inner.read(path, maxBytes));
    if (this.tamper?.path === path && data.length > 0) {
      const bit = this.tamper.bit % (data.length * 8);
      data[bit >> 3] ^= 1 << (bit & 7);
    }
    return data;
  }
}

describe("appender and proofs from tiles", () => {
  const key = testKey();
  const entries: Uint8Array[] = [];
  const checkpoints = new Map<number, Uint8Array>();
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let memory: MemoryHashReader;
  let sizes: number[];
  let source: DirectorySource;

  before(async () => {
    dir = await tempDir();
    const { storage, appender } = await openTestLog(dir.path, key);
    // Random batch sizes, so that checkpoints land at many sizes and partial tiles of every kind exist.
    for (const batch of fc.sample(fc.integer({ min: 1, max: 97 }), { numRuns: 200, seed: 42 })) {
      const first = entries.length;
      for (let i = 0; i < batch; i++) entries.push(entryBytes(first + i));
      const result = await appender.append(entries.slice(first));
      assert.equal(result.first, first);
      checkpoints.set(result.size, result.checkpoint);
      if (entries.length > 3000) break;
    }
    await storage.close();
    memory = new MemoryHashReader(entries.map(leafHash));
    sizes = [...checkpoints.keys()];
    source = new DirectorySource(dir.path);
  });

  after(() => dir[Symbol.asyncDispose]());

  test("every checkpoint signs the RFC 6962 root of its prefix", async () => {
    for (const [size, note] of checkpoints) {
      const cp = openCheckpoint(note, [key.verifier], TEST_ORIGIN);
      assert.equal(cp.size, size);
      assert.equal(hex(cp.root), hex(await treeHash(size, memory)));
    }
  });

  test("inclusion proofs from tiles verify, and a flipped bit in any tile read is caught", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...sizes), fc.nat(), fc.nat(), async (size, i, bit) => {
        const index = i % size;
        const cp = openCheckpoint(checkpoints.get(size) as Uint8Array, [key.verifier]);
        const honest = new TamperingSource(source);
        const proof = await proveInclusion(index, size, new TileHashReader(size, cp.root, honest));
        assert.deepEqual(proof.map(hex), (await proveInclusion(index, size, memory)).map(hex));
        verifyInclusion(index, size, leafHash(entries[index]), proof, cp.root);
        if (honest.reads.length === 0) return;
        const tampering = new TamperingSource(source);
        tampering.tamper = { path: honest.reads[bit % honest.reads.length], bit };
        await assert.rejects(
          proveInclusion(index, size, new TileHashReader(size, cp.root, tampering)),
          (e) => isLogError(e, "hash-mismatch"),
        );
      }),
      { numRuns: 200 },
    );
  });

  test("consistency proofs from tiles verify between any two checkpoints", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...sizes), fc.constantFrom(...sizes), async (a, b) => {
        const [m, n] = a <= b ? [a, b] : [b, a];
        const oldCp = openCheckpoint(checkpoints.get(m) as Uint8Array, [key.verifier]);
        const newCp = openCheckpoint(checkpoints.get(n) as Uint8Array, [key.verifier]);
        const proof = await proveConsistency(m, n, new TileHashReader(n, newCp.root, source));
        verifyConsistency(m, n, proof, oldCp.root, newCp.root);
      }),
      { numRuns: 200 },
    );
  });

  test("a tile of the wrong width is refused", async () => {
    const size = sizes.find((s) => s % 256 > 1) as number;
    const cp = openCheckpoint(checkpoints.get(size) as Uint8Array, [key.verifier]);
    const short: LogSource = {
      name: "short",
      read: async (path, max) => (await source.read(path, max)).subarray(32),
    };
    await assert.rejects(proveInclusion(0, size, new TileHashReader(size, cp.root, short)), (e) =>
      isLogError(e, "malformed-tile"),
    );
  });

  test("the whole log verifies, and a flipped bit in any bundle or tile is caught", async () => {
    const result = await verifyLog(source, [key.verifier], { origin: TEST_ORIGIN });
    assert.equal(result.checkpoint.size, entries.length);
    const honest = new TamperingSource(source);
    await verifyLog(honest, [key.verifier]);
    const files = honest.reads.filter((p) => p !== "checkpoint");
    assert.ok(
      files.some((p) => p.startsWith("tile/entries/")) &&
        files.some((p) => p.startsWith("tile/1/")),
    );
    for (const [n, path] of files.entries()) {
      const tampering = new TamperingSource(source);
      tampering.tamper = { path, bit: n * 7919 };
      await assert.rejects(verifyLog(tampering, [key.verifier]), isLogError, path);
    }
  });
});

describe("appender durability and recovery", () => {
  test("reopening continues the same log", async () => {
    await using dir = await tempDir();
    const key = testKey();
    const first = await openTestLog(dir.path, key);
    await first.appender.append([entryBytes(0), entryBytes(1), entryBytes(2)]);
    await first.storage.close();
    const second = await openTestLog(dir.path, key);
    assert.equal(second.appender.size, 3);
    await second.appender.append([entryBytes(3)]);
    await second.storage.close();
    const all = [0, 1, 2, 3].map((i) => leafHash(entryBytes(i)));
    assert.equal(hex(second.appender.root), hex(await treeHash(4, new MemoryHashReader(all))));
    await verifyLog(new DirectorySource(dir.path), [key.verifier]);
  });

  test("writes alongside a batch hold its checkpoint back; when they fail, nothing is published", async () => {
    await using dir = await tempDir();
    const key = testKey();
    const { storage, appender } = await openTestLog(dir.path, key);
    await appender.append([entryBytes(0)]);
    const before = await readFile(join(dir.path, "checkpoint"));
    await assert.rejects(
      appender.append([entryBytes(1)], Promise.reject(new Error("a named blob failed"))),
      /a named blob failed/,
    );
    assert.deepEqual(await readFile(join(dir.path, "checkpoint")), before);
    assert.equal(appender.size, 1);
    await storage.close();
    // Reopened through a storage that says when the batch's files are written.
    const reopened = await openTestLog(dir.path, key);
    let filesWritten = () => {};
    const written = new Promise<void>((resolve) => {
      filesWritten = resolve;
    });
    const signalling: LogStorage = {
      read: (path) => reopened.storage.read(path),
      writeFiles: async (files) => {
        await reopened.storage.writeFiles(files);
        filesWritten();
      },
      swapCheckpoint: (expected, next) => reopened.storage.swapCheckpoint(expected, next),
    };
    const waiting = await Appender.open(signalling, {
      origin: TEST_ORIGIN,
      signer: key.signer,
      verifier: key.verifier,
    });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let published = false;
    const appending = waiting.append([entryBytes(1)], held).then(() => {
      published = true;
    });
    await written;
    assert.equal(published, false, "the checkpoint waited for the writes alongside");
    assert.deepEqual(await readFile(join(dir.path, "checkpoint")), before);
    release();
    await appending;
    assert.equal(published, true);
    await reopened.storage.close();
    const result = await verifyLog(new DirectorySource(dir.path), [key.verifier]);
    assert.equal(result.checkpoint.size, 2);
  });

  test("a crash after writing tiles but before the checkpoint leaves the old log, and the next start recovers", async () => {
    await using dir = await tempDir();
    const key = testKey();
    const { storage, appender } = await openTestLog(dir.path, key);
    await appender.append(Array.from({ length: 300 }, (_, i) => entryBytes(i)));
    const before = await readFile(join(dir.path, "checkpoint"));
    // The writer dies between writing the batch's files and swapping the checkpoint.
    const crashing: LogStorage = {
      read: (path) => storage.read(path),
      writeFiles: (files) => storage.writeFiles(files),
      swapCheckpoint: async () => {
        throw new Error("simulated crash");
      },
    };
    const dying = await Appender.open(crashing, {
      origin: TEST_ORIGIN,
      signer: key.signer,
      verifier: key.verifier,
    });
    await assert.rejects(
      dying.append(Array.from({ length: 500 }, (_, i) => entryBytes(10_000 + i))),
      /simulated crash/,
    );
    await storage.close();
    assert.deepEqual(await readFile(join(dir.path, "checkpoint")), before);
    await verifyLog(new DirectorySource(dir.path), [key.verifier]);
    // Restart and append different entries over the orphaned files.
    const restarted = await openTestLog(dir.path, key);
    assert.equal(restarted.appender.size, 300);
    await restarted.appender.append(Array.from({ length: 500 }, (_, i) => entryBytes(300 + i)));
    await restarted.storage.close();
    const result = await verifyLog(new DirectorySource(dir.path), [key.verifier]);
    assert.equal(result.checkpoint.size, 800);
  });

  test("no file a checkpoint covers is ever written again", async () => {
    await using dir = await tempDir();
    const key = testKey();
    const { storage } = await openTestLog(dir.path, key);
    const written: string[] = [];
    const recording: LogStorage = {
      read: (path) => storage.read(path),
      writeFiles: (files) => {
        written.push(...files.map((f) => f.path));
        return storage.writeFiles(files);
      },
      swapCheckpoint: (expected, next) => storage.swapCheckpoint(expected, next),
    };
    const appender = await Appender.open(recording, {
      origin: TEST_ORIGIN,
      signer: key.signer,
      verifier: key.verifier,
    });
    for (let i = 0; i < 70_000; i += 700) {
      await appender.append(Array.from({ length: 700 }, (_, j) => entryBytes(i + j)));
    }
    await storage.close();
    assert.equal(new Set(written).size, written.length);
    assert.ok(written.includes("tile/2/000.p/1"));
    await verifyLog(new DirectorySource(dir.path), [key.verifier]);
  });

  test("a batch with an oversized entry is refused whole and changes nothing", async () => {
    await using dir = await tempDir();
    const { storage, appender } = await openTestLog(dir.path);
    await appender.append([entryBytes(0)]);
    const before = await readFile(join(dir.path, "checkpoint"));
    assert.throws(
      () => appender.append([entryBytes(1), new Uint8Array(70_000)]),
      (e) => isLogError(e, "entry-too-large"),
    );
    assert.equal(appender.size, 1);
    assert.deepEqual(await readFile(join(dir.path, "checkpoint")), before);
    await storage.close();
  });

  test("a second writer on the same directory is refused", async () => {
    await using dir = await tempDir();
    const { storage } = await openTestLog(dir.path);
    await assert.rejects(FsLogStorage.open(dir.path), (e) => isLogError(e, "conflict"));
    await storage.close();
    const again = await FsLogStorage.open(dir.path);
    await again.close();
  });

  test("a checkpoint moved under the writer is a conflict, never a rollback", async () => {
    await using dir = await tempDir();
    const key = testKey();
    const { storage, appender } = await openTestLog(dir.path, key);
    await appender.append([entryBytes(0)]);
    const stale = await readFile(join(dir.path, "checkpoint"));
    await appender.append([entryBytes(1)]);
    await assert.rejects(storage.swapCheckpoint(stale, stale), (e) => isLogError(e, "conflict"));
    await storage.close();
  });

  test("damaged storage is reported on open, not silently served", async () => {
    await using dir = await tempDir();
    const key = testKey();
    const { storage, appender } = await openTestLog(dir.path, key);
    await appender.append(Array.from({ length: 10 }, (_, i) => entryBytes(i)));
    await storage.close();
    const tile = join(dir.path, "tile/0/000.p/10");
    const good = await readFile(tile);
    const bad = Buffer.from(good);
    bad[5] ^= 1;
    await writeFile(tile, bad);
    await assert.rejects(openTestLog(dir.path, key), (e) => isLogError(e, "corrupt-storage"));
    await writeFile(tile, good);
    await rm(join(dir.path, "tile/entries/000.p/10"));
    await assert.rejects(openTestLog(dir.path, key), (e) => isLogError(e, "corrupt-storage"));
    // A log signed by another key is not ours to append to.
    await assert.rejects(openTestLog(dir.path, testKey()), (e) => isLogError(e, "corrupt-storage"));
  });
});
