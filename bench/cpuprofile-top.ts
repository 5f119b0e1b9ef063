/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`) as the functions with
 * the most self time, and the source files they live in, so a profile can be
 * read without Chrome DevTools.
 *
 *   node bench/cpuprofile-top.ts <file.cpuprofile> [--top 25]
 *   node bench/cpuprofile-top.ts <file.cpuprofile> --timeline 5        # busy time per 5 s, to find a phase
 *   node bench/cpuprofile-top.ts <file.cpuprofile> --from 40 --to 95   # only samples in that window (s from the start)
 */
import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BENCH_DIR, positiveInt } from "./common.ts";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values, positionals } = parseArgs({
  options: {
    top: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    timeline: { type: "string" },
  },
  allowPositionals: true,
});
if (positionals.length !== 1) {
  console.error(
    "usage: node bench/cpuprofile-top.ts <file.cpuprofile> [--top 25] [--from S] [--to S] [--timeline S]",
  );
  process.exit(2);
}
const top = positiveInt("top", values.top, 25);
const seconds = (name: string, value: string | undefined, fallback: number) => {
  const n = value === undefined ? fallback : Number(value);
  if (Number.isNaN(n) || n < 0) throw new Error(`--${name} wants seconds, got ${value}`);
  return n;
};
const fromUs = seconds("from", values.from, 0) * 1e6;
const toUs = seconds("to", values.to, Number.POSITIVE_INFINITY) * 1e6;
const profile = JSON.parse(await readFile(positionals[0], "utf8")) as Profile;

const projectRoot = relative(process.cwd(), `${BENCH_DIR}/..`) || ".";
function where(url: string, line: number): string {
  if (url === "") return "";
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const shown = path.startsWith("/") ? relative(projectRoot, path) : path;
  return `${shown}:${line + 1}`;
}

// Self time per node: each sample is charged the delta that follows it.
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const idle = new Set(
  profile.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id),
);
const selfUs = new Map<number, number>();
const busyPerSlot: number[] = [];
const slotUs = values.timeline === undefined ? 0 : seconds("timeline", values.timeline, 0) * 1e6;
let totalUs = 0;
let atUs = 0;
profile.samples.forEach((id, i) => {
  atUs += profile.timeDeltas[i] ?? 0;
  if (atUs < fromUs || atUs >= toUs) return;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  totalUs += dt;
  if (slotUs > 0 && !idle.has(id)) {
    const slot = Math.floor(atUs / slotUs);
    busyPerSlot[slot] = (busyPerSlot[slot] ?? 0) + dt;
  }
});

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = (nodes.get(id) as ProfileNode).callFrame;
  const name = `${functionName || "(anonymous)"} ${where(url, lineNumber)}`.trim();
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  const file = url === "" ? functionName : where(url, 0).replace(/:1$/, "");
  byFile.set(file, (byFile.get(file) ?? 0) + us);
}

function print(title: string, table: Map<string, number>, limit: number): void {
  console.log(`\n${title}`);
  const rows = [...table].sort((a, b) => b[1] - a[1]).slice(0, limit);
  for (const [name, us] of rows) {
    const pct = ((100 * us) / totalUs).toFixed(1).padStart(5);
    console.log(`${pct}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
  }
}

console.log(`${(totalUs / 1e6).toFixed(2)} s sampled on the main thread`);
if (slotUs > 0) {
  console.log(`\nbusy (not idle) per ${slotUs / 1e6} s from the start`);
  for (let slot = 0; slot < busyPerSlot.length; slot++) {
    const busy = busyPerSlot[slot] ?? 0;
    const from = (slot * slotUs) / 1e6;
    console.log(
      `${String(from).padStart(6)} s  ${(busy / 1000).toFixed(0).padStart(6)} ms  ${"#".repeat(Math.round((50 * busy) / slotUs))}`,
    );
  }
}
print("self time by function", byFunction, top);
print("self time by file", byFile, Math.min(top, 15));
