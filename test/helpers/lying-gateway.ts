/**
 * A trustless gateway on loopback that forwards every request to an honest
 * one and changes the answer as told: a flipped byte, another block under
 * a block's CID, a CAR cut short, a block over the 2 MiB limit, a junk
 * block nothing links to.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { carSectionHead } from "../../src/store/car.ts";

export type GatewayLie =
  | "none"
  /** Answers 404 to everything: a gateway that holds nothing, which is no lie. */
  | "not-found"
  | "flip-byte"
  | "wrong-block"
  | "truncate"
  | "oversized"
  | "extra-block";

export interface LyingGateway {
  readonly url: string;
  /** Requests answered so far. */
  requests: number;
  close(): Promise<void>;
}

/** The CAR's header and sections, as [start, end) spans of its bytes. */
function sections(car: Buffer): {
  header: number;
  blocks: { start: number; cidEnd: number; end: number }[];
} {
  const varint = (at: number): [number, number] => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = car[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return [value, at];
    }
  };
  const [headerLength, headerStart] = varint(0);
  const header = headerStart + headerLength;
  const blocks = [];
  for (let at = header; at < car.length; ) {
    const [length, start] = varint(at);
    const cid = CID.decodeFirst(car.subarray(start))[0];
    blocks.push({ start: at, cidEnd: start + cid.bytes.length, end: start + length });
    at = start + length;
  }
  return { header, blocks };
}

async function lie(how: GatewayLie, body: Buffer, isCar: boolean): Promise<Buffer> {
  if (how === "none" || how === "not-found") return body;
  if (!isCar) {
    const copy = Buffer.from(body);
    copy[copy.length >> 1] ^= 0x01;
    return copy;
  }
  const { header, blocks } = sections(body);
  const last = blocks[blocks.length - 1];
  switch (how) {
    case "flip-byte": {
      const copy = Buffer.from(body);
      copy[last.end - 1] ^= 0x01;
      return copy;
    }
    case "wrong-block": {
      // The last block's CID, over the bytes of another block of the same length.
      const other = Buffer.from(randomBytes(last.end - last.cidEnd));
      return Buffer.concat([body.subarray(0, last.cidEnd), other, body.subarray(last.end)]);
    }
    case "truncate":
      return body.subarray(0, last.cidEnd + ((last.end - last.cidEnd) >> 1));
    case "oversized": {
      const big = randomBytes((2 << 20) + 1);
      const cid = CID.createV1(0x55, await sha256.digest(big));
      return Buffer.concat([body.subarray(0, header), carSectionHead(cid, big.length), big]);
    }
    case "extra-block": {
      const junk = randomBytes(100);
      const cid = CID.createV1(0x55, await sha256.digest(junk));
      return Buffer.concat([
        body.subarray(0, header),
        carSectionHead(cid, junk.length),
        junk,
        body.subarray(header),
      ]);
    }
  }
}

export async function startLyingGateway(honest: string, how: GatewayLie): Promise<LyingGateway> {
  const base = honest.replace(/\/$/, "");
  const server = createServer(async (req, res) => {
    gateway.requests++;
    if (how === "not-found") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    try {
      const upstream = await fetch(`${base}${req.url}`, {
        method: req.method,
        headers: { accept: req.headers.accept ?? "" },
      });
      const body = Buffer.from(await upstream.arrayBuffer());
      const type = upstream.headers.get("content-type") ?? "";
      const answer = upstream.ok ? await lie(how, body, type.includes("car")) : body;
      res.writeHead(upstream.status, { "content-type": type, "content-length": answer.length });
      res.end(answer);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const gateway: LyingGateway = {
    url: `http://127.0.0.1:${port}`,
    requests: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return gateway;
}
