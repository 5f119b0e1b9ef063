/**
 * Garbage collection as bench/scale.ts measures it: one run timed (mark and
 * sweep apart) with its RSS sampled, and publishes timed while runs loop.
 */

import type { GcReport } from "../src/gc/gc.ts";
import { collectDataDir } from "../src/gc/run.ts";
import type { Registry } from "../src/origin/registry.ts";

export interface TimedGc {
  readonly report: GcReport;
  readonly ms: number;
  /** The highest RSS sampled (every 20 ms) during the run. */
  readonly peakRss: number;
  readonly files: number;
  readonly bytes: number;
}

/** One collection of the registry's data directory, inside its process, as `cairn serve` runs it. */
export async function timedGc(
  dataDir: string,
  registry: Registry,
  policy: { grace?: number; retainFor?: number } = { grace: 0, retainFor: 0 },
): Promise<TimedGc> {
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const start = performance.now();
  try {
    const report = await collectDataDir({
      dataDir,
      blobs: registry.blobs,
      isNamed: (hex) => registry.state.namesBlob(hex),
      ...policy,
    });
    const totals = Object.values(report.freed);
    return {
      report,
      ms: performance.now() - start,
      peakRss: Math.max(peak, process.memoryUsage.rss()),
      files: totals.reduce((n, t) => n + t.files, 0),
      bytes: totals.reduce((n, t) => n + t.bytes, 0),
    };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * Runs `publish` (which times its own groups) while collections (grace 0,
 * retain 0) run back to back; returns how many collections ran.
 */
export async function whileCollecting(
  dataDir: string,
  registry: Registry,
  publish: () => Promise<void>,
): Promise<number> {
  let done = false;
  let runs = 0;
  const loop = (async () => {
    while (!done) {
      await timedGc(dataDir, registry);
      runs++;
    }
  })();
  try {
    await publish();
  } finally {
    done = true;
    await loop;
  }
  return runs;
}
