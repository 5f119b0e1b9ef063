/**
 * Shared helpers for the benchmarks: deterministic entries and randomness,
 * work directories, disk usage, formatting, and the one-line JSON result that
 * bench/run.ts collects from each child process.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  generateKey,
  type NoteSigner,
  type NoteVerifier,
  parseSignerKey,
  parseVerifierKey,
} from "../src/log/index.ts";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
/**
 * Where runs make their directories, and remove them: bench/.work (gitignored),
 * or $CAIRN_BENCH_WORK, say a tmpfs such as /dev/shm to take the disk out.
 */
export const WORK_DIR = resolve(process.env.CAIRN_BENCH_WORK ?? join(BENCH_DIR, ".work"));
/** run.ts picks the line that starts with this out of a child's stdout. */
export const RESULT_MARKER = "@@bench-result ";

const encoder = new TextEncoder();

/** A 32-bit integer hash (lowbias32), so entries look random but are reproducible. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Two hex digits per byte value: toString(16) + padStart showed up in the append profile. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex32(x: number): string {
  return HEX[x >>> 24] + HEX[(x >>> 16) & 0xff] + HEX[(x >>> 8) & 0xff] + HEX[x & 0xff];
}

/**
 * Entry `i` of the benchmark log: a publish-like JSON record of 87 to 94 bytes
 * (93 on average). A pure function of `i`, so the proof benchmark can make the
 * leaf it checks again without keeping a million entries in memory.
 */
export function entryText(i: number): string {
  const h = mix32(i + 1);
  const digest = hex32(h) + hex32(mix32(h ^ 0x9e3779b9));
  return `{"seq":${i},"op":"publish","name":"pkg-${h % 50_000}","version":"1.${h % 97}.${i % 1000}","sha":"${digest}"}`;
}

export function entry(i: number): Uint8Array {
  return encoder.encode(entryText(i));
}

export const ORIGIN = "bench.cairn.example/log";

/** A fresh signing key for the benchmark log. */
export function benchKeys(): { signer: NoteSigner; verifier: NoteVerifier; verifierKey: string } {
  const { signerKey, verifierKey } = generateKey(ORIGIN);
  return {
    signer: parseSignerKey(signerKey),
    verifier: parseVerifierKey(verifierKey),
    verifierKey,
  };
}

/** A small seeded PRNG (mulberry32): the same seed picks the same indexes every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh directory under bench/.work. */
export async function makeWorkDir(prefix: string): Promise<string> {
  await mkdir(WORK_DIR, { recursive: true });
  return mkdtemp(join(WORK_DIR, `${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  // Refuse anything outside the work directory: these paths can come from flags.
  if (!resolve(dir).startsWith(`${WORK_DIR}/`)) throw new Error(`refusing to remove ${dir}`);
  await rm(dir, { recursive: true, force: true });
}

export interface DiskUsage {
  readonly files: number;
  /** Sum of file lengths: what a mirror would transfer. */
  readonly bytes: number;
  /** Blocks the file system allocated (st_blocks * 512), files and directories. */
  readonly allocated: number;
}

export async function diskUsage(dir: string): Promise<DiskUsage> {
  let files = 0;
  let bytes = 0;
  let allocated = (await stat(dir)).blocks * 512;
  for (const item of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const st = await stat(join(item.parentPath, item.name));
    allocated += st.blocks * 512;
    if (item.isFile()) {
      files++;
      bytes += st.size;
    }
  }
  return { files, bytes, allocated };
}

/** Peak resident set size of this process so far, in bytes (maxRSS is in KiB). */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Bytes, KiB or MiB, whichever reads best. */
export function size(bytes: number): string {
  if (bytes < 10_240) return `${count(bytes)} B`;
  return bytes < 10 * 2 ** 20 ? `${count(bytes / 1024)} KiB` : mib(bytes);
}

/** 1234567.8 -> "1,234,568" */
export function count(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Prints a result object as one marked JSON line for bench/run.ts. */
export function emitResult(result: object): void {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
}

/**
 * Runs a benchmark script in a child process on this same node binary,
 * passing its output through, and resolves with the results it emitted.
 */
export function runChild<T>(script: string, args: readonly string[]): Promise<T[]> {
  const child = spawn(process.execPath, [script, ...args, "--json"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const results: T[] = [];
  let buffered = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (line.startsWith(RESULT_MARKER))
        results.push(JSON.parse(line.slice(RESULT_MARKER.length)));
      else console.log(line);
    }
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0 && results.length > 0) resolve(results);
      else reject(new Error(`${script} ${args.join(" ")} failed (exit ${code ?? signal})`));
    });
  });
}

/** Prints rows as aligned columns; the first row is the header. Numbers-like cells align right. */
export function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  for (const row of rows) {
    const cells = row.map((cell, c) =>
      /^[\d.,]+( |$)/.test(cell) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]),
    );
    console.log(cells.join("  ").trimEnd());
  }
}

/** Percentile of already sorted values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** Parses a positive integer flag; accepts 1_000_000 and 1e6 spellings. */
export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}
