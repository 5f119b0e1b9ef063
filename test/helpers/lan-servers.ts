/** `cairn serve` and `cairn mirror` on hosts of a LAN of network namespaces, listening on the hosts' addresses. */
import { type CairnServer, CHECKOUT_CAIRN, startCairnServer } from "./cairn-server.ts";
import type { LanHost } from "./lan.ts";
import { type ServeProcess, startServe } from "./serve.ts";

/** The origin, on `host`, with its data in `data`; `args` go to `cairn serve` after them. */
export function startLanOrigin(
  host: LanHost,
  data: string,
  args: string[] = [],
): Promise<ServeProcess> {
  return startServe(
    ["--data", data, "--no-durable", "--host", host.address, ...args],
    host.command(),
  );
}

/** A mirror of `origin` on `host`, with its data in `data`, once it has synced. */
export async function startLanMirror(
  host: LanHost,
  origin: ServeProcess,
  data: string,
): Promise<CairnServer> {
  const mirror = await startCairnServer(
    [
      "mirror",
      "--from",
      origin.url,
      "--key",
      origin.verifierKey,
      "--data",
      data,
      "--host",
      host.address,
      "--port",
      "0",
      "--no-durable",
    ],
    undefined,
    host.command(...CHECKOUT_CAIRN),
  );
  await mirror.waitFor(/synced: /);
  return mirror;
}
