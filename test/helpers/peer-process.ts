/** `cairn peer` as a child process, ready once it prints its one line. */
import { type ChildProcess, spawn } from "node:child_process";
import { CHECKOUT_CAIRN, collectOutput, waitForOutput, waitForStderrOf } from "./cairn-server.ts";

export interface PeerProcess {
  readonly child: ChildProcess;
  /** The base URL from its ready line. */
  readonly url: string;
  /** Blobs shared when it became ready. */
  readonly blobs: number;
  stdout(): string;
  stderr(): string;
  /** Resolves once its stderr matches `pattern` (rejects if it exits first). */
  waitForStderr(pattern: RegExp): Promise<RegExpExecArray>;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

export const PEER_READY = /^cairn peer: sharing (\d+) blobs on (http:\/\/\S+\/)$/m;

/** The arguments of a peer of `origin` on loopback, on a port of its own, without mDNS. */
export function loopbackPeer(origin: { url: string; key: { verifierKey: string } }): string[] {
  return [
    "--origin",
    origin.url,
    "--key",
    origin.key.verifierKey,
    "--no-mirror-list",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--no-discovery",
  ];
}

export async function startPeer(args: string[], home: string): Promise<PeerProcess> {
  const [program, ...leading] = CHECKOUT_CAIRN;
  const child = spawn(program, [...leading, "peer", ...args], {
    env: { ...process.env, CAIRN_HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = collectOutput(child);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const ready = await waitForOutput(child, output.stdout, PEER_READY, 60_000).catch(
    (err: Error) => {
      child.kill("SIGKILL");
      throw new Error(`${err.message}: ${output.stderr()}`);
    },
  );
  const waitForStderr = (pattern: RegExp) =>
    waitForStderrOf(child, output.stderr, exited, pattern, "cairn peer");
  return {
    child,
    url: ready[2],
    blobs: Number(ready[1]),
    ...output,
    waitForStderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
