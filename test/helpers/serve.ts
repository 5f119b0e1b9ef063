/** Starts the real `cairn serve` as a child process on a free loopback port. */
import { type CairnServer, CHECKOUT_CAIRN, startCairnServer } from "./cairn-server.ts";

export interface ServeProcess extends CairnServer {
  readonly verifierKey: string;
}

export async function startServe(
  args: string[],
  launcher: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServeProcess> {
  const server = await startCairnServer(
    ["serve", "--port", "0", ...args],
    undefined,
    [...launcher, ...CHECKOUT_CAIRN],
    env,
  );
  // The key is printed in the same write as the URL.
  const verifierKey = /verifier key: (\S+)/.exec(server.stdout())?.[1];
  if (!verifierKey) {
    await server.stop();
    throw new Error(`cairn serve printed no verifier key: ${server.stdout()}`);
  }
  return { ...server, verifierKey };
}

/** `cairn mirror` of `origin` on a free loopback port, data in `data`, once it has synced. */
export async function startSyncedMirror(origin: ServeProcess, data: string): Promise<CairnServer> {
  const mirror = await startCairnServer([
    "mirror",
    "--from",
    origin.url,
    "--key",
    origin.verifierKey,
    "--data",
    data,
    "--port",
    "0",
    "--no-durable",
  ]);
  await mirror.waitFor(/synced: /);
  return mirror;
}

/** `cairn proxy` (sparse) in front of `origin` on a free loopback port, data in `data`. */
export function startProxyOf(origin: ServeProcess, data: string): Promise<CairnServer> {
  return startCairnServer([
    "proxy",
    "--origin",
    origin.url,
    "--key",
    origin.verifierKey,
    "--data",
    data,
    "--port",
    "0",
  ]);
}
