/**
 * The uplink fetcher against a small hostile upstream on loopback: each
 * test gives the server one behaviour (honest, slow, cut short, endless,
 * lying) and asserts the fetcher's answer by its code.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { fetchPackument, fetchTarball } from "../../src/upstream/fetcher.ts";
import type { Uplink } from "../../src/upstream/uplink.ts";
import { UpstreamError } from "../../src/upstream/upstream-error.ts";
import { listenOnLoopback } from "../helpers/loopback.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Upstream {
  readonly url: string;
  /** Every request the server saw, in order. */
  readonly requests: IncomingMessage[];
  /** How many TCP connections it accepted. */
  connections: number;
  close(): Promise<void>;
}

const upstreams: Upstream[] = [];
after(() => Promise.all(upstreams.map((u) => u.close())));

async function upstream(handler: Handler): Promise<Upstream> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  const listening = await listenOnLoopback(server);
  const u: Upstream = { url: listening.url, requests, connections: 0, close: listening.close };
  server.on("connection", () => u.connections++);
  upstreams.push(u);
  return u;
}

function uplinkAt(url: string, overrides: Partial<Uplink> = {}): Uplink {
  return {
    name: "test-upstream",
    url,
    // Generous, so a busy machine does not turn an honest answer into a timeout.
    timeoutMs: 5000,
    deadlineMs: 60_000,
    maxPackumentBytes: 64 * 1024,
    maxTarballBytes: 64 * 1024,
    ...overrides,
  };
}

const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof UpstreamError, `not an UpstreamError: ${e}`);
  assert.equal(e.code, c, e.message);
  assert.equal(e.uplink, "test-upstream");
  assert.match(e.message, /^uplink test-upstream \(http:\/\/127\.0\.0\.1:\d+\/\): /);
  return true;
};

/** The idle timeout of the stall tests, and their own timeout, under the one the uplinks default to. */
const STALLS = { timeoutMs: 200 };
const STALL = { timeout: 4000 };

function packumentOf(name: string) {
  return {
    name,
    "dist-tags": { latest: "1.0.0" },
    versions: { "1.0.0": { name, version: "1.0.0", dist: { shasum: "0".repeat(40) } } },
    time: { created: "2020-01-01T00:00:00.000Z", "1.0.0": "2020-01-01T00:00:00.000Z" },
  };
}

function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}) {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(200, {
    "content-type": "application/json",
    "content-length": bytes.length,
    ...headers,
  });
  res.end(bytes);
}

/** Resolves when the server side of the request's connection has closed. */
const closed = (req: IncomingMessage) =>
  new Promise<void>((resolve) => {
    if (req.socket.destroyed) resolve();
    else req.socket.once("close", () => resolve());
  });

/** Writes `chunk` for as long as the client reads, and stops when it goes. */
function endless(res: ServerResponse, chunk: Buffer) {
  const pump = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once("drain", pump);
  };
  pump();
}

describe("fetchPackument", () => {
  test("fetches and parses a full packument, with its validators and the request headers", async () => {
    const body = packumentOf("left-pad");
    const u = await upstream((_req, res) =>
      json(res, body, { etag: '"v1"', "last-modified": "Wed, 01 Jan 2020 00:00:00 GMT" }),
    );
    const result = await fetchPackument(uplinkAt(u.url), "left-pad");
    assert.deepEqual(result, {
      kind: "fresh",
      packument: body,
      etag: '"v1"',
      lastModified: "Wed, 01 Jan 2020 00:00:00 GMT",
      bytes: JSON.stringify(body).length,
    });
    const [req] = u.requests;
    assert.equal(req.url, "/left-pad");
    assert.equal(req.headers.accept, "application/json");
    assert.equal(req.headers["accept-encoding"], "gzip");
    assert.match(req.headers["user-agent"] ?? "", /^cairn\/\d+\.\d+\.\d+ /);
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.headers["if-none-match"], undefined);
  });

  test("decodes a gzip body and counts the bytes as sent", async () => {
    const body = { ...packumentOf("zipped"), readme: "x".repeat(20_000) };
    const zipped = gzipSync(JSON.stringify(body));
    const u = await upstream((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip", "content-length": zipped.length });
      res.end(zipped);
    });
    const result = await fetchPackument(uplinkAt(u.url), "zipped");
    assert.equal(result.kind, "fresh");
    assert.deepEqual(result.kind === "fresh" && result.packument, body);
    assert.equal(result.kind === "fresh" && result.bytes, zipped.length);
  });

  test("caps the decoded bytes of a gzip body, not just the bytes sent", async () => {
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    const u = await upstream((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip", "content-length": bomb.length });
      res.end(bomb);
    });
    assert.ok(bomb.length < 64 * 1024);
    await assert.rejects(fetchPackument(uplinkAt(u.url), "bomb"), code("too-large"));
  });

  test("escapes a scoped name as npm does, and keeps a legacy name as it is", async () => {
    const u = await upstream((req, res) => {
      const name =
        req.url === "/@scope%2fpkg" ? "@scope/pkg" : decodeURIComponent(req.url ?? "").slice(1);
      json(res, packumentOf(name));
    });
    await fetchPackument(uplinkAt(u.url), "@scope/pkg");
    await fetchPackument(uplinkAt(u.url), "JSONStream");
    assert.deepEqual(
      u.requests.map((r) => r.url),
      ["/@scope%2fpkg", "/JSONStream"],
    );
  });

  test("a base URL with a path keeps it", async () => {
    const u = await upstream((_req, res) => json(res, packumentOf("@a/b")));
    await fetchPackument(uplinkAt(`${u.url}npm/registry/`), "@a/b");
    assert.equal(u.requests[0].url, "/npm/registry/@a%2fb");
  });

  test("a conditional request answered 304 is not-modified", async () => {
    const u = await upstream((req, res) => {
      if (req.headers["if-none-match"] === '"v1"') {
        res.writeHead(304, { etag: '"v1"' });
        res.end();
      } else json(res, packumentOf("cached"), { etag: '"v1"' });
    });
    const uplink = uplinkAt(u.url);
    const cached = { etag: '"v1"', lastModified: "Wed, 01 Jan 2020 00:00:00 GMT" };
    assert.deepEqual(await fetchPackument(uplink, "cached", cached), { kind: "not-modified" });
    assert.equal(u.requests[0].headers["if-modified-since"], cached.lastModified);
    const fresh = await fetchPackument(uplink, "cached", { etag: '"v0"' });
    assert.equal(fresh.kind, "fresh");
  });

  test("a 304 to an unconditional request is a bad status", async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(304);
      res.end();
    });
    await assert.rejects(fetchPackument(uplinkAt(u.url), "p"), code("bad-status"));
  });

  test("sends the uplink's token, and a refused token is unauthorized", async () => {
    const u = await upstream((req, res) => {
      if (req.headers.authorization === "Bearer s3cret") json(res, packumentOf("private"));
      else {
        res.writeHead(req.headers.authorization ? 403 : 401);
        res.end();
      }
    });
    const result = await fetchPackument(uplinkAt(u.url, { token: "s3cret" }), "private");
    assert.equal(result.kind, "fresh");
    await assert.rejects(fetchPackument(uplinkAt(u.url), "private"), code("unauthorized"));
    await assert.rejects(
      fetchPackument(uplinkAt(u.url, { token: "wrong" }), "private"),
      code("unauthorized"),
    );
  });

  for (const [status, expected] of [
    [404, "not-found"],
    [410, "not-found"],
    [500, "bad-status"],
    [503, "bad-status"],
    [302, "bad-status"],
    [204, "bad-status"],
  ] as const) {
    test(`status ${status} is ${expected}`, async () => {
      const u = await upstream((_req, res) => {
        res.writeHead(status, status === 302 ? { location: "/elsewhere" } : {});
        res.end(status === 204 ? undefined : '{"error":"no"}');
      });
      await assert.rejects(fetchPackument(uplinkAt(u.url), "pkg"), code(expected));
      assert.equal(u.requests.length, 1, "no redirect followed");
    });
  }

  test("an upstream that never answers times out and loses the connection", STALL, async () => {
    const u = await upstream(() => {});
    await assert.rejects(fetchPackument(uplinkAt(u.url, STALLS), "stalled"), code("timeout"));
    await closed(u.requests[0]);
  });

  test("a body that stalls midway times out and loses the connection", STALL, async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { "content-length": 1000 });
      res.write('{"name":"stalled",');
    });
    await assert.rejects(fetchPackument(uplinkAt(u.url, STALLS), "stalled"), code("timeout"));
    await closed(u.requests[0]);
  });

  test("a body that trickles past the deadline times out, though never idle", STALL, async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const drip = setInterval(() => res.write(" "), 20);
      res.on("close", () => clearInterval(drip));
    });
    const uplink = uplinkAt(u.url, { timeoutMs: 1000, deadlineMs: 300 });
    await assert.rejects(fetchPackument(uplink, "drip"), code("timeout"));
    await closed(u.requests[0]);
  });

  test("a slow body that never pauses for the idle timeout arrives", async () => {
    const body = JSON.stringify({ ...packumentOf("slow"), description: "s".repeat(1000) });
    const u = await upstream((_req, res) => {
      res.writeHead(200, { "content-length": body.length });
      let at = 0;
      const drip = setInterval(() => {
        res.write(body.slice(at, at + 20));
        at += 20;
        if (at >= body.length) {
          clearInterval(drip);
          res.end();
        }
      }, 30);
    });
    assert.ok((body.length / 20) * 30 > 1.5 * 800, "the body takes longer than the idle timeout");
    const result = await fetchPackument(uplinkAt(u.url, { timeoutMs: 800 }), "slow");
    assert.equal(result.kind, "fresh");
  });

  test("a body cut off before its Content-Length is truncated", async () => {
    const u = await upstream((req, res) => {
      res.writeHead(200, { "content-length": 1000 });
      res.write('{"name":"cut",', () => req.socket.destroy());
    });
    await assert.rejects(fetchPackument(uplinkAt(u.url), "cut"), code("truncated"));
  });

  test("a chunked body whose connection drops is truncated", async () => {
    const u = await upstream((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"name":"cut",', () => req.socket.destroy());
    });
    await assert.rejects(fetchPackument(uplinkAt(u.url), "cut"), code("truncated"));
  });

  test("a gzip stream that ends early is truncated", async () => {
    const zipped = gzipSync(JSON.stringify(packumentOf("cut")));
    const u = await upstream((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip" });
      res.end(zipped.subarray(0, zipped.length - 10));
    });
    await assert.rejects(fetchPackument(uplinkAt(u.url), "cut"), code("truncated"));
  });

  test("a body that is not gzip under a gzip encoding is a bad response", async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip" });
      res.end("this is not gzip at all");
    });
    await assert.rejects(fetchPackument(uplinkAt(u.url), "p"), code("bad-response"));
  });

  test("an endless body is too large, and the connection is dropped", async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      endless(res, Buffer.alloc(16 * 1024, 0x20));
    });
    await assert.rejects(fetchPackument(uplinkAt(u.url), "endless"), code("too-large"));
    await closed(u.requests[0]);
  });

  test("an endless gzip stream that decodes to nothing is too large", async () => {
    const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    // Empty stored deflate blocks, none final: bytes on the wire, nothing out of gunzip.
    const empty = Buffer.concat(Array(1000).fill(Buffer.from([0, 0, 0, 0xff, 0xff])));
    const u = await upstream((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip" });
      res.write(header);
      endless(res, empty);
    });
    await assert.rejects(fetchPackument(uplinkAt(u.url), "nothing"), code("too-large"));
    await closed(u.requests[0]);
  });

  test("a declared length over the cap is too large before a byte is read", async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { "content-length": 10 * 1024 * 1024 });
      res.write("{");
    });
    await assert.rejects(fetchPackument(uplinkAt(u.url), "huge"), code("too-large"));
  });

  const hostile: [string, string | Buffer][] = [
    ["not JSON", "<html>hello</html>"],
    ["an array", "[1,2,3]"],
    ["a string", '"left-pad"'],
    ["null", "null"],
    ["nested too deep", `${"[".repeat(100)}${"]".repeat(100)}`],
    ["deep inside an object", `{"name":"p","x":${"[".repeat(5000)}${"]".repeat(5000)}}`],
    ["a __proto__ key", '{"name":"p","__proto__":{"polluted":true}}'],
    ["a lone surrogate", '{"name":"p","x":"\\ud800"}'],
    ["a number beyond a double", '{"name":"p","x":1e400}'],
    ["invalid UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])],
  ];
  for (const [what, body] of hostile) {
    test(`a packument that is ${what} is bad-json`, async () => {
      const u = await upstream((_req, res) => res.end(body));
      await assert.rejects(fetchPackument(uplinkAt(u.url), "p"), code("bad-json"));
      assert.equal(({} as { polluted?: boolean }).polluted, undefined);
    });
  }

  test("a packument of another package is a bad response", async () => {
    const u = await upstream((_req, res) => json(res, packumentOf("evil")));
    await assert.rejects(fetchPackument(uplinkAt(u.url), "good"), code("bad-response"));
    const nameless = await upstream((_req, res) => json(res, { versions: {} }));
    await assert.rejects(fetchPackument(uplinkAt(nameless.url), "good"), code("bad-response"));
  });

  test("a refused connection is unreachable", async () => {
    const gone = await upstream(() => {});
    await gone.close();
    await assert.rejects(fetchPackument(uplinkAt(gone.url), "p"), code("unreachable"));
  });

  test("requests in a row share one keep-alive connection", async () => {
    const u = await upstream((req, res) => json(res, packumentOf((req.url ?? "").slice(1))));
    for (const name of ["a", "b", "c"]) await fetchPackument(uplinkAt(u.url), name);
    assert.equal(u.connections, 1);
  });

  test("a keep-alive connection the upstream closed is retried once on a new one", async () => {
    // It answers the first request on each connection and drops the connection at the second.
    const body = JSON.stringify(packumentOf("p"));
    const answer = `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    const raw = await rawUpstream((socket, index) => {
      if (index === 0) socket.write(answer);
      else socket.destroy();
    });
    const uplink = uplinkAt(raw.url);
    assert.equal((await fetchPackument(uplink, "p")).kind, "fresh");
    assert.equal((await fetchPackument(uplink, "p")).kind, "fresh");
    assert.equal(raw.connections(), 2);
  });

  test("an answer that is not HTTP is a bad response", async () => {
    const raw = await rawUpstream((socket) => socket.end("hello, this is not HTTP\r\n\r\n"));
    await assert.rejects(fetchPackument(uplinkAt(raw.url), "p"), code("bad-response"));
  });

  test("a malformed chunked body is a bad response", async () => {
    const raw = await rawUpstream((socket) =>
      socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n"),
    );
    await assert.rejects(fetchPackument(uplinkAt(raw.url), "p"), code("bad-response"));
  });

  test("a content encoding it did not ask for is a bad response", async () => {
    const u = await upstream((_req, res) => {
      // Bytes that would decode under the encoding it did ask for.
      res.writeHead(200, { "content-encoding": "br" });
      res.end(gzipSync(JSON.stringify(packumentOf("p"))));
    });
    await assert.rejects(fetchPackument(uplinkAt(u.url), "p"), code("bad-response"));
  });
});

/**
 * A TCP server that speaks HTTP only as `answer` writes it: called once
 * per request head, with the request's index on its connection.
 */
async function rawUpstream(answer: (socket: Socket, index: number) => void) {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    connections++;
    sockets.add(socket);
    let index = 0;
    socket.on("data", (data) => {
      if (data.includes("\r\n\r\n")) answer(socket, index++);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, connections: () => connections };
}

describe("fetchTarball", () => {
  const tarball = Buffer.from("pretend this is a gzipped tarball ".repeat(100));
  const sha512 = createHash("sha512").update(tarball).digest("base64");
  const sha1 = createHash("sha1").update(tarball).digest("hex");
  const sha256 = createHash("sha256").update(tarball).digest("hex");
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-fetch-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A path in a directory of its own, so a file one test leaves behind fails only that test. */
  const destination = async () => join(await mkdtemp(join(dir, "t-")), "tarball.tmp");

  async function serving(bytes: Buffer, handler?: Handler): Promise<Upstream> {
    return upstream(
      handler ??
        ((_req, res) => {
          res.writeHead(200, { "content-length": bytes.length });
          res.end(bytes);
        }),
    );
  }

  async function assertGone(path: string) {
    assert.deepEqual(await readdir(dirname(path)), [], "nothing left behind");
  }

  test("streams a tarball to the file and gives its hashes", async () => {
    const u = await serving(tarball);
    const path = await destination();
    const uplink = uplinkAt(u.url, { token: "s3cret" });
    const digests = await fetchTarball(uplink, `${u.url}p/-/p-1.0.0.tgz`, { sha512, sha1 }, path);
    assert.deepEqual(digests, { sha256, sha512, sha1, size: tarball.length });
    assert.deepEqual(await readFile(path), tarball);
    assert.equal(u.requests[0].url, "/p/-/p-1.0.0.tgz");
    assert.equal(u.requests[0].headers.authorization, "Bearer s3cret");
    await rm(path);
  });

  test("either advertised hash alone is enough", async () => {
    const u = await serving(tarball);
    for (const expected of [{ sha512 }, { sha1 }]) {
      const path = await destination();
      const digests = await fetchTarball(uplinkAt(u.url), `${u.url}p.tgz`, expected, path);
      assert.equal(digests.sha256, sha256);
      await rm(path);
    }
  });

  test("a tampered tarball is an integrity mismatch and leaves no file", async () => {
    const tampered = Buffer.from(tarball);
    tampered[10] ^= 1;
    const u = await serving(tampered);
    for (const expected of [{ sha512, sha1 }, { sha512 }, { sha1 }]) {
      const path = await destination();
      await assert.rejects(
        fetchTarball(uplinkAt(u.url), `${u.url}p.tgz`, expected, path),
        code("integrity-mismatch"),
      );
      await assertGone(path);
    }
  });

  test("hashes that disagree with each other are an integrity mismatch", async () => {
    const u = await serving(tarball);
    const path = await destination();
    const otherSha1 = createHash("sha1").update("other").digest("hex");
    await assert.rejects(
      fetchTarball(uplinkAt(u.url), `${u.url}p.tgz`, { sha512, sha1: otherSha1 }, path),
      code("integrity-mismatch"),
    );
    await assertGone(path);
  });

  test("a tarball URL off the uplink's origin is refused without a request", async () => {
    const u = await serving(tarball);
    const other = await serving(tarball);
    const port = Number(new URL(u.url).port);
    const foreign = [
      `${other.url}p.tgz`,
      `https://127.0.0.1:${port}/p.tgz`,
      `http://localhost:${port}/p.tgz`,
      `http://user:pw@127.0.0.1:${port}/p.tgz`,
      `http://user@127.0.0.1:${port}/p.tgz`,
      `file:///etc/passwd`,
      "not a url",
    ];
    for (const url of foreign) {
      const path = await destination();
      await assert.rejects(
        fetchTarball(uplinkAt(u.url), url, { sha512 }, path),
        code("bad-response"),
      );
      await assertGone(path);
    }
    assert.equal(u.requests.length + other.requests.length, 0);
  });

  test("no advertised hash, or a malformed one, is refused without a request", async () => {
    const u = await serving(tarball);
    for (const expected of [
      {},
      { sha512: "abc" },
      { sha1: sha1.toUpperCase() },
      { sha512: sha1 },
    ]) {
      const path = await destination();
      await assert.rejects(
        fetchTarball(uplinkAt(u.url), `${u.url}p.tgz`, expected, path),
        code("bad-response"),
      );
      await assertGone(path);
    }
    assert.equal(u.requests.length, 0);
  });

  test("a missing tarball is not-found and leaves no file", async () => {
    const u = await serving(tarball, (_req, res) => {
      res.writeHead(404);
      res.end();
    });
    const path = await destination();
    await assert.rejects(
      fetchTarball(uplinkAt(u.url), `${u.url}p.tgz`, { sha512 }, path),
      code("not-found"),
    );
    await assertGone(path);
  });

  test("a tarball cut short is truncated and leaves no file", async () => {
    const u = await serving(tarball, (req, res) => {
      res.writeHead(200, { "content-length": tarball.length });
      res.write(tarball.subarray(0, 100), () => req.socket.destroy());
    });
    const path = await destination();
    await assert.rejects(
      fetchTarball(uplinkAt(u.url), `${u.url}p.tgz`, { sha512 }, path),
      code("truncated"),
    );
    await assertGone(path);
  });

  test("a tarball that stalls midway times out and leaves no file", STALL, async () => {
    const u = await serving(tarball, (_req, res) => {
      res.writeHead(200, { "content-length": tarball.length });
      res.write(tarball.subarray(0, 100));
    });
    const path = await destination();
    await assert.rejects(
      fetchTarball(uplinkAt(u.url, STALLS), `${u.url}p.tgz`, { sha512 }, path),
      code("timeout"),
    );
    await assertGone(path);
    await closed(u.requests[0]);
  });

  test("an endless tarball is too large and leaves no file", async () => {
    const u = await serving(tarball, (_req, res) => {
      res.writeHead(200);
      endless(res, Buffer.alloc(16 * 1024, 1));
    });
    const path = await destination();
    await assert.rejects(
      fetchTarball(uplinkAt(u.url), `${u.url}p.tgz`, { sha512 }, path),
      code("too-large"),
    );
    await assertGone(path);
  });

  test("an existing destination is not overwritten, nor removed", async () => {
    const u = await serving(tarball);
    const path = await destination();
    await writeFile(path, "mine");
    await assert.rejects(fetchTarball(uplinkAt(u.url), `${u.url}p.tgz`, { sha512 }, path), {
      code: "EEXIST",
    });
    assert.equal(await readFile(path, "utf8"), "mine");
    assert.equal(u.requests.length, 0);
    await rm(path);
  });

  test("a refused connection is unreachable and leaves no file", async () => {
    const gone = await upstream(() => {});
    await gone.close();
    const path = await destination();
    await assert.rejects(
      fetchTarball(uplinkAt(gone.url), `${gone.url}p.tgz`, { sha512 }, path),
      code("unreachable"),
    );
    await assertGone(path);
  });
});
