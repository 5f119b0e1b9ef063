/**
 * Runs every benchmark, each in its own child process on this node binary
 * (so each reports its own peak RSS), and prints a summary against the
 * targets of the log-core issue, of the registry-vs-Verdaccio issue, of
 * the verifying proxy, of uplinks and of installing.
 *
 *   npm run bench                      # full size: 1,000,000 entries, 10,000 proofs, full registry run
 *   node bench/run.ts --quick          # smoke run: 20,000 entries, 1,000 proofs, quick registry run
 *   node bench/run.ts --entries 200000 --proofs 5000
 *   node bench/run.ts --only registry  # one group: log, registry, proxy, hostile, uplink, install, web, cargo or witness
 */
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { CargoBenchResult } from "./cargo.ts";
import type { FollowResult } from "./cargo-follow.ts";
import { BENCH_DIR, count, mib, positiveInt, printTable, runChild, seconds } from "./common.ts";
import type { HostileResult } from "./hostile.ts";
import type { InstallBenchResult } from "./install.ts";
import type { AppendResult } from "./log-append.ts";
import type { ProofsResult } from "./log-proofs.ts";
import type { MirrorSyncResult } from "./mirror-sync.ts";
import type { ProxyInstallResult } from "./proxy-install.ts";
import type { RegistryResult } from "./registry-vs-verdaccio.ts";
import type { ScaleResult } from "./scale.ts";
import type { UplinkResult } from "./uplink.ts";
import type { WebBenchResult } from "./web.ts";
import type { WitnessBenchResult } from "./witness.ts";

/** From the issue: append rate with tiles and bundles on disk, and proofs from tiles. */
const TARGET_ENTRIES_PER_SECOND = 100_000;
const TARGET_PROOFS = 10_000;
/** From the hardening issue: a reader's p99 under hostile input within 2x of a quiet server's. */
const TARGET_HOSTILE_RATIO = 2;
/** From the governance issue: publish p99 at 50 publishers with 3 witnesses, over none. */
const TARGET_WITNESS_RATIO = 1.5;
/** From the web interface's issue: server time of a search and of a package page. */
const TARGET_WEB_P50_MS = 20;
const TARGET_WEB_P99_MS = 50;
/** From the governance issue: what a publish leaves in the tree once garbage is collected. */
const TARGET_GROWTH_PER_PUBLISH = 5 * 1024;

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    entries: { type: "string" },
    batch: { type: "string" },
    proofs: { type: "string" },
    only: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "usage: node bench/run.ts [--quick] [--entries N] [--batch N] [--proofs N] [--only log,registry,proxy,hostile,uplink,install,web,cargo,witness,gc]",
  );
  process.exit(0);
}

const entries = positiveInt("entries", values.entries, values.quick ? 20_000 : 1_000_000);
const batch = positiveInt("batch", values.batch, 256);
const proofs = positiveInt("proofs", values.proofs, values.quick ? 1000 : TARGET_PROOFS);
const consistency = Math.max(1, Math.round(proofs / 10));
const GROUPS = [
  "log",
  "registry",
  "proxy",
  "hostile",
  "uplink",
  "install",
  "web",
  "cargo",
  "witness",
  "gc",
];
const groups = new Set((values.only ?? GROUPS.join(",")).split(","));
if ([...groups].some((g) => !GROUPS.includes(g))) {
  throw new Error(
    `--only takes log, registry, proxy, hostile, uplink, install, web, cargo, witness and gc, got ${JSON.stringify(values.only)}`,
  );
}

const cpu = cpus();
console.log(
  `machine: ${cpu.length} x ${cpu[0]?.model ?? "unknown CPU"}, ${mib(totalmem())} RAM, ` +
    `${process.platform} ${release()}, node ${process.version}`,
);

const started = performance.now();
const rows: string[][] = [["benchmark", "result", "peak RSS", `target`]];
const meets = (ok: boolean) => (ok ? "meets" : "MISSES");
if (groups.has("log")) rows.push(...(await logBenchmarks()));
if (groups.has("registry")) rows.push(...(await registryBenchmark()));
if (groups.has("proxy")) rows.push(...(await proxyBenchmark()));
if (groups.has("hostile")) rows.push(...(await hostileBenchmark()));
if (groups.has("uplink")) rows.push(...(await uplinkBenchmark()));
if (groups.has("install")) rows.push(...(await installBenchmark()));
if (groups.has("web")) rows.push(...(await webBenchmark()));
if (groups.has("cargo")) rows.push(...(await cargoBenchmark()));
if (groups.has("witness")) rows.push(...(await witnessBenchmark()));
if (groups.has("gc")) rows.push(...(await gcBenchmark()));
const totalMs = performance.now() - started;

console.log(`\n== summary (${seconds(totalMs)} in all) ==`);
printTable(rows);

async function logBenchmarks(): Promise<string[][]> {
  console.log("\n== log-append ==");
  const appends = await runChild<AppendResult>(join(BENCH_DIR, "log-append.ts"), [
    ...["--mode", "both", "--entries", `${entries}`, "--batch", `${batch}`],
  ]);
  console.log("\n== log-proofs ==");
  const [p] = await runChild<ProofsResult>(join(BENCH_DIR, "log-proofs.ts"), [
    ...["--entries", `${entries}`, "--batch", `${batch}`],
    ...["--proofs", `${proofs}`, "--consistency", `${consistency}`],
  ]);
  const rows: string[][] = [];
  for (const r of appends) {
    rows.push([
      `append ${count(r.entries)} x ${r.batch}, ${r.durable ? "durable (fsync)" : "fast (no fsync)"}`,
      `${count(r.entriesPerSecond)} entries/s`,
      mib(r.peakRssBytes),
      `${count(TARGET_ENTRIES_PER_SECOND)}/s: ${meets(r.entriesPerSecond >= TARGET_ENTRIES_PER_SECOND)}`,
    ]);
  }
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
  return rows;
}

/** Garbage collection on a small synthetic registry (bench/scale.ts, 5,000 packages). */
async function gcBenchmark(): Promise<string[][]> {
  console.log("\n== scale (garbage collection) ==");
  const [r] = await runChild<ScaleResult>(join(BENCH_DIR, "scale.ts"), [
    // Not fewer publishes with --quick: the newest tile's partials stay until it fills, and over
    // a few hundred publishes they outweigh the rest.
    ...["--packages", "5000", "--publishes", "1000"],
  ]);
  const g = r.gc;
  if (!g) throw new Error("bench/scale.ts ran no garbage collection");
  const kept = Object.values(g.retained).reduce((a, b) => a + b, 0) / r.incremental.publishes;
  return [
    [
      `GC of a ${count(r.packages)}-package build`,
      `${count(g.build.files)} files in ${seconds(g.build.ms)} (mark ${seconds(g.build.markMs)})`,
      mib(g.build.peakRss),
      "",
    ],
    [
      "tree growth per publish after GC (grace 0, retain 0)",
      `${count(kept)} B`,
      "",
      `${count(TARGET_GROWTH_PER_PUBLISH)} B: ${meets(kept < TARGET_GROWTH_PER_PUBLISH)}`,
    ],
    [
      "publish groups of 10 p99, GC looping vs not",
      `${g.groupLatencyP99.toFixed(1)} vs ${r.incremental.groupLatencyP99.toFixed(1)} ms`,
      "",
      "",
    ],
  ];
}

/** The rows of the registry comparison that have a target, and the servers' peak RSS. */
async function registryBenchmark(): Promise<string[][]> {
  console.log("\n== registry-vs-verdaccio ==");
  const [r] = await runChild<RegistryResult>(
    join(BENCH_DIR, "registry-vs-verdaccio.ts"),
    values.quick ? ["--quick"] : [],
  );
  const rss = r.comparisons.find((c) => c.unit === "bytes");
  const rows: string[][] = [];
  for (const c of r.comparisons) {
    if (c.target === undefined) continue;
    const value = (n: number) => (c.unit === "s" ? seconds(n * 1000) : `${count(n)}${c.unit}`);
    rows.push([
      `${c.metric}, cairn vs verdaccio ${r.verdaccioVersion}`,
      `${value(c.cairn)} vs ${value(c.verdaccio)}: ${c.ratio.toFixed(2)}x`,
      rows.length === 0 && rss ? `${mib(rss.cairn)} vs ${mib(rss.verdaccio)}` : "",
      `${c.target}x: ${meets(c.met === true)}`,
    ]);
  }
  return rows;
}

/** Reads while gzip bombs and a sign-in flood hit the same origin, against reads on a quiet one. */
async function hostileBenchmark(): Promise<string[][]> {
  console.log("\n== hostile ==");
  const [r] = await runChild<HostileResult>(
    join(BENCH_DIR, "hostile.ts"),
    values.quick ? ["--reads", "300", "--seconds", "60"] : [],
  );
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  return [
    [
      `reader p99 under ${r.bombers} gzip bomber(s) and ${r.flooders} sign-in flooders, vs quiet`,
      `${ms(r.hostile.p99)} vs ${ms(r.quiet.p99)}: ${r.ratio.toFixed(2)}x`,
      mib(r.serverPeakRss),
      `<= ${TARGET_HOSTILE_RATIO}x: ${meets(r.ratio <= TARGET_HOSTILE_RATIO)}`,
    ],
  ];
}

/** A mirror syncing the corpus registry, then npm install through the verifying proxy against the origin. */
async function proxyBenchmark(): Promise<string[][]> {
  console.log("\n== mirror-sync ==");
  const [sync] = await runChild<MirrorSyncResult>(join(BENCH_DIR, "mirror-sync.ts"), []);
  const mirrorRows = [
    [
      `mirror sync from zero (${sync.packages} packages, ${sync.fromZero.blobs} blobs)`,
      `${seconds(sync.fromZero.ms)}, ${mib(sync.fromZero.bytes)}`,
      mib(sync.peakRss),
      "seconds",
    ],
    [
      `mirror sync after ${sync.incremental.publishes} publishes`,
      `${seconds(sync.incremental.ms)}, ${(sync.incremental.bytes / 1024).toFixed(0)} KiB (${((100 * sync.incremental.bytes) / sync.treeBytes).toFixed(1)}% of the tree)`,
      "",
      "only what changed",
    ],
  ];
  console.log("\n== proxy-install ==");
  const [r] = await runChild<ProxyInstallResult>(
    join(BENCH_DIR, "proxy-install.ts"),
    values.quick ? ["--quick"] : [],
  );
  return [
    ...mirrorRows,
    [
      `npm install through cairn proxy -> mirror, cold, vs origin (${r.rounds.length} round${r.rounds.length === 1 ? "" : "s"})`,
      `${seconds(r.proxyMedianMs)} vs ${seconds(r.originMedianMs)}: ${r.ratio.toFixed(2)}x`,
      mib(r.proxyPeakRssBytes),
      `<= ${r.target.toFixed(2)}x: ${meets(r.met)}`,
    ],
  ];
}

/** npm install through Cairn and Verdaccio as pull-through caches of one local upstream: cold, warm, offline. */
async function uplinkBenchmark(): Promise<string[][]> {
  console.log("\n== uplink ==");
  const [r] = await runChild<UplinkResult>(
    join(BENCH_DIR, "uplink.ts"),
    values.quick ? ["--quick"] : [],
  );
  const outcome = (ok: boolean, ms: number) => (ok ? seconds(ms) : `FAILED (${seconds(ms)})`);
  const rows = r.phases.map((p, i) => [
    `npm install through an uplink cache, ${p.phase}, cairn vs verdaccio ${r.verdaccioVersion}`,
    `${outcome(p.cairn.ok, p.cairn.ms)} vs ${outcome(p.verdaccio.ok, p.verdaccio.ms)}: ${p.ratio.toFixed(2)}x`,
    i === 0 ? `${mib(r.peakRss.cairn)} vs ${mib(r.peakRss.verdaccio)}` : "",
    `${p.target}: ${meets(p.met)}`,
  ]);
  const log = r.cairnLog;
  rows.push([
    "  cairn's log per imported version (cold)",
    `${(log.entries / log.importedVersions).toFixed(2)} entries, ${count((log.treeBytes + log.manifestBytes) / log.importedVersions)} bytes`,
    "",
    "",
  ]);
  return rows;
}

/** Server time of the web interface's search and package pages on the npm-sized synthetic registry. */
async function webBenchmark(): Promise<string[][]> {
  console.log("\n== web ==");
  const [r] = await runChild<WebBenchResult>(
    join(BENCH_DIR, "web.ts"),
    values.quick ? ["--packages", "20000"] : [],
  );
  return r.timings.map((t) => [
    `web ${t.what} (${count(r.packages)} packages)`,
    `p50 ${t.p50.toFixed(1)} ms, p99 ${t.p99.toFixed(1)} ms`,
    "",
    `p50 < ${TARGET_WEB_P50_MS}, p99 < ${TARGET_WEB_P99_MS} ms: ${meets(t.p50 < TARGET_WEB_P50_MS && t.p99 < TARGET_WEB_P99_MS)}`,
  ]);
}

/** The corpus app installed by npm, pnpm, Yarn, bun and cairn install, in pnpm's benchmark scenarios. */
async function installBenchmark(): Promise<string[][]> {
  console.log("\n== install ==");
  const [r] = await runChild<InstallBenchResult>(
    join(BENCH_DIR, "install.ts"),
    values.quick ? ["--rounds", "1"] : [],
  );
  const rows: string[][] = [];
  for (const [name, ratios] of Object.entries(r.ratios))
    for (const [scenario, ratio] of Object.entries(ratios)) {
      const ms = r.medians[name][scenario as keyof typeof ratios].ms;
      const unchanged = scenario === "unchanged";
      rows.push([
        `${name} install, ${scenario}, vs the fastest of npm, pnpm, yarn, bun (${r.rounds} rounds)`,
        `${seconds(ms)}: ${ratio.toFixed(2)}x`,
        "",
        `<= 1.00x${unchanged ? ", < 100 ms" : ""}: ${meets(ratio <= 1 && (!unchanged || ms < 100))}`,
      ]);
    }
  return rows;
}

/**
 * The bytes to follow crate publishes (cargo's sparse protocol against
 * Cairn's log, and the log with the signed index view); cargo locking and
 * fetching from a static sparse registry, the origin and the proxy; publishes/s.
 */
async function cargoBenchmark(): Promise<string[][]> {
  console.log("\n== cargo-follow ==");
  const [r] = await runChild<FollowResult>(
    join(BENCH_DIR, "cargo-follow.ts"),
    values.quick ? ["--crates", "1000", "--publishes", "200"] : [],
  );
  const kib = (n: number) => `${count(Math.round(n / 1024))} KiB`;
  const follow = r.polls.map((p, i) => [
    `follow ${count(r.publishes)} crate publishes, poll every ${count(p.every)}: sparse, log, log + view (gzip)`,
    `${kib(p.sparse.gzip)}, ${kib(p.log.gzip)}, ${kib(p.view.gzip)}`,
    i === 0 ? mib(r.peakRssBytes) : "",
    "bytes",
  ]);
  console.log("\n== cargo ==");
  const [c] = await runChild<CargoBenchResult>(
    join(BENCH_DIR, "cargo.ts"),
    values.quick ? ["--rounds", "1", "--publishes", "40"] : [],
  );
  const total = (side: keyof CargoBenchResult["medians"]) => seconds(c.medians[side].totalMs);
  const rate = (p: CargoBenchResult["sequential"]) =>
    `${count(p.perSecond)}/s (${count(p.meanCrateBytes)} B crates)`;
  return [
    ...follow,
    [
      `cargo generate-lockfile + fetch (${c.crates} crates, ${c.rounds} rounds): proxy, origin vs static sparse`,
      `${total("proxy")}, ${total("origin")} vs ${total("static")}: ${c.ratios.proxy.toFixed(2)}x, ${c.ratios.origin.toFixed(2)}x`,
      `${mib(c.peakRss.proxy)}, ${mib(c.peakRss.origin)}`,
      `proxy <= ${c.target.toFixed(2)}x: ${meets(c.met)}`,
    ],
    ["cargo publish bodies, 1 publisher (durable)", rate(c.sequential), "", "publishes/s"],
    [
      `cargo publish bodies, ${c.concurrent.concurrency} publishers (durable)`,
      rate(c.concurrent),
      "",
      "publishes/s",
    ],
  ];
}

/** A witness's add-checkpoint throughput; publish latency with 3 witnesses against none. */
async function witnessBenchmark(): Promise<string[][]> {
  console.log("\n== witness ==");
  const [r] = await runChild<WitnessBenchResult>(
    join(BENCH_DIR, "witness.ts"),
    values.quick ? ["--quick"] : [],
  );
  const best = r.throughput.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  const p99 = (w: number) => r.latency.find((x) => x.witnesses === w && x.publishers === 50)?.p99Ms;
  return [
    [
      `witness add-checkpoint (best: ${best.logs} logs, ${best.connections} connections)`,
      `${count(best.perSecond)} cosignatures/s`,
      mib(r.witnessPeakRssBytes),
      "",
    ],
    [
      "publish p99 at 50 publishers, 3 witnesses vs none",
      `${p99(3)?.toFixed(0)} ms vs ${p99(0)?.toFixed(0)} ms: ${r.ratio50.toFixed(2)}x`,
      "",
      `<= ${TARGET_WITNESS_RATIO}x: ${meets(r.ratio50 <= TARGET_WITNESS_RATIO)}`,
    ],
  ];
}
