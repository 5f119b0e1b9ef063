/**
 * Witnesses, measured on this machine (issue 18):
 *
 * 1. add-checkpoint throughput of one `cairn witness serve` (durable SQLite
 *    store) over 1, 8 and 64 keep-alive connections, for one log and for
 *    100 logs. With one log, concurrent requests race for one size: one
 *    wins each step and the others get 409 (counted apart).
 * 2. npm publish latency (p50, p99) at 1, 10 and 50 concurrent publishers
 *    against `cairn serve` with no witness and with 3 `cairn witness`
 *    processes on loopback, quorum 3: each acknowledgement waits for the
 *    three cosignatures. The target: p99 at 50 publishers with 3
 *    witnesses within 1.5x of the run without.
 *
 *   node bench/witness.ts            # full run
 *   node bench/witness.ts --quick    # smoke run
 */
import { mkdir } from "node:fs/promises";
import { Agent } from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  consistencyProofNodes,
  formatAddCheckpointRequest,
  formatCheckpoint,
  generateKey,
  type Hash,
  leafHash,
  nodeHash,
  parseSignerKey,
  signNote,
} from "../src/log/index.ts";
import {
  count,
  emitResult,
  entry,
  makeWorkDir,
  percentile,
  printTable,
  removeDir,
} from "./common.ts";
import {
  http,
  type Proc,
  peakRssOf,
  REPO_DIR,
  runToEnd,
  startProcess,
  stopProcess,
  waitForOutput,
} from "./processes.ts";
import {
  addUser,
  FULL,
  PUBLISH_LEVELS,
  publishLoad,
  publishPlan,
  publishReadPackage,
  QUICK,
  startCairn,
} from "./registry-vs-verdaccio.ts";

export interface ThroughputRun {
  readonly logs: number;
  readonly connections: number;
  readonly cosigned: number;
  readonly conflicts: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface LatencyRun {
  readonly witnesses: number;
  readonly publishers: number;
  readonly publishes: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface WitnessBenchResult {
  readonly bench: "witness";
  readonly quick: boolean;
  readonly throughput: readonly ThroughputRun[];
  readonly latency: readonly LatencyRun[];
  /** p99 at 50 publishers with 3 witnesses over p99 without. */
  readonly ratio50: number;
  readonly witnessPeakRssBytes: number;
}

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const quick = values.quick ?? false;
const CLI = join(REPO_DIR, "bin", "cairn.ts");
const TREE_LEAVES = 2 ** 16;
const STEP = 4;
const THROUGHPUT_MS = quick ? 1500 : 5000;

/** Every level of a perfect tree over the bench entries, for proofs without storage. */
function treeLevels(leaves: number): Hash[][] {
  const levels: Hash[][] = [Array.from({ length: leaves }, (_, i) => leafHash(entry(i)))];
  while (levels[levels.length - 1].length > 1) {
    const below = levels[levels.length - 1];
    levels.push(
      Array.from({ length: below.length / 2 }, (_, i) => nodeHash(below[2 * i], below[2 * i + 1])),
    );
  }
  return levels;
}

/** RFC 6962 root of the first `size` leaves from the levels (size > 0). */
function rootOf(levels: Hash[][], size: number): Hash {
  // The complete subtrees of [0, size), largest first, folded from the right.
  const parts: Hash[] = [];
  let start = 0;
  for (let level = levels.length - 1; level >= 0; level--) {
    const width = 2 ** level;
    if (size - start >= width) {
      parts.push(levels[level][start / width]);
      start += width;
    }
  }
  let root = parts[parts.length - 1];
  for (let i = parts.length - 2; i >= 0; i--) root = nodeHash(parts[i], root);
  return root;
}

async function startWitness(
  dir: string,
  logKeys: readonly string[],
): Promise<{ proc: Proc; url: string }> {
  await runToEnd(
    "cairn witness init",
    process.execPath,
    [
      CLI,
      "witness",
      "init",
      "--name",
      `bench.witness.example/${dir.split("/").pop()}`,
      "--data",
      dir,
    ],
    { logFile: join(dir, "..", `${dir.split("/").pop()}-init.log`) },
  );
  const args = [CLI, "witness", "serve", "--data", dir, "--port", "0"];
  for (const key of logKeys) args.push("--log", key);
  const proc = startProcess("cairn witness", process.execPath, args, {
    logFile: join(dir, "..", `${dir.split("/").pop()}.log`),
  });
  const ready = await waitForOutput(proc, /listening on (http:\/\/\S+)\n/);
  return { proc, url: ready[1] };
}

async function throughput(work: string): Promise<{ runs: ThroughputRun[]; rss: number }> {
  const levels = treeLevels(TREE_LEAVES);
  const logs = Array.from({ length: 100 }, (_, i) => {
    const { signerKey, verifierKey } = generateKey(`bench.cairn.example/log${i}`);
    return {
      signer: parseSignerKey(signerKey),
      verifierKey,
      origin: `bench.cairn.example/log${i}`,
    };
  });
  const dir = join(work, "throughput-witness");
  await mkdir(dir, { recursive: true });
  const witness = await startWitness(
    dir,
    logs.map((l) => l.verifierKey),
  );
  const runs: ThroughputRun[] = [];
  /** Each log's next size, shared by the connections that drive it. */
  const sizes = new Map<number, number>();
  const body = (log: number, old: number, size: number) => {
    const proofNodes = old === 0 ? [] : consistencyProofNodes(old, size);
    const proof = proofNodes.map((n) => levels[n.level][n.index]);
    const l = logs[log];
    const checkpoint = signNote(
      formatCheckpoint({ origin: l.origin, size, root: rootOf(levels, size), extensions: [] }),
      [l.signer],
    );
    return formatAddCheckpointRequest({ oldSize: old, proof, checkpoint });
  };
  try {
    for (const logCount of [1, 100]) {
      for (const connections of [1, 8, 64]) {
        const agent = new Agent({ keepAlive: true, maxSockets: connections });
        const latencies: number[] = [];
        let cosigned = 0;
        let conflicts = 0;
        const started = performance.now();
        const deadline = started + THROUGHPUT_MS;
        await Promise.all(
          Array.from({ length: connections }, async (_, c) => {
            for (let k = 0; performance.now() < deadline; k++) {
              const log = (c + k * connections) % logCount;
              const old = sizes.get(log) ?? 0;
              if (old + STEP > TREE_LEAVES) return;
              const t0 = performance.now();
              const res = await http(
                agent,
                `${witness.url}/add-checkpoint`,
                "POST",
                {},
                body(log, old, old + STEP),
              );
              latencies.push(performance.now() - t0);
              if (res.status === 200) {
                cosigned++;
                sizes.set(log, Math.max(sizes.get(log) ?? 0, old + STEP));
              } else if (res.status === 409) {
                conflicts++;
                sizes.set(log, Math.max(sizes.get(log) ?? 0, Number(res.body.toString())));
              } else throw new Error(`witness answered ${res.status}: ${res.body}`);
            }
          }),
        );
        const ms = performance.now() - started;
        agent.destroy();
        latencies.sort((a, b) => a - b);
        const run = {
          logs: logCount,
          connections,
          cosigned,
          conflicts,
          perSecond: cosigned / (ms / 1000),
          p50Ms: percentile(latencies, 50),
          p99Ms: percentile(latencies, 99),
        };
        console.log(
          `witness: ${logCount} log(s), ${connections} connection(s): ${count(run.perSecond)} cosignatures/s ` +
            `(${conflicts} 409s), p50 ${run.p50Ms.toFixed(1)} ms, p99 ${run.p99Ms.toFixed(1)} ms`,
        );
        runs.push(run);
      }
    }
    return { runs, rss: await peakRssOf(witness.proc.child.pid) };
  } finally {
    await stopProcess(witness.proc);
  }
}

async function latency(work: string, witnesses: number): Promise<LatencyRun[]> {
  const dataDir = join(work, `origin-${witnesses}`);
  const keyRun = await runToEnd("cairn key", process.execPath, [CLI, "key", "--data", dataDir], {
    logFile: join(work, `key-${witnesses}.log`),
  });
  const logKey = keyRun.out.stdout.trim();
  const started: { proc: Proc; url: string; vkey: string }[] = [];
  const runs: LatencyRun[] = [];
  try {
    for (let i = 0; i < witnesses; i++) {
      const dir = join(work, `w${witnesses}-${i}`);
      await mkdir(dir, { recursive: true });
      const w = await startWitness(dir, [logKey]);
      const vkey = /verifier key: (\S+)/.exec(w.proc.out.stdout)?.[1] ?? "";
      started.push({ ...w, vkey });
    }
    const flags = started.flatMap((w) => ["--witness", `${w.url}=${w.vkey}`]);
    const server = await startCairn(
      dataDir,
      { cpuProfDir: undefined, cairnCli: CLI, cairnDurable: true },
      flags,
    );
    try {
      server.token = await addUser(server, "bench");
      await publishReadPackage(server);
      const settings = quick ? QUICK : FULL;
      for (const level of PUBLISH_LEVELS) {
        const r = await publishLoad(
          server,
          publishPlan(level, settings.publishes[level]),
          settings.publishCapMs,
        );
        console.log(
          `publish, ${witnesses} witnesses, ${level} publishers: ${count(r.perSecond)}/s, ` +
            `p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms (${r.publishes} publishes)`,
        );
        runs.push({ witnesses, publishers: level, ...r });
      }
    } finally {
      await stopProcess(server.process);
    }
  } finally {
    for (const w of started) await stopProcess(w.proc);
  }
  return runs;
}

const work = await makeWorkDir("witness-");
try {
  const { runs: throughputRuns, rss } = await throughput(work);
  const latencyRuns = [...(await latency(work, 0)), ...(await latency(work, 3))];
  const p99 = (w: number) =>
    latencyRuns.find((r) => r.witnesses === w && r.publishers === 50)?.p99Ms ?? Number.NaN;
  const ratio50 = p99(3) / p99(0);
  const result: WitnessBenchResult = {
    bench: "witness",
    quick,
    throughput: throughputRuns,
    latency: latencyRuns,
    ratio50,
    witnessPeakRssBytes: rss,
  };
  if (values.json) emitResult(result);
  else {
    printTable([
      ["publishers", "0 witnesses p50/p99 ms", "3 witnesses p50/p99 ms"],
      ...PUBLISH_LEVELS.map((level) => {
        const cell = (w: number) => {
          const r = latencyRuns.find((x) => x.witnesses === w && x.publishers === level);
          return r ? `${r.p50Ms.toFixed(1)} / ${r.p99Ms.toFixed(1)}` : "";
        };
        return [`${level}`, cell(0), cell(3)];
      }),
    ]);
    console.log(
      `p99 at 50 publishers, 3 witnesses / none: ${ratio50.toFixed(2)}x (target <= 1.5x)`,
    );
  }
} finally {
  await removeDir(work);
}
