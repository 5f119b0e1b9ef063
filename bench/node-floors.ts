/**
 * What Node itself costs for the work every installer of the corpus app
 * must do, measured on this machine: the floor under any installer
 * written for Node, whatever its design. bench/install.ts prints these
 * beside the fastest other tool's times.
 *
 * - start: `node -e 0`, the whole process (what a no-op can never beat);
 * - linking: a node_modules tree re-made from hard links, one
 *   `mkdirSync` per folder and one `linkSync` per file (Node has no call
 *   that links relative to an open folder, or many at once), on one
 *   thread and split by package over two worker threads;
 * - unpacking: every corpus tarball inflated (node:zlib), its SHA-512
 *   taken and each file's SHA-256 (the per-file store needs them), on one
 *   thread, in CPU time.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { gunzipSync } from "node:zlib";

export interface NodeFloors {
  /** Median wall time of `node -e 0`. */
  readonly startMs: number;
  /** Files and folders of the tree linked. */
  readonly files: number;
  readonly folders: number;
  /** Median wall time to link the tree on one thread. */
  readonly linkOneThreadMs: number;
  /** Median wall time on two worker threads, their start included. */
  readonly linkTwoThreadsMs: number;
  /** The same, the slower thread's own time alone (as if started beforehand). */
  readonly linkTwoThreadsOwnMs: number;
  /** CPU time to inflate and hash every tarball, on one thread. */
  readonly unpackCpuMs: number;
  readonly tarballs: number;
}

/** One step of a tree to re-make: a folder, or a file linked from `source`. */
type Step = readonly ["folder" | "file", string];

const ROUNDS = 3;

export async function measureNodeFloors(
  tree: string,
  scratch: string,
  tarballDir: string,
): Promise<NodeFloors> {
  const starts: number[] = [];
  for (let i = 0; i < 11; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ["-e", "0"]);
    if (r.status !== 0) throw new Error(`node -e 0 exited with ${r.status}`);
    starts.push(performance.now() - t0);
  }
  const packages = treeSteps(tree);
  const all = packages.flat();
  const one: number[] = [];
  const two: number[] = [];
  const twoOwn: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const target = join(scratch, `link-floor-${round}`);
    mkdirSync(target);
    const t0 = performance.now();
    runSteps(all, tree, target);
    one.push(performance.now() - t0);
    rmSync(target, { recursive: true });
    mkdirSync(target);
    const halves: Step[][] = [[], []];
    packages.forEach((steps, i) => {
      halves[i % 2].push(...steps);
    });
    const t1 = performance.now();
    const own = await Promise.all(halves.map((steps) => onThread(steps, tree, target)));
    two.push(performance.now() - t1);
    twoOwn.push(Math.max(...own));
    rmSync(target, { recursive: true });
  }
  const { cpuMs, tarballs } = unpackCpu(tarballDir);
  return {
    startMs: median(starts),
    files: all.filter(([kind]) => kind === "file").length,
    folders: all.filter(([kind]) => kind === "folder").length,
    linkOneThreadMs: median(one),
    linkTwoThreadsMs: median(two),
    linkTwoThreadsOwnMs: median(twoOwn),
    unpackCpuMs: cpuMs,
    tarballs,
  };
}

/** The tree's folders and regular files, parents first, grouped by top-level package. */
function treeSteps(tree: string): Step[][] {
  const groups: Step[][] = [];
  const walk = (rel: string, into: Step[]) => {
    for (const e of readdirSync(join(tree, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        into.push(["folder", path]);
        walk(path, into);
      } else if (e.isFile()) into.push(["file", path]);
    }
  };
  for (const e of readdirSync(tree, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const steps: Step[] = [["folder", e.name]];
    walk(e.name, steps);
    groups.push(steps);
  }
  return groups;
}

function runSteps(steps: readonly Step[], from: string, to: string): void {
  for (const [kind, path] of steps) {
    if (kind === "folder") mkdirSync(`${to}/${path}`);
    else linkSync(`${from}/${path}`, `${to}/${path}`);
  }
}

function onThread(steps: readonly Step[], from: string, to: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { steps, from, to } });
    worker.once("message", resolve);
    worker.once("error", reject);
  });
}

if (!isMainThread && workerData?.steps) {
  const t0 = performance.now();
  runSteps(workerData.steps, workerData.from, workerData.to);
  parentPort?.postMessage(performance.now() - t0);
}

/** Inflates each tarball, takes its SHA-512 and each file's SHA-256 (ustar headers walked). */
function unpackCpu(dir: string): { cpuMs: number; tarballs: number } {
  const files = readdirSync(dir).filter((f) => f.endsWith(".tgz"));
  const bytes = files.map((f) => readFileSync(join(dir, f)));
  const before = process.cpuUsage();
  for (const gz of bytes) {
    createHash("sha512").update(gz).digest();
    const tar = gunzipSync(gz);
    for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
      const header = tar.subarray(at, at + 512);
      const size = Number.parseInt(header.subarray(124, 136).toString("latin1").trim(), 8) || 0;
      at += 512;
      // A regular file ('0' or NUL): the store hashes it; other entries are skipped.
      if (header[156] === 48 || header[156] === 0)
        createHash("sha256")
          .update(tar.subarray(at, at + size))
          .digest();
      at += Math.ceil(size / 512) * 512;
    }
  }
  const used = process.cpuUsage(before);
  return { cpuMs: (used.user + used.system) / 1000, tarballs: files.length };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}
