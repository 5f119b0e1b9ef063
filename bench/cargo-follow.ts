/**
 * The bytes a client spends to follow 1,000 crate publishes: with cargo's
 * sparse protocol (refetching each changed index file whole, the only way
 * HTTP offers; it cannot even learn which files changed without asking
 * for every one), against following Cairn's log (the checkpoint, the
 * hash tiles that prove it extends the last one, the entry bundles), and
 * the log plus the signed index view (its meta file and changed shards, so
 * the client also holds the atomic names-file of every crate).
 *
 *   node bench/cargo-follow.ts [--crates N] [--publishes N] [--json]
 *
 * The registry is synthetic and seeded: crates with a heavy-tailed number
 * of versions (most have a few, some hundreds, as on crates.io) and lines
 * with a few dependencies; a publish picks a crate in proportion to its
 * versions (busy crates publish more). It is folded by the registry's own
 * state batches, one batch and snapshot entry per publish as the origin
 * appends them, so every entry, file, shard and meta file is the real one.
 * Each side polls after every publish, after every 100 and once; byte counts are
 * the bodies, raw and gzip-compressed (what a CDN sends), without headers.
 */

import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { indexFile } from "../src/cargo/rules/index-file.ts";
import { encodeBundle, TILE_WIDTH } from "../src/log/index.ts";
import { autoShardCount } from "../src/origin/registry.ts";
import { type Entry, encodeEntry } from "../src/registry/entries.ts";
import { parseIndexMeta } from "../src/registry/index-view.ts";
import { cratePublish } from "../test/helpers/crate-entries.ts";
import { SnapshotLog } from "../test/helpers/snapshot-log.ts";
import { count, emitResult, peakRss, positiveInt, printTable } from "./common.ts";

const { values } = parseArgs({
  options: {
    crates: { type: "string" },
    publishes: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("node bench/cargo-follow.ts [--crates 5000] [--publishes 1000] [--json]");
  process.exit(0);
}
const crateCount = positiveInt("crates", values.crates, 5000);
const publishes = positiveInt("publishes", values.publishes, 1000);

/** Bytes of a body, raw and gzip-compressed. */
interface Bytes {
  raw: number;
  gzip: number;
}

export interface FollowResult {
  crates: number;
  versions: number;
  /** The index view's shards (the snapshot has its own count). */
  shards: number;
  publishes: number;
  /** By poll interval (publishes between polls). */
  polls: {
    every: number;
    sparse: Bytes;
    /** Conditional requests a sparse follower needs per poll to learn what changed: one per crate. */
    sparseDiscoveryRequests: number;
    log: Bytes;
    view: Bytes;
  }[];
  meanIndexFileBytes: number;
  meanShardBytes: number;
  metaBytes: number;
  peakRssBytes: number;
}

/** A seeded generator (mulberry32), so every run folds the same registry. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = random(17);
const DEP_NAMES = ["serde", "libc", "log", "rand", "syn", "quote", "proc-macro2", "bitflags"];

function publish(name: string, n: number): Entry {
  const deps = DEP_NAMES.slice(0, Math.floor(rand() * 6)).map((dep) => ({
    name: dep,
    req: `^${1 + Math.floor(rand() * 3)}.0`,
    features: rand() < 0.3 ? ["std"] : [],
    optional: rand() < 0.2,
    default_features: true,
    target: null,
    kind: rand() < 0.15 ? "dev" : "normal",
  }));
  return cratePublish(name, `0.${Math.floor(n / 10)}.${n % 10}`, {
    resolution: { deps, features: {} },
  });
}

// Heavy-tailed versions per crate (Pareto, alpha 1.1, at most 400).
const versions = Array.from({ length: crateCount }, () =>
  Math.min(400, Math.floor(1 / (1 - rand()) ** (1 / 1.1))),
);
const totalVersions = versions.reduce((a, b) => a + b, 0);
const shards = autoShardCount(crateCount);
const log = new SnapshotLog();
const setup: Entry[] = [];
for (let c = 0; c < crateCount; c++)
  for (let v = 0; v < versions[c]; v++) setup.push(publish(`crate-${c}`, v));
log.append(setup, shards);

const CHECKPOINT_BYTES = 160;
const gz = (bytes: Uint8Array) => gzipSync(bytes).length;
const add = (into: Bytes, bytes: Uint8Array) => {
  into.raw += bytes.length;
  into.gzip += gz(bytes);
};

/** The entries of the follow, encoded: a publish and its snapshot entry each. */
const followed: Uint8Array[] = [];
/** The crate each publish changed, and the view's shard bytes after it, by shard. */
const changes: { crate: number; shardBytes: Map<number, Uint8Array>; meta: Uint8Array }[] = [];
const total = versions.reduce((a, b) => a + b, 0);
for (let p = 0; p < publishes; p++) {
  let pick = rand() * total;
  let crate = 0;
  while (pick >= versions[crate]) pick -= versions[crate++];
  const entry = publish(`crate-${crate}`, versions[crate]++);
  const snapshot = log.append([entry], shards);
  followed.push(encodeEntry(entry), encodeEntry(snapshot));
  const view = log.last?.indexes.get("cargo");
  if (!view) throw new Error("no cargo view");
  changes.push({ crate, shardBytes: new Map(view.shards), meta: view.meta });
}

/**
 * The log's bytes for a poll from entry `from` to `to` of the follow (as if
 * it began at a bundle boundary): each bundle and level-0 tile from its
 * start (a partial one is fetched again as it grows), the level-1 tile, a
 * signed checkpoint.
 */
function logBytes(from: number, to: number, into: Bytes) {
  for (let start = from - (from % TILE_WIDTH); start < to; start += TILE_WIDTH) {
    const end = Math.min(to, start + TILE_WIDTH);
    add(into, encodeBundle(followed.slice(start, end)));
    into.raw += 32 * (end - start);
    into.gzip += 32 * (end - start);
  }
  // Hashes do not compress; a checkpoint is an origin line, size, root and one Ed25519 signature line.
  const fixed = 32 * Math.ceil(to / TILE_WIDTH) + CHECKPOINT_BYTES;
  into.raw += fixed;
  into.gzip += fixed;
}

/** A crate's index file lines at the end of the follow, each with its newline. */
function finalLines(crate: number): string[] {
  const doc = log.state.table("cargo").document(`crate_${crate}`);
  const file = doc && indexFile(doc);
  if (!file) throw new Error(`crate-${crate} has no index file`);
  return new TextDecoder()
    .decode(file)
    .split("\n")
    .slice(0, -1)
    .map((line) => `${line}\n`);
}

const results: FollowResult["polls"] = [];
for (const every of [1, 100, publishes]) {
  const sparse = { raw: 0, gzip: 0 };
  const logSide = { raw: 0, gzip: 0 };
  const view = { raw: 0, gzip: 0 };
  for (let from = 0; from < publishes; from += every) {
    const to = Math.min(publishes, from + every);
    const changed = new Set<number>();
    const shardsChanged = new Map<number, Uint8Array>();
    for (let p = from; p < to; p++) {
      changed.add(changes[p].crate);
      for (const [shard, bytes] of changes[p].shardBytes) shardsChanged.set(shard, bytes);
    }
    for (const crate of changed) {
      // The file as it stood at the poll: the final one less the versions published after it.
      const lines = finalLines(crate);
      const later = changes.slice(to).filter((c) => c.crate === crate).length;
      add(sparse, new TextEncoder().encode(lines.slice(0, lines.length - later).join("")));
    }
    logBytes(2 * from, 2 * to, logSide);
    add(view, changes[to - 1].meta);
    for (const bytes of shardsChanged.values()) add(view, bytes);
  }
  results.push({
    every,
    sparse,
    sparseDiscoveryRequests: crateCount,
    log: logSide,
    view: { raw: view.raw + logSide.raw, gzip: view.gzip + logSide.gzip },
  });
}

let fileBytes = 0;
let withFiles = 0;
for (let c = 0; c < crateCount; c++) {
  const doc = log.state.table("cargo").document(`crate_${c}`);
  const file = doc && indexFile(doc);
  if (file) {
    fileBytes += file.length;
    withFiles++;
  }
}
const lastView = changes[changes.length - 1];
let shardBytes = 0;
for (const bytes of lastView.shardBytes.values()) shardBytes += bytes.length;

const result: FollowResult = {
  crates: crateCount,
  versions: totalVersions,
  shards: parseIndexMeta(lastView.meta).shards.length,
  publishes,
  polls: results,
  meanIndexFileBytes: Math.round(fileBytes / withFiles),
  meanShardBytes: Math.round(shardBytes / lastView.shardBytes.size),
  metaBytes: lastView.meta.length,
  peakRssBytes: peakRss(),
};

const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
console.log(
  `${count(crateCount)} crates, ${count(totalVersions)} versions, ${result.shards} view shards; ` +
    `mean index file ${kib(result.meanIndexFileBytes)}, shard ${kib(result.meanShardBytes)}, meta ${result.metaBytes} B`,
);
printTable([
  [`follow ${publishes} publishes`, "sparse (refetch files)", "cairn log", "cairn log + view"],
  ...results.map((r) => [
    `poll every ${r.every}`,
    `${kib(r.sparse.raw)} (gzip ${kib(r.sparse.gzip)})`,
    `${kib(r.log.raw)} (gzip ${kib(r.log.gzip)})`,
    `${kib(r.view.raw)} (gzip ${kib(r.view.gzip)})`,
  ]),
]);
if (values.json) emitResult(result);
