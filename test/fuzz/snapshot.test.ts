/**
 * Fuzzing snapshot roots and shards, and the signed mirror list: every
 * mutated input parses canonically or is refused with its domain's coded
 * error, and a mutated list never opens.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { LogError } from "../../src/log/index.ts";
import {
  formatMirrorList,
  type MirrorList,
  MirrorListError,
  openMirrorList,
  parseMirrorList,
  signMirrorList,
} from "../../src/log/mirror-list.ts";
import {
  buildSnapshot,
  encodeRoot,
  encodeShard,
  parseRoot,
  parseShard,
  SnapshotError,
} from "../../src/registry/snapshot.ts";
import { testKey } from "../helpers/log.ts";
import { fuzzRuns, mutateBytes, mutateText, mutations, parsesCanonically, timed } from "./fuzz.ts";

const hash = fc
  .uint8Array({ minLength: 1, maxLength: 8 })
  .map((seed) => createHash("sha256").update(seed).digest("hex"));
const name = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/),
  fc.stringMatching(/^@[a-z0-9-]{1,8}\/[a-z0-9._-]{1,12}$/),
);
const snapshot = fc
  .tuple(fc.uniqueArray(name, { maxLength: 30 }), hash, fc.constantFrom(1, 2, 4, 16))
  .map(([names, doc, count]) =>
    buildSnapshot(
      names.map((n) => ({ key: `npm/${n}`, document: doc })),
      count,
    ),
  );

describe("fuzzing snapshot roots and shards", () => {
  test("a mutated root parses to the same bytes or is refused with a SnapshotError", () => {
    fc.assert(
      fc.property(snapshot, mutations, (snap, ms) => {
        parsesCanonically(mutateBytes(snap.root, ms), parseRoot, encodeRoot, SnapshotError);
      }),
      fuzzRuns(400),
    );
  });

  test("a mutated shard parses to the same bytes or is refused with a SnapshotError", () => {
    fc.assert(
      fc.property(snapshot, fc.nat(), mutations, (snap, which, ms) => {
        const place = { shard: which % snap.shards.length, count: snap.shards.length };
        const shard = snap.shards[place.shard];
        const parse = (bytes: Uint8Array) => parseShard(bytes, place);
        parsesCanonically(mutateBytes(shard, ms), parse, encodeShard, SnapshotError);
      }),
      fuzzRuns(400),
    );
  });
});

const log = testKey("fuzz.example/log");
const mirrorUrl = fc.oneof(
  fc.webUrl({ validSchemes: ["https", "http"] }),
  fc.constantFrom("https://mirror-a.example/", "http://127.0.0.1:4874/", "https://x.example/a/b/"),
);
const mirrorList: fc.Arbitrary<MirrorList> = fc
  .record({
    updated: fc
      .date({ min: new Date(0), max: new Date(8.64e15), noInvalidDate: true })
      .map((d) => d.toISOString()),
    mirrors: fc.array(mirrorUrl, { maxLength: 5 }),
  })
  .map(({ updated, mirrors }) => {
    const normalized = mirrors.flatMap((url) => {
      try {
        return [
          formatMirrorList({ origin: "o", updated, mirrors: [url] })
            .split("mirror ")[1]
            .trim(),
        ];
      } catch {
        return [];
      }
    });
    return { origin: log.verifier.name, updated, mirrors: [...new Set(normalized)] };
  });

describe("fuzzing the mirror list", () => {
  test("a mutated mirror list parses to the same text or is refused with a MirrorListError", () => {
    fc.assert(
      fc.property(mirrorList, mutations, (list, ms) => {
        const text = mutateText(formatMirrorList(list), ms);
        parsesCanonically(text, parseMirrorList, formatMirrorList, MirrorListError);
      }),
      fuzzRuns(400),
    );
  });

  test("a signed mirror list opens only to the list that was signed", () => {
    fc.assert(
      fc.property(mirrorList, mutations, (list, ms) => {
        const note = mutateBytes(Buffer.from(signMirrorList(list, log.signer)), ms);
        try {
          assert.deepEqual(
            timed(() => openMirrorList(note, log.verifier)),
            list,
          );
        } catch (err) {
          assert.ok(err instanceof LogError || err instanceof MirrorListError, String(err));
        }
      }),
      fuzzRuns(300),
    );
  });
});
