/**
 * The reads of a clean install replayed through HttpSource, one child
 * process per run, to compare two implementations of it by CPU time: the
 * corpus is taken into an origin, one `cairn install` of the corpus app
 * runs through the counting proxy to record what it asks for, and each
 * child then GETs those paths straight from the origin, one after another
 * or `--in-flight` at once, through the HttpSource of the checkout given.
 *
 *   node bench/http-reads.ts --baseline ../main --rounds 5
 *
 * A child's figures: CPU of the whole process (every thread, module loading
 * included) and of the reads alone, wall time of the reads, bytes read.
 */
import { cp, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { cairn } from "../test/helpers/cli.ts";
import { CORPUS_APP_PACKAGE_JSON } from "../test/helpers/corpus.ts";
import { startCountingProxy } from "../test/helpers/counting-proxy.ts";
import { makeWorkDir, removeDir } from "./common.ts";
import { startCorpusOrigin } from "./corpus-origin.ts";
import { REPO_DIR, runToEnd, stopProcess } from "./processes.ts";

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    base: { type: "string" },
    paths: { type: "string" },
    "in-flight": { type: "string", default: "1" },
    baseline: { type: "string" },
    rounds: { type: "string", default: "3" },
  },
});

interface ChildResult {
  processCpuMs: number;
  readsCpuMs: number;
  readsMs: number;
  bytes: number;
}

if (values.child) await child(values.child);
else await parent();

async function child(checkout: string): Promise<void> {
  const started = process.cpuUsage();
  const { readFile } = await import("node:fs/promises");
  const { HttpSource } = await import(join(checkout, "src", "log", "sources.ts"));
  const paths: string[] = JSON.parse(await readFile(values.paths as string, "utf8"));
  const source = new HttpSource(values.base as string, { timeoutMs: 60_000 });
  const inFlight = Number(values["in-flight"]);
  const before = process.cpuUsage();
  const t0 = performance.now();
  let bytes = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < paths.length) {
        const path = paths[next++];
        // A few reads the install made find nothing (optional files): a 404 is a read all the same.
        const read = await source.read(path, 64 << 20).then(
          (data: Uint8Array) => data.length,
          (err: { code?: string }) => {
            if (err.code !== "not-found") throw err;
            return 0;
          },
        );
        bytes += read;
      }
    }),
  );
  const readsMs = performance.now() - t0;
  const reads = process.cpuUsage(before);
  const all = process.cpuUsage(started);
  const result: ChildResult = {
    processCpuMs: (all.user + all.system) / 1000,
    readsCpuMs: (reads.user + reads.system) / 1000,
    readsMs,
    bytes,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function parent(): Promise<void> {
  const baseline = resolve(values.baseline ?? REPO_DIR);
  const rounds = Number(values.rounds);
  const work = await makeWorkDir("http-reads");
  const origin = await startCorpusOrigin(work);
  try {
    const { url: originUrl, key } = origin;
    const proxy = await startCountingProxy(originUrl, { keepHost: true });
    const project = join(work, "project");
    await mkdir(project, { recursive: true });
    await cp(CORPUS_APP_PACKAGE_JSON, join(project, "package.json"));
    const installed = await cairn(
      ["install", "--origin", proxy.url, "--key", key, "--no-mirror-list", "--ignore-scripts"],
      { cwd: project, env: { CAIRN_HOME: join(work, "home") } },
    );
    await proxy.close();
    if (installed.code !== 0) throw new Error(`cairn install failed:\n${installed.stderr}`);
    const paths = proxy.requests
      .filter((r) => r.startsWith("GET /"))
      .map((r) => r.slice("GET /".length));
    const pathsFile = join(work, "paths.json");
    await writeFile(pathsFile, JSON.stringify(paths));
    console.log(`${paths.length} reads recorded from one clean install`);
    const sides = [
      ["before", baseline],
      ["after", REPO_DIR],
    ] as const;
    for (const inFlight of [1, 48]) {
      const results: Record<string, ChildResult[]> = { before: [], after: [] };
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? sides : [...sides].reverse();
        for (const [name, checkout] of order) {
          const run = await runToEnd(
            "reads",
            process.execPath,
            [
              join(REPO_DIR, "bench", "http-reads.ts"),
              "--child",
              checkout,
              "--base",
              `${originUrl.replace(/\/$/, "")}/`,
              "--paths",
              pathsFile,
              "--in-flight",
              String(inFlight),
            ],
            { logFile: join(work, "child.log") },
          );
          const result: ChildResult = JSON.parse(
            run.out.stdout.trim().split("\n").at(-1) as string,
          );
          results[name].push(result);
          console.log(
            `in flight ${inFlight} round ${round + 1} ${name.padEnd(6)} process CPU ${result.processCpuMs.toFixed(0)} ms, reads CPU ${result.readsCpuMs.toFixed(0)} ms, reads wall ${result.readsMs.toFixed(0)} ms, ${result.bytes} bytes`,
          );
        }
      }
      for (const name of ["before", "after"]) {
        const median = (pick: (r: ChildResult) => number) => {
          const sorted = results[name].map(pick).sort((a, b) => a - b);
          return sorted[Math.floor(sorted.length / 2)].toFixed(0);
        };
        console.log(
          `in flight ${inFlight} ${name} medians: process CPU ${median((r) => r.processCpuMs)} ms, reads CPU ${median((r) => r.readsCpuMs)} ms, reads wall ${median((r) => r.readsMs)} ms`,
        );
      }
    }
  } finally {
    await stopProcess(origin.proc);
    await removeDir(work);
  }
}
