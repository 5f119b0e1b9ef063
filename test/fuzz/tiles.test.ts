/**
 * Fuzzing tile paths, entry bundles, tiles served by an untrusted source and
 * witness requests: every mutated input parses canonically or is refused
 * with a LogError, and mutated tiles never yield a hash the tree lacks.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { checkBundle } from "../../src/client/checks.ts";
import { SourceError } from "../../src/client/errors.ts";
import {
  addCheckpoint,
  Cosigner,
  formatAddCheckpointRequest,
  formatCheckpoint,
  type Hash,
  LogError,
  type LogFile,
  leafHash,
  MemoryHashReader,
  MemoryWitnessStore,
  type NodeId,
  parseAddCheckpointRequest,
  parseNote,
  proveConsistency,
  signNote,
  TreeBuilder,
} from "../../src/log/index.ts";
import { type LogSource, TileHashReader } from "../../src/log/tile-reader.ts";
import {
  bundlePath,
  encodeBundle,
  MAX_TILE_LEVEL,
  parseBundle,
  parseTilePath,
  TILE_WIDTH,
  tilePath,
} from "../../src/log/tiles.ts";
import { entryBytes, testKey } from "../helpers/log.ts";
import {
  fuzzRuns,
  mutateBytes,
  mutateText,
  mutations,
  parsesCanonically,
  timed,
  timedAsync,
} from "./fuzz.ts";

const width = fc.integer({ min: 1, max: TILE_WIDTH });
const index = fc.oneof(fc.nat({ max: 2000 }), fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
const path = fc.oneof(
  fc.record({ level: fc.nat({ max: MAX_TILE_LEVEL }), index, width }).map((tile) => tilePath(tile)),
  fc.tuple(index, width).map(([i, w]) => bundlePath(i, w)),
);

function encodePath(parsed: ReturnType<typeof parseTilePath>): string {
  return parsed.kind === "tile" ? tilePath(parsed.tile) : bundlePath(parsed.index, parsed.width);
}

/** A tree of `size` entries: every tile and bundle file, and its root. */
function buildTree(size: number): { files: Map<string, Uint8Array>; root: Hash; leaves: Hash[] } {
  const tree = TreeBuilder.empty();
  const files = new Map<string, Uint8Array>();
  const keep = (f: LogFile) => files.set(f.path, f.data);
  const leaves: Hash[] = [];
  for (let i = 0; i < size; i++) {
    const entry = entryBytes(i);
    leaves.push(leafHash(entry));
    tree.append(entry, keep);
  }
  for (const f of tree.partialFiles()) keep(f);
  return { files, root: tree.root(), leaves };
}

const hex = (h: Hash) => Buffer.from(h).toString("hex");

/** Big enough for full tiles at level 1 and a partial tile at level 2. */
const BIG = TILE_WIDTH * TILE_WIDTH + 3 * TILE_WIDTH + 17;
const trees = new Map<number, ReturnType<typeof buildTree>>();
function treeOf(size: number) {
  let tree = trees.get(size);
  if (!tree) {
    tree = buildTree(size);
    trees.set(size, tree);
  }
  return tree;
}

describe("fuzzing tiles, bundles and witness requests", () => {
  test("a mutated tile or bundle path parses to itself or is refused with a LogError", () => {
    fc.assert(
      fc.property(path, mutations, (p, ms) => {
        parsesCanonically(mutateText(p, ms), parseTilePath, encodePath, LogError);
      }),
      fuzzRuns(500),
    );
  });

  test("a mutated entry bundle parses to the same bytes or is refused with a LogError", () => {
    const entries = fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(entries, mutations, fc.integer({ min: -1, max: 1 }), (es, ms, skew) => {
        const data = mutateBytes(encodeBundle(es), ms);
        parsesCanonically(data, (d) => parseBundle(d, es.length + skew), encodeBundle, LogError);
      }),
      fuzzRuns(500),
    );
  });

  test("a mutated bundle checked against its tile gives the logged entries or a coded refusal", () => {
    const { files, leaves } = treeOf(3 * TILE_WIDTH);
    const bundles = [...files.keys()].filter((p) => p.startsWith("tile/entries/"));
    fc.assert(
      fc.property(fc.nat(), mutations, (which, ms) => {
        const path = bundles[which % bundles.length];
        const parsed = parseTilePath(path);
        if (parsed.kind !== "entries") return;
        const original = files.get(path) as Uint8Array;
        const hashes = leaves.slice(
          parsed.index * TILE_WIDTH,
          parsed.index * TILE_WIDTH + parsed.width,
        );
        try {
          const entries = timed(() =>
            checkBundle(mutateBytes(original, ms), parsed.index, parsed.width, hashes, "fuzz"),
          );
          assert.ok(Buffer.from(encodeBundle(entries)).equals(Buffer.from(original)));
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          assert.ok(err instanceof LogError || err instanceof SourceError, String(err));
        }
      }),
      fuzzRuns(300),
    );
  });

  test("tiles from a source that mutates one file give the tree's hashes or a LogError", async () => {
    const size = fc.oneof(fc.integer({ min: 1, max: 3 * TILE_WIDTH }), fc.constant(BIG));
    await fc.assert(
      fc.asyncProperty(size, fc.nat(), mutations, fc.nat(), async (n, target, ms, pick) => {
        const { files, root, leaves } = treeOf(n);
        const paths = [...files.keys()].filter((p) => !p.startsWith("tile/entries/"));
        const victim = paths[target % paths.length];
        const source: LogSource = {
          name: "fuzz",
          read: async (p) => {
            const data = files.get(p);
            if (!data) throw new LogError("not-found", p);
            return p === victim ? mutateBytes(data, ms) : data;
          },
        };
        // A node at some level that is complete in the tree.
        const level = pick % 18;
        const count = Math.floor(n / 2 ** level);
        if (count === 0) return;
        const nodes: NodeId[] = [{ level, index: Math.floor(pick / 18) % count }];
        const want = await new MemoryHashReader(leaves).readHashes(nodes);
        try {
          const got = await timedAsync(() => new TileHashReader(n, root, source).readHashes(nodes));
          assert.deepEqual(got.map(hex), want.map(hex));
        } catch (err) {
          assert.ok(err instanceof LogError, String(err));
        }
      }),
      fuzzRuns(300, 0.2),
    );
  });

  test("a mutated add-checkpoint request round-trips or is refused; the witness always answers", async () => {
    const log = testKey("fuzz.example/log");
    const { root, leaves } = treeOf(300);
    const small = treeOf(100);
    const proof = await proveConsistency(100, 300, new MemoryHashReader(leaves));
    const checkpoint = signNote(
      formatCheckpoint({ origin: "fuzz.example/log", size: 300, root, extensions: [] }),
      [log.signer],
    );
    const body = formatAddCheckpointRequest({ oldSize: 100, proof, checkpoint });
    await fc.assert(
      fc.asyncProperty(mutations, async (ms) => {
        const mutated = mutateText(body, ms);
        parsesCanonically(mutated, parseAddCheckpointRequest, formatAddCheckpointRequest, LogError);
        const store = new MemoryWitnessStore();
        await store.compareAndSwap("fuzz.example/log", 0, { size: 100, root: small.root });
        const options = {
          cosigner: Cosigner.generate("witness.example/w"),
          logs: new Map([["fuzz.example/log", [log.verifier]]]),
          store,
        };
        const response = await timedAsync(() => addCheckpoint(options, mutated));
        assert.ok([200, 400, 403, 404, 409, 422].includes(response.status), response.body);
        if (response.status === 200) {
          const req = timed(() => parseAddCheckpointRequest(mutated));
          // Only the signed text matters: a repeated signature line is dropped, as Go's note.Open does.
          assert.equal(parseNote(req.checkpoint).text, parseNote(checkpoint).text);
        }
      }),
      fuzzRuns(300),
    );
  });
});
