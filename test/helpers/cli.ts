/** Runs the real `cairn` command in a child process, as a user would. */
import { execFile } from "node:child_process";
import { CHECKOUT_CAIRN } from "./cairn-server.ts";
import { corpusTarballs } from "./corpus.ts";
import { PROJECT_ROOT } from "./shared.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cairn(
  args: string[],
  options: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    input?: string;
    /** The program and leading arguments that run `cairn`; the checkout's by default. */
    command?: readonly string[];
  } = {},
): Promise<CliResult> {
  const [program, ...leading] = options.command ?? CHECKOUT_CAIRN;
  return new Promise((resolve) => {
    const child = execFile(
      program,
      [...leading, ...args],
      {
        cwd: options.cwd ?? PROJECT_ROOT,
        env: { ...process.env, ...options.env },
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? "");
  });
}

/** `cairn import` of the corpus (433 real tarballs) into the registry at `data`. */
export async function importCorpus(data: string, user = "seed"): Promise<CliResult> {
  return cairn(["import", await corpusTarballs(), "--user", user, "--data", data]);
}
