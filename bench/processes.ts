/**
 * Child processes for the benchmarks that run real servers and clients:
 * every child is tracked so none outlives the run, its output goes to a log
 * file and stays in memory for matching, and /proc gives its peak memory and
 * CPU time (Linux; NaN elsewhere).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { type Agent, request } from "node:http";
import { createServer } from "node:net";
import { resolve } from "node:path";
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
