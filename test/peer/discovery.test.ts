/**
 * Peer discovery: on a LAN of network namespaces built by the test, seven
 * hosts each run src/peer/discovery.ts (test/helpers/discovery-host.ts):
 * the five sharing peers of one log find each other at the addresses they
 * serve on and ignore the sixth, which follows another log; the seventh
 * only browses (it does not share): nobody finds it, and it keeps no more
 * peers than it was told to; a peer that stops says
 * goodbye and the others lose it at once; one killed without a word is
 * lost once it has not answered for the stale time. And the static list
 * behind `--peer URL`.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type Discovery,
  logTag,
  MdnsDiscovery,
  type PeerInfo,
  StaticDiscovery,
} from "../../src/peer/discovery.ts";
import { createLan, type Lan, type LanProcess } from "../helpers/lan.ts";
import { PROJECT_ROOT } from "../helpers/shared.ts";

const HOST_SCRIPT = `${PROJECT_ROOT}/test/helpers/discovery-host.ts`;
const LOG = "test.cairn.example/lan";
const OTHER_LOG = "other.cairn.example/lan";
/** Discovery on a quiet LAN takes about a second; the bound is for a loaded machine. */
const BOUND_MS = 30_000;
/** Each host asks who is there every 500 ms and loses a peer unheard for 3 s. */
const TIMES = { refreshMs: 500, staleMs: 3000 };
const HOSTS = [
  // One names its interface; the others find theirs (the only one that is not loopback).
  ...Array.from({ length: 5 }, (_, i) => ({
    logOrigin: LOG,
    ...TIMES,
    ...(i === 1 ? { interface: "eth0" } : {}),
  })),
  { logOrigin: OTHER_LOG, ...TIMES },
  { logOrigin: LOG, ...TIMES, share: false, maxPeers: 2 },
];

describe("mDNS discovery between hosts in network namespaces", () => {
  let lan: Lan;
  let hosts: { process: LanProcess; id: string; address: string }[] = [];

  before(async () => {
    lan = await createLan(HOSTS.length);
    const started = lan.hosts.map((host, i) => ({
      process: host.node([HOST_SCRIPT, JSON.stringify(HOSTS[i])]),
      address: host.address,
    }));
    hosts = await Promise.all(
      started.map(async (h) => {
        const ready = await h.process.waitFor(/\{"event":"ready","id":"([^"]+)"\}/, BOUND_MS);
        return { ...h, id: ready[1] };
      }),
    );
  });

  after(async () => {
    await Promise.all(hosts.map((h) => h.process.stop()));
    await lan?.close();
  });

  test("every host of the log finds the four others, at the URL each serves on, and ignores the other log's", async () => {
    const ours = hosts.slice(0, 5);
    const other = hosts[5];
    await Promise.all(
      ours.flatMap((h) => [
        ...ours
          .filter((o) => o !== h)
          .map((o) => h.process.waitFor(eventAbout("found", o.id), BOUND_MS)),
        h.process.waitFor(eventAbout("ignored", other.id), BOUND_MS),
      ]),
    );
    for (const h of ours) {
      const found = events(h.process, "found");
      assert.deepEqual(
        found.map((p) => p.id).sort(),
        ours
          .filter((o) => o !== h)
          .map((o) => o.id)
          .sort(),
      );
      for (const peer of found) {
        assert.ok(peer.url);
        const owner = hosts.find((o) => o.id === peer.id);
        assert.match(
          peer.url,
          new RegExp(`^http://${owner?.address.replaceAll(".", "\\.")}:\\d+/$`),
        );
        // From this process, over the bridge: the URL leads to the peer that announced it.
        assert.equal(await (await fetch(peer.url)).text(), peer.id);
      }
      assert.deepEqual(events(h.process, "ignored"), [{ id: other.id, reason: "other-log" }]);
    }
    // The other log's host finds nobody of its own and ignores all five.
    await Promise.all(
      ours.map((o) => other.process.waitFor(eventAbout("ignored", o.id), BOUND_MS)),
    );
    assert.deepEqual(events(other.process, "found"), []);
  });

  test("a host that only browses finds peers, is found by none, and keeps at most its maximum", async () => {
    const browsing = hosts[6];
    const ours = hosts.slice(0, 5).map((h) => h.id);
    await browsing.process.waitFor(nth("found", 2), BOUND_MS);
    await browsing.process.waitFor(nth("ignored", 4), BOUND_MS);
    const found = events(browsing.process, "found").map((p) => p.id);
    assert.equal(found.length, 2);
    assert.ok(found.every((id) => ours.includes(id)));
    assert.deepEqual(
      events(browsing.process, "ignored")
        .map((p) => `${p.id} ${p.reason}`)
        .sort(),
      [
        ...ours.filter((id) => !found.includes(id)).map((id) => `${id} too-many`),
        `${hosts[5].id} other-log`,
      ].sort(),
    );
    for (const h of hosts.slice(0, 6))
      assert.ok(!h.process.stdout().includes(browsing.id), `${h.id} saw the browsing host`);
  });

  test("a peer that stops says goodbye, the others lose it, and its process exits by itself", async () => {
    const [leaving, ...staying] = hosts.slice(0, 5);
    const code = await leaving.process.stop();
    assert.equal(code, 0, leaving.process.stderr());
    assert.match(leaving.process.stdout(), /\{"event":"stopped"\}\n$/);
    await Promise.all(
      staying.map((h) => h.process.waitFor(eventAbout("lost", leaving.id), BOUND_MS)),
    );
    for (const h of staying)
      assert.deepEqual(events(h.process, "lost"), [{ id: leaving.id, reason: "goodbye" }]);
  });

  test("a peer killed without goodbyes is lost once it has not answered for the stale time", async () => {
    const [killed, ...staying] = hosts.slice(1, 5);
    killed.process.child.kill("SIGKILL");
    await killed.process.exited;
    await Promise.all(
      staying.map((h) => h.process.waitFor(eventAbout("lost", killed.id), BOUND_MS)),
    );
    for (const h of staying)
      assert.deepEqual(events(h.process, "lost").slice(1), [{ id: killed.id, reason: "silent" }]);
  });
});

describe("the static list of peers (--peer URL)", () => {
  test("finds each listed peer once at start, with its URL as a gateway base", async () => {
    const discovery: Discovery = new StaticDiscovery([
      "http://10.0.0.2:4000",
      "https://peer.example/cairn/",
      "http://10.0.0.2:4000/",
    ]);
    const found: PeerInfo[] = [];
    discovery.on("found", (p) => found.push(p));
    assert.deepEqual(discovery.peers(), []);
    await discovery.start();
    const expected = [
      { id: "http://10.0.0.2:4000/", url: "http://10.0.0.2:4000/" },
      { id: "https://peer.example/cairn/", url: "https://peer.example/cairn/" },
    ];
    assert.deepEqual(found, expected);
    assert.deepEqual(discovery.peers(), expected);
    await discovery.stop();
    assert.deepEqual(discovery.peers(), []);
  });

  for (const url of [
    "peer.example:4000",
    "ftp://peer.example/",
    "http://user:secret@peer.example/",
    "http://peer.example/?x=1",
    "http://peer.example/#top",
    "http://peer.example/?",
  ])
    test(`refuses ${url} with bad-peer-url`, () => {
      assert.throws(() => new StaticDiscovery([url]), { code: "bad-peer-url" });
    });
});

test("an interface that does not exist is refused with bad-interface before any socket opens", async () => {
  const discovery = new MdnsDiscovery({ logOrigin: LOG, interface: "no-such-if0" });
  await assert.rejects(discovery.start(), { code: "bad-interface" });
  await assert.rejects(new MdnsDiscovery({ logOrigin: LOG, interface: "192.0.2.254" }).start(), {
    code: "bad-interface",
  });
});

test("the log tag is the first 8 hex of SHA-256 of the origin line", () => {
  // printf %s test.cairn.example/lan | sha256sum
  assert.equal(logTag(LOG), "705f26d5");
});

/** Matches once `event` has been printed `count` times. */
function nth(event: string, count: number): RegExp {
  return new RegExp(`(?:\\{"event":"${event}"[\\s\\S]*?){${count}}`);
}

/** Matches the JSON line of `event` about instance `id`. */
function eventAbout(event: string, id: string): RegExp {
  return new RegExp(`\\{"event":"${event}","peer":\\{"id":"${id}"`);
}

/**
 * Every `event` line a discovery host printed so far: the peer found
 * (id, url), ignored (id, reason) or lost (id, reason of the loss).
 */
function events(
  process: LanProcess,
  event: "found" | "ignored" | "lost",
): { id: string; url?: string; reason?: string }[] {
  return process
    .stdout()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { event: string; peer: PeerInfo; reason?: string })
    .filter((e) => e.event === event)
    .map((e) => (event === "lost" ? { id: e.peer.id, reason: e.reason } : e.peer));
}
