/**
 * Append throughput of the log core: sequences small entries in batches into
 * a fresh directory through Appender and FsLogStorage, so every batch writes
 * its bundles, hash tiles and signed checkpoint as files, then reopens the
 * log to show that recovery finds the same tree.
 *
 *   node bench/log-append.ts [--entries 1000000] [--batch 256] [--mode both|durable|fast] [--keep]
 *
 * `--mode both` (the default) runs each mode in its own child process, so
 * that each reports its own peak RSS, and removes both trees at the end.
 * `--keep` leaves the trees in the work directory for a look.
 */
import { parseArgs } from "node:util";
import { Appender, FsLogStorage, type NoteSigner, type NoteVerifier } from "../src/log/index.ts";
import {
  benchKeys,
  count,
  type DiskUsage,
  diskUsage,
  emitResult,
  entry,
  makeWorkDir,
  mib,
  ORIGIN,
  peakRss,
  percentile,
  positiveInt,
  printTable,
  removeDir,
  runChild,
  seconds,
} from "./common.ts";

export interface AppendResult {
  readonly bench: "log-append";
  readonly durable: boolean;
  readonly entries: number;
  readonly batch: number;
  /** The whole append loop, making the entries included. */
  readonly wallMs: number;
  /** Time spent awaiting Appender.append, the harness's entry making left out. */
  readonly appendMs: number;
  /** entries / appendMs: the headline figure. */
  readonly entriesPerSecond: number;
  readonly wallEntriesPerSecond: number;
  readonly generateMs: number;
  /** CPU time of the process (all threads) during the loop. */
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  readonly batchP50Ms: number;
  readonly batchP99Ms: number;
  readonly recoverMs: number;
  /** RSS before the first append: Node, the TypeScript stripper and the log modules. */
  readonly startRssBytes: number;
  readonly peakRssBytes: number;
  readonly disk: DiskUsage;
  /** The log's directory, when kept. */
  readonly dir?: string;
}

const { values } = parseArgs({
  options: {
    entries: { type: "string" },
    batch: { type: "string" },
    mode: { type: "string", default: "both" },
    json: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  console.log(
    "usage: node bench/log-append.ts [--entries N=1000000] [--batch N=256] [--mode both|durable|fast] [--keep] [--json]",
  );
  process.exit(0);
}

const entries = positiveInt("entries", values.entries, 1_000_000);
const batch = positiveInt("batch", values.batch, 256);

switch (values.mode) {
  case "durable":
  case "fast": {
    const result = await run(values.mode === "durable");
    if (values.json) emitResult(result);
    break;
  }
  case "both": {
    const results: AppendResult[] = [];
    try {
      for (const mode of ["durable", "fast"]) {
        // The children keep their trees and this process removes them at the end:
        // deleting thousands of files slows the file creates of the next run on
        // some file systems (see README), which would penalize the second mode.
        const args = ["--mode", mode, "--entries", `${entries}`, "--batch", `${batch}`, "--keep"];
        results.push(...(await runChild<AppendResult>(process.argv[1], args)));
      }
    } finally {
      if (!values.keep) for (const r of results) if (r.dir) await removeDir(r.dir);
    }
    console.log();
    printTable([
      ["mode", "entries/s", "append time", "batch p50/p99", "peak RSS", "on disk"],
      ...results.map((r) => [
        r.durable ? "durable" : "fast",
        count(r.entriesPerSecond),
        seconds(r.appendMs),
        `${r.batchP50Ms.toFixed(2)}/${r.batchP99Ms.toFixed(2)} ms`,
        mib(r.peakRssBytes),
        mib(r.disk.allocated),
      ]),
    ]);
    if (values.json) for (const r of results) emitResult(r);
    break;
  }
  default:
    throw new Error(`--mode must be both, durable or fast, got ${values.mode}`);
}

async function run(durable: boolean): Promise<AppendResult> {
  const startRssBytes = process.memoryUsage().rss;
  const { signer, verifier } = benchKeys();
  const label = durable ? "durable (fsync)" : "fast (no fsync)";
  const dir = await makeWorkDir(durable ? "append-durable" : "append-fast");
  let done = false;
  try {
    console.log(`log-append ${label}: ${count(entries)} entries in batches of ${batch}`);
    const appended = await appendAll(dir, durable, signer, verifier);
    const disk = await diskUsage(dir);
    const recoverMs = await recover(dir, durable, signer, verifier, appended.root);
    const result: AppendResult = {
      bench: "log-append",
      durable,
      entries,
      batch,
      wallMs: appended.wallMs,
      appendMs: appended.appendMs,
      entriesPerSecond: entries / (appended.appendMs / 1000),
      wallEntriesPerSecond: entries / (appended.wallMs / 1000),
      generateMs: appended.generateMs,
      cpuUserMs: appended.cpu.user / 1000,
      cpuSystemMs: appended.cpu.system / 1000,
      batchP50Ms: percentile(appended.batchMs, 50),
      batchP99Ms: percentile(appended.batchMs, 99),
      recoverMs,
      startRssBytes,
      peakRssBytes: peakRss(),
      disk,
      dir: values.keep ? dir : undefined,
    };
    console.log(
      `  ${count(result.entriesPerSecond)} entries/s in append (${seconds(result.appendMs)}); ${count(result.wallEntriesPerSecond)}/s over the whole loop (${seconds(result.wallMs)}, making entries took ${seconds(result.generateMs)})`,
    );
    console.log(
      `  batch latency p50 ${result.batchP50Ms.toFixed(2)} ms, p99 ${result.batchP99Ms.toFixed(2)} ms; CPU user ${seconds(result.cpuUserMs)}, system ${seconds(result.cpuSystemMs)}`,
    );
    console.log(
      `  on disk: ${count(disk.files)} files, ${mib(disk.bytes)} of data, ${mib(disk.allocated)} allocated`,
    );
    console.log(`  reopened and recovered in ${result.recoverMs.toFixed(1)} ms`);
    console.log(`  peak RSS ${mib(result.peakRssBytes)} (${mib(startRssBytes)} before appending)`);
    done = true;
    return result;
  } finally {
    // A failed run never leaves its directory behind, even with --keep.
    if (!values.keep || !done) await removeDir(dir);
    // With --json the caller (log-append --mode both) removes it later, so say nothing.
    else if (!values.json) console.log(`  kept the log in ${dir}`);
  }
}

async function appendAll(
  dir: string,
  durable: boolean,
  signer: NoteSigner,
  verifier: NoteVerifier,
): Promise<{
  wallMs: number;
  appendMs: number;
  generateMs: number;
  batchMs: number[];
  cpu: NodeJS.CpuUsage;
  root: Uint8Array;
}> {
  const storage = await FsLogStorage.open(dir, { durable });
  const appender = await Appender.open(storage, { origin: ORIGIN, signer, verifier });
  const batchMs: number[] = [];
  let generateMs = 0;
  let appendMs = 0;
  let nextReport = entries / 10;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let first = 0; first < entries; first += batch) {
    const t0 = performance.now();
    const items: Uint8Array[] = [];
    for (let i = first; i < Math.min(first + batch, entries); i++) items.push(entry(i));
    const t1 = performance.now();
    const { size } = await appender.append(items);
    const t2 = performance.now();
    generateMs += t1 - t0;
    appendMs += t2 - t1;
    batchMs.push(t2 - t1);
    if (size >= nextReport && size < entries) {
      // Progress on stderr, so a long durable run visibly moves.
      const rate = size / ((t2 - start) / 1000);
      process.stderr.write(`  ... ${count(size)} entries, ${count(rate)}/s\n`);
      nextReport += entries / 10;
    }
  }
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  if (appender.size !== entries) throw new Error(`log has ${appender.size} entries`);
  const root = appender.root;
  await storage.close();
  batchMs.sort((a, b) => a - b);
  return { wallMs, appendMs, generateMs, batchMs, cpu, root };
}

/**
 * Reopens the log as a restarted server would: the appender rebuilds its
 * state from the checkpoint and the partial tiles and bundle, checked against
 * the signed root. One more entry is appended to show the log goes on.
 */
async function recover(
  dir: string,
  durable: boolean,
  signer: NoteSigner,
  verifier: NoteVerifier,
  root: Uint8Array,
): Promise<number> {
  const start = performance.now();
  const storage = await FsLogStorage.open(dir, { durable });
  try {
    const appender = await Appender.open(storage, { origin: ORIGIN, signer, verifier });
    const ms = performance.now() - start;
    if (appender.size !== entries || !Buffer.from(appender.root).equals(root)) {
      throw new Error(`recovered size ${appender.size} or root differs from what was appended`);
    }
    const { size } = await appender.append([entry(entries)]);
    if (size !== entries + 1) throw new Error(`append after recovery gave size ${size}`);
    return ms;
  } finally {
    await storage.close();
  }
}
