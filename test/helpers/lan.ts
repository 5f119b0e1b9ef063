/**
 * A LAN of hosts for tests and benchmarks, built from Linux network
 * namespaces: one namespace per host, each with `lo` and an `eth0` (one end
 * of a veth pair) on a /24 of 10.0.0.0/8, all plugged into one bridge that
 * also holds an address for this process, so a test can reach the servers
 * it starts inside. Each namespace has the route `224.0.0.0/4 dev eth0`,
 * as a real host has its default route: software that sends multicast
 * where the routes lead (bonjour-service unless told an interface) finds
 * nothing without one.
 *
 * Needs root and iproute2's `ip`. When a namespace cannot be made, createLan
 * throws with what `ip` said, so the test fails with that reason; it never
 * skips.
 *
 * Names carry this process's pid and a counter: namespaces
 * `cairn-lan-<pid>-<n>-<i>`, links `cl<pid base 36>-<n base 36>b` (the
 * bridge) and `…v<i>` (host ends of the veths), under the kernel's 15
 * characters. Closing kills what still runs inside and deletes
 * everything; so does this process's exit, and SIGINT or SIGTERM; and the
 * first LAN a process builds deletes the leftovers of processes that are
 * gone (a run killed outright), never those of a live one.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { connect } from "node:net";
import { collectOutput, waitForOutput } from "./cairn-server.ts";

export interface LanHost {
  /** Its namespace. */
  readonly netns: string;
  /** Its IPv4 address on the LAN. */
  readonly address: string;
  /** The program and leading arguments that run `command` inside this host: `ip netns exec <ns> …command`. */
  command(...command: string[]): string[];
  /** Starts `node …args` (this process's Node) inside this host. */
  node(args: readonly string[], options?: LanProcessOptions): LanProcess;
  /** Starts `program …args` inside this host. */
  spawn(program: string, args: readonly string[], options?: LanProcessOptions): LanProcess;
}

export interface LanProcessOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** A process running inside a host, its output collected as it comes. */
export interface LanProcess {
  readonly child: ChildProcess;
  /** What it wrote to stdout so far. */
  stdout(): string;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Resolves once its stdout matches `pattern` (rejects if it closes first or after `ms`). */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Resolves with its exit code (null if a signal ended it). */
  readonly exited: Promise<number | null>;
  /** SIGTERM to it and its children; SIGKILL to them all if it has not exited `ms` later. */
  stop(ms?: number): Promise<number | null>;
}

export interface Lan {
  readonly hosts: readonly LanHost[];
  readonly bridge: string;
  /** The /24, as `10.x.y.0/24`. */
  readonly subnet: string;
  /** This process's address on the bridge: servers inside are reachable from here. */
  readonly hostAddress: string;
  /** Kills whatever still runs inside and deletes the namespaces, veths and bridge. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const NETNS_PREFIX = "cairn-lan-";
const live = new Set<Built>();
let counter = 0;
let staleCleaned = false;

interface Built {
  readonly netns: string[];
  readonly links: string[];
  /** Process groups started in its hosts: killed by id, since one just started may not be inside yet. */
  readonly groups: Set<number>;
}

/** Builds a LAN of `count` hosts (at most 250). */
export async function createLan(count: number): Promise<Lan> {
  if (!Number.isInteger(count) || count < 1 || count > 250)
    throw new RangeError(`a LAN holds 1 to 250 hosts, not ${count}`);
  if (!staleCleaned) {
    staleCleaned = true;
    await cleanStaleLans();
  }
  const n = counter++;
  const tag = `${process.pid.toString(36)}-${n.toString(36)}`;
  const bridge = `cl${tag}b`;
  const built: Built = { netns: [], links: [], groups: new Set() };
  live.add(built);
  try {
    const prefix = await freeSubnet();
    built.links.push(bridge);
    await ip("link", "add", bridge, "type", "bridge");
    await ip("link", "set", bridge, "up");
    await ip("addr", "add", `${prefix}.254/24`, "dev", bridge);
    const hosts = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const netns = `${NETNS_PREFIX}${process.pid}-${n}-${i}`;
        const veth = `cl${tag}v${i.toString(36)}`;
        const address = `${prefix}.${i + 1}`;
        built.netns.push(netns);
        await ip("netns", "add", netns);
        built.links.push(veth);
        await ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns);
        await ip("link", "set", veth, "master", bridge, "up");
        await ip("-n", netns, "addr", "add", `${address}/24`, "dev", "eth0");
        await ip("-n", netns, "link", "set", "eth0", "up");
        await ip("-n", netns, "link", "set", "lo", "up");
        await ip("-n", netns, "route", "add", "224.0.0.0/4", "dev", "eth0");
        return lanHost(netns, address, built.groups);
      }),
    );
    let closed: Promise<void> | undefined;
    const close = () => {
      closed ??= teardown(built).finally(() => live.delete(built));
      return closed;
    };
    return {
      hosts,
      bridge,
      subnet: `${prefix}.0/24`,
      hostAddress: `${prefix}.254`,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (err) {
    await teardown(built).catch(() => {});
    live.delete(built);
    throw err;
  }
}

function lanHost(netns: string, address: string, groups: Set<number>): LanHost {
  const command = (...rest: string[]) => ["ip", "netns", "exec", netns, ...rest];
  const spawnIn = (program: string, args: readonly string[], options: LanProcessOptions = {}) =>
    startProcess(command(program, ...args), options, groups);
  return {
    netns,
    address,
    command,
    spawn: spawnIn,
    node: (args, options) => spawnIn(process.execPath, args, options),
  };
}

function startProcess(argv: string[], options: LanProcessOptions, groups: Set<number>): LanProcess {
  const [program, ...args] = argv;
  // Its own process group, so stopping it reaches whatever it started.
  const child = spawn(program, args, {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    cwd: options.cwd,
    env: options.env ?? process.env,
  });
  const group = child.pid;
  if (group !== undefined) groups.add(group);
  const output = collectOutput(child);
  let spawnError = "";
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", (e) => {
      spawnError = `${e.message}\n`;
      resolve(null);
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // The whole group is gone already.
    }
  };
  const stop = async (ms = 10_000) => {
    if (child.exitCode === null && child.signalCode === null) signalGroup("SIGTERM");
    const kill = setTimeout(() => signalGroup("SIGKILL"), ms);
    const code = await exited.finally(() => clearTimeout(kill));
    // Children that outlived it.
    signalGroup("SIGKILL");
    if (group !== undefined) groups.delete(group);
    return code;
  };
  const stderr = () => spawnError + output.stderr();
  return {
    child,
    stdout: output.stdout,
    stderr,
    waitFor: (pattern, ms) =>
      waitForOutput(child, output.stdout, pattern, ms).catch((e: Error) => {
        const what = argv.slice(4).join(" ");
        throw new Error(`${what} ${e.message}; stdout: ${output.stdout()}; stderr: ${stderr()}`);
      }),
    exited,
    stop,
  };
}

/** Resolves once `host:port` accepts a TCP connection, retrying on refusal, or rejects after `ms`. */
export function waitForPort(host: string, port: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect({ host, port });
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`${host}:${port} did not answer in ${ms} ms`));
        // Nothing to wait on but the next attempt: the listener is in another process.
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Runs `ip …args`; rejects with the command and what it wrote to stderr. */
function ip(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("ip", args, (error, stdout, stderr) => {
      if (error)
        reject(
          new Error(
            `cannot build the test LAN: \`ip ${args.join(" ")}\` failed: ${stderr.trim() || error.message}`,
          ),
        );
      else resolve(stdout);
    });
  });
}

/** A 10.x.y prefix no address or route on this machine overlaps. */
async function freeSubnet(): Promise<string> {
  const taken = `${await ip("-4", "-o", "addr", "show")}\n${await ip("-4", "route", "show", "table", "all")}`;
  const nets = [...taken.matchAll(/(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)].map(([, a, len]) => ({
    base: toInt(a),
    len: len === undefined ? 32 : Number(len),
  }));
  // Random, so LANs of concurrent test files rarely even try the same one.
  for (let tries = 0; tries < 200; tries++) {
    const x = 100 + Math.floor(Math.random() * 155);
    const y = Math.floor(Math.random() * 256);
    const base = toInt(`10.${x}.${y}.0`);
    const overlaps = nets.some(({ base: b, len }) => {
      const shorter = Math.min(len, 24);
      const mask = shorter === 0 ? 0 : (0xffffffff << (32 - shorter)) >>> 0;
      return (base & mask) >>> 0 === (b & mask) >>> 0;
    });
    if (!overlaps) return `10.${x}.${y}`;
  }
  throw new Error("cannot build the test LAN: no free /24 in 10.100.0.0-10.254.255.0");
}

function toInt(address: string): number {
  return address.split(".").reduce((n, part) => n * 256 + Number(part), 0) >>> 0;
}

/** Kills what runs in its namespaces, then deletes veths, namespaces and bridge; reports every failure. */
async function teardown(built: Built): Promise<void> {
  const failures: unknown[] = [];
  const attempt = (p: Promise<unknown>) => p.catch((e) => failures.push(e));
  killGroups(built.groups);
  await Promise.all(built.netns.map((ns) => attempt(killInside(ns))));
  await Promise.all(built.links.map((link) => attempt(deleteLink(link))));
  await Promise.all(built.netns.map((ns) => attempt(deleteNetns(ns))));
  if (failures.length > 0) throw new AggregateError(failures, "the test LAN was not fully removed");
}

function killGroups(groups: Set<number>): void {
  for (const group of groups) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // All of it exited already.
    }
  }
  groups.clear();
}

async function killInside(netns: string): Promise<void> {
  const pids = await ip("netns", "pids", netns).catch(() => "");
  for (const pid of pids.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // It exited meanwhile.
    }
  }
}

async function deleteLink(link: string): Promise<void> {
  const shown = await ip("-j", "link", "show").then((s) => JSON.parse(s) as { ifname: string }[]);
  if (shown.some((l) => l.ifname === link)) await ip("link", "del", link);
}

async function deleteNetns(netns: string): Promise<void> {
  if ((await netnsNames()).includes(netns)) await ip("netns", "del", netns);
}

async function netnsNames(): Promise<string[]> {
  const out = await ip("-j", "netns", "list");
  // `ip -j netns list` prints nothing at all when there are none.
  return out.trim() ? (JSON.parse(out) as { name: string }[]).map((n) => n.name) : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Deletes the namespaces and links of LANs whose process is gone (killed midway), and kills what runs in them. */
export async function cleanStaleLans(): Promise<void> {
  const netns = (await netnsNames()).filter((name) => {
    const pid = new RegExp(`^${NETNS_PREFIX}(\\d+)-\\d+-\\d+$`).exec(name)?.[1];
    return pid !== undefined && !alive(Number(pid));
  });
  const links = (JSON.parse(await ip("-j", "link", "show")) as { ifname: string }[])
    .map((l) => l.ifname)
    .filter((name) => {
      const pid = /^cl([0-9a-z]+)-[0-9a-z]+(?:b|v[0-9a-z]+)$/.exec(name)?.[1];
      return pid !== undefined && !alive(Number.parseInt(pid, 36));
    });
  await teardown({ netns, links, groups: new Set() });
}

// A test that throws, a process that exits without disposing, or one
// interrupted, still leaves nothing behind; a SIGKILL leaves it to cleanStaleLans.
process.once("exit", removeLiveSync);
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    removeLiveSync();
    // With no listener left the default applies again: the signal ends the process as it would have.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });

function removeLiveSync(): void {
  for (const built of live) {
    killGroups(built.groups);
    for (const ns of built.netns) {
      const pids = tryIp(["netns", "pids", ns]);
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // Gone already.
        }
      }
    }
    for (const link of built.links) tryIp(["link", "del", link]);
    for (const ns of built.netns) tryIp(["netns", "del", ns]);
  }
  live.clear();
}

function tryIp(args: string[]): string {
  try {
    return execFileSync("ip", args, { stdio: ["ignore", "pipe", "ignore"] }).toString();
  } catch {
    return "";
  }
}
