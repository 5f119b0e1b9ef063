/**
 * LAN sharing end to end, on a LAN of network namespaces built by the test:
 * `cairn serve` (the origin) on one host, `cairn mirror` on a second, five
 * peers each with its own $CAIRN_HOME, a lying peer, and a host with sharing
 * off. Every install reads the origin and the mirror through counting
 * proxies on the bridge, so what they served is counted on their side too.
 *
 * Peer 1 installs the app (test/helpers/peer-registry.ts: a few dozen
 * packages, one tarball over 1 MiB) from the mirror and starts `cairn peer`;
 * then the lying peer (test/helpers/lying-peer-host.ts) starts, and peers
 * 2 to 5 install one after another with `--share`, each starting
 * `cairn peer` after, and fetch most tarball bytes from the peers before
 * them: the liar is caught, named and avoided, and every peer ends with the
 * same node_modules. mDNS discovery shows in `cairn peer status --json`.
 * Privacy over the real LAN: the host with sharing off listens on nothing
 * and is found by nobody; the peers answer "not here", byte for byte the
 * same, for a block nobody has, an old unpopular version and an opted-out
 * package. Last, with the origin and the mirror stopped, the host with
 * sharing off installs its verified lockfile from the peers.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { rawCid } from "../../src/store/cid.ts";
import { type CairnServer, CHECKOUT_CAIRN } from "../helpers/cairn-server.ts";
import { type CliResult, cairn } from "../helpers/cli.ts";
import { type CountingProxy, startCountingProxy } from "../helpers/counting-proxy.ts";
import { installedTree, succeeded } from "../helpers/installed-tree.ts";
import { createLan, type Lan, type LanHost, type LanProcess } from "../helpers/lan.ts";
import { startLanMirror, startLanOrigin } from "../helpers/lan-servers.ts";
import { tempDir } from "../helpers/log.ts";
import { noiseText } from "../helpers/noise-text.ts";
import {
  BIG,
  OLD,
  OPTED_OUT,
  peerApp,
  plainName,
  publishPeerRegistry,
} from "../helpers/peer-registry.ts";
import type { ServeProcess } from "../helpers/serve.ts";
import { PROJECT_ROOT } from "../helpers/shared.ts";

const PEERS = 5;
const LIAR_SCRIPT = `${PROJECT_ROOT}/test/helpers/lying-peer-host.ts`;
/** Discovery and an install on a loaded machine. */
const BOUND_MS = 120_000;
const READY = /cairn peer: sharing (\d+) blobs on (http:\/\/\S+\/)/;

interface Source {
  url: string;
  kind: "peer" | "mirror" | "gateway" | "origin";
  requests: number;
  bytes: number;
  failures: number;
}

interface SharingPeer {
  host: LanHost;
  home: string;
  app: string;
  process?: LanProcess;
  url?: string;
  report?: Source[];
}

/** The app with only what the LAN may share: no old version, no opted-out package. */
function shareableApp() {
  const { dependencies } = peerApp();
  const { [OLD.name]: _old, [OPTED_OUT.name]: _private, ...shareable } = dependencies;
  return { name: "lan-app-shareable", version: "1.0.0", dependencies: shareable };
}

const bytesOf = (sources: Source[], kinds: Source["kind"][], except = "") =>
  sources
    .filter((s) => kinds.includes(s.kind) && sameUrl(s.url, except) === false)
    .reduce((n, s) => n + s.bytes, 0);

const sameUrl = (a: string, b: string) => a.replace(/\/$/, "") === b.replace(/\/$/, "");

describe("LAN peers in network namespaces: discovery, offload, a lying peer, privacy", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let lan: Lan;
  let origin: ServeProcess | undefined;
  let mirror: CairnServer | undefined;
  let originProxy: CountingProxy | undefined;
  let mirrorProxy: CountingProxy | undefined;
  let liar: LanProcess | undefined;
  let liarUrl = "";
  let logOrigin = "";
  let peers: SharingPeer[] = [];
  let quiet: SharingPeer;

  before(async () => {
    dir = await tempDir();
    // origin, mirror, the peers, the liar, the host with sharing off
    lan = await createLan(PEERS + 4);
    const [originHost, mirrorHost] = lan.hosts;
    origin = await startLanOrigin(originHost, join(dir.path, "origin"));
    await publishPeerRegistry(origin.url);
    logOrigin = (await (await fetch(new URL("-/cairn/checkpoint", origin.url))).text()).split(
      "\n",
    )[0];
    mirror = await startLanMirror(mirrorHost, origin, join(dir.path, "mirror"));
    originProxy = await startCountingProxy(origin.url, { host: lan.hostAddress });
    mirrorProxy = await startCountingProxy(mirror.url, { host: lan.hostAddress });
    const home = (name: string, host: LanHost): SharingPeer => ({
      host,
      home: join(dir.path, `home-${name}`),
      app: join(dir.path, `app-${name}`),
    });
    peers = lan.hosts.slice(2, 2 + PEERS).map((host, i) => home(`peer${i + 1}`, host));
    quiet = home("quiet", lan.hosts[PEERS + 3]);
    for (const p of [...peers, quiet]) await mkdir(p.app);
    for (const p of peers) await writeFile(join(p.app, "package.json"), JSON.stringify(peerApp()));
    await writeFile(join(quiet.app, "package.json"), JSON.stringify(shareableApp()));
  });

  after(async () => {
    await Promise.all(peers.map((p) => p.process?.stop()));
    await liar?.stop();
    await mirror?.stop();
    await origin?.stop();
    await originProxy?.close();
    await mirrorProxy?.close();
    await lan?.close();
    await dir?.[Symbol.asyncDispose]();
  });

  const sourceArgs = () => [
    "--origin",
    originProxy?.url ?? "",
    "--key",
    origin?.verifierKey ?? "",
    "--no-mirror-list",
    "--mirror",
    mirrorProxy?.url ?? "",
  ];

  /** `cairn <args>` on the host, in its app, with its own CAIRN_HOME. */
  function cairnOn(
    p: SharingPeer,
    args: string[],
    cwd = p.app,
    sources = sourceArgs(),
  ): Promise<CliResult> {
    return cairn([...args, ...sources], {
      cwd,
      env: { CAIRN_HOME: p.home },
      command: p.host.command(...CHECKOUT_CAIRN),
    });
  }

  /** `cairn install --share` with a report; returns the report's sources. */
  async function installSharing(
    p: SharingPeer,
    command = "install",
    cwd = p.app,
    extra: string[] = [],
  ) {
    const report = `${cwd}-report.json`;
    const result = await cairnOn(p, [command, "--share", "--report", report, ...extra], cwd);
    succeeded(result, `cairn ${command} --share on ${p.host.address}`);
    const sources = (JSON.parse(await readFile(report, "utf8")) as { sources: Source[] }).sources;
    return { result, sources };
  }

  async function startPeer(p: SharingPeer): Promise<void> {
    const proc = p.host.node(
      [
        ...CHECKOUT_CAIRN.slice(1),
        "peer",
        ...sourceArgs(),
        "--host",
        p.host.address,
        "--port",
        "0",
      ],
      {
        env: { ...process.env, CAIRN_HOME: p.home },
      },
    );
    p.process = proc;
    const ready = await proc.waitFor(READY, BOUND_MS);
    assert.ok(Number(ready[1]) > 0, `peer ${p.host.address} shares nothing`);
    p.url = ready[2];
    assert.match(p.url, new RegExp(`^http://${p.host.address.replaceAll(".", "\\.")}:\\d+/$`));
  }

  /** Bytes the origin and the mirror served so far, as their proxies counted them. */
  const centralBytes = () =>
    (originProxy?.responseBytes() ?? 0) + (mirrorProxy?.responseBytes() ?? 0);

  test("peer 1 installs the app from the mirror and starts sharing", async () => {
    const [first] = peers;
    const before = centralBytes();
    const { sources } = await installSharing(first);
    first.report = sources;
    assert.equal(bytesOf(sources, ["peer"]), 0, "there was no peer to fetch from");
    assert.ok(bytesOf(sources, ["mirror"]) > 1 << 20, JSON.stringify(sources));
    // Counted on their side too (as sent, compressed or not): the large tarball alone is over 1 MiB.
    assert.ok(centralBytes() - before > 1 << 20);
    await startPeer(first);
  });

  test("peers 2 to 5 fetch most tarball bytes from the peers before them; the lying peer is caught, named and avoided", async (t) => {
    liar = lan.hosts[PEERS + 2].node([
      LIAR_SCRIPT,
      JSON.stringify({ logOrigin, honest: mirror?.url }),
    ]);
    const ready = await liar.waitFor(/\{"event":"ready","id":"[^"]+","port":(\d+)\}/, BOUND_MS);
    liarUrl = `http://${lan.hosts[PEERS + 2].address}:${ready[1]}/`;
    for (const p of peers.slice(1)) {
      const before = centralBytes();
      const { result, sources } = await installSharing(p);
      p.report = sources;
      // A report counts what each source sent, the liar's rejected answers too.
      const fromPeers = bytesOf(sources, ["peer"], liarUrl);
      const fromCentral = centralBytes() - before;
      assert.ok(
        fromPeers > 3 * bytesOf(sources, ["mirror", "origin"]),
        `${p.host.address}: ${JSON.stringify(sources)}`,
      );
      // Counted on the servers' side: what they sent, metadata and all, is well under what the peers sent.
      assert.ok(fromCentral < fromPeers, `${fromCentral} bytes from the origin and mirror`);
      const lies = sources.find((s) => sameUrl(s.url, liarUrl));
      t.diagnostic(
        `${p.host.address}: ${fromPeers} bytes from peers, ${bytesOf(sources, ["mirror", "origin"])} from the mirror and origin ` +
          `(${fromCentral} as their proxies counted); honest peers failed ${sources.filter((s) => s.kind === "peer" && s !== lies).reduce((n, s) => n + s.failures, 0)} times; ` +
          `the liar ${lies ? `${lies.requests} requests, ${lies.failures} caught` : "not asked"}`,
      );
      if (p === peers[1]) {
        // Peer 1 and the liar were the only peers: the liar was asked, caught and named.
        assert.ok(lies && lies.failures >= 1, JSON.stringify(sources));
        assert.ok(result.stderr.includes(liarUrl.replace(/\/$/, "")), result.stderr);
      }
      if (lies) {
        // Every answer it gave was caught; and once caught it was asked no more: at most the
        // fetches already under way (16 at once), where asking it at random would be half of 60.
        assert.equal(lies.failures, lies.requests, JSON.stringify(lies));
        assert.ok(lies.requests <= 16, JSON.stringify(lies));
      }
      await startPeer(p);
    }
    assert.match(liar.stdout(), /"event":"served"/);
    assert.equal(liar.child.exitCode, null, `the liar exited: ${liar.stderr()}`);
  });

  test("every peer installed the same files", async () => {
    const reference = await installedTree(peers[0].app);
    assert.ok([...reference.keys()].some((path) => path.endsWith(`${BIG.name}/blob.bin`)));
    for (const p of peers.slice(1)) assert.deepEqual(await installedTree(p.app), reference);
  });

  /** The peer URLs `cairn peer status --json` on the host lists. */
  async function peersFound(p: SharingPeer): Promise<string[]> {
    const status = await cairnOn(p, ["peer", "status", "--json"], p.app, []);
    succeeded(status, `cairn peer status on ${p.host.address}`);
    const { status: found } = JSON.parse(status.stdout) as {
      status: { peers: { url: string }[] } | null;
    };
    return (found?.peers ?? []).map((f) => f.url);
  }

  test("mDNS: each peer sees the four others and the liar in `cairn peer status --json`", async () => {
    for (const p of peers) {
      const expected = [...peers.filter((o) => o !== p).map((o) => o.url ?? ""), liarUrl].sort();
      // The status file is rewritten on each peer found; the newest peer's own browse takes a moment.
      const deadline = Date.now() + BOUND_MS;
      let found = await peersFound(p);
      while (!expected.every((url) => found.includes(url)) && Date.now() < deadline) {
        await delay(250);
        found = await peersFound(p);
      }
      assert.deepEqual(found.sort(), expected, p.host.address);
    }
  });

  test("a host with sharing off listens on nothing and no peer finds it", async () => {
    succeeded(await cairnOn(quiet, ["install"]), "cairn install without --share");
    const sockets = await inside(quiet.host, ["ss", "-Hltun"]);
    assert.equal(sockets.trim(), "", `listening on the host with sharing off: ${sockets}`);
    for (const p of peers) {
      const found = await peersFound(p);
      assert.ok(!found.some((url) => url.includes(`//${quiet.host.address}:`)), `${found}`);
    }
  });

  test('"not here" is the same bytes for an absent block, an old unpopular version and an opted-out package', async () => {
    const target = peers[0].url ?? "";
    const tarballCid = async (name: string, version: string) =>
      rawCid(
        createHash("sha256")
          .update(
            Buffer.from(
              await (
                await fetch(new URL(`${name}/-/${name}-${version}.tgz`, origin?.url))
              ).arrayBuffer(),
            ),
          )
          .digest("hex"),
      );
    // The peer holds both withheld versions, and says why it does not share them.
    const status = await cairnOn(peers[0], ["peer", "status", "--json"], peers[0].app, []);
    const { versions } = (JSON.parse(status.stdout) as { status: { versions: object[] } }).status;
    for (const held of [
      { name: OLD.name, version: OLD.version, share: false, reason: "unpopular" },
      { name: OPTED_OUT.name, version: OPTED_OUT.version, share: false, reason: "opted-out" },
      { name: plainName(1), version: "1.0.0", share: true, reason: "latest" },
    ])
      assert.ok(
        versions.some((v) => JSON.stringify(v) === JSON.stringify(held)),
        `${JSON.stringify(held)} not in ${JSON.stringify(versions)}`,
      );
    const fileCid = (text: string) => rawCid(createHash("sha256").update(text).digest("hex"));
    // Held and shareable: served.
    const shared = await tarballCid(plainName(1), "1.0.0");
    assert.equal((await fetch(new URL(`ipfs/${shared}?format=raw`, target))).status, 200);
    const withheld = {
      absent: rawCid(createHash("sha256").update(randomBytes(32)).digest("hex")),
      oldTarball: await tarballCid(OLD.name, OLD.version),
      oldFile: fileCid(noiseText(200, 20_000)),
      optedOutTarball: await tarballCid(OPTED_OUT.name, OPTED_OUT.version),
      optedOutFile: fileCid(noiseText(300, 20_000)),
    };
    for (const method of ["GET", "HEAD"]) {
      const answers = new Map<string, string>();
      for (const [what, cid] of Object.entries(withheld))
        answers.set(what, withoutDate(await rawRequest(target, method, `/ipfs/${cid}?format=raw`)));
      const first = answers.get("absent") ?? "";
      assert.match(first, /^HTTP\/1\.1 404 /);
      for (const [what, answer] of answers) assert.equal(answer, first, `${method} ${what}`);
    }
  });

  test("with the origin and the mirror stopped, a host whose lockfile was verified before installs it from the peers", async () => {
    await mirror?.stop();
    await origin?.stop();
    const offline = join(dir.path, "app-offline");
    await mkdir(offline);
    await copyFile(join(quiet.app, "package.json"), join(offline, "package.json"));
    await copyFile(join(quiet.app, "package-lock.json"), join(offline, "package-lock.json"));
    // A fresh store: every byte comes from the LAN.
    const { sources } = await installSharing(quiet, "ci", offline, [
      "--store",
      join(dir.path, "offline-store"),
    ]);
    assert.equal(bytesOf(sources, ["mirror", "origin"]), 0, JSON.stringify(sources));
    assert.ok(bytesOf(sources, ["peer"]) > 1 << 20);
    assert.deepEqual(await installedTree(offline), await installedTree(quiet.app));
  });
});

/** Runs a command inside a host; resolves with its stdout. */
function inside(host: LanHost, argv: string[]): Promise<string> {
  const [program, ...args] = host.command(...argv);
  return new Promise((resolve, reject) =>
    execFile(program, args, (error, stdout, stderr) =>
      error ? reject(new Error(`${argv.join(" ")}: ${stderr}`)) : resolve(stdout),
    ),
  );
}

/** One HTTP/1.1 request over a fresh connection; resolves with the whole answer as received. */
function rawRequest(base: string, method: string, path: string): Promise<string> {
  const { hostname, port, host } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.once("error", reject);
    socket.once("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

function withoutDate(answer: string): string {
  return answer.replace(/^date: [^\r\n]*\r\n/im, "");
}
