/**
 * Errors reach clients as `{"error": message, "code": code}` with the status
 * the code maps to, and every 5xx is logged as a JSON line on standard error
 * carrying the request id the client was given (`x-request-id`). Each input
 * here once answered a bare `500 internal error` and logged nothing.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { startProxy } from "../../src/proxy/server.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { publish, putJson, signUp } from "../helpers/registry-client.ts";
import { type ServeProcess, startServe } from "../helpers/serve.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

interface LogLine {
  level: number;
  reqId?: string;
  code?: string;
  msg: string;
}

function logLines(text: string): LogLine[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);
}

/** The 5xx answer's code, after checking it was logged at "error" under the request id it names. */
async function loggedFailure(res: Response, logs: () => string): Promise<string> {
  const { code } = (await res.json()) as { code: string };
  const id = res.headers.get("x-request-id");
  assert.ok(id, "a 5xx names its request id");
  const line = logLines(logs()).find((l) => l.reqId === id);
  assert.ok(line, `no log line for request ${id}: ${logs()}`);
  assert.equal(line.level, 50);
  assert.equal(line.code, code);
  return code;
}

/** A publish body as JSON text, with `"@@RAW@@"` replaced by raw JSON text `raw`. */
function rawPublish(name: string, raw: string): string {
  const tgz = rawTgz([packageJson(name, "1.0.0")]);
  const body = publishBody({ name, version: "1.0.0", odd: "@@RAW@@" }, tgz);
  return JSON.stringify(body).replace('"@@RAW@@"', raw);
}

describe("coded errors from cairn serve", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: ServeProcess;
  let alice: string;

  const state = async () => ({
    checkpoint: await (await fetch(new URL("-/cairn/checkpoint", server.url))).text(),
    blobs: (await readdir(join(dir.path, "data", "tree", "blob", "sha256"))).sort(),
  });

  before(async () => {
    dir = await tempDir();
    server = await startServe(["--data", join(dir.path, "data"), "--no-durable"]);
    alice = await signUp(server.url, "alice", "pw-alice");
    assert.equal((await publish(server.url, alice, "pkg", "1.0.0")).status, 201);
  });
  after(async () => {
    await server.stop();
    await dir[Symbol.asyncDispose]();
  });

  const badBodies: [string, string][] = [
    ["a lone surrogate", '"\\ud800"'],
    ["a lone surrogate in a key", '{"\\udc00": 1}'],
    ["1e400", "1e400"],
    ["arrays nested 5,000 deep", `${"[".repeat(5000)}${"]".repeat(5000)}`],
    ["a __proto__ key", '{"__proto__": {"polluted": true}}'],
  ];
  for (const [what, raw] of badBodies) {
    test(`a publish holding ${what} is 400 invalid-json and changes nothing`, async () => {
      const before = await state();
      const res = await putJson(server.url, "/fresh", alice, rawPublish("fresh", raw));
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { code: string }).code, "invalid-json");
      assert.deepEqual(await state(), before);
    });
  }

  test("a name like foo%bar is 400 invalid-name, and /%25 is 404", async () => {
    const before = await state();
    const res = await putJson(server.url, "/foo%25bar", alice, rawPublish("foo%bar", "1"));
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: string }).code, "invalid-name");
    const percent = await fetch(new URL("%25", server.url));
    assert.equal(percent.status, 404);
    assert.equal(((await percent.json()) as { code: string }).code, "not-found");
    assert.deepEqual(await state(), before);
  });

  test("a damaged blob is 503 missing (the store holds no good copy), logged with its request id", async () => {
    const tgz = rawTgz([packageJson("damaged", "1.0.0")]);
    const body = publishBody({ name: "damaged", version: "1.0.0" }, tgz);
    assert.equal((await putJson(server.url, "/damaged", alice, body)).status, 201);
    const blob = join(dir.path, "data", "tree", "blob", "sha256", sha256(tgz));
    const bytes = await readFile(blob);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(blob, bytes);

    const res = await fetch(new URL("damaged/-/damaged-1.0.0.tgz", server.url));
    assert.equal(res.status, 503);
    assert.equal(await loggedFailure(res, server.stderr), "missing");
  });

  test("a 4xx is not logged at the default level", async () => {
    const res = await fetch(new URL("no-such-package", server.url));
    assert.equal(res.status, 404);
    const id = res.headers.get("x-request-id");
    assert.ok(id);
    assert.equal(
      logLines(server.stderr()).find((l) => l.reqId === id),
      undefined,
    );
  });
});

function sha256(bytes: Uint8Array): string {
  return execFileSync("sha256sum", { input: bytes }).toString().slice(0, 64);
}

/** Whether this machine lets an unprivileged process mount a tmpfs in its own namespace. */
function canMountTmpfs(): boolean {
  try {
    execFileSync("unshare", ["-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], {
      stdio: "ignore",
    });
    return true;
  } catch {
    return false;
  }
}

describe("a full disk", () => {
  test("a publish that fills the disk is 507 disk-full, logged, and changes nothing", {
    skip: !canMountTmpfs() && "unshare cannot mount a tmpfs here",
  }, async () => {
    await using dir = await tempDir();
    // The data directory on a 3 MiB tmpfs of its own: room to start, not for a 4 MiB tarball.
    const server = await startServe(
      ["--data", join(dir.path, "data"), "--no-durable"],
      ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"', dir.path],
    );
    try {
      const alice = await signUp(server.url, "alice", "pw-alice");
      const checkpoint = await (await fetch(new URL("-/cairn/checkpoint", server.url))).text();
      const big = { name: "package/big.bin", data: randomBytes(1536 * 1024) };
      const res = await publish(server.url, alice, "big", "1.0.0", [big]);
      assert.equal(res.status, 507);
      assert.equal(await loggedFailure(res, server.stderr), "disk-full");
      const after = await (await fetch(new URL("-/cairn/checkpoint", server.url))).text();
      assert.equal(after, checkpoint);
      assert.equal((await fetch(new URL("big", server.url))).status, 404);
    } finally {
      await server.stop();
    }
  });
});

describe("a proxy whose every source is tampered", () => {
  test("a tarball no source verifies is 502 no-verified-source, logged", async () => {
    await using origin = await startTestOrigin();
    await origin.publish("pkg", "1.0.0");
    await using mirror = await startMaliciousMirror({
      treeDir: origin.treeDir,
      attack: "tarball-byte",
    });
    await using dir = await tempDir("cairn-proxy-");
    let logs = "";
    const logStream = new PassThrough();
    logStream.on("data", (chunk) => {
      logs += chunk;
    });
    const proxy = await startProxy({
      host: "127.0.0.1",
      port: 0,
      dataDir: dir.path,
      // The tampering server is the only source, the origin's address included.
      origin: mirror.url,
      verifier: origin.key.verifier,
      useMirrorList: false,
      maxLag: 0,
      refreshMs: 60_000,
      timeoutMs: 10_000,
      logStream,
    });
    try {
      const res = await fetch(new URL("pkg/-/pkg-1.0.0.tgz", proxy.url));
      assert.equal(res.status, 502);
      assert.equal(await loggedFailure(res, () => logs), "no-verified-source");
    } finally {
      await proxy.close();
    }
  });
});

describe("log levels", () => {
  test("--log-level debug logs every request; the config file sets it too; bad levels are refused", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "data");
    const config = join(dir.path, "config.json");
    await writeFile(config, JSON.stringify({ logLevel: "debug" }));
    for (const how of [
      ["--log-level", "debug"],
      ["--config", config],
    ]) {
      const debug = await startServe(["--data", data, "--no-durable", ...how]);
      try {
        const res = await fetch(new URL("-/ping", debug.url));
        assert.equal(res.status, 200);
        await debug.waitForStderr(/"msg":"request completed"/);
        const line = logLines(debug.stderr()).find((l) => l.msg === "request completed");
        assert.equal(line?.level, 20);
        assert.ok(line?.reqId);
      } finally {
        await debug.stop();
      }
    }

    await writeFile(join(dir.path, "config.json"), JSON.stringify({ logLevel: "loud" }));
    const badFile = await cairn([
      "serve",
      "--data",
      data,
      "--config",
      join(dir.path, "config.json"),
    ]);
    assert.notEqual(badFile.code, 0);
    assert.match(badFile.stderr, /logLevel must be one of/);
    for (const command of ["serve", "mirror", "proxy"]) {
      const badFlag = await cairn([command, "--log-level", "loud"]);
      assert.notEqual(badFlag.code, 0, command);
      assert.match(badFlag.stderr, /"loud" is not one of/, command);
    }
  });
});
