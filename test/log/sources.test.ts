import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { DirectorySource, HttpSource, isLogError, verifyLog } from "../../src/log/index.ts";
import { buildLog, tempDir, testKey } from "../helpers/log.ts";

const noise = randomBytes(10_000);
/** One gzip member of 16 MiB of zeros (about 16 KiB); members in a row make one gzip body. */
const bombMember = gzipSync(Buffer.alloc(16 << 20), { level: 9 });
/** Inflates to 240 MiB from under 256 KiB: within the gzip bytes a 256 KiB read accepts. */
const smallBomb = Buffer.concat(Array.from({ length: 15 }, () => bombMember));
/** Members of the endless bomb sent at most: 16 GiB inflated, more than any socket buffers hold. */
const BOMB_MEMBERS = 1024;
const SOURCES = fileURLToPath(new URL("../../src/log/sources.ts", import.meta.url));

/** Runs an ES module script in a Node process of its own; resolves to what it printed. */
function runScript(script: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ["--input-type=module", "-e", script], { env }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
}

/** Bytes of the body sent one chunk per byte. */
const BYTE_BY_BYTE = 256 << 10;

describe("log sources refuse what they should not trust", () => {
  let url: string;
  let dropped = 0;
  const asked = new Map<string, number>();
  const answeredOn = new WeakMap<object, number>();
  let bombSent = 0;
  const userAgents = new Set<string | undefined>();
  const server = createServer((req, res) => {
    userAgents.add(req.headers["user-agent"]);
    if (req.url?.startsWith("http://")) {
      // Asked as a proxy is (the whole URL): answered for the host it names.
      res.writeHead(200).end(`proxied ${req.url}`);
      return;
    }
    asked.set(req.url ?? "", (asked.get(req.url ?? "") ?? 0) + 1);
    const onSocket = (answeredOn.get(req.socket) ?? 0) + 1;
    answeredOn.set(req.socket, onSocket);
    if (req.url === "/drops-reused") {
      // Answered on a fresh connection; a kept-alive one is closed as the request arrives.
      if (onSocket > 1) req.socket.destroy();
      else res.writeHead(200).end("answered");
      return;
    }
    if (req.url === "/half-headers" || req.url === "/half-body") {
      // An answer begun, then the connection closed: never asked again.
      req.socket.end(
        req.url === "/half-headers"
          ? "HTTP/1.1 200 O"
          : "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc",
      );
      return;
    }
    if (req.url === "/small-bomb") {
      res.writeHead(200, { "content-encoding": "gzip" }).end(smallBomb);
      return;
    }
    if (req.url === "/endless-bomb") {
      res.writeHead(200, { "content-encoding": "gzip" });
      bombSent = 0;
      let closed = false;
      res.on("close", () => {
        closed = true;
      });
      const pump = () => {
        while (!closed && bombSent < BOMB_MEMBERS) {
          bombSent++;
          if (!res.write(bombMember)) return;
        }
        if (!closed) res.end();
      };
      res.on("drain", pump);
      pump();
      return;
    }
    if (req.url === "/truncated-gzip" || req.url === "/corrupt-gzip") {
      const body = gzipSync(noise);
      const sent =
        req.url === "/truncated-gzip"
          ? body.subarray(0, body.length - 100)
          : Buffer.concat([body.subarray(0, 200), Buffer.alloc(100, 0xff), body.subarray(300)]);
      // Whole as HTTP (its length declared and sent), broken as gzip.
      res.writeHead(200, { "content-encoding": "gzip", "content-length": sent.length }).end(sent);
      return;
    }
    if (req.url === "/brotli") {
      res.writeHead(200, { "content-encoding": "br" }).end("not asked for");
      return;
    }
    if (req.url === "/unsent-404" || req.url === "/unsent-302") {
      // A body declared and never sent, the connection kept open.
      const moved = req.url === "/unsent-302";
      res.writeHead(moved ? 302 : 404, {
        "content-length": "10",
        ...(moved ? { location: "/big" } : {}),
      });
      res.flushHeaders();
      return;
    }
    if (req.url === "/byte-by-byte") {
      // One HTTP chunk per byte: the client's parser hands over each as a buffer of its own.
      res.writeHead(200);
      const byte = Buffer.from("x");
      let sent = 0;
      const pump = () => {
        while (sent < BYTE_BY_BYTE) {
          sent++;
          if (!res.write(byte)) return;
        }
        res.end();
      };
      res.on("drain", pump);
      pump();
      return;
    }
    if (req.url === "/endless") {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (res.write(chunk)) {}
      };
      res.on("drain", pump);
      pump();
      req.on("close", () => res.destroy());
      return;
    }
    if (req.url === "/drops-first" || req.url === "/drops-always") {
      // The connection closes under the request, before any answer (a kept-alive one let go).
      if (req.url === "/drops-always" || dropped++ === 0) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200).end("answered");
      return;
    }
    if (req.url === "/big") {
      res.writeHead(200, { "content-length": "100000" }).end(Buffer.alloc(100_000));
      return;
    }
    if (req.url === "/slow") {
      // Pauses shorter than the timeout between parts: a slow link, not a dead one.
      res.writeHead(200);
      let sent = 0;
      const timer = setInterval(() => {
        res.write(Buffer.alloc(1000, 0x61));
        if (++sent === 8) {
          clearInterval(timer);
          res.end();
        }
      }, 150);
      return;
    }
    if (req.url === "/stalls") {
      res.writeHead(200);
      res.write(Buffer.alloc(1000));
      req.on("close", () => res.destroy());
      return;
    }
    if (req.url === "/moved") {
      res.writeHead(302, { location: "/big" }).end();
      return;
    }
    if (req.url === "/away") {
      // The same server under another name: another origin all the same.
      res.writeHead(302, { location: `${url.replace("127.0.0.1", "localhost")}big` }).end();
      return;
    }
    if (req.url === "/loop") {
      res.writeHead(307, { location: "/loop" }).end();
      return;
    }
    if (req.url === "/gzipped-noise") {
      // Gzip makes noise a little larger: the encoded length exceeds the bytes it carries.
      const body = gzipSync(noise);
      res.writeHead(200, { "content-encoding": "gzip", "content-length": body.length }).end(body);
      return;
    }
    if (req.url === "/fail") {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(404).end();
  });

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test("404 is not-found, 500 is an error, oversized and endless bodies are cut off", async () => {
    const source = new HttpSource(url, { timeoutMs: 5000 });
    await assert.rejects(source.read("missing", 100), (e) => isLogError(e, "not-found"));
    // Some CDNs refuse a request that does not say what sent it.
    assert.deepEqual(
      [...userAgents].map((ua) => ua?.split("/")[0]),
      ["cairn"],
    );
    await assert.rejects(source.read("fail", 100), /500/);
    await assert.rejects(source.read("big", 8192), (e) => isLogError(e, "too-large"));
    await assert.rejects(source.read("endless", 1 << 20), (e) => isLogError(e, "too-large"));
  });

  test("the cap counts the bytes a body carries, not its encoded length", async () => {
    const source = new HttpSource(url, { timeoutMs: 5000 });
    assert.deepEqual(Buffer.from(await source.read("gzipped-noise", noise.length)), noise);
    const chunks: Uint8Array[] = [];
    for await (const chunk of source.stream("gzipped-noise", noise.length)) chunks.push(chunk);
    assert.deepEqual(Buffer.concat(chunks), noise);
    await assert.rejects(source.read("gzipped-noise", noise.length - 1), (e) =>
      isLogError(e, "too-large"),
    );
  });

  test("a connection closed before any answer is asked once more, and only once", async () => {
    const source = new HttpSource(url, { timeoutMs: 5000 });
    assert.equal(Buffer.from(await source.read("drops-first", 100)).toString(), "answered");
    await assert.rejects(source.read("drops-always", 100), (e) => isLogError(e, "unreachable"));
    assert.equal(asked.get("/drops-always"), 2);
  });

  test("a kept-alive connection closed as a request goes out is asked again on a new one", async () => {
    const source = new HttpSource(url, { timeoutMs: 5000 });
    asked.delete("/drops-reused");
    const text = async () => Buffer.from(await source.read("drops-reused", 100)).toString();
    assert.equal(await text(), "answered");
    // The second read goes out on the kept-alive connection, which the server closes.
    assert.equal(await text(), "answered");
    assert.equal(asked.get("/drops-reused"), 3);
  });

  test("an answer begun and then cut off is never asked again", async () => {
    const source = new HttpSource(url, { timeoutMs: 5000 });
    await assert.rejects(source.read("half-headers", 100), (e) => isLogError(e, "unreachable"));
    await assert.rejects(source.read("half-body", 100), (e) => isLogError(e, "truncated"));
    const drain = async (path: string) => {
      for await (const _ of source.stream(path, 100));
    };
    await assert.rejects(drain("half-body"), (e) => isLogError(e, "truncated"));
    assert.equal(asked.get("/half-headers"), 1);
    assert.equal(asked.get("/half-body"), 2);
  });

  test("gzip that is cut off, corrupt or not asked for is an error, never a short body", async () => {
    const source = new HttpSource(url, { timeoutMs: 5000 });
    const drain = async (path: string) => {
      for await (const _ of source.stream(path, 1 << 20));
    };
    for (const path of ["truncated-gzip", "corrupt-gzip"]) {
      await assert.rejects(source.read(path, 1 << 20), (e) => isLogError(e, "truncated"));
      await assert.rejects(drain(path), (e) => isLogError(e, "truncated"));
    }
    await assert.rejects(source.read("brotli", 1 << 20), (e) => isLogError(e, "bad-response"));
  });

  test("a body sent a byte at a time is held in one buffer, not a buffer per byte", async () => {
    // In a process of its own, so the server's side of it is not counted.
    const script = `
      const { HttpSource } = await import(${JSON.stringify(SOURCES)});
      const source = new HttpSource(${JSON.stringify(url)}, { timeoutMs: 30_000 });
      const peakBefore = process.resourceUsage().maxRSS;
      const { length } = await source.read("byte-by-byte", 1 << 20);
      process.stdout.write(JSON.stringify({ length, grown: process.resourceUsage().maxRSS - peakBefore }));`;
    const { length, grown } = JSON.parse(await runScript(script));
    assert.equal(length, BYTE_BY_BYTE);
    // A buffer kept per chunk: over 100 MiB.
    assert.ok(grown < 40 << 10, `peak RSS grew by ${grown >> 10} MiB`);
  });

  // Left held, the child would wait for the server to close: the test's timeout would end it.
  test("a body refused unread, or declared and never sent, does not keep the process alive", {
    timeout: 60_000,
  }, async () => {
    // Each read fails at once; the process must then end by itself, holding no connection.
    const script = `
      const { HttpSource } = await import(${JSON.stringify(SOURCES)});
      const source = new HttpSource(${JSON.stringify(url)}, { timeoutMs: 600_000 });
      const codes = [];
      const failed = (err) => codes.push(err.code ?? err.message);
      await source.read("brotli", 1000).catch(failed);
      await source.read("unsent-404", 1000).catch(failed);
      await source.read("unsent-302", 200_000).then(() => codes.push("redirected"), failed);
      const drain = async () => { for await (const _ of source.stream("big", 1000)); };
      await drain().catch(failed);
      process.stdout.write(JSON.stringify(codes));`;
    assert.deepEqual(JSON.parse(await runScript(script)), [
      "bad-response",
      "not-found",
      "redirected",
      "too-large",
    ]);
  });

  test("a gzip bomb is inflated no further than the cap", async () => {
    const source = new HttpSource(url, { timeoutMs: 30_000 });
    // Inflated whole, the small bomb would take 240 MiB; capped, a little over 256 KiB.
    const peakBefore = process.resourceUsage().maxRSS;
    await assert.rejects(source.read("small-bomb", 256 << 10), (e) => isLogError(e, "too-large"));
    assert.ok(process.resourceUsage().maxRSS - peakBefore < 100 << 10, "peak RSS grew by 100 MiB");
    let taken = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of source.stream("endless-bomb", 1 << 20)) taken += chunk.length;
      })(),
      (e) => isLogError(e, "too-large"),
    );
    assert.ok(taken <= 1 << 20);
    // Inflating stopped at the cap, so the server could not send the rest.
    assert.ok(bombSent < BOMB_MEMBERS, `all ${BOMB_MEMBERS} members were taken`);
  });

  test("redirects are followed within the source's origin only, and not without end", async () => {
    const source = new HttpSource(url, { timeoutMs: 5000 });
    assert.equal((await source.read("moved", 100_000)).length, 100_000);
    await assert.rejects(source.read("away", 100_000), (e) => isLogError(e, "redirect"));
    await assert.rejects(source.read("loop", 100_000), (e) => isLogError(e, "redirect"));
    const drain = async (path: string) => {
      for await (const _ of source.stream(path, 100_000));
    };
    await drain("moved");
    await assert.rejects(drain("away"), (e) => isLogError(e, "redirect"));
  });

  test("a streamed read is capped, and times out only when data stops coming", async () => {
    const source = new HttpSource(url, { timeoutMs: 1000 });
    const drain = async (path: string, max: number) => {
      let total = 0;
      for await (const chunk of source.stream(path, max)) total += chunk.length;
      return total;
    };
    assert.equal(await drain("big", 100_000), 100_000);
    await assert.rejects(drain("big", 8192), (e) => isLogError(e, "too-large"));
    await assert.rejects(drain("endless", 1 << 20), (e) => isLogError(e, "too-large"));
    await assert.rejects(drain("missing", 100), (e) => isLogError(e, "not-found"));
    // 1.2 s in all, longer than the timeout, but never 1 s without data (even on a busy machine).
    assert.equal(await drain("slow", 10_000), 8000);
    await assert.rejects(drain("stalls", 10_000), { name: "TimeoutError" });
  });

  test("reading over HTTP does not load undici (fetch), whose loading alone costs tens of ms", async () => {
    const script = `
      const { HttpSource } = await import(${JSON.stringify(SOURCES)});
      await new HttpSource(${JSON.stringify(url)}).read("big", 100_000);
      const loaded = process.moduleLoadList.filter((m) => m.includes("undici"));
      process.stdout.write(JSON.stringify(loaded));`;
    assert.deepEqual(JSON.parse(await runScript(script)), []);
  });

  test("with NODE_USE_ENV_PROXY=1, reads go through HTTP_PROXY, as fetch's do", async () => {
    // Nothing listens on port 9 (discard) here: only the proxy can answer.
    const script = `
      const { HttpSource } = await import(${JSON.stringify(SOURCES)});
      const body = await new HttpSource("http://127.0.0.1:9/").read("x", 1000);
      process.stdout.write(JSON.stringify(Buffer.from(body).toString()));`;
    const env = { ...process.env, NODE_USE_ENV_PROXY: "1", HTTP_PROXY: url, NO_PROXY: "" };
    assert.equal(JSON.parse(await runScript(script, env)), "proxied http://127.0.0.1:9/x");
  });

  test("a truncated entry bundle fails verification with a clear error", async () => {
    await using dir = await tempDir();
    const key = testKey();
    await buildLog(dir.path, 600, 600, key);
    const inner = new DirectorySource(dir.path);
    const truncating = {
      name: "truncating",
      read: async (path: string, max: number) => {
        const data = await inner.read(path, max);
        return path === "tile/entries/001" ? data.subarray(0, data.length - 3) : data;
      },
    };
    await assert.rejects(verifyLog(truncating, [key.verifier]), (e) =>
      isLogError(e, "malformed-tile"),
    );
    await verifyLog(inner, [key.verifier]);
  });
});
