/**
 * A local upstream npm registry for the uplink tests and benchmarks: it
 * serves the corpus (see upstream-content.ts for what exactly) on loopback
 * the way the public npm registry does, and lets a test break it (faults),
 * change it (unpublish, deprecate, dist-tags, new versions), take it down
 * and bring it back, and count what was asked of it.
 *
 * Routes: `GET /<name>` (full packument, or the abbreviated one when Accept
 * names application/vnd.npm.install-v1+json; ETag and Last-Modified, 304 on
 * If-None-Match or If-Modified-Since; a scoped name as `@scope%2fname` or
 * `@scope/name`), `GET /<name>/-/<name without scope>-<version>.tgz`,
 * `GET /_changes?since=&limit=[&feed=longpoll&timeout=]` (upstream-changes.ts),
 * `GET /` (CouchDB's database info: `update_seq`), `GET /-/ping`,
 * `POST /-/npm/v1/security/advisories/bulk` (the advisories set by the test)
 * and `GET /-/upstream/stats` (UpstreamStats as JSON, not counted itself).
 * Anything else is 404 `{"error":"Not found"}`. With a token, every request
 * without `Authorization: Bearer <token>` is 401.
 *
 * Run alone, `node test/helpers/upstream-registry.ts [--port N] [--token T] [--lazy]`
 * builds every packument (unless --lazy), prints `listening on <url>` as
 * `cairn serve` does (so startCairnServer(args, ms, UPSTREAM_REGISTRY_COMMAND)
 * starts it) and serves until SIGINT or SIGTERM.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { gunzip } from "node:zlib";
import { corpusManifest, corpusTarballs } from "./corpus.ts";
import {
  type ExtraPackage,
  NotFound,
  packFileName,
  type Rendered,
  UpstreamContent,
  type Variant,
} from "./upstream-content.ts";
import { type Delivery, Faults, type Hold, type UpstreamKind } from "./upstream-faults.ts";
import { flipByte } from "./upstream-tarballs.ts";

export type { ChangeRow, ChangesPage } from "./upstream-changes.ts";
export type { ExtraPackage } from "./upstream-content.ts";
export { EXTRA_PACKAGES, packFileName, tarballFileName } from "./upstream-content.ts";
export type { Hold, UpstreamKind } from "./upstream-faults.ts";

/** A full packument as served, typed as far as tests read it. */
export interface Packument {
  readonly _id: string;
  readonly _rev: string;
  readonly name: string;
  readonly "dist-tags": Record<string, string>;
  readonly versions: Record<string, PackumentVersion>;
  /** `created`, `modified`, one per version. */
  readonly time: Record<string, string>;
  readonly maintainers: readonly { name: string; email: string }[];
  readonly [field: string]: unknown;
}

/** An abbreviated packument (`application/vnd.npm.install-v1+json`): install fields only. */
export interface AbbreviatedPackument {
  readonly name: string;
  readonly modified: string;
  readonly "dist-tags": Record<string, string>;
  readonly versions: Record<string, PackumentVersion>;
}

export interface PackumentVersion {
  readonly name: string;
  readonly version: string;
  readonly deprecated?: string;
  readonly dist: {
    readonly tarball: string;
    readonly integrity: string;
    readonly shasum: string;
    readonly fileCount: number;
    readonly unpackedSize: number;
  };
  readonly [field: string]: unknown;
}

export interface UpstreamRegistryOptions {
  /** 0 (the default) for a free port. */
  readonly port?: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Build every packument before answering anything (for benchmarks: no first-request cost). */
  readonly prepare?: boolean;
  /** False for an upstream without `_changes` (404), so followers must poll. */
  readonly changeFeed?: boolean;
  /** Cache-Control of packuments; the public registry's by default. */
  readonly packumentCacheControl?: string;
}

export interface UpstreamStats {
  /** Every request that arrived, whatever its answer. resetStats() zeroes this same object. */
  requests: number;
  /** Packument requests by package name. */
  readonly packuments: Map<string, number>;
  /** Tarball requests by the file name `npm pack` gives (CorpusTarball.file: `babel-core-7.29.13.tgz`). */
  readonly tarballs: Map<string, number>;
  packumentRequests: number;
  tarballRequests: number;
  changesRequests: number;
  auditRequests: number;
  /** 304 answers. */
  notModified: number;
  unauthorized: number;
  /** Response body bytes written (headers not counted). */
  bytesSent: number;
  packumentBytes: number;
  tarballBytes: number;
}

export interface UpstreamRegistry {
  /** `http://127.0.0.1:<port>/`, the same after down() and up(). */
  readonly url: string;
  readonly port: number;
  readonly stats: UpstreamStats;
  resetStats(): void;
  /** Every package name served (the corpus's and the upstream-only ones). */
  readonly names: readonly string[];
  /** The change feed's current sequence number. */
  readonly seq: number;
  /** The packument as it would be served now (faults in packuments included), without a request. */
  packument(name: string): Promise<Packument>;
  abbreviatedPackument(name: string): Promise<AbbreviatedPackument>;
  /** The honest bytes of a tarball, without a request. */
  tarball(name: string, version: string): Promise<Buffer>;
  prepare(): Promise<void>;

  /** Stops listening and destroys every open socket: connections are refused. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;

  // Faults (upstream-faults.ts), until clearFaults(). `name` is a package name, for tarballs too;
  // without it a fault applies to every package. The first delivery fault set that matches wins.
  /** The tarball is served with one byte flipped; the packument is unchanged. */
  tamperTarball(name: string, version: string): void;
  /** Packuments advertise the integrity and shasum of other bytes; the tarball is honest. */
  wrongIntegrity(name: string, version: string): void;
  /** Content-Length says the full size; the connection closes after half the body. */
  truncate(kind: UpstreamKind, name?: string): void;
  /** A chunked body that never ends: the real body, then spaces for as long as it is read. */
  endless(kind: UpstreamKind, name?: string): void;
  /** Headers and the first 16 bytes, then nothing; the connection stays open until down()/close(). */
  stall(kind: UpstreamKind, name?: string): void;
  /** Answers `code` with `{"error":…}`; without a kind, every request (the feed and audits too). */
  status(code: number, kind?: UpstreamKind, name?: string): void;
  /** The next request of this kind for `name` waits until released; later ones are not held. */
  hold(kind: UpstreamKind, name: string): Hold;
  /** Clears every fault and releases held requests. */
  clearFaults(): void;

  // Changes: each gives the package a new `_rev`, `time.modified` (now) and ETag, and the next
  // change-feed sequence number; each rejects for a package or version that is not there.
  /**
   * Unpublishes a version: gone from `versions` and `time`, its tarball 404. Tags on it are
   * dropped; `latest` moves to the highest remaining release. The last version takes the
   * package with it (404, `time.unpublished`, `deleted` in the feed).
   */
  removeVersion(name: string, version: string): Promise<void>;
  /** An empty message undeprecates. */
  deprecate(name: string, version: string, message: string): Promise<void>;
  setDistTag(name: string, tag: string, version: string): Promise<void>;
  /** Repacked from the tarball of `latest`, dated now; it becomes `latest` if it is the highest release. */
  addVersion(name: string, version: string): Promise<void>;
  /** A package only the upstream has, its versions repacked from corpus package `from`. */
  addPackage(name: string, versions: readonly string[], from?: string): Promise<void>;
  /** What `POST /-/npm/v1/security/advisories/bulk` reports, by package name. */
  setAdvisories(advisories: Record<string, readonly unknown[]>): void;
}

/** The program and arguments that run this module as its own process. */
export const UPSTREAM_REGISTRY_COMMAND: readonly string[] = [
  process.execPath,
  fileURLToPath(import.meta.url),
];

const ABBREVIATED = "application/vnd.npm.install-v1+json";
const PUBLIC_PACKUMENT_CACHE_CONTROL = "public, max-age=300";
const TARBALL_CACHE_CONTROL = "public, max-age=31557600";
const AUDIT_PATH = "/-/npm/v1/security/advisories/bulk";
/** The counts as JSON, for a benchmark that runs the upstream as its own process; not counted itself. */
const STATS_PATH = "/-/upstream/stats";
/** Bytes of the body a stalled response sends before it stops. */
const STALL_BYTES = 16;
const ENDLESS_CHUNK = Buffer.alloc(64 * 1024, 0x20);
const LONGPOLL_DEFAULT_MS = 60_000;
const MAX_AUDIT_BODY = 16 * 1024 * 1024;
const gunzipAsync = promisify(gunzip);

type Route =
  | { readonly kind: "packument"; readonly name: string }
  | { readonly kind: "tarball"; readonly name: string; readonly file: string }
  | { readonly kind: "changes" | "root" | "ping" | "audit" | "stats" | "unknown" };

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | number>;
  readonly body: Buffer;
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  const body = Buffer.from(JSON.stringify(value));
  return { status, headers: { "content-type": "application/json", ...headers }, body };
}

const notFound = () => json(404, { error: "Not found" });

function routeOf(method: string, pathname: string): Route {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return { kind: "unknown" };
  }
  if (method === "POST") return { kind: path === AUDIT_PATH ? "audit" : "unknown" };
  if (path === "/") return { kind: "root" };
  if (path === "/_changes") return { kind: "changes" };
  if (path === "/-/ping") return { kind: "ping" };
  if (path === STATS_PATH) return { kind: "stats" };
  const m = /^\/((?:@[^/]+\/)?[^/@][^/]*)(?:\/-\/([^/]+))?$/.exec(path);
  if (!m) return { kind: "unknown" };
  return m[2] === undefined
    ? { kind: "packument", name: m[1] }
    : { kind: "tarball", name: m[1], file: m[2] };
}

function freshStats(): UpstreamStats {
  return {
    requests: 0,
    packuments: new Map(),
    tarballs: new Map(),
    packumentRequests: 0,
    tarballRequests: 0,
    changesRequests: 0,
    auditRequests: 0,
    notModified: 0,
    unauthorized: 0,
    bytesSent: 0,
    packumentBytes: 0,
    tarballBytes: 0,
  };
}

const bump = (counts: Map<string, number>, key: string) =>
  counts.set(key, (counts.get(key) ?? 0) + 1);

/** Whether the client's copy (If-None-Match, else If-Modified-Since) is current. */
function isNotModified(req: IncomingMessage, rendered: Rendered): boolean {
  const ifNoneMatch = req.headers["if-none-match"];
  if (ifNoneMatch !== undefined)
    return ifNoneMatch
      .split(",")
      .map((tag) => tag.trim().replace(/^W\//, ""))
      .some((tag) => tag === "*" || tag === rendered.etag);
  const since = Date.parse(req.headers["if-modified-since"] ?? "");
  return !Number.isNaN(since) && Date.parse(rendered.lastModified) <= since;
}

/** A non-negative integer query parameter, or `fallback` when absent or malformed. */
function count(value: string | null, fallback: number): number {
  return value !== null && /^(0|[1-9]\d{0,15})$/.test(value) ? Number(value) : fallback;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_AUDIT_BODY) throw new Error("request body too large");
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "gzip" ? gunzipAsync(body) : body;
}

export async function startUpstreamRegistry(
  options: UpstreamRegistryOptions = {},
): Promise<UpstreamRegistry> {
  const [manifest, corpusDir] = await Promise.all([corpusManifest(), corpusTarballs()]);
  const faults = new Faults();
  const sockets = new Set<Socket>();
  const stats = freshStats();
  let advisories: Record<string, readonly unknown[]> = {};
  const packumentCacheControl = options.packumentCacheControl ?? PUBLIC_PACKUMENT_CACHE_CONTROL;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // The cause in the body: a broken helper should say why in the test that trips on it.
      if (!res.headersSent && !res.destroyed) write(res, json(500, { error: String(err) }));
      else res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  let listening = false;
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        listening = true;
        resolve();
      });
    });
  await listen(options.port ?? 0);
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/`;
  const content = new UpstreamContent(manifest, corpusDir, url);
  const advertised = faults;

  function write(res: ServerResponse, reply: Reply, withBody = true): void {
    if (res.destroyed) return;
    res.writeHead(reply.status, { ...reply.headers, "content-length": reply.body.length });
    res.end(withBody ? reply.body : undefined);
    if (withBody) stats.bytesSent += reply.body.length;
  }

  /** Sends `reply` as the delivery fault says; `kind` for the per-kind byte counts. */
  function deliver(
    req: IncomingMessage,
    res: ServerResponse,
    reply: Reply,
    delivery: Delivery | undefined,
    kind: UpstreamKind | undefined,
  ): void {
    const before = stats.bytesSent;
    const head = req.method === "HEAD";
    const { body } = reply;
    if (res.destroyed) return;
    switch (delivery?.how) {
      case "truncate": {
        if (head || body.length < 2) {
          write(res, reply, !head);
          break;
        }
        res.writeHead(reply.status, { ...reply.headers, "content-length": body.length });
        const half = body.subarray(0, Math.floor(body.length / 2));
        stats.bytesSent += half.length;
        // Destroyed once the half is written: destroyed at once, the corked headers would never leave.
        res.write(half, () => res.destroy());
        break;
      }
      case "stall":
        res.writeHead(reply.status, { ...reply.headers, "content-length": body.length });
        if (head || body.length < 2) res.flushHeaders();
        else {
          const start = body.subarray(0, Math.min(STALL_BYTES, body.length - 1));
          stats.bytesSent += start.length;
          res.write(start);
        }
        break;
      case "endless": {
        const { "content-length": _, ...headers } = reply.headers;
        res.writeHead(reply.status, headers);
        const chunks = [body];
        const pump = () => {
          for (;;) {
            if (res.destroyed) return;
            const chunk = chunks.shift() ?? ENDLESS_CHUNK;
            stats.bytesSent += chunk.length;
            if (kind) addKindBytes(kind, chunk.length);
            if (!res.write(chunk)) return void res.once("drain", pump);
          }
        };
        pump();
        return;
      }
      default:
        write(res, reply, !head);
    }
    if (kind) addKindBytes(kind, stats.bytesSent - before);
  }

  function addKindBytes(kind: UpstreamKind, bytes: number): void {
    if (kind === "packument") stats.packumentBytes += bytes;
    else stats.tarballBytes += bytes;
  }

  function statsJson(): Record<string, unknown> {
    return {
      ...stats,
      packuments: Object.fromEntries(stats.packuments),
      tarballs: Object.fromEntries(stats.tarballs),
    };
  }

  function countRoute(route: Route): void {
    switch (route.kind) {
      case "packument":
        stats.packumentRequests++;
        bump(stats.packuments, route.name);
        break;
      case "tarball": {
        stats.tarballRequests++;
        const version = content.versionOfFile(route.name, route.file);
        bump(stats.tarballs, version ? packFileName(route.name, version) : route.file);
        break;
      }
      case "changes":
        stats.changesRequests++;
        break;
      case "audit":
        stats.auditRequests++;
        break;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const requestUrl = new URL(req.url ?? "/", url);
    const route = routeOf(method, requestUrl.pathname);
    const authorized =
      options.token === undefined || req.headers.authorization === `Bearer ${options.token}`;
    if (route.kind === "stats" && authorized) return write(res, json(200, statsJson()));
    stats.requests++;
    countRoute(route);
    if (!authorized) {
      stats.unauthorized++;
      return write(res, json(401, { error: "Unauthorized" }, { "www-authenticate": "Bearer" }));
    }
    if (method !== "GET" && method !== "HEAD" && route.kind !== "audit")
      return write(res, json(405, { error: "Method not allowed" }));
    const kind = route.kind === "packument" || route.kind === "tarball" ? route.kind : undefined;
    const name = "name" in route ? route.name : undefined;
    if (kind && name) await faults.waitIfHeld(kind, name);
    const delivery = faults.deliveryFor(kind, name);
    if (delivery?.how === "status")
      return deliver(
        req,
        res,
        json(delivery.code, { error: `status ${delivery.code}` }),
        undefined,
        kind,
      );
    const reply = await replyTo(req, res, route, requestUrl);
    if (reply) deliver(req, res, reply, delivery, kind);
  }

  /** The answer to a request, or undefined when it was answered already (a 304, a long poll that ended). */
  async function replyTo(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    requestUrl: URL,
  ): Promise<Reply | undefined> {
    switch (route.kind) {
      case "packument":
        return packumentReply(req, res, route.name);
      case "tarball":
        return tarballReply(route.name, route.file);
      case "changes":
        return options.changeFeed === false
          ? notFound()
          : changesReply(res, requestUrl.searchParams);
      case "root":
        return json(200, {
          db_name: "registry",
          doc_count: content.names.length,
          update_seq: content.feed.seq,
        });
      case "ping":
        return json(200, {});
      case "audit":
        return auditReply(req);
      default:
        return notFound();
    }
  }

  async function packumentReply(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
  ): Promise<Reply | undefined> {
    const abbreviated = (req.headers.accept ?? "").includes(ABBREVIATED);
    let rendered: Rendered;
    try {
      rendered = await content.packument(name, abbreviated ? "abbreviated" : "full", advertised);
    } catch (err) {
      if (err instanceof NotFound) return notFound();
      throw err;
    }
    const headers = {
      etag: rendered.etag,
      "last-modified": rendered.lastModified,
      "cache-control": packumentCacheControl,
      vary: "Accept",
    };
    if (isNotModified(req, rendered)) {
      stats.notModified++;
      if (!res.destroyed) res.writeHead(304, headers).end();
      return undefined;
    }
    return {
      status: 200,
      headers: { ...headers, "content-type": abbreviated ? ABBREVIATED : "application/json" },
      body: rendered.body,
    };
  }

  async function tarballReply(name: string, file: string): Promise<Reply> {
    const version = content.versionOfFile(name, file);
    if (!version || !content.has(name)) return notFound();
    let bytes: Buffer;
    try {
      bytes = await content.tarball(name, version);
    } catch (err) {
      if (err instanceof NotFound) return notFound();
      throw err;
    }
    if (faults.isTampered(name, version)) bytes = flipByte(bytes);
    return {
      status: 200,
      headers: {
        "content-type": "application/octet-stream",
        "cache-control": TARBALL_CACHE_CONTROL,
      },
      body: bytes,
    };
  }

  async function changesReply(res: ServerResponse, query: URLSearchParams): Promise<Reply> {
    const since = count(query.get("since"), 0);
    const limit = count(query.get("limit"), Number.MAX_SAFE_INTEGER);
    let page = content.feed.page(since, limit);
    if (page.results.length === 0 && query.get("feed") === "longpoll" && listening) {
      const wait = content.feed.nextChange();
      const timer = setTimeout(wait.cancel, count(query.get("timeout"), LONGPOLL_DEFAULT_MS));
      res.once("close", wait.cancel);
      await wait.changed;
      clearTimeout(timer);
      res.off("close", wait.cancel);
      page = content.feed.page(since, limit);
    }
    return json(200, page);
  }

  async function auditReply(req: IncomingMessage): Promise<Reply> {
    let asked: unknown;
    try {
      asked = JSON.parse((await readBody(req)).toString("utf8"));
    } catch {
      return json(400, { error: "Bad request" });
    }
    if (typeof asked !== "object" || asked === null || Array.isArray(asked))
      return json(400, { error: "Bad request" });
    const found: Record<string, readonly unknown[]> = {};
    for (const name of Object.keys(asked))
      if (Object.hasOwn(advisories, name)) found[name] = advisories[name];
    return json(200, found);
  }

  async function packumentText(name: string, variant: Variant): Promise<string> {
    return (await content.packument(name, variant, advertised)).body.toString("utf8");
  }

  async function down(): Promise<void> {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    content.feed.wakeAll();
    await closed;
  }

  const registry: UpstreamRegistry = {
    url,
    port,
    stats,
    resetStats() {
      Object.assign(stats, freshStats());
    },
    get names() {
      return content.names;
    },
    get seq() {
      return content.feed.seq;
    },
    packument: async (name) => JSON.parse(await packumentText(name, "full")) as Packument,
    abbreviatedPackument: async (name) =>
      JSON.parse(await packumentText(name, "abbreviated")) as AbbreviatedPackument,
    tarball: (name, version) => content.tarball(name, version),
    prepare: () => content.prepare(),
    down,
    up: async () => {
      if (!listening) await listen(port);
    },
    async close() {
      faults.clear();
      await down();
    },
    [Symbol.asyncDispose]: () => registry.close(),
    tamperTarball: (name, version) => faults.tamper(name, version),
    wrongIntegrity: (name, version) => faults.wrongIntegrity(name, version),
    truncate: (kind, name) => faults.deliver({ how: "truncate" }, kind, name),
    endless: (kind, name) => faults.deliver({ how: "endless" }, kind, name),
    stall: (kind, name) => faults.deliver({ how: "stall" }, kind, name),
    status: (code, kind, name) => faults.deliver({ how: "status", code }, kind, name),
    hold: (kind, name) => faults.hold(kind, name),
    clearFaults: () => faults.clear(),
    removeVersion: (name, version) => content.removeVersion(name, version),
    deprecate: (name, version, message) => content.deprecate(name, version, message),
    setDistTag: (name, tag, version) => content.setDistTag(name, tag, version),
    addVersion: (name, version) => content.addVersion(name, version),
    addPackage: (name, versions, from = "abstract-logging") =>
      content.addPackage({ name, versions, from } satisfies ExtraPackage),
    setAdvisories(value) {
      advisories = value;
    },
  };
  if (options.prepare) await content.prepare();
  return registry;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      token: { type: "string" },
      lazy: { type: "boolean", default: false },
    },
  });
  const port = count(values.port, -1);
  if (port < 0 || port > 65535) throw new Error(`--port wants a port number, not ${values.port}`);
  const registry = await startUpstreamRegistry({
    port,
    token: values.token,
    prepare: !values.lazy,
  });
  process.stdout.write(`listening on ${registry.url}\n`);
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void registry.close().then(() => process.exit(0)));
}
