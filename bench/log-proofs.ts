/**
 * Proof throughput from tiles: on a log built by the appender, computes and
 * verifies inclusion proofs for random entries through a TileHashReader over
 * a DirectorySource, as a client or mirror does, and consistency proofs
 * between random pairs of checkpoints the log actually published.
 *
 *   node bench/log-proofs.ts [--entries 1000000] [--proofs 10000] [--consistency 1000]
 *                            [--batch 256] [--keep | --reuse DIR]
 *
 * "cold": a new reader per proof, so every proof fetches and authenticates
 * its tiles (edge tiles against the root, full tiles against their parents).
 * "warm": one reader for all proofs, which keeps every tile it authenticated.
 * Tiles come from the page cache either way: "cold" is about the reader's
 * cache, not the disk's.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  Appender,
  DirectorySource,
  FsLogStorage,
  type Hash,
  type LogSource,
  leafHash,
  parseVerifierKey,
  proveConsistency,
  proveInclusion,
  readCheckpoint,
  TileHashReader,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from "../src/log/index.ts";
import {
  benchKeys,
  count,
  emitResult,
  entry,
  makeWorkDir,
  mib,
  ORIGIN,
  peakRss,
  percentile,
  positiveInt,
  prng,
  removeDir,
  seconds,
} from "./common.ts";

export interface ProofRun {
  readonly proofs: number;
  readonly ms: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly tileReads: number;
  readonly tileBytes: number;
}

export interface ProofsResult {
  readonly bench: "log-proofs";
  readonly entries: number;
  /** Time to build the log (durable: false); 0 when reused. */
  readonly buildMs: number;
  readonly inclusionCold: ProofRun;
  readonly inclusionWarm: ProofRun;
  readonly consistencyCold: ProofRun;
  readonly peakRssBytes: number;
}

/** The log under test, as a verified checkpoint gives it. */
interface Tree {
  readonly size: number;
  readonly root: Hash;
  readonly source: CountingSource;
}

/** What --keep leaves beside the log so that --reuse can check it. */
interface Meta {
  readonly verifierKey: string;
  readonly batch: number;
}

/** Counts what the readers fetch, to show what "cold" and "warm" cost in tiles. */
class CountingSource implements LogSource {
  readonly name: string;
  readonly #inner: LogSource;
  reads = 0;
  bytes = 0;

  constructor(inner: LogSource) {
    this.#inner = inner;
    this.name = inner.name;
  }

  async read(path: string, maxBytes: number): Promise<Uint8Array> {
    const data = await this.#inner.read(path, maxBytes);
    this.reads++;
    this.bytes += data.length;
    return data;
  }
}

const { values } = parseArgs({
  options: {
    entries: { type: "string" },
    proofs: { type: "string" },
    consistency: { type: "string" },
    batch: { type: "string" },
    keep: { type: "boolean", default: false },
    reuse: { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  console.log(
    "usage: node bench/log-proofs.ts [--entries N=1000000] [--proofs N=10000] [--consistency N=1000]\n" +
      "                             [--batch N=256] [--seed N=1] [--keep | --reuse DIR] [--json]",
  );
  process.exit(0);
}

const proofCount = positiveInt("proofs", values.proofs, 10_000);
const consistencyCount = positiveInt("consistency", values.consistency, 1000);
const seed = positiveInt("seed", values.seed, 1);

const workDir = values.reuse ?? (await makeWorkDir("proofs"));
const logDir = join(workDir, "log");
try {
  let buildMs = 0;
  let meta: Meta;
  if (values.reuse) {
    meta = JSON.parse(await readFile(join(workDir, "meta.json"), "utf8"));
    console.log(`log-proofs: reusing the log in ${logDir}`);
  } else {
    const entries = positiveInt("entries", values.entries, 1_000_000);
    const batch = positiveInt("batch", values.batch, 256);
    console.log(`log-proofs: building a log of ${count(entries)} entries (durable: false)`);
    const built = await build(entries, batch);
    buildMs = built.ms;
    meta = { verifierKey: built.verifierKey, batch };
    await writeFile(join(workDir, "meta.json"), `${JSON.stringify(meta)}\n`);
    console.log(`  built in ${seconds(buildMs)} (${count(entries / (buildMs / 1000))} entries/s)`);
  }

  // The only trusted input: the size and root of a checkpoint signed by the log's key.
  const source = new CountingSource(new DirectorySource(logDir));
  const verifier = parseVerifierKey(meta.verifierKey);
  const { size, root } = await readCheckpoint(source, [verifier], ORIGIN);
  const tree: Tree = { size, root, source };

  const rng = prng(seed);
  const indexes = Array.from({ length: proofCount }, () => Math.floor(rng() * size));
  const inclusionCold = await inclusion("inclusion, cold reader", tree, indexes, true);
  const inclusionWarm = await inclusion("inclusion, warm reader", tree, indexes, false);
  const consistencyCold = await consistency(tree, meta.batch, rng);

  const result: ProofsResult = {
    bench: "log-proofs",
    entries: size,
    buildMs,
    inclusionCold,
    inclusionWarm,
    consistencyCold,
    peakRssBytes: peakRss(),
  };
  console.log(`  peak RSS ${mib(result.peakRssBytes)}`);
  if (values.keep) console.log(`  kept the log in ${workDir}; run again with --reuse ${workDir}`);
  if (values.json) emitResult(result);
} finally {
  if (!values.keep && !values.reuse) await removeDir(workDir);
}

/** Appends `entries` benchmark entries as fast as the appender goes. */
async function build(entries: number, batch: number): Promise<{ ms: number; verifierKey: string }> {
  const { signer, verifier, verifierKey } = benchKeys();
  const storage = await FsLogStorage.open(logDir, { durable: false });
  try {
    const appender = await Appender.open(storage, { origin: ORIGIN, signer, verifier });
    const start = performance.now();
    for (let first = 0; first < entries; first += batch) {
      const items: Uint8Array[] = [];
      for (let i = first; i < Math.min(first + batch, entries); i++) items.push(entry(i));
      await appender.append(items);
    }
    return { ms: performance.now() - start, verifierKey };
  } finally {
    await storage.close();
  }
}

async function inclusion(
  label: string,
  { size, root, source }: Tree,
  indexes: readonly number[],
  cold: boolean,
): Promise<ProofRun> {
  const shared = new TileHashReader(size, root, source);
  const latencies: number[] = [];
  const reads = source.reads;
  const bytes = source.bytes;
  const start = performance.now();
  for (const index of indexes) {
    // The entry is what a client holds already; making it is not part of the proof.
    const leaf = entry(index);
    const t0 = performance.now();
    const reader = cold ? new TileHashReader(size, root, source) : shared;
    const proof = await proveInclusion(index, size, reader);
    verifyInclusion(index, size, leafHash(leaf), proof, root);
    latencies.push(performance.now() - t0);
  }
  const ms = performance.now() - start;
  return report(label, latencies, ms, source.reads - reads, source.bytes - bytes);
}

/**
 * Consistency between two checkpoints the log published: sizes at batch
 * boundaries, the only sizes whose partial tiles exist. A TileHashReader is
 * bound to one tree, so each proof gets a new reader for the larger size,
 * authenticated by that size's root, as a witness holding that checkpoint would.
 */
async function consistency(
  { size, root, source }: Tree,
  batch: number,
  rng: () => number,
): Promise<ProofRun> {
  const published = Math.ceil(size / batch);
  const sizeAt = (i: number) => Math.min((i + 1) * batch, size);
  // Roots of the earlier checkpoints, computed from tiles of the latest one (not timed).
  const full = new TileHashReader(size, root, source);
  const pairs: { m: number; n: number; rootM: Hash; rootN: Hash }[] = [];
  while (pairs.length < consistencyCount && published >= 2) {
    const a = Math.floor(rng() * published);
    const b = Math.floor(rng() * published);
    if (a === b) continue;
    const m = sizeAt(Math.min(a, b));
    const n = sizeAt(Math.max(a, b));
    pairs.push({ m, n, rootM: await treeHash(m, full), rootN: await treeHash(n, full) });
  }
  const latencies: number[] = [];
  const reads = source.reads;
  const bytes = source.bytes;
  const start = performance.now();
  for (const { m, n, rootM, rootN } of pairs) {
    const t0 = performance.now();
    const reader = new TileHashReader(n, rootN, source);
    const proof = await proveConsistency(m, n, reader);
    verifyConsistency(m, n, proof, rootM, rootN);
    latencies.push(performance.now() - t0);
  }
  const ms = performance.now() - start;
  return report(
    "consistency, cold reader",
    latencies,
    ms,
    source.reads - reads,
    source.bytes - bytes,
  );
}

function report(
  label: string,
  latencies: number[],
  ms: number,
  tileReads: number,
  tileBytes: number,
): ProofRun {
  latencies.sort((a, b) => a - b);
  const proofs = latencies.length;
  const run: ProofRun = {
    proofs,
    ms,
    perSecond: proofs / (ms / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    tileReads,
    tileBytes,
  };
  console.log(
    `  ${label}: ${count(proofs)} proofs in ${seconds(ms)}, ${count(run.perSecond)}/s, ` +
      `p50 ${run.p50Ms.toFixed(3)} ms, p99 ${run.p99Ms.toFixed(3)} ms, ` +
      `${(tileReads / Math.max(1, proofs)).toFixed(2)} tile reads per proof (${mib(tileBytes)})`,
  );
  return run;
}
