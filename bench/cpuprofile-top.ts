/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`) as the functions with
 * the most self time, and the source files they live in, so a profile can be
 * read without Chrome DevTools.
 *
 *   node bench/cpuprofile-top.ts <file.cpuprofile> [--top 25]
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
  options: { top: { type: "string" } },
  allowPositionals: true,
});
if (positionals.length !== 1) {
  console.error("usage: node bench/cpuprofile-top.ts <file.cpuprofile> [--top 25]");
  process.exit(2);
}
const top = positiveInt("top", values.top, 25);
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
const selfUs = new Map<number, number>();
let totalUs = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  totalUs += dt;
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
print("self time by function", byFunction, top);
print("self time by file", byFile, Math.min(top, 15));
