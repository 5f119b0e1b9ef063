/**
 * Child processes for the benchmarks that run real servers and clients:
 * every child is tracked so none outlives the run, its output goes to a log
 * file and stays in memory for matching, and /proc gives its peak memory and
 * CPU time (Linux; NaN elsewhere). Also `npm install` of the corpus app, as
 * every install benchmark runs it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { CORPUS_APP_PACKAGE_JSON } from "../test/helpers/corpus.ts";
import { cleanEnv } from "../test/helpers/npm-client.ts";
import { BENCH_DIR } from "./common.ts";

export const REPO_DIR = resolve(BENCH_DIR, "..");

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const child of children) child.kill("SIGKILL");
}

process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** The exit code, or the signal that ended it. */
  readonly exited: Promise<number | string>;
  readonly logFile: string;
  /** Everything it wrote to stdout and to stderr so far. */
  readonly out: { stdout: string; stderr: string };
}

export interface StartOptions {
  /** Default: the repository. */
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly logFile: string;
}

/** Spawns a tracked child; its stdout and stderr go to `logFile` and are kept in memory. */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: StartOptions,
): Proc {
  const log = createWriteStream(options.logFile);
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_DIR,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const out = { stdout: "", stderr: "" };
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    out.stdout += chunk;
    log.write(chunk);
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    out.stderr += chunk;
    log.write(chunk);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("error", (err) => {
      children.delete(child);
      log.end(`\n${err.message}\n`);
      resolve("spawn-error");
    });
    child.on("close", (code, signal) => {
      children.delete(child);
      log.end();
      resolve(code ?? signal ?? "unknown");
    });
  });
  return { name, child, exited, logFile: options.logFile, out };
}

/** The last lines of a text. */
export function tail(text: string, lines = 20): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The end of everything a process wrote, for error messages. */
export function outputTail(proc: Proc, lines = 20): string {
  return tail(`${proc.out.stdout}\n${proc.out.stderr}`, lines);
}

/** Runs a command to its end; throws with the end of its output if it fails. */
export async function runToEnd(
  name: string,
  command: string,
  args: readonly string[],
  options: StartOptions,
): Promise<Proc> {
  const proc = startProcess(name, command, args, options);
  const result = await proc.exited;
  if (result !== 0) throw new Error(`${name} failed (${result}):\n${outputTail(proc)}`);
  return proc;
}

/** SIGTERM first, so a server closes cleanly (and writes a --cpu-prof profile); SIGKILL after 5 s. */
export async function stopProcess(proc: Proc): Promise<void> {
  if (!children.has(proc.child)) return;
  proc.child.kill("SIGTERM");
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), 5000);
  await proc.exited;
  clearTimeout(timer);
}

/** Node flags that make a server write a CPU profile into `dir` when it exits. */
export function profileFlags(dir: string | undefined): string[] {
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${resolve(dir)}`] : [];
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

/** Peak resident set size of a live process, from /proc (Linux); NaN elsewhere. */
export async function peakRssOf(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kib = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kib ? Number(kib) * 1024 : Number.NaN;
}

/** User + system CPU time a live process has used so far, in ms, from /proc (Linux); NaN elsewhere. */
export async function cpuMsOf(pid: number | undefined): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks * 10 : Number.NaN; // USER_HZ is 100 on Linux
}

export interface HttpReply {
  readonly status: number;
  readonly body: Buffer;
}

/** One request over a keep-alive agent, the whole body read (loopback servers only). */
export function http(
  agent: Agent,
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Waits until the process's stdout matches `pattern`; fails if it exits or takes over a minute. */
export async function waitForOutput(proc: Proc, pattern: RegExp): Promise<RegExpExecArray> {
  let exited = false;
  proc.exited.then(() => {
    exited = true;
  });
  const deadline = performance.now() + 60_000;
  for (;;) {
    const match = pattern.exec(proc.out.stdout);
    if (match) return match;
    if (exited || performance.now() > deadline) {
      throw new Error(
        `${proc.name} ${exited ? "exited" : "did not start within 60 s"}:\n${outputTail(proc)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Polls /-/ping until the server answers; fails early if it exits. */
export async function waitUntilUp(name: string, url: string, spawned: Proc): Promise<void> {
  const agent = new Agent({ keepAlive: false });
  let exited = false;
  spawned.exited.then(() => {
    exited = true;
  });
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    if (exited) throw new Error(`${name} exited at start:\n${outputTail(spawned)}`);
    try {
      if ((await http(agent, `${url}-/ping`, "GET")).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} did not answer within 60 s:\n${outputTail(spawned)}`);
}

export interface NpmInstall {
  /** npm exited 0 in time. */
  readonly ok: boolean;
  /** npm was stopped after the time it was given. */
  readonly timedOut: boolean;
  readonly ms: number;
  /** Entries in node_modules/.package-lock.json; 0 when there is none. */
  readonly packages: number;
  /** SHA-256 over the sorted path, version and integrity of every installed package. */
  readonly digest: string;
  /** Installed packages whose tarball npm took from somewhere other than `registry`. */
  readonly elsewhere: number;
  /** npm's `npm error` lines (and its last lines when it has none), when it failed. */
  readonly errors: readonly string[];
}

interface LockPackage {
  readonly version?: string;
  readonly resolved?: string;
  readonly integrity?: string;
}

/**
 * `npm install --ignore-scripts` of the corpus app (no lockfile, so npm
 * resolves through the packuments) from `registry`, with the machine's npm:
 * a fresh project at `project` whose `.npmrc` names the registry and turns
 * audit, fund and update checks off, and doubles as the user config (so
 * ~/.npmrc plays no part), the npm cache `cache` (empty for a cold install),
 * and the `npm_*` variables stripped from the environment. A failed install
 * is reported, not thrown; one still running after `timeoutMs` is stopped
 * and reported as failed.
 */
export async function npmInstall(
  registry: string,
  project: string,
  cache: string,
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<NpmInstall> {
  await mkdir(project, { recursive: true });
  await copyFile(CORPUS_APP_PACKAGE_JSON, join(project, "package.json"));
  const npmrc = join(project, ".npmrc");
  const settings = [`registry=${registry}`, "audit=false", "fund=false", "update-notifier=false"];
  await writeFile(npmrc, `${settings.join("\n")}\n`);
  const env = cleanEnv({ npm_config_userconfig: npmrc, npm_config_cache: cache });
  const started = performance.now();
  const npm = startProcess(`npm install from ${registry}`, "npm", ["install", "--ignore-scripts"], {
    cwd: project,
    env,
    logFile: `${project}.log`,
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    npm.exited.then(() => false),
    new Promise<boolean>((resolve) => {
      if (Number.isFinite(timeoutMs)) timer = setTimeout(() => resolve(true), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  const ms = performance.now() - started;
  if (timedOut) await stopProcess(npm);
  const ok = !timedOut && (await npm.exited) === 0;
  const lock = await readFile(join(project, "node_modules", ".package-lock.json"), "utf8").then(
    (text) => JSON.parse(text) as { packages: Record<string, LockPackage> },
    () => ({ packages: {} }),
  );
  const lines: string[] = [];
  let elsewhere = 0;
  for (const [path, pkg] of Object.entries(lock.packages)) {
    if (!pkg.resolved?.startsWith(registry)) elsewhere++;
    lines.push(`${path} ${pkg.version} ${pkg.integrity}`);
  }
  const errorLines = npm.out.stderr.split("\n").filter((line) => line.startsWith("npm error"));
  return {
    ok,
    timedOut,
    ms,
    packages: lines.length,
    digest: createHash("sha256").update(lines.sort().join("\n")).digest("hex"),
    elsewhere,
    errors: ok
      ? []
      : (errorLines.length > 0 ? errorLines : tail(npm.out.stderr).split("\n")).filter(Boolean),
  };
}
