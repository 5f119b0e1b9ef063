/**
 * The verifying proxy's speed target: `npm install` of the corpus app
 * through `cairn proxy`, which reads from a `cairn mirror` and verifies
 * every entry and tarball against the origin's signed log, against
 * `npm install` straight from the origin (`cairn serve`). Verification may
 * cost at most 10% more wall time. Also reports the bytes and requests the
 * proxy fetched from each source: the origin should only see checkpoint and
 * mirror-list reads.
 *
 *   node bench/proxy-install.ts                 # 3 rounds of each, alternating, then a warm-cache round (70 to 110 s)
 *   node bench/proxy-install.ts --quick         # 1 round of each
 *   node bench/proxy-install.ts --rounds 5 --cpu-prof bench/.work/prof   # a profile of each server process
 *
 * Everything runs as real processes on this node binary, on 127.0.0.1: the
 * origin (the corpus taken in with `cairn import`, then `cairn serve
 * --no-durable`), a mirror of it (`cairn mirror --no-durable`, synced before
 * it listens, and put on the origin's signed mirror list with `cairn mirrors
 * add`), and for every proxy round a new proxy (`cairn proxy`) on a fresh
 * data directory, so its blob cache is cold and it fetches and verifies
 * every tarball. npm is the machine's, on a fresh copy of the corpus app and
 * an empty cache each time. `--cairn path/bin/cairn.ts` runs a patched copy.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { cleanEnv } from "../test/helpers/npm-client.ts";
import { sharedPath } from "../test/helpers/shared.ts";
import {
  count,
  emitResult,
  makeWorkDir,
  mib,
  positiveInt,
  printTable,
  removeDir,
  seconds,
  size,
} from "./common.ts";
import {
  cpuMsOf,
  freePort,
  type Proc,
  peakRssOf,
  profileFlags,
  REPO_DIR,
  runToEnd,
  startProcess,
  stopProcess,
  tail,
  waitForOutput,
} from "./processes.ts";

/** The shared corpus beside the project (CAIRN_SHARED_DIR overrides, as in the tests). */
const CORPUS_DIR = sharedPath("corpus");
/** From the issue: installing through the proxy may take at most 10% more wall time. */
export const TARGET_RATIO = 1.1;

// ---------------------------------------------------------------------------
// The servers.

interface Options {
  readonly cairnCli: string;
  readonly cpuProfDir: string | undefined;
}

/** Starts a Cairn server on this node binary, with --cpu-prof when asked (and says which pid is which). */
function startCairn(
  name: string,
  options: Options,
  command: string,
  args: readonly string[],
  logFile: string,
): Proc {
  const proc = startProcess(name, process.execPath, nodeArgs(options, command, args), { logFile });
  if (options.cpuProfDir)
    console.log(`${name}: pid ${proc.child.pid} (its profile is CPU.*.${proc.child.pid}.*)`);
  return proc;
}

function nodeArgs(options: Options, command: string, args: readonly string[]): string[] {
  return [...profileFlags(options.cpuProfDir), options.cairnCli, command, ...args];
}

interface Server {
  readonly proc: Proc;
  readonly url: string;
}

interface Origin extends Server {
  readonly key: string;
}

async function startOrigin(dir: string, options: Options): Promise<Origin> {
  const data = join(dir, "origin");
  const t0 = performance.now();
  const imported = await runToEnd(
    "cairn import",
    process.execPath,
    [options.cairnCli, "import", "--user", "bench", "--data", data, join(CORPUS_DIR, "npm")],
    { logFile: join(dir, "import.log") },
  );
  console.log(
    `origin: ${tail(imported.out.stdout, 1)} (${seconds(performance.now() - t0)}, cairn import)`,
  );
  const proc = startCairn(
    "cairn serve",
    options,
    "serve",
    ["--data", data, "--port", "0", "--no-durable"],
    join(dir, "origin.log"),
  );
  const url = (await waitForOutput(proc, /listening on (\S+)/))[1];
  const key = (await waitForOutput(proc, /verifier key: (\S+)/))[1];
  return { proc, url: url.endsWith("/") ? url : `${url}/`, key };
}

async function startMirror(dir: string, origin: Origin, options: Options): Promise<Server> {
  const t0 = performance.now();
  const port = await freePort();
  // --interval: a sync of an origin that does not change is one checkpoint read; kept out of the figures anyway.
  const args = ["--from", origin.url, "--key", origin.key, "--data", join(dir, "mirror")];
  args.push("--port", `${port}`, "--no-durable", "--interval", "3600");
  const proc = startCairn("cairn mirror", options, "mirror", args, join(dir, "mirror.log"));
  const url = (await waitForOutput(proc, /listening on (\S+)/))[1];
  // A new mirror listens at once and reports its first sync when it lands.
  const size = (await waitForOutput(proc, /synced: size \d+ -> (\d+)/))[1];
  console.log(`mirror: synced size ${size} and listening in ${seconds(performance.now() - t0)}`);
  await runToEnd(
    "cairn mirrors add",
    process.execPath,
    [options.cairnCli, "mirrors", "add", url, "--data", join(dir, "origin")],
    { logFile: join(dir, "mirrors-add.log") },
  );
  return { proc, url: url.endsWith("/") ? url : `${url}/` };
}

interface Proxy extends Server {
  /** From spawn to listening: the node start, the first checkpoint and every entry fetched and verified. */
  readonly startMs: number;
  readonly mirrors: string;
}

async function startProxy(
  dir: string,
  name: string,
  origin: Origin,
  options: Options,
): Promise<Proxy> {
  const port = await freePort();
  const args = ["--origin", origin.url, "--key", origin.key, "--data", join(dir, name)];
  args.push("--port", `${port}`);
  const t0 = performance.now();
  const proc = startCairn("cairn proxy", options, "proxy", args, join(dir, `${name}.log`));
  const url = (await waitForOutput(proc, /listening on (\S+)/))[1];
  const startMs = performance.now() - t0;
  const mirrors = (await waitForOutput(proc, /mirrors: +(.*)/))[1];
  return { proc, url: url.endsWith("/") ? url : `${url}/`, startMs, mirrors };
}

// ---------------------------------------------------------------------------
// What the proxy fetched, from /-/cairn-proxy/sources.

interface SourceRow {
  readonly url: string;
  readonly origin: boolean;
  readonly requests: number;
  readonly bytes: number;
  readonly failures: number;
  readonly benched: boolean;
}

interface SourceReport {
  readonly checkpoint: { origin: string; size: number } | null;
  readonly sources: readonly SourceRow[];
}

/** Requests, bytes and failures of one kind of source (the origin, or the mirrors together). */
export interface Traffic {
  readonly requests: number;
  readonly bytes: number;
  readonly failures: number;
}

export interface ProxyTraffic {
  readonly origin: Traffic;
  readonly mirror: Traffic;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

async function sources(proxy: Proxy): Promise<SourceReport> {
  return getJson<SourceReport>(`${proxy.url}-/cairn-proxy/sources`);
}

function traffic(report: SourceReport): ProxyTraffic {
  const sum = (rows: readonly SourceRow[]): Traffic => ({
    requests: rows.reduce((n, r) => n + r.requests, 0),
    bytes: rows.reduce((n, r) => n + r.bytes, 0),
    failures: rows.reduce((n, r) => n + r.failures, 0),
  });
  return {
    origin: sum(report.sources.filter((s) => s.origin)),
    mirror: sum(report.sources.filter((s) => !s.origin)),
  };
}

function minus(a: ProxyTraffic, b: ProxyTraffic): ProxyTraffic {
  const sub = (x: Traffic, y: Traffic): Traffic => ({
    requests: x.requests - y.requests,
    bytes: x.bytes - y.bytes,
    failures: x.failures - y.failures,
  });
  return { origin: sub(a.origin, b.origin), mirror: sub(a.mirror, b.mirror) };
}

// ---------------------------------------------------------------------------
// npm.

interface InstallRun {
  readonly ms: number;
  /** npm's own timings (--timing): building the ideal tree (packuments), and unpacking (tarballs). */
  readonly resolveMs: number;
  readonly unpackMs: number;
  readonly packages: number;
  /** SHA-256 over the sorted path, version and integrity of every installed package. */
  readonly digest: string;
}

interface LockPackage {
  readonly version?: string;
  readonly resolved?: string;
  readonly integrity?: string;
}

/**
 * `npm install` of the corpus app from `registry`: a fresh project, an empty
 * cache, no audit, no fund, no scripts, `--prefer-online`, and a user config
 * of its own so ~/.npmrc plays no part. Every tarball must resolve to
 * `registry`.
 */
async function npmInstall(registry: string, dir: string): Promise<InstallRun> {
  const project = join(dir, "project");
  await mkdir(project, { recursive: true });
  await copyFile(join(CORPUS_DIR, "app-package.json"), join(project, "package.json"));
  const npmrc = join(project, ".npmrc");
  await writeFile(npmrc, "update-notifier=false\n");
  const args = ["install", "--registry", registry, "--cache", join(dir, "npm-cache")];
  args.push("--no-audit", "--no-fund", "--prefer-online", "--ignore-scripts", "--timing");
  const started = performance.now();
  const npm = await runToEnd("npm install", "npm", args, {
    cwd: project,
    env: cleanEnv({ npm_config_userconfig: npmrc }),
    logFile: join(dir, "npm.log"),
  });
  const ms = performance.now() - started;
  const timing = (phase: string) =>
    Number(new RegExp(`^npm timing ${phase} Completed in (\\d+)ms`, "m").exec(npm.out.stderr)?.[1]);
  const lock = JSON.parse(
    await readFile(join(project, "node_modules", ".package-lock.json"), "utf8"),
  ) as { packages: Record<string, LockPackage> };
  const lines: string[] = [];
  for (const [path, pkg] of Object.entries(lock.packages)) {
    if (!pkg.resolved?.startsWith(registry))
      throw new Error(`${path} resolved to ${pkg.resolved}, not to ${registry}`);
    lines.push(`${path} ${pkg.version} ${pkg.integrity}`);
  }
  const digest = createHash("sha256").update(lines.sort().join("\n")).digest("hex");
  return {
    ms,
    resolveMs: timing("idealTree"),
    unpackMs: timing("reify:unpack"),
    packages: lines.length,
    digest,
  };
}

// ---------------------------------------------------------------------------
// The run.

/** One install, as reported. */
export interface Install {
  readonly ms: number;
  readonly resolveMs: number;
  readonly unpackMs: number;
  /** CPU time (user + system) the servers used during the install. */
  readonly serverCpuMs: number;
}

export interface ProxyRound {
  readonly origin: Install;
  readonly proxy: Install & {
    /** From spawn to listening, fetching and verifying every log entry on the way. */
    readonly startMs: number;
    /** The proxy's share of serverCpuMs (the mirror's is the rest). */
    readonly proxyCpuMs: number;
  };
  /** What the proxy fetched while starting (checkpoint, tiles, entry bundles) and during the install (blobs). */
  readonly startTraffic: ProxyTraffic;
  readonly installTraffic: ProxyTraffic;
}

export interface ProxyInstallResult {
  readonly bench: "proxy-install";
  readonly packages: number;
  readonly logSize: number;
  readonly rounds: readonly ProxyRound[];
  readonly originMedianMs: number;
  readonly proxyMedianMs: number;
  /** Median proxy install over median origin install: the figure the target is about. */
  readonly ratio: number;
  readonly target: number;
  readonly met: boolean;
  /** Median of (proxy start + proxy install) over median origin install. */
  readonly ratioWithStart: number;
  /** An install through the last proxy again, its blob cache now full. */
  readonly warm?: Install & { readonly traffic: ProxyTraffic; readonly ratio: number };
  /** The origin served nothing larger than its checkpoint or mirror list to any proxy. */
  readonly originOnlyHeads: boolean;
  readonly proxyStderrLines: readonly string[];
  readonly mirrorStderrLines: readonly string[];
  readonly proxyPeakRssBytes: number;
  /** os.loadavg()[0] before and after the run: other work on the machine blurs the figures. */
  readonly load: readonly [number, number];
  readonly totalMs: number;
}

type Measured = Omit<ProxyInstallResult, "bench" | "totalMs" | "load">;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function describe(t: ProxyTraffic): string {
  const one = (x: Traffic) =>
    `${count(x.requests)} requests, ${size(x.bytes)}${x.failures ? `, ${x.failures} FAILURES` : ""}`;
  return `origin ${one(t.origin)}; mirror ${one(t.mirror)}`;
}

function phases(run: Install): string {
  return `${seconds(run.ms)} (resolve ${seconds(run.resolveMs)}, unpack ${seconds(run.unpackMs)}; server CPU ${seconds(run.serverCpuMs)})`;
}

/** A server's stderr, line by line: the proxy and the mirror report every source failure there. */
function stderrLines(server: Server): string[] {
  return server.proc.out.stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** CPU used by `procs` while `work` runs. */
async function withCpu<T>(procs: readonly Proc[], work: () => Promise<T>): Promise<[T, number[]]> {
  const before = await Promise.all(procs.map((p) => cpuMsOf(p.child.pid)));
  const result = await work();
  const after = await Promise.all(procs.map((p) => cpuMsOf(p.child.pid)));
  return [result, after.map((ms, i) => ms - before[i])];
}

async function measure(
  dir: string,
  rounds: number,
  warm: boolean,
  options: Options,
): Promise<Measured> {
  const servers: Proc[] = [];
  const proxies: Proxy[] = [];
  try {
    const origin = await startOrigin(dir, options);
    servers.push(origin.proc);
    const mirror = await startMirror(dir, origin, options);
    servers.push(mirror.proc);
    // The largest files the origin should serve a proxy: its checkpoint and its mirror list.
    const headBytes = Math.max(
      ...(await Promise.all(
        ["checkpoint", "mirrors"].map(async (file) => {
          const res = await fetch(`${origin.url}-/cairn/${file}`);
          if (!res.ok) throw new Error(`GET ${origin.url}-/cairn/${file}: ${res.status}`);
          return (await res.arrayBuffer()).byteLength;
        }),
      )),
    );

    // npm's own files and the origin's packuments into memory, untimed: a running origin is warm.
    const warmup = await npmInstall(origin.url, join(dir, "warmup"));
    console.log(
      `warm-up npm install from the origin, untimed: ${warmup.packages} packages in ${seconds(warmup.ms)}`,
    );
    const sameAsOrigin = (what: string, run: InstallRun) => {
      if (run.digest !== warmup.digest)
        throw new Error(
          `${what} installed other packages than the origin (${run.packages} vs ${warmup.packages})`,
        );
    };

    const results: ProxyRound[] = [];
    const stderr: string[] = [];
    let originOnlyHeads = true;
    let logSize = 0;
    let peakRss = 0;
    let last: Proxy | undefined;

    const fromOrigin = async (i: number): Promise<Install> => {
      const [run, [cpu]] = await withCpu([origin.proc], () =>
        npmInstall(origin.url, join(dir, `origin-${i}`)),
      );
      sameAsOrigin("the origin", run);
      const result = { ...run, serverCpuMs: cpu };
      console.log(`round ${i + 1}, origin:       npm install ${phases(result)}`);
      return result;
    };

    const throughProxy = async (i: number) => {
      const proxy = await startProxy(dir, `proxy-${i}`, origin, options);
      proxies.push(proxy);
      if (!proxy.mirrors.includes(mirror.url))
        throw new Error(`the proxy does not read from the mirror ${mirror.url}: ${proxy.mirrors}`);
      const atStart = await sources(proxy);
      logSize = atStart.checkpoint?.size ?? 0;
      const [run, [proxyCpu, mirrorCpu]] = await withCpu([proxy.proc, mirror.proc], () =>
        npmInstall(proxy.url, join(dir, `proxy-${i}-npm`)),
      );
      sameAsOrigin("the proxy", run);
      const after = await sources(proxy);
      const startTraffic = traffic(atStart);
      const installTraffic = minus(traffic(after), startTraffic);
      const all = traffic(after).origin;
      if (all.bytes > all.requests * headBytes) originOnlyHeads = false;
      const benched = after.sources.filter((s) => s.benched).map((s) => s.url);
      const install = {
        ...run,
        serverCpuMs: proxyCpu + mirrorCpu,
        startMs: proxy.startMs,
        proxyCpuMs: proxyCpu,
      };
      console.log(
        `round ${i + 1}, proxy (cold): npm install ${phases(install)}\n` +
          `  proxy started in ${seconds(proxy.startMs)}, reading from ${proxy.mirrors}; ` +
          `CPU during the install: proxy ${seconds(proxyCpu)}, mirror ${seconds(mirrorCpu)}\n` +
          `  fetched while starting: ${describe(startTraffic)}\n` +
          `  fetched during install: ${describe(installTraffic)}` +
          (benched.length > 0
            ? `\n  benched sources after the install: ${benched.join(", ")}`
            : ""),
      );
      return { proxy, install, startTraffic, installTraffic };
    };

    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first, so neither always follows the other.
      let o: Install;
      let p: Awaited<ReturnType<typeof throughProxy>>;
      if (i % 2 === 0) {
        o = await fromOrigin(i);
        p = await throughProxy(i);
      } else {
        p = await throughProxy(i);
        o = await fromOrigin(i);
      }
      results.push({
        origin: o,
        proxy: p.install,
        startTraffic: p.startTraffic,
        installTraffic: p.installTraffic,
      });
      peakRss = Math.max(peakRss, await peakRssOf(p.proxy.proc.child.pid));
      // Only the last proxy stays up, for the warm round; the others stop now, out of the way.
      if (last) {
        await stopProcess(last.proc);
        stderr.push(...stderrLines(last));
      }
      last = p.proxy;
    }

    const originMedianMs = median(results.map((r) => r.origin.ms));
    let warmResult: ProxyInstallResult["warm"];
    if (warm && last) {
      const proxy = last;
      const before = traffic(await sources(proxy));
      const [run, [proxyCpu, mirrorCpu]] = await withCpu([proxy.proc, mirror.proc], () =>
        npmInstall(proxy.url, join(dir, "proxy-warm-npm")),
      );
      sameAsOrigin("the warm proxy", run);
      const t = minus(traffic(await sources(proxy)), before);
      warmResult = {
        ...run,
        serverCpuMs: proxyCpu + mirrorCpu,
        traffic: t,
        ratio: run.ms / originMedianMs,
      };
      console.log(
        `proxy (warm, blobs cached): npm install ${phases(warmResult)}\n  fetched: ${describe(t)}`,
      );
      peakRss = Math.max(peakRss, await peakRssOf(proxy.proc.child.pid));
    }
    if (last) {
      await stopProcess(last.proc);
      stderr.push(...stderrLines(last));
    }

    const proxyMedianMs = median(results.map((r) => r.proxy.ms));
    const ratio = proxyMedianMs / originMedianMs;
    return {
      packages: warmup.packages,
      logSize,
      rounds: results,
      originMedianMs,
      proxyMedianMs,
      ratio,
      target: TARGET_RATIO,
      met: ratio <= TARGET_RATIO,
      ratioWithStart: median(results.map((r) => r.proxy.startMs + r.proxy.ms)) / originMedianMs,
      ...(warmResult ? { warm: warmResult } : {}),
      originOnlyHeads,
      proxyStderrLines: stderr,
      mirrorStderrLines: stderrLines(mirror),
      proxyPeakRssBytes: peakRss,
    };
  } finally {
    await Promise.all([...proxies.map((p) => stopProcess(p.proc)), ...servers.map(stopProcess)]);
  }
}

function report(r: Measured): void {
  const rows = [
    [
      "",
      "origin",
      "resolve",
      "unpack",
      "proxy (cold)",
      "resolve",
      "unpack",
      "proxy start",
      "ratio",
    ],
  ];
  r.rounds.forEach(({ origin, proxy }, i) => {
    rows.push([
      `round ${i + 1}`,
      seconds(origin.ms),
      seconds(origin.resolveMs),
      seconds(origin.unpackMs),
      seconds(proxy.ms),
      seconds(proxy.resolveMs),
      seconds(proxy.unpackMs),
      seconds(proxy.startMs),
      `${(proxy.ms / origin.ms).toFixed(2)}x`,
    ]);
  });
  const med = (pick: (x: ProxyRound) => number) => seconds(median(r.rounds.map(pick)));
  rows.push([
    "median",
    seconds(r.originMedianMs),
    med((x) => x.origin.resolveMs),
    med((x) => x.origin.unpackMs),
    seconds(r.proxyMedianMs),
    med((x) => x.proxy.resolveMs),
    med((x) => x.proxy.unpackMs),
    med((x) => x.proxy.startMs),
    `${r.ratio.toFixed(2)}x`,
  ]);
  printTable(rows);
  console.log(
    "resolve: npm's idealTree timing (--timing), fetching packuments; unpack: its reify:unpack, fetching and\n" +
      "extracting tarballs; the rest is npm starting, reading the tree and writing the lockfile",
  );
  console.log(
    `\nnpm install of the corpus app (${r.packages} packages, log size ${r.logSize}), ` +
      `proxy/origin, medians: ${r.ratio.toFixed(2)}x; target <= ${TARGET_RATIO.toFixed(2)}x: ` +
      `${r.met ? "met" : "MISSED"}`,
  );
  console.log(
    `counting the proxy's start (fetching and verifying every entry): ${r.ratioWithStart.toFixed(2)}x`,
  );
  if (r.warm)
    console.log(`warm proxy (blobs cached): ${phases(r.warm)}, ${r.warm.ratio.toFixed(2)}x`);
  const first = r.rounds[0];
  console.log(
    `the proxy fetched, round 1, while starting: ${describe(first.startTraffic)}\n` +
      `                            during install: ${describe(first.installTraffic)}`,
  );
  if (r.warm) console.log(`                  warm install: ${describe(r.warm.traffic)}`);
  console.log(
    `the origin served the proxies only its checkpoint and mirror list: ${r.originOnlyHeads ? "yes" : "NO"}`,
  );
  console.log(`proxy peak RSS: ${mib(r.proxyPeakRssBytes)}`);
  if (r.proxyStderrLines.length > 0) {
    console.log(`proxy stderr (${r.proxyStderrLines.length} lines, first 10):`);
    for (const line of r.proxyStderrLines.slice(0, 10)) console.log(`  ${line}`);
  } else console.log("proxy stderr: empty");
  if (r.mirrorStderrLines.length > 0) {
    console.log(`mirror stderr (${r.mirrorStderrLines.length} lines, first 10):`);
    for (const line of r.mirrorStderrLines.slice(0, 10)) console.log(`  ${line}`);
  } else console.log("mirror stderr: empty");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      rounds: { type: "string" },
      "no-warm": { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
      cairn: { type: "string" },
      keep: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: node bench/proxy-install.ts [--quick] [--rounds N] [--no-warm] [--cpu-prof DIR]\n" +
        "         [--cairn path/to/bin/cairn.ts] [--keep] [--json]",
    );
    return;
  }
  const rounds = positiveInt("rounds", values.rounds, values.quick ? 1 : 3);
  const options: Options = {
    cairnCli: resolve(values.cairn ?? join(REPO_DIR, "bin", "cairn.ts")),
    cpuProfDir: values["cpu-prof"],
  };
  if (options.cpuProfDir) await mkdir(options.cpuProfDir, { recursive: true });
  const started = performance.now();
  const loadBefore = loadavg()[0];
  const dir = await makeWorkDir("proxy");
  try {
    const r = await measure(dir, rounds, !values["no-warm"], options);
    const totalMs = performance.now() - started;
    const load: [number, number] = [loadBefore, loadavg()[0]];
    console.log(
      `\n== npm install through cairn proxy -> mirror vs from the origin, ${seconds(totalMs)}, ` +
        `load average ${load[0].toFixed(2)} before, ${load[1].toFixed(2)} after ==`,
    );
    report(r);
    if (options.cpuProfDir) console.log(`CPU profiles in ${options.cpuProfDir}`);
    if (values.json)
      emitResult({ bench: "proxy-install", ...r, load, totalMs } satisfies ProxyInstallResult);
  } finally {
    if (values.keep) console.log(`kept ${dir}`);
    else await removeDir(dir);
  }
}

await main();
