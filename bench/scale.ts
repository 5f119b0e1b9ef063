/**
 * Scale: a synthetic npm-sized registry (bench/synthetic-registry.ts: the
 * 226,974 packages of ../shared/data/npm-packages.tsv, about two million
 * publishes; the corpus app's packages with their real dependencies) sequenced straight through the origin's log API
 * (`Registry.submit`, no HTTP, no blobs but the origin's own snapshot
 * blobs), then 1,000 more publishes as a live origin would take them.
 *
 *   node bench/scale.ts [--packages N] [--seed S] [--keep] [--json]
 *
 * Reports the time to sequence, the tree and the state on disk, the final
 * snapshot, and the comparison figures: the bytes of a git-style (cargo)
 * index of the same registry, and the bytes cargo's sparse protocol would
 * fetch for the 1,000 publishes, against the log's growth for them.
 * Then garbage collection (bench/gc-steps.ts): of the build, and after the
 * publishes (default policy, then grace 0 / retain 0), the tree's growth
 * per publish that stays, and as many publishes again while collections
 * loop, against the group latency without them.
 * With --keep the registry after the 1,000 publishes stays in the work
 * directory (`origin/` is a `cairn serve --data` directory), with
 * `scale.json` describing it.
 */
import { once } from "node:events";
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createGzip, gzipSync } from "node:zlib";
import semver from "semver";
import type { GcReport } from "../src/gc/gc.ts";
import { bundlePath, openCheckpoint } from "../src/log/index.ts";
import { loadOrCreateKey } from "../src/origin/keys.ts";
import { Registry } from "../src/origin/registry.ts";
import type { PackageEntry, PublishEntry, VersionEntry } from "../src/registry/entries.ts";
import { parseRoot } from "../src/registry/snapshot.ts";
import {
  count,
  emitResult,
  makeWorkDir,
  mib,
  peakRss,
  percentile,
  positiveInt,
  printTable,
  removeDir,
  seconds,
} from "./common.ts";
import { type TimedGc, timedGc, whileCollecting } from "./gc-steps.ts";
import {
  END_MS,
  type PackagePlan,
  readCorpusReleases,
  readNpmPackages,
  SyntheticRegistry,
  samplePackages,
} from "./synthetic-registry.ts";

export const SCALE_ORIGIN = "bench.cairn.example/scale";

/** Bytes on disk of one part of the tree (sum of file lengths) and the files. */
export interface Part {
  files: number;
  bytes: number;
}

export interface TreeUsage {
  /** tile/entries/: entry bundles, full and partial. */
  readonly bundles: Part;
  /** tile/<level>/: hash tiles, full and partial. */
  readonly tiles: Part;
  /** blob/sha256/, by what the blob is. */
  readonly documents: Part;
  readonly shards: Part;
  readonly roots: Part;
  /** checkpoint, lock, temporary files, SQLite snapshots. */
  readonly other: Part;
  /** st_blocks of everything, directories too. */
  readonly allocated: number;
}

export interface ScaleResult {
  readonly kind: "scale";
  readonly packages: number;
  readonly seed: number;
  readonly build: {
    /** Package entries submitted, by kind. */
    readonly publishes: number;
    readonly deprecates: number;
    readonly distTags: number;
    readonly snapshots: number;
    readonly logSize: number;
    readonly ms: number;
    /** Of `ms`, the time spent making entries (the harness's share). */
    readonly generateMs: number;
    readonly entriesPerSecond: number;
    readonly window: number;
    readonly maxBatch: number;
  };
  readonly tree: TreeUsage;
  /** The full entry bundles (no partials): what a copy of the whole log holds, raw and as one gzip stream. */
  readonly fullBundles: { readonly bytes: number; readonly gzipBytes: number };
  readonly stateBytes: number;
  readonly snapshot: { shards: number; packages: number; averageShardBytes: number };
  /** The SQLite snapshot published after the build: what a new client starts from. */
  readonly database: { readonly rawBytes: number; readonly blobBytes: number; readonly ms: number };
  readonly cargoIndex: {
    readonly files: number;
    readonly lines: number;
    readonly bytes: number;
    /** The whole set as one gzip stream, like a compressed clone. */
    readonly gzipBytes: number;
    /** Each file gzipped on its own, as a sparse client would fetch them all. */
    readonly perFileGzipBytes: number;
    readonly ms: number;
  };
  readonly incremental: {
    readonly publishes: number;
    readonly newPackages: number;
    readonly changedPackages: number;
    readonly entries: number;
    readonly ms: number;
    readonly groupLatencyP50: number;
    readonly groupLatencyP99: number;
    /** Growth of tile/ (bundles and hash tiles, partials included) and of blob/. */
    readonly bundleBytes: number;
    readonly tileBytes: number;
    readonly documentBytes: number;
    readonly shardBytes: number;
    readonly rootBytes: number;
    /** Entry bundles a client reading the new entries fetches (full ones and the last partial). */
    readonly clientBundleBytes: number;
    /** Index files of the changed packages after the change: what a sparse client re-downloads. */
    readonly sparseBytes: number;
    readonly sparseGzipBytes: number;
  };
  /** Absent with --keep. */
  readonly gc?: {
    /** GC of the build, of the tree after the publishes with the default policy, and with grace 0 / retain 0. */
    readonly build: GcSummary;
    readonly defaultPolicy: GcSummary;
    readonly afterPublishes: GcSummary;
    /** Tree growth over the publishes against the GC'd build, by kind: after the default-policy run, and after grace 0 / retain 0. */
    readonly transient: GrowthByKind;
    readonly retained: GrowthByKind;
    /** Publishes again in groups of 10 while collections loop: how many ran, and the group latency. */
    readonly loopRuns: number;
    readonly groupLatencyP50: number;
    readonly groupLatencyP99: number;
  };
  readonly peakRss: number;
  readonly ms: number;
}

export interface GcSummary {
  readonly ms: number;
  readonly markMs: number;
  readonly sweepMs: number;
  readonly peakRss: number;
  readonly files: number;
  readonly bytes: number;
  readonly byKind: GcReport["freed"];
}

export interface GrowthByKind {
  readonly bundles: number;
  readonly tiles: number;
  readonly documents: number;
  readonly shards: number;
  readonly roots: number;
}

function gcSummary(run: TimedGc): GcSummary {
  return {
    ms: run.ms,
    markMs: run.report.markMs,
    sweepMs: run.report.sweepMs,
    peakRss: run.peakRss,
    files: run.files,
    bytes: run.bytes,
    byKind: run.report.freed,
  };
}

/**
 * Steps 5 and 6. GC after the publishes: with the default policy (the
 * transient: everything is recent), then with grace 0 and retain 0 (what
 * stays for good), growth measured against the GC'd build; then as many
 * publishes again, in groups of 10, while collections run back to back.
 */
async function gcAfterPublishes(
  registry: Registry,
  dataDir: string,
  gcBuild: TimedGc,
  baseline: TreeUsage,
): Promise<NonNullable<ScaleResult["gc"]>> {
  const treeDir = join(dataDir, "tree");
  const gcDefault = await timedGc(dataDir, registry, {});
  const transient = treeUsage(treeDir);
  // The SQLite snapshot of step 3b keeps its checkpoint (the build's) retained; the hourly
  // schedule would have published a newer one by now, which frees it.
  await registry.publishDatabase();
  const gcAfter = await timedGc(dataDir, registry);
  const afterGc = treeUsage(treeDir);
  const growth = (usage: TreeUsage) => ({
    bundles: usage.bundles.bytes - baseline.bundles.bytes,
    tiles: usage.tiles.bytes - baseline.tiles.bytes,
    documents: usage.documents.bytes - baseline.documents.bytes,
    shards: usage.shards.bytes - baseline.shards.bytes,
    roots: usage.roots.bytes - baseline.roots.bytes,
  });
  const { entries: more } = incrementalPublishes(registry, synthetic, publishes, seed, publishes);
  let latencies: number[] = [];
  const loopRuns = await whileCollecting(dataDir, registry, async () => {
    latencies = await publishInGroups(registry, more);
  });
  latencies.sort((a, b) => a - b);
  return {
    build: gcSummary(gcBuild),
    defaultPolicy: gcSummary(gcDefault),
    afterPublishes: gcSummary(gcAfter),
    transient: growth(transient),
    retained: growth(afterGc),
    loopRuns,
    groupLatencyP50: percentile(latencies, 50),
    groupLatencyP99: percentile(latencies, 99),
  };
}

/** Submits `entries` in groups of 10, each group awaited: the group latencies, in order. */
async function publishInGroups(registry: Registry, entries: readonly PackageEntry[]) {
  const latencies: number[] = [];
  for (let i = 0; i < entries.length; i += 10) {
    const t0 = performance.now();
    await Promise.all(entries.slice(i, i + 10).map((e) => registry.submit(e)));
    latencies.push(performance.now() - t0);
  }
  return latencies;
}

const { values } = parseArgs({
  options: {
    packages: { type: "string" },
    seed: { type: "string" },
    window: { type: "string" },
    "max-batch": { type: "string" },
    publishes: { type: "string" },
    keep: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "usage: node bench/scale.ts [--packages N=all] [--seed S=1] [--window N=8192] [--max-batch N=8192]\n" +
      "                           [--publishes N=1000] [--keep] [--json]",
  );
  process.exit(0);
}

const started = performance.now();
const all = await readNpmPackages();
const seed = positiveInt("seed", values.seed, 1);
const packages = samplePackages(all, positiveInt("packages", values.packages, all.length), seed);
const window = positiveInt("window", values.window, 8192);
const maxBatch = positiveInt("max-batch", values["max-batch"], 8192);
const publishes = positiveInt("publishes", values.publishes, 1000);
const synthetic = new SyntheticRegistry(packages, seed, await readCorpusReleases());

const work = await makeWorkDir("scale");
let keep = values.keep;
try {
  const dataDir = join(work, "origin");
  const treeDir = join(dataDir, "tree");
  const key = await loadOrCreateKey(join(dataDir, "key"), SCALE_ORIGIN);
  const registry = await Registry.open({ dataDir, key, durable: false, maxBatch });
  console.log(
    `scale: ${count(packages.length)} packages, seed ${seed}, windows of ${count(window)}, ` +
      `maxBatch ${count(maxBatch)}, in ${work}`,
  );

  // 1. The build: package by package, windows of submits awaited together.
  const kinds = { publish: 0, deprecate: 0, "dist-tag": 0 } as Record<string, number>;
  let generateMs = 0;
  let inFlight: Promise<unknown>[] = [];
  /** Changes whose packages' publishes are in the window in flight: they are checked against applied state. */
  let deferred: PackageEntry[] = [];
  let windows = 0;
  const buildStart = performance.now();
  const submit = (entry: PackageEntry) => {
    kinds[entry.kind]++;
    inFlight.push(registry.submit(entry));
  };
  const flush = async () => {
    await Promise.all(inFlight);
    inFlight = [];
    windows++;
    if (windows % 25 === 0) {
      const ms = performance.now() - buildStart;
      console.log(
        `  ${count(registry.appender.size)} entries, ${seconds(ms)}, ` +
          `${count((registry.appender.size * 1000) / ms)}/s, RSS ${mib(process.memoryUsage.rss())}`,
      );
    }
    const ready = deferred;
    deferred = [];
    for (const entry of ready) submit(entry);
  };
  let t = performance.now();
  const order = synthetic.order();
  generateMs += performance.now() - t;
  for (const index of order) {
    t = performance.now();
    const { publishes: versions, changes } = synthetic.history(index);
    generateMs += performance.now() - t;
    for (const entry of versions) {
      submit(entry);
      if (inFlight.length >= window) await flush();
    }
    deferred.push(...changes);
  }
  while (inFlight.length > 0 || deferred.length > 0) await flush();
  const buildMs = performance.now() - buildStart;
  const logSize = registry.appender.size;
  const packageEntries = kinds.publish + kinds.deprecate + kinds["dist-tag"];
  const snapshots = logSize - packageEntries;
  console.log(
    `built: ${count(logSize)} entries (${count(packageEntries)} package entries, ` +
      `${count(snapshots)} snapshots) in ${seconds(buildMs)}, of which making entries ${seconds(generateMs)}`,
  );

  // 2. What is on disk, and the final snapshot.
  const tree = treeUsage(treeDir);
  const stateBytes = stateUsage(dataDir);
  const pointer = registry.state.snapshot;
  if (!pointer) throw new Error("no snapshot after the build");
  const root = await registry.blobs.get(pointer.id);
  if (!root) throw new Error(`snapshot root ${pointer.id} is missing`);
  const shardHashes = parseRoot(root);
  const shardBytes = shardHashes.reduce(
    (sum, h) => sum + statSync(join(treeDir, "blob", "sha256", h)).size,
    0,
  );

  const bundles = await fullBundles(treeDir, logSize);

  // 3. The same registry as a git-style (cargo) index.
  const cargoIndex = await fullCargoIndex(registry);
  console.log(
    `cargo-style index: ${count(cargoIndex.files)} files, ${count(cargoIndex.lines)} lines, ` +
      `${mib(cargoIndex.bytes)} (${mib(cargoIndex.gzipBytes)} gzipped) in ${seconds(cargoIndex.ms)}`,
  );

  // 3b. The SQLite snapshot a new client bootstraps from, as the hourly schedule would publish it.
  const dbStart = performance.now();
  const published = await registry.publishDatabase();
  if (!published) throw new Error("no SQLite snapshot was published");
  const database = {
    rawBytes: published.entry.rawSize,
    blobBytes: published.entry.blob.size,
    ms: performance.now() - dbStart,
  };
  console.log(
    `SQLite snapshot: ${mib(database.rawBytes)} raw, ${mib(database.blobBytes)} zstd, in ${seconds(database.ms)}`,
  );

  // 3c. GC of the build (grace 0, retain 0): every snapshot but the newest, and the partials, go.
  // Not with --keep: bench/scale-client.ts syncs from the checkpoint before step 4, as it was.
  const gcBuild = keep ? undefined : await timedGc(dataDir, registry);
  if (gcBuild)
    console.log(
      `GC of the build: ${count(gcBuild.files)} files, ${mib(gcBuild.bytes)} freed in ${seconds(gcBuild.ms)} ` +
        `(mark ${seconds(gcBuild.report.markMs)}, sweep ${seconds(gcBuild.report.sweepMs)}), peak RSS ${mib(gcBuild.peakRss)}`,
    );
  const baseline = treeUsage(treeDir);

  // 4. 1,000 more publishes, in groups of 10 as a live origin takes them.
  const checkpointBefore = readFileSync(join(treeDir, "checkpoint"));
  const sizeBefore = registry.appender.size;
  const tilesBefore = treeUsage(treeDir, false);
  const blobsBefore = new Set(readdirSync(join(treeDir, "blob", "sha256")));
  const { entries: newPublishes, newPackages } = incrementalPublishes(
    registry,
    synthetic,
    publishes,
    seed,
  );
  const incStart = performance.now();
  const latencies = await publishInGroups(registry, newPublishes);
  const incMs = performance.now() - incStart;
  const sizeAfter = registry.appender.size;
  const tilesAfter = treeUsage(treeDir, false);
  const newBlobs = readdirSync(join(treeDir, "blob", "sha256")).filter((b) => !blobsBefore.has(b));
  const blobGrowth = { document: 0, shard: 0, root: 0 };
  for (const b of newBlobs) {
    const path = join(treeDir, "blob", "sha256", b);
    const kind = blobKind(path);
    if (kind !== "database") blobGrowth[kind] += statSync(path).size;
  }
  const changed = [...new Set(newPublishes.map((e) => e.name))];
  let sparseBytes = 0;
  let sparseGzipBytes = 0;
  for (const name of changed) {
    const file = cargoFile(registry, name);
    sparseBytes += file.length;
    sparseGzipBytes += gzipSync(file).length;
  }
  latencies.sort((a, b) => a - b);
  const incremental = {
    publishes: newPublishes.length,
    newPackages,
    changedPackages: changed.length,
    entries: sizeAfter - sizeBefore,
    ms: incMs,
    groupLatencyP50: percentile(latencies, 50),
    groupLatencyP99: percentile(latencies, 99),
    bundleBytes: tilesAfter.bundles.bytes - tilesBefore.bundles.bytes,
    tileBytes: tilesAfter.tiles.bytes - tilesBefore.tiles.bytes,
    documentBytes: blobGrowth.document,
    shardBytes: blobGrowth.shard,
    rootBytes: blobGrowth.root,
    clientBundleBytes: clientBundleBytes(treeDir, sizeBefore, sizeAfter),
    sparseBytes,
    sparseGzipBytes,
  };

  const gc = gcBuild && (await gcAfterPublishes(registry, dataDir, gcBuild, baseline));
  await registry.close();

  const result: ScaleResult = {
    kind: "scale",
    packages: packages.length,
    seed,
    build: {
      publishes: kinds.publish,
      deprecates: kinds.deprecate,
      distTags: kinds["dist-tag"],
      snapshots,
      logSize,
      ms: buildMs,
      generateMs,
      entriesPerSecond: (logSize * 1000) / buildMs,
      window,
      maxBatch,
    },
    tree,
    fullBundles: bundles,
    stateBytes,
    snapshot: {
      shards: pointer.shards,
      packages: pointer.packages,
      averageShardBytes: shardBytes / shardHashes.length,
    },
    database,
    cargoIndex,
    incremental,
    gc,
    peakRss: peakRss(),
    ms: performance.now() - started,
  };
  report(result);
  if (keep) {
    writeFileSync(join(work, "checkpoint-before-incremental"), checkpointBefore);
    const description = {
      packages: packages.length,
      seed,
      origin: SCALE_ORIGIN,
      dataDir: "origin",
      verifierKey: key.verifierKey,
      /** The log before the incremental publishes, and its checkpoint (a copy). */
      sizeBeforeIncremental: sizeBefore,
      checkpointBeforeIncremental: "checkpoint-before-incremental",
      rootBeforeIncremental: Buffer.from(
        openCheckpoint(checkpointBefore, [key.verifier], SCALE_ORIGIN).root,
      ).toString("base64"),
      size: sizeAfter,
      incrementalPackages: changed,
      result,
    };
    writeFileSync(join(work, "scale.json"), `${JSON.stringify(description, null, 2)}\n`);
    console.log(`kept the registry in ${dataDir} (described by ${join(work, "scale.json")})`);
  }
  if (values.json) emitResult(result);
} catch (err) {
  keep = false;
  throw err;
} finally {
  if (!keep) await removeDir(work);
}

/** What a blob is, from its first byte: a document (JSON), a snapshot root, a SQLite snapshot or a shard. */
function blobKind(path: string): "document" | "shard" | "root" | "database" {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(1);
    const n = readSync(fd, head, 0, 1, 0);
    if (n === 0) return "shard"; // an empty shard
    if (head[0] === 0x7b) return "document"; // {
    if (head[0] === 0x63) return "root"; // cairn-snapshot/v1
    if (head[0] === 0x28) return "database"; // zstd: a SQLite snapshot
    return "shard"; // npm/...
  } finally {
    closeSync(fd);
  }
}

/**
 * The tree on disk, walked synchronously (hundreds of thousands of blobs:
 * one await per file would dominate). Without `blobs` only tile/ is walked.
 */
function treeUsage(treeDir: string, blobs = true): TreeUsage {
  const usage = {
    bundles: { files: 0, bytes: 0 },
    tiles: { files: 0, bytes: 0 },
    documents: { files: 0, bytes: 0 },
    shards: { files: 0, bytes: 0 },
    roots: { files: 0, bytes: 0 },
    other: { files: 0, bytes: 0 },
    allocated: 0,
  };
  const walk = (dir: string, part: (path: string, rel: string) => Part) => {
    usage.allocated += statSync(dir).blocks * 512;
    for (const item of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, item.name);
      if (item.isDirectory()) {
        walk(path, part);
        continue;
      }
      const st = statSync(path);
      usage.allocated += st.blocks * 512;
      const p = part(path, path.slice(treeDir.length + 1));
      p.files++;
      p.bytes += st.size;
    }
  };
  walk(treeDir, (path, rel) => {
    if (rel.startsWith("tile/entries/")) return usage.bundles;
    if (rel.startsWith("tile/")) return usage.tiles;
    if (rel.startsWith("blob/")) {
      if (!blobs) return usage.other;
      const kind = blobKind(path);
      if (kind === "database") return usage.other;
      return kind === "document" ? usage.documents : kind === "root" ? usage.roots : usage.shards;
    }
    return usage.other;
  });
  return usage;
}

function stateUsage(dataDir: string): number {
  return readdirSync(dataDir)
    .filter((f) => f.startsWith("state.sqlite"))
    .reduce((sum, f) => sum + statSync(join(dataDir, f)).size, 0);
}

/** The full entry bundles of a log of `size` entries, and their size as one gzip stream. */
async function fullBundles(treeDir: string, size: number): Promise<ScaleResult["fullBundles"]> {
  const gzip = createGzip();
  let gzipBytes = 0;
  gzip.on("data", (chunk: Buffer) => {
    gzipBytes += chunk.length;
  });
  const ended = once(gzip, "end");
  let bytes = 0;
  for (let b = 0; b < Math.floor(size / 256); b++) {
    const data = readFileSync(join(treeDir, bundlePath(b, 256)));
    bytes += data.length;
    if (!gzip.write(data)) await once(gzip, "drain");
  }
  gzip.end();
  await ended;
  return { bytes, gzipBytes };
}

/** Bytes of the entry bundles a client holding the log at `from` fetches to read up to `to`. */
function clientBundleBytes(treeDir: string, from: number, to: number): number {
  let bytes = 0;
  for (let b = Math.floor(from / 256); b < Math.floor(to / 256); b++)
    bytes += statSync(join(treeDir, bundlePath(b, 256))).size;
  if (to % 256 !== 0)
    bytes += statSync(join(treeDir, bundlePath(Math.floor(to / 256), to % 256))).size;
  return bytes;
}

/**
 * One line of a cargo-style index file for a version (the fields a
 * crates.io index line has, in its order), from the publish entry.
 */
function cargoLine(entry: VersionEntry, yanked: boolean): string {
  const deps: object[] = [];
  const resolution = entry.resolution;
  for (const [field, optional] of [
    ["dependencies", false],
    ["optionalDependencies", true],
  ] as const) {
    const map = resolution[field];
    if (typeof map !== "object" || map === null || Array.isArray(map)) continue;
    for (const [name, req] of Object.entries(map)) {
      deps.push({
        name,
        req,
        features: [],
        optional,
        default_features: true,
        target: null,
        kind: "normal",
      });
    }
  }
  return JSON.stringify({
    name: entry.name,
    vers: entry.version,
    deps,
    cksum: entry.artifact?.sha256,
    features: {},
    yanked,
  });
}

/** A package's index file from the state: one line per version, in publish order. */
function cargoFile(registry: Registry, name: string): Buffer {
  const lines = registry.state
    .table("npm")
    .versions(name)
    .map((row) => `${cargoLine(row.entry, row.deprecated !== null || row.unpublished !== null)}\n`);
  return Buffer.from(lines.join(""));
}

/** Every package's index file, from the final state: sizes, and gzipped as one stream and one by one. */
async function fullCargoIndex(registry: Registry): Promise<ScaleResult["cargoIndex"]> {
  const started = performance.now();
  const gzip = createGzip();
  let gzipBytes = 0;
  gzip.on("data", (chunk: Buffer) => {
    gzipBytes += chunk.length;
  });
  const ended = once(gzip, "end");
  let files = 0;
  let lines = 0;
  let bytes = 0;
  let perFileGzipBytes = 0;
  let current: string | undefined;
  let parts: string[] = [];
  const finish = async () => {
    if (current === undefined) return;
    const file = Buffer.from(parts.join(""));
    files++;
    bytes += file.length;
    perFileGzipBytes += gzipSync(file).length;
    if (!gzip.write(file)) await once(gzip, "drain");
    parts = [];
  };
  const rows = registry.state.db
    .prepare("SELECT name, entry, deprecated, unpublished FROM versions ORDER BY name, log_index")
    .iterate() as Iterable<{
    name: string;
    entry: string;
    deprecated: string | null;
    unpublished: string | null;
  }>;
  for (const row of rows) {
    if (row.name !== current) {
      await finish();
      current = row.name;
    }
    const entry = JSON.parse(row.entry) as PublishEntry;
    parts.push(`${cargoLine(entry, row.deprecated !== null || row.unpublished !== null)}\n`);
    lines++;
  }
  await finish();
  gzip.end();
  await ended;
  return { files, lines, bytes, gzipBytes, perFileGzipBytes, ms: performance.now() - started };
}

/**
 * `n` publishes after the build: new versions of packages drawn by
 * popularity (a patch above the highest version published), and about 5%
 * brand-new packages.
 */
function incrementalPublishes(
  registry: Registry,
  synthetic: SyntheticRegistry,
  n: number,
  seed: number,
  first = 0,
): { entries: PublishEntry[]; newPackages: number } {
  const random = synthetic.random(-1 - seed - first, 3);
  const highest = new Map<string, string>();
  const plans = new Map<number, PackagePlan>();
  const out: PublishEntry[] = [];
  let newPackages = 0;
  for (let i = first; i < first + n; i++) {
    const time = END_MS + 86_400_000 + i * 60_000;
    if (random() < 0.05) {
      const plan = synthetic.newPackagePlan(i, time);
      out.push(synthetic.publishEntry(plan, plan.versions[0], 0, 1));
      newPackages++;
      continue;
    }
    const index = synthetic.drawByPopularity(random);
    let plan = plans.get(index);
    if (!plan) {
      plan = synthetic.plan(index);
      plans.set(index, plan);
    }
    let top = highest.get(plan.name);
    if (top === undefined) {
      const versions = registry.state
        .table("npm")
        .versions(plan.name)
        .map((r) => r.version);
      top = semver.rsort(versions)[0];
    }
    const version = semver.inc(top, "patch") as string;
    highest.set(plan.name, version);
    const k = plan.versions.length;
    out.push(synthetic.publishEntry(plan, { version, tag: "latest", time }, k, k + 1));
  }
  return { entries: out, newPackages };
}

function report(r: ScaleResult): void {
  const b = r.build;
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const part = (p: Part) => [count(p.files), mib(p.bytes)];
  console.log(
    `\n${count(r.packages)} packages: ${count(b.publishes + b.deprecates + b.distTags)} package entries ` +
      `(${count(b.publishes)} publishes, ${count(b.deprecates)} deprecate, ${count(b.distTags)} dist-tag) ` +
      `and ${count(b.snapshots)} snapshot entries, log size ${count(b.logSize)}`,
  );
  console.log(
    `sequenced in ${seconds(b.ms)} (making entries ${seconds(b.generateMs)}): ` +
      `${count(b.entriesPerSecond)} entries/s; peak RSS ${mib(r.peakRss)}\n`,
  );
  printTable([
    ["on disk", "files", "bytes"],
    ["entry bundles (tile/entries/)", ...part(r.tree.bundles)],
    ["  full bundles only", "", mib(r.fullBundles.bytes)],
    ["  full bundles as one gzip stream", "", mib(r.fullBundles.gzipBytes)],
    ["hash tiles (tile/0/, tile/1/, ...)", ...part(r.tree.tiles)],
    ["package documents (blob/)", ...part(r.tree.documents)],
    ["snapshot shards (blob/)", ...part(r.tree.shards)],
    ["snapshot roots (blob/)", ...part(r.tree.roots)],
    ["checkpoint, lock (tree/)", ...part(r.tree.other)],
    ["tree, allocated", "", mib(r.tree.allocated)],
    ["SQLite state (state.sqlite*)", "", mib(r.stateBytes)],
    ["SQLite snapshot (core tables)", "", mib(r.database.rawBytes)],
    ["  as its zstd blob", "1", mib(r.database.blobBytes)],
    ["cargo-style index", count(r.cargoIndex.files), mib(r.cargoIndex.bytes)],
    ["  as one gzip stream", "", mib(r.cargoIndex.gzipBytes)],
    ["  gzipped file by file", "", mib(r.cargoIndex.perFileGzipBytes)],
  ]);
  console.log(
    `\nfinal snapshot: ${count(r.snapshot.shards)} shards, ${count(r.snapshot.packages)} packages, ` +
      `${kib(r.snapshot.averageShardBytes)} per shard; cargo-style index has ${count(r.cargoIndex.lines)} lines`,
  );
  const inc = r.incremental;
  console.log(
    `\n${count(inc.publishes)} more publishes (${count(inc.newPackages)} new packages, ` +
      `${count(inc.changedPackages)} packages changed): ${count(inc.entries)} log entries in ${seconds(inc.ms)}, ` +
      `groups of 10 p50 ${inc.groupLatencyP50.toFixed(1)} ms, p99 ${inc.groupLatencyP99.toFixed(1)} ms\n`,
  );
  printTable([
    ["for those publishes", "bytes", "per publish"],
    ...(
      [
        ["log growth: entry bundles (partials included)", inc.bundleBytes],
        ["log growth: hash tiles (partials included)", inc.tileBytes],
        ["entry bundles a client fetches", inc.clientBundleBytes],
        ["blob growth: package documents", inc.documentBytes],
        ["blob growth: snapshot shards", inc.shardBytes],
        ["blob growth: snapshot roots", inc.rootBytes],
        ["sparse protocol: changed index files", inc.sparseBytes],
        ["  gzipped", inc.sparseGzipBytes],
      ] as const
    ).map(([what, bytes]) => [what, kib(bytes), count(bytes / inc.publishes)]),
  ]);
  const g = r.gc;
  if (!g) {
    console.log(`\nin all ${seconds(r.ms)} (no garbage collection with --keep)`);
    return;
  }
  const perPublish = (bytes: number) => count(bytes / inc.publishes);
  const gcRow = (what: string, run: GcSummary) => [
    what,
    `${count(run.files)} files, ${mib(run.bytes)}`,
    `${seconds(run.ms)} (mark ${seconds(run.markMs)}, sweep ${seconds(run.sweepMs)})`,
    mib(run.peakRss),
  ];
  console.log("");
  printTable([
    ["garbage collection", "freed", "time", "peak RSS"],
    gcRow("of the build (grace 0, retain 0)", g.build),
    gcRow("after the publishes, default policy", g.defaultPolicy),
    gcRow("after the publishes, grace 0, retain 0", g.afterPublishes),
  ]);
  console.log("");
  const total = (k: GrowthByKind) => k.bundles + k.tiles + k.documents + k.shards + k.roots;
  printTable([
    ["tree growth per publish after GC", "default policy (transient)", "grace 0, retain 0"],
    ...(["bundles", "tiles", "documents", "shards", "roots"] as const).map((k) => [
      k,
      perPublish(g.transient[k]),
      perPublish(g.retained[k]),
    ]),
    ["total", perPublish(total(g.transient)), perPublish(total(g.retained))],
  ]);
  console.log(
    `\n${count(inc.publishes)} more publishes while ${count(g.loopRuns)} collections ran back to back: ` +
      `groups of 10 p50 ${g.groupLatencyP50.toFixed(1)} ms, p99 ${g.groupLatencyP99.toFixed(1)} ms ` +
      `(without GC: p50 ${inc.groupLatencyP50.toFixed(1)} ms, p99 ${inc.groupLatencyP99.toFixed(1)} ms)`,
  );
  console.log(`\nin all ${seconds(r.ms)}`);
}
