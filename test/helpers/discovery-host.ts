/**
 * One host of a discovery test, run inside a LAN namespace:
 * `node discovery-host.ts '<MdnsDiscoveryOptions as JSON, without port>'`
 * (`"share": false` to only browse). A sharing host serves its instance
 * name over HTTP on a free port (so a found URL can be checked to lead to
 * it) and announces that port. It prints each event as a JSON line:
 * `{"event":"ready","id":…}`, then `found`, `lost` (with its reason) and
 * `ignored`, each with the peer. On SIGTERM it stops (goodbyes sent,
 * sockets closed), prints `{"event":"stopped"}` and exits by having nothing
 * left to wait for.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { MdnsDiscovery, type MdnsDiscoveryOptions } from "../../src/peer/discovery.ts";

const { share = true, ...options } = JSON.parse(process.argv[2]) as MdnsDiscoveryOptions & {
  share?: boolean;
};

const print = (event: string, data: object = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);

let id = "";
const server = createServer((_req, res) => res.end(id));
if (share) await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
const discovery = new MdnsDiscovery({
  ...options,
  port: share ? (server.address() as AddressInfo).port : undefined,
});
id = discovery.id;
discovery.on("found", (peer) => print("found", { peer }));
discovery.on("lost", (peer, reason) => print("lost", { peer, reason }));
discovery.on("ignored", (peer) => print("ignored", { peer }));
process.once("SIGTERM", async () => {
  await discovery.stop();
  if (share) server.close();
  print("stopped");
});
await discovery.start();
print("ready", { id });
