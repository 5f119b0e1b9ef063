/**
 * `cairn peer` and `cairn install --share/--peer` as a user runs them, on
 * loopback: machine A installs with --share (keeping the verified
 * tarballs) and runs `cairn peer`; machine B installs from it (counted by
 * --report); machine C installs through a peer that flips a byte, which
 * is named and avoided; `cairn peer status` says what is shared and why;
 * SIGTERM stops the peer with exit 0.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { watch } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type PeerStatus, readStatus } from "../../src/peer/status.ts";
import { rawCid } from "../../src/store/cid.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { startLyingGateway } from "../helpers/lying-gateway.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { loopbackPeer, type PeerProcess, startPeer } from "../helpers/peer-process.ts";

const DEPS = { lib: "2.0.0", secret: "1.0.0", big: "1.0.0" };

interface SourceReport {
  url: string;
  kind: string;
  requests: number;
  bytes: number;
  failures: number;
}

/** Resolves once the peer's status file says `holds` (watched first, then read: no change is missed). */
function statusWhere(home: string, holds: (status: PeerStatus) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = async () => {
      const status = await readStatus(home);
      if (status && holds(status)) {
        watcher.close();
        resolve();
      }
    };
    const watcher = watch(join(home, "peer"), () => void check());
    void check();
  });
}

describe("cairn peer and cairn install --share", () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let peer: PeerProcess | undefined;
  let peerUrl = "";

  const home = (machine: string) => join(dir.path, machine, "home");
  async function installOn(
    machine: string,
    extra: string[],
    command = "install",
    dependencies: Record<string, string> = DEPS,
  ) {
    const project = join(dir.path, machine, "app");
    await mkdir(project, { recursive: true });
    await writeFile(join(project, "package.json"), JSON.stringify({ dependencies }));
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
    peer = await startPeer(loopbackPeer(origin), home("a"));
    assert.ok(peer.blobs > 0);
    peerUrl = peer.url;
  });

  after(async () => {
    if (peer?.child.exitCode === null) peer.child.kill("SIGKILL");
    await origin?.[Symbol.asyncDispose]().catch(() => undefined);
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

  test("a tarball an install keeps while the peer runs is shared without restarting it", async () => {
    await origin.publish("late", "1.0.0");
    await installOn("a", ["--share"], "install", { ...DEPS, late: "1.0.0" });
    // The status file is replaced once the set includes it: wait on its changes.
    await statusWhere(home("a"), (s) => s.versions.some((v) => v.name === "late" && v.share));
    const artifact = origin.registry.state.table("npm").version("late", "1.0.0")?.entry.artifact;
    const res = await fetch(`${peerUrl}ipfs/${rawCid(artifact?.sha256 ?? "")}?format=raw`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
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

  test("with the origin stopped, ci installs what the LAN holds under the checkpoint verified before", async () => {
    const shared = { lib: "2.0.0", big: "1.0.0" };
    const first = await installOn("d", [], "install", shared);
    await rm(join(first.project, "node_modules"), { recursive: true });
    await origin.close();
    const offline = await installOn(
      "d",
      ["--peer", peerUrl, "--store", join(dir.path, "d", "fresh-store")],
      "ci",
      shared,
    );
    assert.match(offline.stderr, /installing under the checkpoint verified before/);
    const fromPeer = offline.sources.find((s) => s.kind === "peer");
    assert.equal(fromPeer?.requests, 2, JSON.stringify(offline.sources));
    assert.equal(
      (await readFile(join(offline.project, "node_modules/big/blob.bin"))).length,
      1_300_000,
    );
  });

  test("SIGTERM stops the peer cleanly", async () => {
    assert.equal(await peer?.stop(), 0, peer?.stderr());
    // Its port is closed: nothing listens once it stopped.
    const refused = await fetch(peerUrl).then(
      () => false,
      () => true,
    );
    assert.ok(refused);
    const run = await cairn(["peer", "status"], { env: { CAIRN_HOME: home("a") } });
    assert.match(run.stdout, /not running/);
  });
});
