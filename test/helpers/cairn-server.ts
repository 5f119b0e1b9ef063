/** Starts a long-running `cairn` command (mirror, proxy, …) as a child process and waits until it listens. */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "./shared.ts";

export interface CairnServer {
  /** The URL from its `listening on <url>` line. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stdout so far. */
  stdout(): string;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Waits until its stdout matches `pattern` (within `ms`); returns the match. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Waits until its stderr matches `pattern`, on each write (rejects if it exits first). */
  waitForStderr(pattern: RegExp): Promise<RegExpExecArray>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The checkout's `cairn`: Node running the sources. */
export const CHECKOUT_CAIRN: readonly string[] = [
  process.execPath,
  join(PROJECT_ROOT, "bin", "cairn.ts"),
];

/** `command` is the program and leading arguments that run `cairn` (an installed package's, say). */
export async function startCairnServer(
  args: string[],
  readyMs = 120_000,
  command: readonly string[] = CHECKOUT_CAIRN,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CairnServer> {
  const [program, ...leading] = command;
  const child = spawn(program, [...leading, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
  const output = collectOutput(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  let timer: NodeJS.Timeout | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", () => {
      const found = /listening on (\S+)/.exec(output.stdout())?.[1];
      if (found) resolve(found);
    });
    exited.then((code) =>
      reject(new Error(`cairn ${args[0]} exited with ${code}: ${output.stderr()}`)),
    );
    timer = setTimeout(() => {
      child.kill();
      reject(new Error(`cairn ${args[0]} did not listen within ${readyMs} ms: ${output.stderr()}`));
    }, readyMs);
  }).finally(() => clearTimeout(timer));
  /** Asks it to stop, and kills it if it has not exited 10 s later. */
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill(signal);
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    return exited.finally(() => clearTimeout(kill));
  };
  const waitFor = (pattern: RegExp, ms = readyMs) =>
    waitForOutput(child, output.stdout, pattern, ms).catch((e: Error) => {
      throw new Error(`cairn ${args[0]} ${e.message}: ${output.stdout()}${output.stderr()}`);
    });
  const waitForStderr = (pattern: RegExp) =>
    waitForStderrOf(child, output.stderr, exited, pattern, `cairn ${args[0]}`);
  return {
    url,
    child,
    waitFor,
    waitForStderr,
    ...output,
    stop,
    [Symbol.asyncDispose]: async () => void (await stop()),
  };
}

/** Resolves once `stderr()` matches `pattern`, checked on each write; rejects if the child exits first. */
export function waitForStderrOf(
  child: ChildProcess,
  stderr: () => string,
  exited: Promise<unknown>,
  pattern: RegExp,
  what: string,
): Promise<RegExpExecArray> {
  return new Promise<RegExpExecArray>((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(stderr());
      if (!match) return;
      child.stderr?.off("data", check);
      resolve(match);
    };
    child.stderr?.on("data", check);
    check();
    exited.then(() => reject(new Error(`${what} exited before printing ${pattern}`)));
  });
}

/** What `child` wrote to stdout and stderr so far, collected as it comes. */
export function collectOutput(child: ChildProcess): { stdout(): string; stderr(): string } {
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    err += d;
  });
  return { stdout: () => out, stderr: () => err };
}

/**
 * Resolves once `output()` (what `child` wrote so far) matches `pattern`,
 * checked each time more arrives; rejects once its stdout closes without a
 * match, or after `ms`.
 */
export function waitForOutput(
  child: ChildProcess,
  output: () => string,
  pattern: RegExp,
  ms = 120_000,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const stdout = child.stdout;
    const check = () => {
      const match = pattern.exec(output());
      if (match) finish(() => resolve(match));
    };
    const fail = (why: string) => finish(() => reject(new Error(`${why} printing ${pattern}`)));
    const closed = () => fail("closed its output without");
    const deadline = setTimeout(() => fail(`spent ${ms} ms without`), ms);
    const finish = (settle: () => void) => {
      clearTimeout(deadline);
      stdout?.off("data", check);
      stdout?.off("close", closed);
      settle();
    };
    stdout?.on("data", check);
    stdout?.once("close", closed);
    check();
    if (!stdout || stdout.closed) closed();
  });
}
