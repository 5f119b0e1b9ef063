/**
 * The trustless gateway on a real origin over loopback, per the spec: raw
 * blocks and CARs of a small blob and of a chunked one (its DAG made by
 * the reference importer under `unixfs-v1-2025`, its blocks stored as
 * blobs), every header of the spec's table, HEAD, 304, the 400s, 404s and
 * 406s, the probe, dups, dag-scope and entity-bytes. Our CARs are read back
 * with the IPLD libraries.
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CarReader } from "@ipld/car";
import type { CID } from "multiformats/cid";
import { startMirror } from "../../src/mirror/server.ts";
import { startProxy } from "../../src/proxy/server.ts";
import { CarError, readVerifiedCar } from "../../src/store/car.ts";
import { cidOf, DAG_PB_CODEC, RAW_CODEC, rawCid } from "../../src/store/cid.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { keystreamBytes } from "../helpers/keystream.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { exportFile, recordLarge } from "../helpers/unixfs-dag.ts";

const MiB = 1 << 20;
const RAW = "application/vnd.ipld.raw";
const CAR = "application/vnd.ipld.car";

const hello = Buffer.from("hello\n");
const HELLO_CID = "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am";
/** The brief's vector: the CAR of the one raw block "hello\n". */
const HELLO_CAR =
  "3aa265726f6f747381d82a582500015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be036776657273696f6e01" +
  "2a015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be0368656c6c6f0a";
/** The CAR of the probe: a header naming bafkqaaa, no blocks. */
const PROBE_CAR = "19a265726f6f747381d82a4500015500006776657273696f6e01";

// Four leaves, the first twice: A A B tail.
const leafA = keystreamBytes("a", MiB);
const leafB = keystreamBytes("b", MiB);
const tail = Buffer.from("tail!");
const big = Buffer.concat([leafA, leafA, leafB, tail]);

let origin: TestOrigin;
let root: CID;
let base: string;

before(async () => {
  origin = await startTestOrigin();
  base = origin.url.replace(/\/$/, "");
  await origin.registry.blobs.put(hello);
  ({ root } = await recordLarge(origin, big));
});
after(() => origin[Symbol.asyncDispose]());

function get(path: string, headers: Record<string, string> = {}, method = "GET") {
  return fetch(`${base}${path}`, { method, headers });
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { code: string }).code;
}

async function carBlocks(res: Response) {
  const reader = await CarReader.fromBytes(new Uint8Array(await res.arrayBuffer()));
  const blocks = [];
  for await (const block of reader.blocks()) blocks.push(block);
  return { roots: await reader.getRoots(), blocks };
}

describe("raw blocks", () => {
  test("a blob is its raw block, with the spec's headers", async () => {
    const res = await get(`/ipfs/${HELLO_CID}`, { accept: RAW });
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), hello);
    const h = Object.fromEntries(res.headers);
    assert.equal(h["content-type"], RAW);
    assert.equal(h["content-length"], "6");
    assert.equal(h["content-disposition"], `attachment; filename="${HELLO_CID}.bin"`);
    assert.equal(h.etag, `"${HELLO_CID}.raw"`);
    assert.equal(h["cache-control"], "public, max-age=29030400, immutable");
    assert.equal(h["x-content-type-options"], "nosniff");
    assert.equal(h.vary, "Accept");
    assert.equal(h["x-ipfs-path"], `/ipfs/${HELLO_CID}`);
    // The format came from Accept: the answer names its query form.
    assert.equal(h["content-location"], `/ipfs/${HELLO_CID}?format=raw`);
    assert.equal(h["content-encoding"], undefined);
  });

  test("?format=raw needs no Accept, and beats an Accept asking for a CAR", async () => {
    const res = await get(`/ipfs/${HELLO_CID}?format=raw`, { accept: CAR });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), RAW);
    assert.equal(res.headers.get("content-location"), null);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), hello);
  });

  test("Accept is weighed by q; q=0 refuses a type", async () => {
    const preferRaw = await get(`/ipfs/${HELLO_CID}`, {
      accept: `${CAR};q=0.5, ${RAW};q=0.9`,
    });
    assert.equal(preferRaw.headers.get("content-type"), RAW);
    await preferRaw.arrayBuffer();
    const noRaw = await get(`/ipfs/${HELLO_CID}`, { accept: `${RAW};q=0, ${CAR};q=0.1` });
    assert.match(noRaw.headers.get("content-type") ?? "", /^application\/vnd\.ipld\.car;/);
    await noRaw.arrayBuffer();
  });

  test("the dag-pb root of a chunked blob is served as a raw block too", async () => {
    const res = await get(`/ipfs/${root}?format=raw`);
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(`${root.multihash.digest.length}`, "32");
    assert.deepEqual(Buffer.from(root.multihash.digest).toString("hex"), sha256Hex(body));
  });

  test("a CID in another base (base58btc) names the same block", async () => {
    const { CID } = await import("multiformats/cid");
    const { base58btc } = await import("multiformats/bases/base58");
    const other = CID.parse(HELLO_CID).toString(base58btc);
    const res = await get(`/ipfs/${other}?format=raw`);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), hello);
  });
});

describe("CARs", () => {
  test("the CAR of one raw block is the published bytes", async () => {
    const res = await get(`/ipfs/${HELLO_CID}?format=car`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), `${CAR}; version=1; order=dfs; dups=n`);
    assert.equal(res.headers.get("content-disposition"), `attachment; filename="${HELLO_CID}.car"`);
    assert.equal(Buffer.from(await res.arrayBuffer()).toString("hex"), HELLO_CAR);
  });

  test("a chunked blob's CAR is depth-first, each block once, and rebuilds the file", async () => {
    const res = await get(`/ipfs/${root}`, { accept: CAR });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), `${CAR}; version=1; order=dfs; dups=n`);
    assert.equal(
      res.headers.get("content-location"),
      `/ipfs/${root}?format=car&dag-scope=all&car-version=1&car-order=dfs&car-dups=n`,
    );
    assert.equal(res.headers.get("accept-ranges"), "none");
    const { roots, blocks } = await carBlocks(res);
    assert.deepEqual(
      roots.map((r) => r.toString()),
      [root.toString()],
    );
    const order = blocks.map((b) => sha256Hex(b.bytes));
    assert.deepEqual(order.slice(1), [sha256Hex(leafA), sha256Hex(leafB), sha256Hex(tail)]);
    assert.equal(blocks[0].cid.toString(), root.toString());
    for (const block of blocks)
      assert.deepEqual(
        Buffer.from(block.cid.multihash.digest).toString("hex"),
        sha256Hex(block.bytes),
      );
    assert.deepEqual(await exportFile(root, blocks), big);
  });

  test("dups=y sends a repeated leaf at every place it occurs", async () => {
    const viaAccept = await get(`/ipfs/${root}`, { accept: `${CAR}; version=1; dups=y` });
    assert.equal(viaAccept.headers.get("content-type"), `${CAR}; version=1; order=dfs; dups=y`);
    const { blocks } = await carBlocks(viaAccept);
    assert.deepEqual(
      blocks.slice(1).map((b) => sha256Hex(b.bytes)),
      [sha256Hex(leafA), sha256Hex(leafA), sha256Hex(leafB), sha256Hex(tail)],
    );
    // The query parameter beats the Accept parameter.
    const viaQuery = await get(`/ipfs/${root}?format=car&car-dups=n`, {
      accept: `${CAR}; dups=y`,
    });
    assert.equal(viaQuery.headers.get("content-type"), `${CAR}; version=1; order=dfs; dups=n`);
    assert.equal(
      viaQuery.headers.get("content-location"),
      `/ipfs/${root}?format=car&dag-scope=all&car-version=1&car-order=dfs&car-dups=n`,
    );
    assert.equal((await carBlocks(viaQuery)).blocks.length, 4);
    // Query parameters win over Accept parameters this gateway could not serve anyway.
    const mixed = await get(`/ipfs/${root}?format=car&car-version=1&car-order=dfs&car-dups=y`, {
      accept: `${CAR}; version=2; order=unk; dups=n`,
    });
    assert.equal(mixed.headers.get("content-type"), `${CAR}; version=1; order=dfs; dups=y`);
    assert.equal((await carBlocks(mixed)).blocks.length, 5);
  });

  test("dag-scope=block is the root alone; entity and all are the whole file", async () => {
    const block = await carBlocks(await get(`/ipfs/${root}?format=car&dag-scope=block`));
    assert.deepEqual(
      block.blocks.map((b) => b.cid.toString()),
      [root.toString()],
    );
    for (const scope of ["entity", "all"]) {
      const { blocks } = await carBlocks(await get(`/ipfs/${root}?format=car&dag-scope=${scope}`));
      assert.equal(blocks.length, 4, scope);
    }
  });

  test("entity-bytes sends the root and only the leaves the range overlaps", async () => {
    const leaves = async (range: string) => {
      const { blocks } = await carBlocks(
        await get(`/ipfs/${root}?format=car&entity-bytes=${range}`),
      );
      assert.equal(blocks[0].cid.toString(), root.toString());
      return blocks.slice(1).map((b) => sha256Hex(b.bytes));
    };
    assert.deepEqual(await leaves(`${2 * MiB}:*`), [sha256Hex(leafB), sha256Hex(tail)]);
    assert.deepEqual(await leaves(`${MiB}:${MiB + 1}`), [sha256Hex(leafA)]);
    assert.deepEqual(await leaves("-3:-1"), [sha256Hex(tail)]);
    assert.deepEqual(await leaves("0:0"), [sha256Hex(leafA)]);
    // Past the end of the file: no leaves, as dag-scope=block.
    assert.deepEqual(await leaves(`${4 * MiB}:*`), []);
  });

  test("each scope and range has its own Etag", async () => {
    const etags = new Set<string>();
    for (const query of [
      "format=car",
      "format=car&dag-scope=block",
      "format=car&dag-scope=entity",
      "format=car&entity-bytes=0:10",
      "format=car&entity-bytes=0:11",
      "format=car&car-dups=y",
      "format=raw",
    ]) {
      const res = await get(`/ipfs/${root}?${query}`, {}, "HEAD");
      etags.add(res.headers.get("etag") ?? "");
    }
    assert.equal(etags.size, 7);
  });

  test("a child missing mid-stream ends the stream, and the verifying reader calls it truncated", async () => {
    const content = Buffer.concat([keystreamBytes("c", MiB), tail]);
    const { root: lonely } = await recordLarge(origin, content);
    // Its leaves are read from the blob itself: without it only the root node is left.
    await rm(join(origin.treeDir, "blob", "sha256", sha256Hex(content)));
    const res = await get(`/ipfs/${lonely}?format=car`);
    assert.equal(res.status, 200);
    await assert.rejects(
      async () => {
        for await (const _ of readVerifiedCar(res.body as AsyncIterable<Uint8Array>, lonely));
      },
      (err: unknown) =>
        (err instanceof CarError && err.code === "truncated") ||
        (err as Error).message === "terminated",
    );
  });
});

describe("HEAD, 304 and the probe", () => {
  test("HEAD answers the headers of GET without a body", async () => {
    for (const query of ["format=raw", "format=car"]) {
      const res = await get(`/ipfs/${root}?${query}`, {}, "HEAD");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("cache-control"), "public, max-age=29030400, immutable");
      assert.equal((await res.arrayBuffer()).byteLength, 0);
    }
    const missing = await get(
      `/ipfs/${rawCid(sha256Hex(Buffer.from("absent")))}?format=raw`,
      {},
      "HEAD",
    );
    assert.equal(missing.status, 404);
  });

  test("If-None-Match with the Etag is a 304", async () => {
    const first = await get(`/ipfs/${HELLO_CID}?format=raw`);
    const etag = first.headers.get("etag") ?? "";
    await first.arrayBuffer();
    const again = await get(`/ipfs/${HELLO_CID}?format=raw`, { "if-none-match": etag });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get("etag"), etag);
    const car = await get(`/ipfs/${HELLO_CID}?format=car`, { "if-none-match": etag });
    assert.equal(car.status, 200, "a CAR has another Etag");
    await car.arrayBuffer();
  });

  test("only-if-cached changes nothing: every block is local", async () => {
    const held = await get(`/ipfs/${HELLO_CID}?format=raw`, { "cache-control": "only-if-cached" });
    assert.equal(held.status, 200);
    await held.arrayBuffer();
    const absent = rawCid(sha256Hex(Buffer.from("absent")));
    const res = await get(
      `/ipfs/${absent}?format=raw`,
      { "cache-control": "only-if-cached" },
      "HEAD",
    );
    assert.equal(res.status, 404);
  });

  test("the probe bafkqaaa answers an empty block, or a CAR of a header alone", async () => {
    const raw = await get("/ipfs/bafkqaaa?format=raw");
    assert.equal(raw.status, 200);
    assert.equal((await raw.arrayBuffer()).byteLength, 0);
    const car = await get("/ipfs/bafkqaaa", { accept: CAR });
    assert.equal(car.status, 200);
    assert.equal(Buffer.from(await car.arrayBuffer()).toString("hex"), PROBE_CAR);
    const head = await get("/ipfs/bafkqaaa?format=raw", {}, "HEAD");
    assert.equal(head.status, 200);
  });
});

describe("refusals", () => {
  test("400: no Accept and no format, a wildcard Accept, a string that is no CID, bad parameters", async () => {
    const cases: [string, Record<string, string>, string][] = [
      [`/ipfs/${HELLO_CID}`, {}, "no-format"],
      [`/ipfs/${HELLO_CID}`, { accept: "*/*" }, "no-format"],
      ["/ipfs/not-a-cid?format=raw", {}, "bad-cid"],
      ["/ipfs/bafkreiZZZ?format=raw", {}, "bad-cid"],
      [`/ipfs/${root}?format=car&dag-scope=most`, {}, "bad-param"],
      [`/ipfs/${root}?format=car&entity-bytes=5:2`, {}, "bad-param"],
      [`/ipfs/${root}?format=car&entity-bytes=a:b`, {}, "bad-param"],
      [`/ipfs/${root}?format=car&entity-bytes=0:1&dag-scope=block`, {}, "bad-param"],
      [`/ipfs/${root}?format=car&format=raw`, {}, "bad-param"],
    ];
    for (const [path, headers, code] of cases) {
      const res = await get(path, headers);
      assert.equal(res.status, 400, path);
      assert.equal(await errorCode(res), code, path);
    }
  });

  test("406: a format or CAR variant this gateway does not make", async () => {
    const cases: [string, Record<string, string>][] = [
      [`/ipfs/${HELLO_CID}?format=tar`, {}],
      [`/ipfs/${HELLO_CID}?format=dag-json`, {}],
      [`/ipfs/${HELLO_CID}`, { accept: "text/html" }],
      [`/ipfs/${HELLO_CID}`, { accept: `${CAR}; version=2` }],
      [`/ipfs/${HELLO_CID}?format=car&car-version=2`, {}],
      [`/ipfs/${HELLO_CID}?format=car&car-order=bfs`, {}],
      [`/ipfs/${HELLO_CID}?format=car&car-dups=maybe`, {}],
    ];
    for (const [path, headers] of cases) {
      const res = await get(path, headers);
      assert.equal(res.status, 406, `${path} ${JSON.stringify(headers)}`);
      assert.equal(await errorCode(res), "not-acceptable");
    }
  });

  test("404: anything not held answers the same, whatever the reason", async () => {
    const oversized = keystreamBytes("oversized", 2 * MiB + 1);
    await origin.registry.blobs.put(oversized);
    const { CID } = await import("multiformats/cid");
    const { sha512 } = await import("multiformats/hashes/sha2");
    const otherHash = CID.createV1(0x55, await sha512.digest(hello)).toString();
    const paths = [
      `/ipfs/${rawCid(sha256Hex(Buffer.from("absent")))}?format=raw`,
      `/ipfs/${rawCid(sha256Hex(Buffer.from("absent")))}?format=car`,
      // Held, but over the 2 MiB block limit.
      `/ipfs/${rawCid(sha256Hex(oversized))}?format=raw`,
      // A valid CID no Cairn block can have.
      `/ipfs/${otherHash}?format=raw`,
      // Held as bytes, but not a dag-pb node.
      `/ipfs/${cidOf(sha256Hex(hello), DAG_PB_CODEC)}?format=raw`,
    ];
    const bodies = new Set<string>();
    for (const path of paths) {
      const res = await get(path);
      assert.equal(res.status, 404, path);
      bodies.add(await res.text());
    }
    assert.equal(bodies.size, 1);
  });
});

describe("mounted beside the npm API", () => {
  test("a package named ipfs keeps its packument and tarball on the origin and a mirror, which serve its blobs as blocks", async () => {
    await origin.publish("ipfs", "1.0.0");
    const packument = await get("/ipfs");
    assert.equal(packument.status, 200);
    const doc = (await packument.json()) as {
      versions: Record<string, { dist: { tarball: string } }>;
    };
    const tarballPath = new URL(doc.versions["1.0.0"].dist.tarball).pathname;
    assert.equal(tarballPath, "/ipfs/-/ipfs-1.0.0.tgz");
    const tarball = await get(tarballPath);
    assert.equal(tarball.status, 200);
    const tgz = Buffer.from(await tarball.arrayBuffer());
    const cid = rawCid(sha256Hex(tgz));

    const dir = await tempDir("cairn-gw-mirror-");
    await using _ = dir;
    const mirror = await startMirror({
      from: origin.url,
      verifier: origin.key.verifier,
      dataDir: dir.path,
      durable: false,
      host: "127.0.0.1",
      port: 0,
      intervalMs: 0,
    });
    try {
      await mirror.firstSync;
      for (const server of [base, mirror.url.replace(/\/$/, "")]) {
        const block = await fetch(`${server}/ipfs/${cid}?format=raw`);
        assert.equal(block.status, 200, server);
        assert.deepEqual(Buffer.from(await block.arrayBuffer()), tgz);
        const again: Response = await fetch(`${server}${tarballPath}`);
        assert.equal(again.status, 200, server);
        assert.deepEqual(Buffer.from(await again.arrayBuffer()), tgz);
        const named = await fetch(`${server}/ipfs`);
        assert.equal(named.status, 200, server);
        await named.arrayBuffer();
      }
    } finally {
      await mirror.close();
    }
  });

  test("the leaves of a large tarball are served by the origin, a mirror, and a proxy that has served it", async () => {
    // An origin of its own: a mirror copies the whole log, and another test removed a blob of this one.
    await using own = await startTestOrigin();
    const content = Buffer.concat([keystreamBytes("large-d", 2 * MiB), tail]);
    const large = await recordLarge(own, content);
    const dir = await tempDir("cairn-gw-copies-");
    await using _ = dir;
    const mirror = await startMirror({
      from: own.url,
      verifier: own.key.verifier,
      dataDir: join(dir.path, "mirror"),
      durable: false,
      host: "127.0.0.1",
      port: 0,
      intervalMs: 0,
    });
    const proxy = await startProxy({
      host: "127.0.0.1",
      port: 0,
      dataDir: join(dir.path, "proxy"),
      origin: own.url,
      verifier: own.key.verifier,
      useMirrorList: false,
    });
    try {
      await mirror.firstSync;
      const viaProxy = await fetch(new URL(`large/-/large-${large.version}.tgz`, proxy.url));
      assert.deepEqual(Buffer.from(await viaProxy.arrayBuffer()), content);
      for (const [copy, server] of Object.entries({
        origin: own.url,
        mirror: mirror.url,
        proxy: proxy.url,
      })) {
        const res = await fetch(new URL(`ipfs/${large.root}?format=car`, server));
        assert.equal(res.status, 200, copy);
        const parts: Uint8Array[] = [];
        for await (const block of readVerifiedCar(
          res.body as AsyncIterable<Uint8Array>,
          large.root,
        ))
          if (block.cid.code === RAW_CODEC) parts.push(block.bytes);
        assert.deepEqual(Buffer.concat(parts), content, copy);
      }
    } finally {
      await proxy.close();
      await mirror.close();
    }
  });
});
