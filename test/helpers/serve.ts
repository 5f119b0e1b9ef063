/** Starts the real `cairn serve` as a child process on a free loopback port. */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "./shared.ts";

export interface ServeProcess {
  readonly url: string;
  readonly verifierKey: string;
  readonly child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startServe(args: string[]): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [join(PROJECT_ROOT, "bin", "cairn.ts"), "serve", "--port", "0", ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const ready = await new Promise<{ url: string; verifierKey: string }>((resolve, reject) => {
    child.stdout?.on("data", (d) => {
      out += d;
      const url = /listening on (\S+)/.exec(out)?.[1];
      const verifierKey = /verifier key: (\S+)/.exec(out)?.[1];
      if (url && verifierKey) resolve({ url, verifierKey });
    });
    exited.then((code) => reject(new Error(`cairn serve exited with ${code}: ${err}`)));
  });
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return { ...ready, child, stop, [Symbol.asyncDispose]: async () => void (await stop()) };
}
