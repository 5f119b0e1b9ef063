/**
 * Runs every benchmark, each in its own child process on this node binary
 * (so each reports its own peak RSS), and prints a summary against the
 * targets of the log-core issue.
 *
 *   npm run bench                      # full size: 1,000,000 entries, 10,000 proofs
 *   node bench/run.ts --quick          # smoke run: 20,000 entries, 1,000 proofs
 *   node bench/run.ts --entries 200000 --proofs 5000
 */
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BENCH_DIR, count, mib, positiveInt, printTable, runChild, seconds } from "./common.ts";
import type { AppendResult } from "./log-append.ts";
import type { ProofsResult } from "./log-proofs.ts";

/** From the issue: append rate with tiles and bundles on disk, and proofs from tiles. */
const TARGET_ENTRIES_PER_SECOND = 100_000;
const TARGET_PROOFS = 10_000;

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    entries: { type: "string" },
    batch: { type: "string" },
    proofs: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: node bench/run.ts [--quick] [--entries N] [--batch N] [--proofs N]");
  process.exit(0);
}

const entries = positiveInt("entries", values.entries, values.quick ? 20_000 : 1_000_000);
const batch = positiveInt("batch", values.batch, 256);
const proofs = positiveInt("proofs", values.proofs, values.quick ? 1000 : TARGET_PROOFS);
const consistency = Math.max(1, Math.round(proofs / 10));

const cpu = cpus();
console.log(
  `machine: ${cpu.length} x ${cpu[0]?.model ?? "unknown CPU"}, ${mib(totalmem())} RAM, ` +
    `${process.platform} ${release()}, node ${process.version}`,
);

const started = performance.now();
console.log("\n== log-append ==");
const appends = await runChild<AppendResult>(join(BENCH_DIR, "log-append.ts"), [
  ...["--mode", "both", "--entries", `${entries}`, "--batch", `${batch}`],
]);
console.log("\n== log-proofs ==");
const [proofResult] = await runChild<ProofsResult>(join(BENCH_DIR, "log-proofs.ts"), [
  ...["--entries", `${entries}`, "--batch", `${batch}`],
  ...["--proofs", `${proofs}`, "--consistency", `${consistency}`],
]);
const totalMs = performance.now() - started;

console.log(`\n== summary (${seconds(totalMs)} in all) ==`);
const meets = (ok: boolean) => (ok ? "meets" : "MISSES");
const rows: string[][] = [["benchmark", "result", "peak RSS", `target`]];
for (const r of appends) {
  rows.push([
    `append ${count(r.entries)} x ${r.batch}, ${r.durable ? "durable (fsync)" : "fast (no fsync)"}`,
    `${count(r.entriesPerSecond)} entries/s`,
    mib(r.peakRssBytes),
    `${count(TARGET_ENTRIES_PER_SECOND)}/s: ${meets(r.entriesPerSecond >= TARGET_ENTRIES_PER_SECOND)}`,
  ]);
}
const p = proofResult;
const proofTarget = (run: ProofsResult["inclusionCold"]) =>
  `${count(TARGET_PROOFS)} proofs: ${run.proofs >= TARGET_PROOFS ? `done in ${seconds(run.ms)}` : "not run at full count"}`;
rows.push(
  [
    `inclusion proofs, cold reader (${count(p.entries)} entries)`,
    `${count(p.inclusionCold.perSecond)} proofs/s`,
    mib(p.peakRssBytes),
    proofTarget(p.inclusionCold),
  ],
  [
    "inclusion proofs, warm reader",
    `${count(p.inclusionWarm.perSecond)} proofs/s`,
    "",
    proofTarget(p.inclusionWarm),
  ],
  ["consistency proofs, cold reader", `${count(p.consistencyCold.perSecond)} proofs/s`, "", ""],
);
printTable(rows);
