/**
 * Cairn's origin against Verdaccio 6, side by side on this machine, in one
 * run: publish throughput and latency at 1, 10 and 50 concurrent
 * publishers, abbreviated packument and tarball reads at 20 connections
 * (autocannon), and a cold-cache `npm install` of the corpus app. Prints a
 * table of ratios against the targets of the issue.
 *
 *   node bench/registry-vs-verdaccio.ts            # full run, about 3 minutes
 *   node bench/registry-vs-verdaccio.ts --quick    # smoke run, about 1.5 minutes
 *   node bench/registry-vs-verdaccio.ts --only publish,tarball --cpu-prof bench/.work/prof
 *   node bench/registry-vs-verdaccio.ts --verdaccio-jwt --cairn-no-durable --only publish
 *
 * `--cpu-prof DIR` profiles both servers; `--cairn path/bin/cairn.ts` runs a
 * patched copy of Cairn, to measure a change; `--verdaccio-jwt` gives
 * Verdaccio JWT API tokens instead of its default ones, which it checks with
 * bcrypt on every publish; `--cairn-no-durable` runs Cairn without fsync, as
 * Verdaccio always runs.
 *
 * Verdaccio and autocannon are not project dependencies: the first run
 * installs them with the machine's npm into bench/.work/registry-tools
 * (kept between runs). Both servers run as child processes on this node
 * binary, listen on 127.0.0.1 only, and are killed when the run ends, fails
 * or is interrupted. Each measurement runs against one server at a time,
 * Verdaccio then Cairn, so the two never compete for the machine's cores.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { Agent } from "node:http";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import semver from "semver";
import { inspectTarball } from "../src/npm/tarball.ts";
import { publishBody } from "../test/helpers/publish-body.ts";
import { sharedPath } from "../test/helpers/shared.ts";
import { packageJson, rawTgz } from "../test/helpers/tar.ts";
import {
  count,
  emitResult,
  makeWorkDir,
  mib,
  percentile,
  positiveInt,
  printTable,
  prng,
  removeDir,
  seconds,
} from "./common.ts";
import {
  freePort,
  http,
  npmInstall,
  type Proc,
  peakRssOf,
  profileFlags,
  REPO_DIR,
  runToEnd,
  startProcess,
  stopProcess,
  waitUntilUp,
} from "./processes.ts";
import { ensureTools, startVerdaccio, TOOLS_DIR } from "./verdaccio.ts";

/** The shared corpus beside the project (CAIRN_SHARED_DIR overrides, as in the tests). */
const CORPUS_DIR = sharedPath("corpus");
/** The targets, as how many times better Cairn must be. */
const TARGET_PUBLISH_50 = 10;
const TARGET_READS = 2;
const TARGET_INSTALL = 1;

export const PUBLISH_LEVELS = [1, 10, 50] as const;
/** Versions per package before a publisher moves to a new package, so no document grows without bound. */
const VERSIONS_PER_PACKAGE = 25;
/** The package whose packument and tarball the read benchmarks fetch. */
const READ_PACKAGE = "bench-read";
const READ_VERSIONS = 30;
const READ_CONNECTIONS = 20;
const ABBREVIATED = "application/vnd.npm.install-v1+json";

export interface Settings {
  /** Publishes per level; each publisher makes count / concurrency of them. */
  readonly publishes: Record<(typeof PUBLISH_LEVELS)[number], number>;
  /** A level stops early once this much time has passed (the same for both servers). */
  readonly publishCapMs: number;
  readonly readSeconds: number;
  readonly warmupSeconds: number;
}

export const FULL: Settings = {
  publishes: { 1: 300, 10: 1000, 50: 1000 },
  publishCapMs: 15_000,
  readSeconds: 10,
  warmupSeconds: 2,
};
export const QUICK: Settings = {
  publishes: { 1: 40, 10: 100, 50: 200 },
  publishCapMs: 3000,
  readSeconds: 2,
  warmupSeconds: 1,
};

export const PHASES = ["publish", "packument", "tarball", "install"] as const;
type Phase = (typeof PHASES)[number];

export interface RunOptions {
  readonly settings: Settings;
  readonly phases: ReadonlySet<Phase>;
  readonly installs: number;
  readonly verdaccioJwt: boolean;
  readonly cpuProfDir: string | undefined;
  /** The Cairn CLI to run: this checkout's, or a patched copy's to measure a change. */
  readonly cairnCli: string;
  /** Cairn fsyncs before acknowledging (its default); Verdaccio never fsyncs. */
  readonly cairnDurable: boolean;
}

/** One figure measured on both servers. */
export interface Comparison {
  readonly metric: string;
  readonly unit: string;
  readonly verdaccio: number;
  readonly cairn: number;
  readonly better: "higher" | "lower";
  /** How many times better Cairn must be, when the issue sets a target. */
  readonly target?: number;
}

/** A comparison as reported: with the ratio, and whether it meets its target. */
export interface ComparisonResult extends Comparison {
  /** How many times better Cairn did: cairn/verdaccio for rates, verdaccio/cairn for times. */
  readonly ratio: number;
  readonly met?: boolean;
}

export interface RegistryResult {
  readonly bench: "registry-vs-verdaccio";
  readonly quick: boolean;
  readonly verdaccioVersion: string;
  /** Verdaccio ran with JWT API tokens instead of its default (see --verdaccio-jwt). */
  readonly verdaccioJwt: boolean;
  readonly comparisons: readonly ComparisonResult[];
  readonly totalMs: number;
}

function withRatio(c: Comparison): ComparisonResult {
  const ratio = c.better === "higher" ? c.cairn / c.verdaccio : c.verdaccio / c.cairn;
  return { ...c, ratio, ...(c.target === undefined ? {} : { met: ratio >= c.target }) };
}

// ---------------------------------------------------------------------------
// The two servers.

export interface Server {
  readonly name: "verdaccio" | "cairn";
  readonly url: string;
  readonly agent: Agent;
  readonly process: Proc;
  token: string;
}

async function startVerdaccioServer(
  dir: string,
  jwt: boolean,
  cpuProfDir: string | undefined,
): Promise<Server> {
  const verdaccio = await startVerdaccio(dir, { jwt, cpuProfDir });
  const agent = new Agent({ keepAlive: true });
  return { name: "verdaccio", url: verdaccio.url, agent, process: verdaccio.process, token: "" };
}

/** `cairn serve` on `dataDir`; `extraArgs` are more serve flags (witnesses, for bench/witness.ts). */
export async function startCairn(
  dataDir: string,
  options: Pick<RunOptions, "cpuProfDir" | "cairnCli" | "cairnDurable">,
  extraArgs: readonly string[] = [],
): Promise<Server> {
  const port = await freePort();
  // As for Verdaccio above: its rate limits are not what is measured here (one user publishes thousands).
  await mkdir(dataDir, { recursive: true });
  const unlimited = {
    loginsPerAddress: 0,
    loginFailuresPerUser: 0,
    writesPerAddress: 0,
    writesPerUser: 0,
  };
  await writeFile(join(dataDir, "config.json"), JSON.stringify(unlimited));
  const args = [...profileFlags(options.cpuProfDir), options.cairnCli, "serve"];
  args.push(
    "--port",
    `${port}`,
    "--data",
    dataDir,
    ...(options.cairnDurable ? [] : ["--no-durable"]),
    ...extraArgs,
  );
  const spawned = startProcess("cairn", process.execPath, args, {
    cwd: REPO_DIR,
    logFile: join(dataDir, "..", "cairn-server.log"),
  });
  const url = `http://127.0.0.1:${port}/`;
  await waitUntilUp("cairn", url, spawned);
  return { name: "cairn", url, agent: new Agent({ keepAlive: true }), process: spawned, token: "" };
}

/** `npm adduser`'s request, the same on both servers; returns the bearer token. */
export async function addUser(server: Server, name: string): Promise<string> {
  const body = JSON.stringify({
    name,
    password: `${name}-password-1234`,
    email: `${name}@bench.example`,
  });
  const res = await http(
    server.agent,
    `${server.url}-/user/org.couchdb.user:${name}`,
    "PUT",
    { "content-type": "application/json" },
    body,
  );
  const token =
    res.status < 300 ? (JSON.parse(res.body.toString()) as { token?: string }).token : undefined;
  if (!token) throw new Error(`${server.name}: adduser answered ${res.status} ${res.body}`);
  return token;
}

// ---------------------------------------------------------------------------
// Publishing.

export interface Publish {
  readonly name: string;
  /** The publish body, serialized once before timing starts. */
  readonly json: string;
}

/** The path npm publishes a package to: `@scope%2fname` for scoped ones. */
function packagePath(name: string): string {
  return name.replace("/", "%2f");
}

async function publish(server: Server, item: Publish): Promise<void> {
  const res = await http(
    server.agent,
    `${server.url}${packagePath(item.name)}`,
    "PUT",
    { "content-type": "application/json", authorization: `Bearer ${server.token}` },
    item.json,
  );
  if (res.status >= 300) {
    throw new Error(`${server.name}: publish of ${item.name} answered ${res.status} ${res.body}`);
  }
}

/** Some JavaScript-like text, so tarballs compress like real ones rather than to nothing. */
function sourceText(seed: number, lines: number): string {
  const random = prng(seed);
  const words = ["value", "result", "options", "callback", "index", "buffer", "module", "next"];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const a = words[Math.floor(random() * words.length)];
    const b = words[Math.floor(random() * words.length)];
    out.push(
      `exports.${a}${i} = function (${b}) { return ${b} * ${Math.floor(random() * 1e6)}; };`,
    );
  }
  return `${out.join("\n")}\n`;
}

/** A small real package: package.json, a source file and a readme, as npm pack would make it. */
function makePublish(name: string, version: string, sourceLines: number, seed: number): Publish {
  const manifest = {
    name,
    version,
    description: `benchmark package ${name}`,
    main: "index.js",
    license: "MIT",
    keywords: ["bench", "cairn"],
    scripts: { test: "node --test" },
    repository: { type: "git", url: "git+https://example.invalid/bench.git" },
    dependencies: { "left-pad": "^1.3.0", semver: "^7.6.0" },
    engines: { node: ">=18" },
  };
  const tgz = rawTgz([
    packageJson(name, version, manifest),
    { name: "package/index.js", data: sourceText(seed, sourceLines) },
    { name: "package/README.md", data: `# ${name}\n\nVersion ${version}.\n` },
  ]);
  return { name, json: JSON.stringify(publishBody(manifest, tgz)) };
}

/**
 * The publishes of one level, per publisher: publisher p's k-th publish is
 * version 1.0.(k mod 25) of package bench-c<level>-p<p>-<k div 25>, so the
 * publishers never touch each other's packages.
 */
export function publishPlan(level: number, total: number): Publish[][] {
  const perPublisher = Math.max(1, Math.round(total / level));
  return Array.from({ length: level }, (_, p) =>
    Array.from({ length: perPublisher }, (_, k) => {
      const name = `bench-c${level}-p${p}-${Math.floor(k / VERSIONS_PER_PACKAGE)}`;
      return makePublish(
        name,
        `1.0.${k % VERSIONS_PER_PACKAGE}`,
        20,
        level * 100_000 + p * 1000 + k,
      );
    }),
  );
}

export interface PublishRun {
  readonly publishes: number;
  readonly ms: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Every publisher publishes its list in order, until done or until `capMs` has passed. */
export async function publishLoad(
  server: Server,
  plan: Publish[][],
  capMs: number,
): Promise<PublishRun> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + capMs;
  await Promise.all(
    plan.map(async (items) => {
      for (const item of items) {
        if (performance.now() > deadline) return;
        const t0 = performance.now();
        await publish(server, item);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const ms = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    publishes: latencies.length,
    ms,
    perSecond: latencies.length / (ms / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

/** The package the read benchmarks fetch: 30 versions, published one after another. */
export async function publishReadPackage(server: Server): Promise<void> {
  for (let i = 0; i < READ_VERSIONS; i++) {
    await publish(server, makePublish(READ_PACKAGE, `1.0.${i}`, 400, i));
  }
}

// ---------------------------------------------------------------------------
// The corpus: 433 real tarballs, and the app that depends on them.

interface CorpusTarball {
  readonly name: string;
  readonly version: string;
  readonly manifest: Record<string, unknown>;
  readonly bytes: Buffer;
}

async function readCorpus(): Promise<CorpusTarball[]> {
  const dir = join(CORPUS_DIR, "npm");
  const files = (await readdir(dir)).filter((f) => f.endsWith(".tgz"));
  const tarballs = await Promise.all(
    files.map(async (file) => {
      const bytes = await readFile(join(dir, file));
      const { manifest } = await inspectTarball(bytes);
      return { name: String(manifest.name), version: String(manifest.version), manifest, bytes };
    }),
  );
  // Oldest first within a package, so that `latest` ends on the highest release.
  return tarballs.sort(
    (a, b) => a.name.localeCompare(b.name) || semver.compare(a.version, b.version),
  );
}

/**
 * Publishes the corpus over HTTP, as `npm publish` would: versions of one
 * package in order, eight packages at a time. `latest` moves only to a
 * higher release, as `cairn import` decides it.
 */
async function seedOverHttp(server: Server, corpus: readonly CorpusTarball[]): Promise<void> {
  const byName = Map.groupBy(corpus, (t) => t.name);
  const queue = [...byName.values()];
  const worker = async () => {
    for (let versions = queue.shift(); versions; versions = queue.shift()) {
      let latest: string | undefined;
      for (const t of versions) {
        const release = semver.prerelease(t.version) === null;
        const isLatest = latest === undefined || (release && semver.gt(t.version, latest));
        if (isLatest) latest = t.version;
        const body = publishBody(
          t.manifest as { name: string; version: string },
          t.bytes,
          isLatest ? "latest" : "bench-older",
        );
        await publish(server, { name: t.name, json: JSON.stringify(body) });
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

interface InstallRun {
  readonly ms: number;
  readonly packages: number;
}

/** `npm install` of the corpus app from `server`, with a fresh project and an empty cache. */
async function installFrom(server: Server, dir: string): Promise<InstallRun> {
  const install = await npmInstall(
    server.url,
    join(dir, `install-${server.name}`),
    join(dir, `npm-cache-${server.name}`),
  );
  if (!install.ok)
    throw new Error(`npm install from ${server.name} failed:\n${install.errors.join("\n")}`);
  return { ms: install.ms, packages: install.packages };
}

// ---------------------------------------------------------------------------
// Reads, with autocannon.

interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number };
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly throughput: { readonly average: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
}) => Promise<AutocannonResult>;

function loadAutocannon(): Autocannon {
  return createRequire(join(TOOLS_DIR, "package.json"))("autocannon") as Autocannon;
}

interface ReadRun {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly bytesPerRequest: number;
}

/** A warm-up, then `seconds` of GETs at 20 connections; every answer must be a 2xx. */
async function readLoad(
  autocannon: Autocannon,
  url: string,
  headers: Record<string, string>,
  settings: Settings,
): Promise<ReadRun> {
  const options = { url, headers, connections: READ_CONNECTIONS };
  await autocannon({ ...options, duration: settings.warmupSeconds });
  const r = await autocannon({ ...options, duration: settings.readSeconds });
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) {
    throw new Error(
      `${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.timeouts} timeouts`,
    );
  }
  return {
    perSecond: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    bytesPerRequest: r.throughput.average / r.requests.average,
  };
}

// ---------------------------------------------------------------------------
// Tools.

// ---------------------------------------------------------------------------
// The run.

function parsePhases(value: string | undefined): Set<Phase> {
  if (value === undefined) return new Set(PHASES);
  const phases = value.split(",").map((p) => p.trim());
  for (const p of phases) {
    if (!PHASES.includes(p as Phase)) throw new Error(`--only: unknown phase ${JSON.stringify(p)}`);
  }
  return new Set(phases as Phase[]);
}

function ms(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}

function formatValue(value: number, unit: string): string {
  if (unit === "ms") return ms(value);
  if (unit === "s") return seconds(value * 1000);
  if (unit === "bytes") return mib(value);
  return `${count(value)} ${unit}`;
}

function printComparisons(comparisons: readonly ComparisonResult[], jwt: boolean): void {
  const rows = [["metric", "verdaccio", "cairn", "ratio", "target met?"]];
  for (const c of comparisons) {
    const target = c.met === undefined ? "" : `${c.met ? "yes" : "NO"} (>= ${c.target}x)`;
    rows.push([
      c.metric,
      formatValue(c.verdaccio, c.unit),
      formatValue(c.cairn, c.unit),
      `${c.ratio.toFixed(c.ratio < 10 ? 2 : 1)}x`,
      target,
    ]);
  }
  printTable(rows);
  console.log(
    "ratio: how many times better Cairn is (rates: cairn/verdaccio; times: verdaccio/cairn)",
  );
  if (!jwt && comparisons.some((c) => c.metric.startsWith("publishes/s"))) {
    console.log(
      "Verdaccio's default API tokens are checked with bcrypt (bcryptjs) on every publish, which\n" +
        "bounds its publishes; --verdaccio-jwt measures it with JWT tokens instead.",
    );
  }
}

/** Starts both servers and gives them the same content: the corpus (for installs) and the read package. */
export async function setUp(dir: string, servers: Server[], options: RunOptions): Promise<void> {
  const corpus = options.phases.has("install") ? await readCorpus() : [];
  // Cairn takes the corpus with `cairn import` while its server is stopped, as its docs say.
  const cairnData = join(dir, "cairn-data");
  if (corpus.length > 0) {
    const t0 = performance.now();
    const args = [
      options.cairnCli,
      "import",
      join(CORPUS_DIR, "npm"),
      "--user",
      "seed",
      "--data",
      cairnData,
    ];
    await runToEnd("cairn import", process.execPath, args, {
      cwd: REPO_DIR,
      logFile: join(dir, "cairn-import.log"),
    });
    console.log(`cairn: imported ${corpus.length} tarballs in ${seconds(performance.now() - t0)}`);
  }
  servers.push(
    await startVerdaccioServer(join(dir, "verdaccio"), options.verdaccioJwt, options.cpuProfDir),
  );
  servers.push(await startCairn(cairnData, options));
  if (options.cpuProfDir) {
    const pids = servers.map((s) => `${s.name} ${s.process.child.pid}`).join(", ");
    console.log(`CPU profiles go to ${options.cpuProfDir} (pids: ${pids})`);
  }
  for (const server of servers) server.token = await addUser(server, "bench");
  if (corpus.length > 0) {
    const t0 = performance.now();
    await seedOverHttp(servers[0], corpus);
    console.log(
      `verdaccio: published ${corpus.length} tarballs in ${seconds(performance.now() - t0)}`,
    );
  }
  // Also the warm-up of each server's publish path.
  for (const server of servers) await publishReadPackage(server);
}

async function measurePublishes(
  servers: readonly Server[],
  settings: Settings,
): Promise<Comparison[]> {
  const comparisons: Comparison[] = [];
  for (const level of PUBLISH_LEVELS) {
    const plan = publishPlan(level, settings.publishes[level]);
    const runs = new Map<string, PublishRun>();
    for (const server of servers) {
      const r = await publishLoad(server, plan, settings.publishCapMs);
      runs.set(server.name, r);
      console.log(
        `publish x${level}, ${server.name}: ${r.publishes} in ${seconds(r.ms)}, ` +
          `${count(r.perSecond)}/s, p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}`,
      );
    }
    const pair = (pick: (r: PublishRun) => number) => ({
      verdaccio: pick(runs.get("verdaccio") as PublishRun),
      cairn: pick(runs.get("cairn") as PublishRun),
    });
    const who = `${level} publisher${level > 1 ? "s" : ""}`;
    comparisons.push(
      {
        metric: `publishes/s, ${who}`,
        unit: "/s",
        ...pair((r) => r.perSecond),
        better: "higher",
        ...(level === 50 ? { target: TARGET_PUBLISH_50 } : {}),
      },
      { metric: "  latency p50", unit: "ms", ...pair((r) => r.p50Ms), better: "lower" },
      { metric: "  latency p99", unit: "ms", ...pair((r) => r.p99Ms), better: "lower" },
    );
  }
  return comparisons;
}

async function measureRead(
  servers: readonly Server[],
  what: string,
  path: string,
  headers: Record<string, string>,
  settings: Settings,
): Promise<Comparison> {
  const autocannon = loadAutocannon();
  const runs = new Map<string, ReadRun>();
  for (const server of servers) {
    const r = await readLoad(autocannon, `${server.url}${path}`, headers, settings);
    runs.set(server.name, r);
    console.log(
      `${what}, ${server.name}: ${count(r.perSecond)} req/s, p50 ${ms(r.p50Ms)}, ` +
        `p99 ${ms(r.p99Ms)}, ${count(r.bytesPerRequest)} bytes each`,
    );
  }
  return {
    metric: `${what} req/s, ${READ_CONNECTIONS} conn.`,
    unit: "/s",
    verdaccio: (runs.get("verdaccio") as ReadRun).perSecond,
    cairn: (runs.get("cairn") as ReadRun).perSecond,
    better: "higher",
    target: TARGET_READS,
  };
}

/** `runs` cold installs from each server, alternating; the fastest of each counts (the least disturbed). */
async function measureInstalls(
  servers: readonly Server[],
  dir: string,
  runs: number,
): Promise<Comparison> {
  const best = new Map<string, InstallRun>();
  for (let i = 0; i < runs; i++) {
    for (const server of servers) {
      const r = await installFrom(server, join(dir, `install-${i}`));
      console.log(`npm install, ${server.name}: ${r.packages} packages in ${seconds(r.ms)}`);
      if (r.ms < (best.get(server.name)?.ms ?? Number.POSITIVE_INFINITY)) best.set(server.name, r);
    }
  }
  const verdaccio = best.get("verdaccio") as InstallRun;
  const cairn = best.get("cairn") as InstallRun;
  if (verdaccio.packages !== cairn.packages) {
    throw new Error(
      `the installs differ: ${verdaccio.packages} packages from verdaccio, ${cairn.packages} from cairn`,
    );
  }
  return {
    metric: `npm install, corpus app (${cairn.packages} pkgs, cold cache)`,
    unit: "s",
    verdaccio: verdaccio.ms / 1000,
    cairn: cairn.ms / 1000,
    better: "lower",
    target: TARGET_INSTALL,
  };
}

/** Sets both servers up, measures each figure on Verdaccio then on Cairn, and returns the comparisons. */
async function compare(dir: string, servers: Server[], options: RunOptions): Promise<Comparison[]> {
  await setUp(dir, servers, options);
  const { phases, settings } = options;
  const comparisons: Comparison[] = [];
  if (phases.has("publish")) comparisons.push(...(await measurePublishes(servers, settings)));
  if (phases.has("packument")) {
    const headers = { accept: ABBREVIATED };
    comparisons.push(
      await measureRead(servers, "abbreviated packument", READ_PACKAGE, headers, settings),
    );
  }
  if (phases.has("tarball")) {
    const path = `${READ_PACKAGE}/-/${READ_PACKAGE}-1.0.0.tgz`;
    comparisons.push(await measureRead(servers, "tarball", path, {}, settings));
  }
  if (phases.has("install"))
    comparisons.push(await measureInstalls(servers, dir, options.installs));
  const [verdaccio, cairn] = await Promise.all(servers.map((s) => peakRssOf(s.process.child.pid)));
  comparisons.push({ metric: "server peak RSS", unit: "bytes", verdaccio, cairn, better: "lower" });
  return comparisons;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      "read-seconds": { type: "string" },
      installs: { type: "string" },
      "verdaccio-jwt": { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
      cairn: { type: "string" },
      "cairn-no-durable": { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: node bench/registry-vs-verdaccio.ts [--quick] [--only publish,packument,tarball,install]\n" +
        "         [--read-seconds N] [--installs N] [--verdaccio-jwt] [--cpu-prof DIR]\n" +
        "         [--cairn path/to/bin/cairn.ts] [--cairn-no-durable] [--keep] [--json]",
    );
    return;
  }
  const base = values.quick ? QUICK : FULL;
  const options: RunOptions = {
    settings: {
      ...base,
      readSeconds: positiveInt("read-seconds", values["read-seconds"], base.readSeconds),
    },
    phases: parsePhases(values.only),
    installs: positiveInt("installs", values.installs, values.quick ? 1 : 2),
    verdaccioJwt: values["verdaccio-jwt"],
    cpuProfDir: values["cpu-prof"],
    cairnCli: resolve(values.cairn ?? join(REPO_DIR, "bin", "cairn.ts")),
    cairnDurable: !values["cairn-no-durable"],
  };
  const started = performance.now();
  const verdaccioVersion = await ensureTools();
  const dir = await makeWorkDir("registry");
  const servers: Server[] = [];
  try {
    const comparisons = (await compare(dir, servers, options)).map(withRatio);
    const totalMs = performance.now() - started;
    const auth = options.verdaccioJwt ? "JWT API tokens" : "default legacy tokens";
    const durable = options.cairnDurable ? "durable" : "--no-durable";
    console.log(
      `\n== verdaccio ${verdaccioVersion} (${auth}) vs cairn (${durable}), ${seconds(totalMs)} ==`,
    );
    printComparisons(comparisons, options.verdaccioJwt);
    if (values.json) {
      emitResult({
        bench: "registry-vs-verdaccio",
        quick: values.quick,
        verdaccioVersion,
        verdaccioJwt: options.verdaccioJwt,
        comparisons,
        totalMs,
      } satisfies RegistryResult);
    }
  } finally {
    await Promise.all(servers.map((s) => stopProcess(s.process)));
    if (values.keep) console.log(`kept ${dir}`);
    else await removeDir(dir);
  }
}

// bench/web-verdaccio.ts sets the same two servers up through setUp.
if (import.meta.main) await main();
