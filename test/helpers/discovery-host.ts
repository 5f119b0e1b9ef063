/**
 * One host of a discovery test, run inside a LAN namespace:
 * `node discovery-host.ts <log origin> <refresh ms> <stale ms>`. It serves its instance name over
 * HTTP on a free port (so a found URL can be checked to lead to it),
 * announces that port with MdnsDiscovery and prints each event as a JSON
 * line: `{"event":"ready","id":…}`, then `found`, `lost` (with its
 * reason) and `ignored`, each with the peer. On SIGTERM it stops (goodbyes sent, sockets closed), prints
 * `{"event":"stopped"}` and exits by having nothing left to wait for.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { MdnsDiscovery } from "../../src/peer/discovery.ts";

const [logOrigin, refreshMs, staleMs] = process.argv.slice(2);
if (!staleMs) throw new Error("usage: discovery-host.ts <log origin> <refresh ms> <stale ms>");

const print = (event: string, data: object = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);

let id = "";
const server = createServer((_req, res) => res.end(id));
await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
const discovery = new MdnsDiscovery({
  logOrigin,
  port: (server.address() as AddressInfo).port,
  refreshMs: Number(refreshMs),
  staleMs: Number(staleMs),
});
id = discovery.id;
discovery.on("found", (peer) => print("found", { peer }));
discovery.on("lost", (peer, reason) => print("lost", { peer, reason }));
discovery.on("ignored", (peer) => print("ignored", { peer }));
process.once("SIGTERM", async () => {
  await discovery.stop();
  server.close();
  print("stopped");
});
await discovery.start();
print("ready", { id });
