/**
 * Finding Cairn peers: on the LAN with mDNS/DNS-SD (RFC 6762, RFC 6763),
 * or from a list the user gives (`--peer URL`).
 *
 * A sharing peer announces one DNS-SD service of type `_cairn._tcp` whose
 * instance name is random per run (`cairn-<8 hex>`; never the host or user
 * name, RFC 8117), on a host name of the same random label, with a TXT
 * record (RFC 6763 §6) of exactly three keys:
 *
 *   txtvers=1          the version of this TXT layout (§6.7)
 *   path=/             where its trustless gateway's base is: blocks at <path>ipfs/<cid>
 *   logh=3f1c9a07      the first 8 hex of SHA-256 of the log's origin line
 *
 * so a peer following another registry is ignored without naming either.
 * Nothing about content (names, CIDs, counts), nor Cairn's version, is
 * announced. Beside them go the SRV record (port) and an A record for each
 * non-loopback IPv4 address of the machine (bonjour-service publishes them
 * all, on every interface); no AAAA records. Peers connect to the address
 * the announcement came from. A client that does not share only browses: it asks "which
 * Cairn peers are here", which says that it runs Cairn, and nothing more.
 *
 * Found peers stay while they answer: every `refreshMs` the browser asks
 * again, and a peer unheard for `staleMs` is lost. A peer that stops sends
 * goodbyes (records with TTL 0, RFC 6762 §10.1), and the others lose it at
 * once.
 */
import { createHash, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { isIPv4 } from "node:net";
import { networkInterfaces } from "node:os";
import { Bonjour, type Browser, type Service, type ServiceConfig } from "bonjour-service";
import { CodedError } from "../util/coded-error.ts";

/** The DNS-SD service name: `_cairn._tcp` (RFC 6763 §7). */
export const SERVICE_TYPE = "cairn";

export type DiscoveryErrorCode = "bad-peer-url" | "bad-interface";

export class DiscoveryError extends CodedError<DiscoveryErrorCode> {}

export interface PeerInfo {
  /** Its DNS-SD instance name (random per run), or for a listed peer its URL. */
  readonly id: string;
  /** The base URL of its trustless gateway, ending in `/`: blocks are at `<url>ipfs/<cid>`. */
  readonly url: string;
}

/** A service of our type that is not taken as a peer, and why. */
export interface IgnoredPeer {
  readonly id: string;
  readonly reason: "other-log" | "malformed" | "too-many";
}

export type LostReason = "goodbye" | "silent" | "changed";

export interface DiscoveryEvents {
  /** A new peer (or one whose address changed, after `lost` for the old one). */
  found: [PeerInfo];
  /** It said goodbye, went unheard for `staleMs`, or changed its address or log. */
  lost: [PeerInfo, LostReason];
  /** A Cairn service that is not a peer of this log; once per instance. */
  ignored: [IgnoredPeer];
}

export interface Discovery extends EventEmitter<DiscoveryEvents> {
  /** Starts announcing (when sharing) and browsing; resolves once announced. */
  start(): Promise<void>;
  /** Says goodbye and closes its sockets, so the process can exit; no events follow. */
  stop(): Promise<void>;
  /** The peers found and not lost, in the order found. */
  peers(): PeerInfo[];
}

export interface MdnsDiscoveryOptions {
  /** The log's origin line (checkpoint line 1): peers of another log are ignored. */
  readonly logOrigin: string;
  /** The port of this peer's gateway, to announce; without it this only browses. */
  readonly port?: number;
  /** The gateway's base path on that port; `/` by default. */
  readonly path?: string;
  /**
   * The interface to use, by name (`eth0`) or IPv4 address. By default the
   * only non-loopback IPv4 interface when there is one (a host in a network
   * namespace), else all interfaces, sending where the route for
   * 224.0.0.0/4 (or the default route) leads.
   */
  readonly interface?: string;
  /**
   * How often to ask who is there: by default 96 s, 80 % of the 120-s
   * lifetime of the SRV and A records, when RFC 6762 §5.2 has a querier
   * refresh what it holds.
   */
  readonly refreshMs?: number;
  /** After how long without an answer a peer is lost; two refreshes and 5 s by default (one missed answer is forgiven). */
  readonly staleMs?: number;
  /** At most this many peers are kept (anyone on the LAN can announce); 64 by default. */
  readonly maxPeers?: number;
}

/** What `logh` holds for a log: the first 8 hex of SHA-256 of its origin line. */
export function logTag(logOrigin: string): string {
  return createHash("sha256").update(logOrigin).digest("hex").slice(0, 8);
}

const GATEWAY_PATH = /^\/(?:[A-Za-z0-9._~-]+\/)*$/;
/** Instances remembered as ignored, so each is reported once; beyond it, reports may repeat. */
const MAX_IGNORED = 1024;

export class MdnsDiscovery extends EventEmitter<DiscoveryEvents> implements Discovery {
  /** This run's instance name. */
  readonly id = `cairn-${randomBytes(4).toString("hex")}`;
  readonly #options: MdnsDiscoveryOptions;
  readonly #logh: string;
  readonly #found = new Map<string, { peer: PeerInfo; seen: number }>();
  readonly #ignored = new Set<string>();
  #bonjour: Bonjour | undefined;
  #service: Service | undefined;
  #browser: Browser | undefined;
  #asking: Browser | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Ends a start() still waiting for its announcement when stop() comes first. */
  #announced: (() => void) | undefined;

  constructor(options: MdnsDiscoveryOptions) {
    super();
    const path = options.path ?? "/";
    if (!GATEWAY_PATH.test(path)) throw new RangeError(`not a gateway path: ${path}`);
    if (options.port !== undefined && !validPort(options.port))
      throw new RangeError(`not a port: ${options.port}`);
    this.#options = { ...options, path };
    this.#logh = logTag(options.logOrigin);
  }

  async start(): Promise<void> {
    if (this.#bonjour) return;
    const given = this.#options.interface;
    const iface = given === undefined ? onlyInterface() : interfaceAddress(given);
    // Bound to the wildcard address: bound to the interface's own, it would not receive multicast.
    // multicast-dns takes these beside the service fields bonjour-service types.
    const socketOptions: Partial<ServiceConfig> & { interface?: string; bind?: string } =
      iface === undefined ? {} : { interface: iface, bind: "0.0.0.0" };
    const bonjour = new Bonjour(socketOptions, () => {
      // A failed send: the next refresh or announcement tries again.
    });
    this.#bonjour = bonjour;
    this.#browser = this.#browse();
    const refreshMs = this.#options.refreshMs ?? 96_000;
    const staleMs = this.#options.staleMs ?? 2 * refreshMs + 5_000;
    this.#timer = setInterval(() => this.#refresh(staleMs), refreshMs);
    if (this.#options.port === undefined) return;
    const service = bonjour.publish({
      name: this.id,
      type: SERVICE_TYPE,
      protocol: "tcp",
      port: this.#options.port,
      host: `${this.id}.local`,
      // Peers connect to the address an announcement came from; AAAA records would only add addresses to what is told.
      disableIPv6: true,
      txt: { txtvers: "1", path: this.#options.path, logh: this.#logh },
    });
    this.#service = service;
    await new Promise<void>((resolve) => {
      this.#announced = resolve;
      service.once("up", () => resolve());
    });
    this.#announced = undefined;
  }

  async stop(): Promise<void> {
    const bonjour = this.#bonjour;
    if (!bonjour) return;
    this.#bonjour = undefined;
    this.#announced?.();
    clearInterval(this.#timer);
    this.#browser?.stop();
    this.#asking?.stop();
    const service = this.#service;
    this.#service = undefined;
    if (service) await new Promise<void>((resolve) => service.stop(() => resolve()));
    await new Promise<void>((resolve) => bonjour.destroy(() => resolve()));
    this.#found.clear();
  }

  peers(): PeerInfo[] {
    return [...this.#found.values()].map((f) => f.peer);
  }

  /** A browser whose every sighting keeps a peer alive, and whose goodbyes lose it. */
  #browse(): Browser {
    const browser = (this.#bonjour as Bonjour).find({ type: SERVICE_TYPE, protocol: "tcp" });
    browser.on("up", (s) => this.#seen(s));
    browser.on("srv-update", (s) => this.#seen(s));
    browser.on("txt-update", (s) => this.#seen(s));
    browser.on("down", (s) => this.#lose(s.name, "goodbye"));
    return browser;
  }

  /**
   * A browser reports each service once; a fresh one each round asks again
   * and reports every peer still there, which is how silence is noticed.
   */
  #refresh(staleMs: number): void {
    this.#asking?.stop();
    this.#asking = this.#browse();
    const cutoff = Date.now() - staleMs;
    for (const [id, { seen }] of this.#found) if (seen < cutoff) this.#lose(id, "silent");
  }

  #seen(service: Service): void {
    const id = service.name;
    if (id === this.id) return;
    const peer = this.#peerOf(service);
    if (!peer) {
      this.#lose(id, "changed");
      return;
    }
    const known = this.#found.get(id);
    if (!known && this.#found.size >= (this.#options.maxPeers ?? 64)) {
      this.#ignore(id, "too-many");
      return;
    }
    this.#found.set(id, { peer, seen: Date.now() });
    if (known?.peer.url === peer.url) return;
    if (known) this.emit("lost", known.peer, "changed");
    this.emit("found", peer);
  }

  #lose(id: string, reason: LostReason): void {
    const known = this.#found.get(id);
    if (!known) return;
    this.#found.delete(id);
    this.emit("lost", known.peer, reason);
  }

  #ignore(id: string, reason: IgnoredPeer["reason"]): void {
    if (this.#ignored.has(id)) return;
    if (this.#ignored.size < MAX_IGNORED) this.#ignored.add(id);
    this.emit("ignored", { id, reason });
  }

  /** The peer a service names, or undefined (and `ignored` once) when it is not one of ours. */
  #peerOf(service: Service): PeerInfo | undefined {
    const txt = (service.txt ?? {}) as Record<string, unknown>;
    const host = service.referer?.address;
    const path = txt.path;
    const ignore = (reason: IgnoredPeer["reason"]) => {
      this.#ignore(service.name, reason);
      return undefined;
    };
    if (txt.txtvers !== "1" || typeof path !== "string" || !GATEWAY_PATH.test(path))
      return ignore("malformed");
    if (txt.logh !== this.#logh) return ignore("other-log");
    // The packet's source: the address that reached us on this link.
    if (host === undefined || !isIPv4(host) || !validPort(service.port)) return ignore("malformed");
    return { id: service.name, url: `http://${host}:${service.port}${path}` };
  }
}

/** Peers the user listed (`--peer URL`): found at start, never lost. */
export class StaticDiscovery extends EventEmitter<DiscoveryEvents> implements Discovery {
  readonly #listed: PeerInfo[];
  #started = false;

  /** Throws DiscoveryError `bad-peer-url` for a URL that is not a plain http(s) base. */
  constructor(urls: readonly string[]) {
    super();
    const unique = [...new Set(urls.map(parsePeerUrl))];
    this.#listed = unique.map((url) => ({ id: url, url }));
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    for (const peer of this.#listed) this.emit("found", peer);
  }

  async stop(): Promise<void> {
    this.#started = false;
  }

  peers(): PeerInfo[] {
    return this.#started ? [...this.#listed] : [];
  }
}

/** A peer's base URL as given: http or https, no credentials, query or fragment; normalized to end in `/`. */
function parsePeerUrl(text: string): string {
  const bad = (why: string) =>
    new DiscoveryError("bad-peer-url", `not a peer URL (${why}): ${JSON.stringify(text)}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new DiscoveryError("bad-peer-url", `not a URL: ${JSON.stringify(text)}`, { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw bad("http or https only");
  if (url.username || url.password) throw bad("credentials");
  if (url.search || url.hash || text.includes("?") || text.includes("#"))
    throw bad("query or fragment");
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url.href;
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port < 65536;
}

/** The IPv4 address of an interface given by name or address; DiscoveryError `bad-interface` if there is none. */
export function interfaceAddress(nameOrAddress: string): string {
  const interfaces = networkInterfaces();
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  if (isIPv4(nameOrAddress) && all.some((a) => a.address === nameOrAddress)) return nameOrAddress;
  const named = interfaces[nameOrAddress]?.find((a) => a.family === "IPv4");
  if (named) return named.address;
  throw new DiscoveryError(
    "bad-interface",
    `no interface with an IPv4 address named ${JSON.stringify(nameOrAddress)}`,
  );
}

/** The address of the one non-loopback IPv4 interface, if there is exactly one. */
function onlyInterface(): string | undefined {
  const addresses = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === "IPv4" && !a.internal)
    .map((a) => a.address);
  return addresses.length === 1 ? addresses[0] : undefined;
}
