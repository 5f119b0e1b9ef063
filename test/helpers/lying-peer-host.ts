/**
 * A lying LAN peer, run inside a LAN namespace:
 * `node lying-peer-host.ts '{"logOrigin":…,"honest":<gateway URL>}'`.
 * It announces itself over mDNS as a peer of the log (the same TXT a
 * sharing `cairn peer` sends) and serves the trustless gateway of
 * src/gateway/ over a BlockSource that takes each block from an honest
 * gateway and flips one byte of every raw block (dag-pb nodes pass
 * unchanged, so a large blob's CAR is well formed and its leaves are
 * wrong). What it does not hold gets the gateway's 404.
 *
 * It prints JSON lines: `{"event":"ready","id":…,"url":…}`, then
 * `{"event":"served","cid":…}` for each block it answered with, and
 * `{"event":"stopped"}` after SIGTERM.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline, Readable } from "node:stream";
import { serveGateway } from "../../src/gateway/index.ts";
import { MdnsDiscovery } from "../../src/peer/discovery.ts";
import { type BlockAddress, type BlockSource, cidOf, RAW_CODEC } from "../../src/store/cid.ts";

const { logOrigin, honest } = JSON.parse(process.argv[2]) as { logOrigin: string; honest: string };

const print = (event: string, data: object = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);

async function honestBlock(address: BlockAddress): Promise<Uint8Array | undefined> {
  const res = await fetch(
    new URL(`ipfs/${cidOf(address.sha256, address.codec)}?format=raw`, honest),
  );
  if (res.status !== 200) {
    await res.body?.cancel();
    return undefined;
  }
  return new Uint8Array(await res.arrayBuffer());
}

const corrupting: BlockSource = {
  async block(address) {
    const bytes = await honestBlock(address);
    if (!bytes || address.codec !== RAW_CODEC || bytes.length === 0) return bytes;
    const copy = Buffer.from(bytes);
    copy[copy.length >> 1] ^= 0x01;
    print("served", { cid: cidOf(address.sha256, address.codec) });
    return copy;
  },
  async has(address) {
    return (await honestBlock(address)) !== undefined;
  },
};

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://peer");
  const cid = /^\/ipfs\/([^/]+)$/.exec(url.pathname)?.[1];
  try {
    if (cid === undefined || (req.method !== "GET" && req.method !== "HEAD"))
      throw new Error("not a block");
    const answer = await serveGateway(corrupting, {
      method: req.method,
      cid,
      query: Object.fromEntries(url.searchParams),
      accept: req.headers.accept,
    });
    res.writeHead(answer.status, answer.headers);
    if (answer.body === undefined) res.end();
    else if (answer.body instanceof Uint8Array) res.end(answer.body);
    // A client that catches the lie hangs up mid-CAR: that ends this answer, not the process.
    else pipeline(Readable.from(answer.body, { objectMode: false }), res, () => {});
  } catch {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  }
});
await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
const { port } = server.address() as AddressInfo;
const discovery = new MdnsDiscovery({ logOrigin, port });
process.once("SIGTERM", async () => {
  await discovery.stop();
  server.closeAllConnections();
  server.close();
  print("stopped");
});
await discovery.start();
print("ready", { id: discovery.id, port });
