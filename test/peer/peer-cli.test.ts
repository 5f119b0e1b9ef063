/**
 * `cairn peer` and `cairn install --share/--peer` as a user runs them, on
 * loopback: machine A installs with --share (keeping the verified
 * tarballs) and runs `cairn peer`; machine B installs from it (counted by
 * --report); machine C installs through a peer that flips a byte, which
 * is named and avoided; `cairn peer status` says what is shared and why;
 * SIGTERM stops the peer with exit 0.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CHECKOUT_CAIRN, collectOutput, waitForOutput } from "../helpers/cairn-server.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { startLyingGateway } from "../helpers/lying-gateway.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";

const DEPS = { lib: "2.0.0", secret: "1.0.0", big: "1.0.0" };

interface SourceReport {
  url: string;
  kind: string;
  requests: number;
  bytes: number;
  failures: number;
}

describe("cairn peer and cairn install --share", () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let peer: ChildProcess | undefined;
  let peerOut: ReturnType<typeof collectOutput>;
  let peerUrl = "";
  let peerExit: Promise<number | null>;

  const home = (machine: string) => join(dir.path, machine, "home");
  async function installOn(machine: string, extra: string[], command = "install") {
    const project = join(dir.path, machine, "app");
    await mkdir(project, { recursive: true });
    await writeFile(join(project, "package.json"), JSON.stringify({ dependencies: DEPS }));
    const report = join(dir.path, machine, "report.json");
    const run = await cairn(
      [
        command,
        "--origin",
        origin.url,
        "--key",
        origin.key.verifierKey,
        "--no-mirror-list",
        "--report",
        report,
        ...extra,
      ],
      { cwd: project, env: { CAIRN_HOME: home(machine) } },
    );
    assert.equal(run.code, 0, run.stderr);
    const sources = (JSON.parse(await readFile(report, "utf8")) as { sources: SourceReport[] })
      .sources;
    return { ...run, sources, project };
  }

  before(async () => {
    dir = await tempDir("cairn-peer-cli-");
    origin = await startTestOrigin();
    await origin.publish("lib", "1.0.0");
    await origin.publish("lib", "2.0.0");
    await origin.publish("secret", "1.0.0", { cairn: { share: false } });
    // Over one chunk: shared as a UnixFS DAG, fetched as a CAR.
    await origin.publish("big", "1.0.0", {}, [
      { name: "package/blob.bin", data: randomBytes(1_300_000) },
    ]);
    const a = await installOn("a", ["--share"]);
    assert.match(a.stdout, /bytes from: origin/);
    peer = spawn(
      CHECKOUT_CAIRN[0],
      [
        ...CHECKOUT_CAIRN.slice(1),
        "peer",
        "--origin",
        origin.url,
        "--key",
        origin.key.verifierKey,
        "--no-mirror-list",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-discovery",
      ],
      { env: { ...process.env, CAIRN_HOME: home("a") }, stdio: ["ignore", "pipe", "pipe"] },
    );
    peerOut = collectOutput(peer);
    peerExit = new Promise((resolve) => peer?.once("exit", resolve));
    const ready = await waitForOutput(
      peer,
      peerOut.stdout,
      /^cairn peer: sharing (\d+) blobs on (http:\/\/\S+\/)$/m,
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${peerOut.stderr()}`);
    });
    assert.ok(Number(ready[1]) > 0);
    peerUrl = ready[2];
  });

  after(async () => {
    if (peer && peer.exitCode === null) peer.kill("SIGKILL");
    await origin?.[Symbol.asyncDispose]();
    await dir?.[Symbol.asyncDispose]();
  });

  test("the status says what is shared and why", async () => {
    const run = await cairn(["peer", "status", "--json"], { env: { CAIRN_HOME: home("a") } });
    assert.equal(run.code, 0, run.stderr);
    const { status } = JSON.parse(run.stdout);
    const decision = (spec: string) =>
      status.versions.find(
        (v: { name: string; version: string }) => `${v.name}@${v.version}` === spec,
      );
    assert.deepEqual(
      { share: decision("lib@2.0.0")?.share, reason: decision("lib@2.0.0")?.reason },
      { share: true, reason: "latest" },
    );
    assert.equal(decision("secret@1.0.0")?.reason, "opted-out");
    assert.equal(decision("big@1.0.0")?.share, true);
    assert.equal(status.reasons.latest, 2);
    assert.equal(status.reasons["opted-out"], 1);
    const text = await cairn(["peer", "status"], { env: { CAIRN_HOME: home("a") } });
    assert.match(text.stdout, /withheld secret@1\.0\.0 \(opted-out\)/);
  });

  test("an install with --peer takes the shareable tarballs from the peer", async () => {
    const b = await installOn("b", ["--peer", peerUrl]);
    const fromPeer = b.sources.find((s) => s.kind === "peer");
    assert.ok(fromPeer, JSON.stringify(b.sources));
    // lib and big (as a CAR) from the peer; secret is never asked of it.
    assert.equal(fromPeer.requests, 2);
    assert.ok(fromPeer.bytes > 1_300_000);
    assert.equal(fromPeer.failures, 0);
    assert.match(b.stdout, /bytes from: peers \(1\)/);
    const big = await readFile(join(b.project, "node_modules/big/blob.bin"));
    assert.equal(big.length, 1_300_000);
    const status = await cairn(["peer", "status", "--json"], { env: { CAIRN_HOME: home("b") } });
    const { fetched } = JSON.parse(status.stdout);
    assert.equal(fetched[0].bytes, fromPeer.bytes);
  });

  test("a peer that serves a wrong byte is named and avoided; the install completes", async () => {
    const liar = await startLyingGateway(peerUrl, "flip-byte");
    try {
      const c = await installOn("c", ["--peer", liar.url]);
      const lying = c.sources.find((s) => s.kind === "peer");
      assert.ok(lying && lying.failures >= 1, JSON.stringify(c.sources));
      assert.ok(c.stderr.includes(liar.url), c.stderr);
      assert.equal(
        (await readFile(join(c.project, "node_modules/big/blob.bin"))).length,
        1_300_000,
      );
    } finally {
      await liar.close();
    }
  });

  test("SIGTERM stops the peer cleanly", async () => {
    peer?.kill("SIGTERM");
    assert.equal(await peerExit, 0, peerOut.stderr());
    const run = await cairn(["peer", "status"], { env: { CAIRN_HOME: home("a") } });
    assert.match(run.stdout, /not running/);
  });
});
