/**
 * Uplinks: Cairn as a pull-through cache against Verdaccio 6 as one, both
 * proxying the same local upstream (test/helpers/upstream-registry.ts: the
 * corpus with full packuments, older versions and prereleases, real `time`
 * fields; it counts every request and byte). `npm install` of the corpus
 * app through each, one server at a time (Verdaccio, then Cairn), in three
 * phases:
 *
 *   cold     a fresh registry (empty data directory) and an empty npm cache
 *   warm     the same registry, still running, and an empty npm cache again
 *   offline  the upstream stopped, its connections refused; once both
 *            registries' max age has passed since their last upstream
 *            contact (so each must notice the upstream is gone), an empty
 *            npm cache: does everything install, and how long does it take?
 *
 *   node bench/uplink.ts                 # about 8 minutes: 2 wait out the max age, 3 a stuck offline install
 *   node bench/uplink.ts --max-age 15    # both registries refresh packuments after 15 s (--quick)
 *   node bench/uplink.ts --cpu-prof bench/.work/prof   # a profile of each server
 *
 * Verdaccio is set up as its docs set up a proxy (an `uplinks` entry,
 * `packages: '**': proxy: up`, every other setting its default). Cairn runs
 * `cairn serve --uplink up=<upstream>`, durable (fsync before it answers, its
 * default and what a user runs; Verdaccio never fsyncs). Both keep imported
 * packuments 120 s before refreshing them (`maxage` and `maxAge`, both
 * defaults) unless `--max-age` sets both.
 *
 * An install still running after --install-timeout (180 s) is stopped and
 * reported as not finished. The upstream runs in this process: while an
 * install runs this process does nothing else, so it is the upstream's
 * alone. Also reported: what
 * each install asked of the upstream, each server's CPU time per install
 * and its peak RSS, and what Cairn's log holds after the cold install
 * (entries and bytes per imported version), read from its data directory.
 */
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseVerifierKey } from "../src/log/index.ts";
import { blobsNamedBy, type Entry } from "../src/registry/entries.ts";
import { treeEntries } from "../test/helpers/entries.ts";
import {
  startUpstreamRegistry,
  type UpstreamRegistry,
  type UpstreamStats,
} from "../test/helpers/upstream-registry.ts";
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
  type NpmInstall,
  npmInstall,
  type Proc,
  peakRssOf,
  profileFlags,
  REPO_DIR,
  startProcess,
  stopProcess,
  waitForOutput,
} from "./processes.ts";
import { ensureTools, startVerdaccio } from "./verdaccio.ts";

/** From the issue: a cold install within 1.1x of Verdaccio's time, a warm one no slower. */
const TARGET_COLD = 1.1;
const TARGET_WARM = 1.0;
/** Both registries' default: Verdaccio's `maxage` (2m) and Cairn's uplink `maxAge`. */
const DEFAULT_MAX_AGE_SECONDS = 120;
const UPLINK = "up";
/** Beyond the max age, before the offline installs: refreshes start from the last request on. */
const MAX_AGE_MARGIN_MS = 3000;

const PHASES = ["cold", "warm", "offline"] as const;
type Phase = (typeof PHASES)[number];
type ServerName = "verdaccio" | "cairn";

interface Server {
  readonly name: ServerName;
  readonly url: string;
  readonly proc: Proc;
}

/** What one install asked of the upstream. */
export interface UpstreamTraffic {
  readonly requests: number;
  readonly packuments: number;
  readonly tarballs: number;
  /** 304 answers to conditional packument requests. */
  readonly notModified: number;
  /** Response body bytes. */
  readonly bytes: number;
}

/** One install through one server. */
export interface ServerInstall {
  readonly ok: boolean;
  /** npm was still running after --install-timeout, and was stopped. */
  readonly timedOut: boolean;
  readonly ms: number;
  readonly packages: number;
  /** The same packages, versions and integrity as this server's cold install. */
  readonly sameTree: boolean;
  /** Installed packages whose tarball URL was not the server's. */
  readonly elsewhere: number;
  readonly npmErrors: readonly string[];
  readonly upstream: UpstreamTraffic;
  /** User + system CPU time of the server during the install. */
  readonly serverCpuMs: number;
  /** What the server logged during the install (warnings and errors only), grouped. */
  readonly serverLog: readonly LogGroup[];
}

export interface PhaseResult {
  readonly phase: Phase;
  readonly verdaccio: ServerInstall;
  readonly cairn: ServerInstall;
  /** Cairn's time over Verdaccio's. */
  readonly ratio: number;
  /** The issue's target for the phase, and whether Cairn met it. */
  readonly target: string;
  readonly met: boolean;
}

/** Cairn's log after the cold install, from its data directory. */
export interface LogFootprint {
  /** The log's size: every entry, registry ones (snapshots) included. */
  readonly entries: number;
  readonly byKind: Readonly<Record<string, number>>;
  /** `import` entries: every version of every package the install asked for, fetched tarball or not. */
  readonly importedVersions: number;
  /** Checkpoint, hash tiles and entry bundles: every file of the tree but its blobs. */
  readonly treeBytes: number;
  /** The version documents the import entries name. */
  readonly manifestBytes: number;
  /** Snapshot documents, shards and roots, and any database copy: blobs no package entry names. */
  readonly snapshotBytes: number;
  /** Tarballs the artifact entries name (fetched on request). */
  readonly tarballBytes: number;
  /** The derived SQLite state (with its write-ahead log). */
  readonly stateBytes: number;
}

/** Verdaccio's storage after the cold install: its package.json per package, and tarballs. */
export interface StorageFootprint {
  readonly metadataBytes: number;
  readonly tarballBytes: number;
}

export interface UplinkResult {
  readonly bench: "uplink";
  readonly verdaccioVersion: string;
  readonly maxAgeSeconds: number;
  readonly cairnDurable: true;
  readonly phases: readonly PhaseResult[];
  readonly cairnLog: LogFootprint;
  readonly verdaccioStorage: StorageFootprint;
  readonly peakRss: Readonly<Record<ServerName, number>>;
  readonly totalMs: number;
}

/** Log entries of one kind: Cairn's JSON lines by message and error code, Verdaccio's by first line. */
export interface LogGroup {
  readonly kind: string;
  readonly entries: number;
  /** The first line of the group, shortened. */
  readonly example: string;
}

interface Options {
  readonly maxAgeSeconds: number;
  readonly installTimeoutMs: number;
  readonly cpuProfDir: string | undefined;
  readonly cairnCli: string;
}

// ---------------------------------------------------------------------------
// The servers.

async function startCairn(dir: string, upstream: string, options: Options): Promise<Server> {
  const data = join(dir, "cairn-data");
  const args = [...profileFlags(options.cpuProfDir), options.cairnCli, "serve"];
  args.push("--data", data, "--port", "0");
  if (options.maxAgeSeconds === DEFAULT_MAX_AGE_SECONDS)
    args.push("--uplink", `${UPLINK}=${upstream}`);
  else {
    // Only the config file sets an uplink's max age.
    await mkdir(data, { recursive: true });
    const uplinks = { [UPLINK]: { url: upstream, maxAge: options.maxAgeSeconds } };
    await writeFile(join(data, "config.json"), JSON.stringify({ uplinks }));
  }
  const proc = startProcess("cairn serve", process.execPath, args, {
    logFile: join(dir, "cairn-server.log"),
  });
  const url = (await waitForOutput(proc, /listening on (\S+)/))[1];
  return { name: "cairn", url: url.endsWith("/") ? url : `${url}/`, proc };
}

/** The verifier key `cairn serve` printed at start. */
async function cairnVerifierKey(cairn: Server): Promise<string> {
  return (await waitForOutput(cairn.proc, /verifier key: (\S+)/))[1];
}

// ---------------------------------------------------------------------------
// Measuring.

function trafficSince(before: UpstreamStats, after: UpstreamStats): UpstreamTraffic {
  return {
    requests: after.requests - before.requests,
    packuments: after.packumentRequests - before.packumentRequests,
    tarballs: after.tarballRequests - before.tarballRequests,
    notModified: after.notModified - before.notModified,
    bytes: after.bytesSent - before.bytesSent,
  };
}

/**
 * The kind of a log line that starts an entry: a JSON line's message and
 * error code (Cairn), the first line of a "pretty" entry (Verdaccio's
 * `warn --- …`, without the object that may follow); undefined for the
 * other lines of a multi-line entry (stack traces, objects).
 */
function kindOf(line: string): string | undefined {
  if (line.startsWith("{")) {
    try {
      const entry = JSON.parse(line) as { msg?: string; code?: string; status?: number };
      const code = [entry.status, entry.code].filter((x) => x !== undefined).join(" ");
      return `${entry.msg ?? "?"}${code ? ` (${code})` : ""}`;
    } catch {
      return undefined;
    }
  }
  return /^(fatal|error|warn|info|http)\b/.test(line) ? line.replace(/\s*\{$/, "") : undefined;
}

/** A server's log entries grouped by kind; colour codes out (Verdaccio's "pretty" log is meant for a terminal). */
function groupLines(text: string): LogGroup[] {
  const groups = new Map<string, { entries: number; example: string }>();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences
  for (const raw of text.replace(/\u001b\[[0-9;]*m/g, "").split("\n")) {
    const line = raw.trim();
    const kind = kindOf(line);
    if (kind === undefined) continue;
    const group = groups.get(kind);
    if (group) group.entries++;
    else groups.set(kind, { entries: 1, example: line.slice(0, 300) });
  }
  return [...groups].map(([kind, g]) => ({ kind, ...g }));
}

async function installThrough(
  server: Server,
  upstream: UpstreamRegistry,
  dir: string,
  coldDigest: string | undefined,
  timeoutMs: number,
): Promise<ServerInstall & { digest: string }> {
  const stats = { ...upstream.stats };
  const { out } = server.proc;
  const written = { stdout: out.stdout.length, stderr: out.stderr.length };
  const cpuBefore = await cpuMsOf(server.proc.child.pid);
  const install: NpmInstall = await npmInstall(
    server.url,
    join(dir, "project"),
    join(dir, "npm-cache"),
    timeoutMs,
  );
  const serverCpuMs = (await cpuMsOf(server.proc.child.pid)) - cpuBefore;
  return {
    ok: install.ok,
    timedOut: install.timedOut,
    ms: install.ms,
    packages: install.packages,
    digest: install.digest,
    sameTree: install.ok && (coldDigest === undefined || install.digest === coldDigest),
    elsewhere: install.elsewhere,
    npmErrors: install.errors,
    upstream: trafficSince(stats, upstream.stats),
    serverCpuMs,
    serverLog: groupLines(
      `${out.stdout.slice(written.stdout)}\n${out.stderr.slice(written.stderr)}`,
    ),
  };
}

async function walkFiles(dir: string): Promise<{ path: string; size: number }[]> {
  const files: { path: string; size: number }[] = [];
  for (const item of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!item.isFile()) continue;
    const path = join(item.parentPath, item.name);
    files.push({ path, size: (await stat(path)).size });
  }
  return files;
}

/**
 * Counts Cairn's log by entry kind from its tree (every bundle under the
 * signed checkpoint), and sizes its files: blobs by which entries name them
 * (an import entry its manifest, an artifact entry its tarball; the rest
 * are snapshot and database blobs), every other file of the tree (the
 * checkpoint, hash tiles and entry bundles) apart, and the SQLite state.
 */
async function cairnLogFootprint(dataDir: string, verifierKey: string): Promise<LogFootprint> {
  const treeDir = join(dataDir, "tree");
  const entries: Entry[] = await treeEntries(treeDir, parseVerifierKey(verifierKey));
  const byKind: Record<string, number> = {};
  const manifests = new Set<string>();
  const tarballs = new Set<string>();
  for (const entry of entries) {
    byKind[entry.kind] = (byKind[entry.kind] ?? 0) + 1;
    for (const named of blobsNamedBy(entry))
      (named.artifact ? tarballs : manifests).add(named.ref.sha256);
  }
  let treeBytes = 0;
  let manifestBytes = 0;
  let snapshotBytes = 0;
  let tarballBytes = 0;
  const blobDir = join(treeDir, "blob", "sha256");
  for (const { path, size } of await walkFiles(treeDir)) {
    if (path.startsWith(join(treeDir, ".tmp"))) continue;
    if (!path.startsWith(`${blobDir}/`)) treeBytes += size;
    else {
      const hex = path.slice(blobDir.length + 1);
      if (manifests.has(hex)) manifestBytes += size;
      else if (tarballs.has(hex)) tarballBytes += size;
      else snapshotBytes += size;
    }
  }
  let stateBytes = 0;
  for (const item of await readdir(dataDir, { withFileTypes: true }))
    if (item.isFile() && item.name.startsWith("state.sqlite"))
      stateBytes += (await stat(join(dataDir, item.name))).size;
  return {
    entries: entries.length,
    byKind,
    importedVersions: byKind.import ?? 0,
    treeBytes,
    manifestBytes,
    snapshotBytes,
    tarballBytes,
    stateBytes,
  };
}

async function verdaccioStorageFootprint(storage: string): Promise<StorageFootprint> {
  let metadataBytes = 0;
  let tarballBytes = 0;
  for (const { path, size } of await walkFiles(storage)) {
    if (path.endsWith(".tgz")) tarballBytes += size;
    else if (path.endsWith("package.json")) metadataBytes += size;
  }
  return { metadataBytes, tarballBytes };
}

// ---------------------------------------------------------------------------
// Reporting.

function describeTraffic(t: UpstreamTraffic): string {
  const parts = [`${count(t.packuments)} packuments`, `${count(t.tarballs)} tarballs`];
  if (t.notModified > 0) parts.push(`${count(t.notModified)} x 304`);
  const other = t.requests - t.packuments - t.tarballs;
  if (other > 0) parts.push(`${count(other)} other`);
  return `${count(t.requests)} (${parts.join(", ")}), ${size(t.bytes)}`;
}

function outcome(r: ServerInstall): string {
  if (r.timedOut) return `DID NOT FINISH in ${seconds(r.ms)}`;
  if (!r.ok) return `FAILED after ${seconds(r.ms)}`;
  const tree = r.sameTree ? "" : ", a DIFFERENT tree";
  const elsewhere = r.elsewhere > 0 ? `, ${r.elsewhere} tarballs from elsewhere` : "";
  return `${seconds(r.ms)} (${r.packages} pkgs${tree}${elsewhere})`;
}

/** The issue's target for a phase, and whether Cairn meets it. */
function targetOf(phase: Pick<PhaseResult, "phase" | "cairn" | "ratio">): {
  text: string;
  met: boolean;
} {
  switch (phase.phase) {
    case "cold":
      return { text: `<= ${TARGET_COLD}x`, met: phase.cairn.ok && phase.ratio <= TARGET_COLD };
    case "warm":
      return {
        text: `<= ${TARGET_WARM.toFixed(1)}x`,
        met: phase.cairn.ok && phase.ratio <= TARGET_WARM,
      };
    case "offline":
      return { text: "installs everything", met: phase.cairn.ok && phase.cairn.sameTree };
  }
}

function printReport(result: UplinkResult): void {
  const rows = [["phase", "verdaccio", "cairn", "cairn / verdaccio", "target"]];
  for (const p of result.phases) {
    rows.push([
      p.phase,
      outcome(p.verdaccio),
      outcome(p.cairn),
      `${p.ratio.toFixed(2)}x`,
      `${p.target}: ${p.met ? "met" : "MISSED"}`,
    ]);
  }
  printTable(rows);
  console.log("\nasked of the upstream per install (requests, body bytes), and server CPU:");
  const traffic = [["phase", "server", "upstream requests, bytes", "server CPU"]];
  for (const p of result.phases)
    for (const name of ["verdaccio", "cairn"] as const)
      traffic.push([
        p.phase,
        name,
        describeTraffic(p[name].upstream),
        seconds(p[name].serverCpuMs),
      ]);
  printTable(traffic);
  const log = result.cairnLog;
  const per = (n: number) =>
    (n / log.importedVersions).toFixed(n < log.importedVersions * 10 ? 2 : 0);
  const kinds = Object.entries(log.byKind)
    .map(([kind, n]) => `${count(n)} ${kind}`)
    .join(", ");
  console.log(
    `\ncairn's log after the cold install: ${count(log.entries)} entries (${kinds}), ` +
      `${count(log.importedVersions)} imported versions: ${per(log.entries)} entries per imported version`,
  );
  console.log(
    `  tree (checkpoint, tiles, entry bundles) ${size(log.treeBytes)} + manifests ${size(log.manifestBytes)} = ` +
      `${count((log.treeBytes + log.manifestBytes) / log.importedVersions)} bytes per imported version; ` +
      `snapshot blobs ${size(log.snapshotBytes)} (${count(log.snapshotBytes / log.importedVersions)} bytes per version); ` +
      `tarballs ${size(log.tarballBytes)}; SQLite state ${size(log.stateBytes)}`,
  );
  const storage = result.verdaccioStorage;
  console.log(
    `verdaccio's storage after the cold install: package.json files ${size(storage.metadataBytes)}, ` +
      `tarballs ${size(storage.tarballBytes)}`,
  );
  console.log(
    `peak RSS: verdaccio ${mib(result.peakRss.verdaccio)}, cairn ${mib(result.peakRss.cairn)}`,
  );
  for (const p of result.phases)
    for (const name of ["verdaccio", "cairn"] as const) {
      const r = p[name];
      if (r.npmErrors.length > 0)
        console.log(`\n${p.phase}, ${name}: npm said\n  ${r.npmErrors.slice(0, 8).join("\n  ")}`);
      if (r.serverLog.length > 0) {
        const groups = r.serverLog.map((g) => `${g.entries} x ${g.kind}, e.g.\n      ${g.example}`);
        console.log(`\n${p.phase}, ${name} logged:\n  ${groups.join("\n  ")}`);
      }
    }
}

// ---------------------------------------------------------------------------
// The run.

/** `cairnFirst`: in each phase Cairn installs before Verdaccio (rounds alternate, so neither always goes first). */
async function measure(
  dir: string,
  options: Options,
  verdaccioVersion: string,
  cairnFirst = false,
): Promise<UplinkResult> {
  const started = performance.now();
  const upstream = await startUpstreamRegistry({ prepare: true });
  const servers: Server[] = [];
  try {
    const verdaccio = await startVerdaccio(join(dir, "verdaccio"), {
      uplink: {
        name: UPLINK,
        url: upstream.url,
        ...(options.maxAgeSeconds === DEFAULT_MAX_AGE_SECONDS
          ? {}
          : { maxAgeSeconds: options.maxAgeSeconds }),
      },
      cpuProfDir: options.cpuProfDir,
    });
    servers.push({ name: "verdaccio", url: verdaccio.url, proc: verdaccio.process });
    const cairn = await startCairn(dir, upstream.url, options);
    servers.push(cairn);
    if (options.cpuProfDir) {
      const pids = servers.map((s) => `${s.name} ${s.proc.child.pid}`).join(", ");
      console.log(`CPU profiles go to ${options.cpuProfDir} (pids: ${pids})`);
    }
    const coldDigests = new Map<ServerName, string>();
    const phases: PhaseResult[] = [];
    let cairnLog: LogFootprint | undefined;
    let verdaccioStorage: StorageFootprint | undefined;
    let lastInstallEnded = 0;
    for (const phase of PHASES) {
      if (phase === "offline") {
        await upstream.down();
        const waitMs =
          lastInstallEnded + options.maxAgeSeconds * 1000 + MAX_AGE_MARGIN_MS - performance.now();
        console.log(
          `upstream stopped; waiting ${seconds(Math.max(0, waitMs))} for both registries' max age (${options.maxAgeSeconds} s) to pass`,
        );
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
      const runs = new Map<ServerName, ServerInstall>();
      for (const server of cairnFirst ? [...servers].reverse() : servers) {
        const r = await installThrough(
          server,
          upstream,
          join(dir, phase, server.name),
          coldDigests.get(server.name),
          options.installTimeoutMs,
        );
        lastInstallEnded = performance.now();
        if (phase === "cold" && r.ok) coldDigests.set(server.name, r.digest);
        const { digest: _, ...install } = r;
        runs.set(server.name, install);
        console.log(
          `${phase}, ${server.name}: ${outcome(install)}; upstream ${describeTraffic(install.upstream)}`,
        );
      }
      const v = runs.get("verdaccio") as ServerInstall;
      const c = runs.get("cairn") as ServerInstall;
      const measured = { phase, verdaccio: v, cairn: c, ratio: c.ms / v.ms };
      const target = targetOf(measured);
      phases.push({ ...measured, target: target.text, met: target.met });
      if (phase === "cold") {
        if (coldDigests.get("verdaccio") !== coldDigests.get("cairn"))
          console.log("NOTE: the cold installs through verdaccio and cairn differ");
        cairnLog = await cairnLogFootprint(join(dir, "cairn-data"), await cairnVerifierKey(cairn));
        verdaccioStorage = await verdaccioStorageFootprint(verdaccio.storage);
      }
    }
    const [verdaccioRss, cairnRss] = await Promise.all(
      servers.map((s) => peakRssOf(s.proc.child.pid)),
    );
    return {
      bench: "uplink",
      verdaccioVersion,
      maxAgeSeconds: options.maxAgeSeconds,
      cairnDurable: true,
      phases,
      cairnLog: cairnLog as LogFootprint,
      verdaccioStorage: verdaccioStorage as StorageFootprint,
      peakRss: { verdaccio: verdaccioRss, cairn: cairnRss },
      totalMs: performance.now() - started,
    };
  } finally {
    await Promise.all(servers.map((s) => stopProcess(s.proc)));
    await upstream.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "max-age": { type: "string" },
      "install-timeout": { type: "string" },
      quick: { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
      cairn: { type: "string" },
      keep: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      rounds: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: node bench/uplink.ts [--max-age SECONDS] [--install-timeout SECONDS] [--quick] [--cpu-prof DIR]\n" +
        "         [--cairn path/to/bin/cairn.ts] [--rounds N] [--keep] [--json]\n" +
        "--rounds: N rounds from fresh registries, alternating which server installs first; medians at the end\n" +
        "--quick: --max-age 15, so the offline phase waits 15 s rather than 120",
    );
    return;
  }
  const options: Options = {
    maxAgeSeconds: positiveInt(
      "max-age",
      values["max-age"],
      values.quick ? 15 : DEFAULT_MAX_AGE_SECONDS,
    ),
    installTimeoutMs: 1000 * positiveInt("install-timeout", values["install-timeout"], 180),
    cpuProfDir: values["cpu-prof"],
    cairnCli: resolve(values.cairn ?? join(REPO_DIR, "bin", "cairn.ts")),
  };
  const verdaccioVersion = await ensureTools();
  const rounds = positiveInt("rounds", values.rounds, 1);
  const results: UplinkResult[] = [];
  for (let round = 0; round < rounds; round++) {
    // Each round starts from fresh registries, and the order of the two servers alternates.
    const dir = await makeWorkDir("uplink");
    try {
      const result = await measure(dir, options, verdaccioVersion, round % 2 === 1);
      console.log(
        `\n== round ${round + 1} of ${rounds}: npm install through verdaccio ${verdaccioVersion} and cairn (durable), ` +
          `each proxying one local upstream; max age ${options.maxAgeSeconds} s; ${seconds(result.totalMs)} ==`,
      );
      printReport(result);
      results.push(result);
    } finally {
      if (values.keep) console.log(`kept ${dir}`);
      else await removeDir(dir);
    }
  }
  if (rounds > 1) printRounds(results);
  if (values.json)
    emitResult(results.length === 1 ? results[0] : { bench: "uplink", rounds: results });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Per phase: each round's ratio, and the medians of both servers' times. */
function printRounds(results: readonly UplinkResult[]): void {
  const rows = [
    ["phase", "ratio each round", "verdaccio (median)", "cairn (median)", "median ratio", "target"],
  ];
  for (const [i, first] of results[0].phases.entries()) {
    const phases = results.map((r) => r.phases[i]);
    const v = median(phases.map((p) => p.verdaccio.ms));
    const c = median(phases.map((p) => p.cairn.ms));
    const ratio = median(phases.map((p) => p.ratio));
    const target = targetOf({
      phase: first.phase,
      cairn: {
        ...first.cairn,
        ok: phases.every((p) => p.cairn.ok),
        sameTree: phases.every((p) => p.cairn.sameTree),
      },
      ratio,
    });
    rows.push([
      first.phase,
      phases.map((p) => `${p.ratio.toFixed(2)}x`).join(" "),
      seconds(v),
      seconds(c),
      `${ratio.toFixed(2)}x`,
      `${target.text}: ${target.met ? "met" : "MISSED"}`,
    ]);
  }
  console.log(`\n== ${results.length} rounds, alternating which server installs first ==`);
  printTable(rows);
}

await main();
