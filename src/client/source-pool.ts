/**
 * The places a client reads the static tree from: the origin and its
 * mirrors; and the places it reads blobs from besides: IPFS trustless
 * gateways (web seeds; LAN peers are gateways too, asked first). Reads go
 * to a healthy mirror picked at random, then the next, and to the origin
 * last; a blob to the peers, then mirrors and gateways mixed at random,
 * then the origin. A source that fails is set aside for a while (long when
 * it served wrong bytes, briefly when it merely did not answer). The pool
 * counts requests and bytes per source, so a caller can report where its
 * bytes came from.
 */
import { HttpSource, type LogSource, withFullTileFallback } from "../log/index.ts";
import { treeUrl } from "../log/urls.ts";
import { type Check, classify, NoSourceError, type SourceError } from "./errors.ts";
import { type GatewayBlobRef, GatewaySource, gatewayCanServe } from "./gateway-source.ts";

export interface Source {
  /** The server's base URL, as configured or listed. */
  readonly url: string;
  readonly isOrigin: boolean;
  /** Reads from the source's tree, counted, with partial tiles served from full ones. */
  readonly log: LogSource;
  /** A file of the tree as it arrives (one too large to hold in memory), counted. */
  stream(path: string, maxBytes: number): AsyncIterable<Uint8Array>;
}

/**
 * Requests a client keeps in flight to one LAN peer: what a peer answers
 * at once per client (src/peer/limits.ts), so none is refused with a 429
 * and sent on to a mirror.
 */
export const PEER_REQUESTS_IN_FLIGHT = 4;

/** Peers on the LAN are asked before web seeds (public gateways), which share a tier with mirrors. */
export type GatewayTier = "peer" | "web-seed";

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

interface HeldGateway {
  readonly source: GatewaySource;
  readonly tier: GatewayTier;
  /** Which blobs it may be asked for (LAN peers: only what a share policy lets peers serve). */
  readonly asks?: (ref: GatewayBlobRef) => boolean;
}

export interface FirstOptions {
  /**
   * The file may be absent from every source (a delta the origin has not
   * made): a source without it is counted, not told to `onProblem`.
   */
  readonly optional?: boolean;
}

export interface SourceStats {
  requests: number;
  bytes: number;
  failures: number;
}

export interface SourcePoolOptions {
  /** Milliseconds before one request is abandoned. */
  readonly timeoutMs?: number;
  /** How long a source that served wrong bytes is set aside. */
  readonly hardPenaltyMs?: number;
  /** How long a source that did not answer is set aside. */
  readonly softPenaltyMs?: number;
  /** Told of every failure, in the order they happen. */
  readonly onProblem?: (err: SourceError) => void;
}

export class SourcePool {
  readonly origin: Source;
  readonly #mirrors = new Map<string, Source>();
  readonly #gateways = new Map<string, HeldGateway>();
  readonly #stats = new Map<string, SourceStats>();
  /** Until when each mirror is set aside, and whether for wrong bytes (a good checkpoint later does not excuse those). */
  readonly #benched = new Map<string, { until: number; hard: boolean }>();
  readonly #options: SourcePoolOptions;

  constructor(originUrl: string, options: SourcePoolOptions = {}) {
    this.#options = options;
    this.origin = this.#source(originUrl, true);
  }

  /** Replaces the set of mirrors; the origin is never one of them. */
  setMirrors(urls: Iterable<string>): void {
    const originTree = treeUrl(this.origin.url);
    const wanted = new Map<string, string>();
    for (const url of urls) if (treeUrl(url) !== originTree) wanted.set(treeUrl(url), url);
    for (const tree of this.#mirrors.keys()) if (!wanted.has(tree)) this.#mirrors.delete(tree);
    for (const [tree, url] of wanted)
      if (!this.#mirrors.has(tree)) this.#mirrors.set(tree, this.#source(url, false));
  }

  get mirrors(): Source[] {
    return [...this.#mirrors.values()];
  }

  /**
   * Replaces the trustless gateways of one tier (URLs as given: a gateway
   * serves `/ipfs/<cid>` below it), asked only for the blobs `asks` allows
   * (all by default). A gateway's penalty and counts outlive its removal,
   * so one found again later is not excused.
   */
  setGateways(
    urls: Iterable<string>,
    tier: GatewayTier = "web-seed",
    asks?: (ref: GatewayBlobRef) => boolean,
  ): void {
    const wanted = new Set([...urls].map((url) => url.replace(/\/+$/, "")));
    for (const [url, held] of this.#gateways)
      if (held.tier === tier && !wanted.has(url)) this.#gateways.delete(url);
    for (const url of wanted) {
      const source =
        this.#gateways.get(url)?.source ??
        new GatewaySource(
          url,
          new HttpSource(url, { timeoutMs: this.#options.timeoutMs }),
          this.#statsOf(url),
          tier === "peer" ? PEER_REQUESTS_IN_FLIGHT : undefined,
        );
      this.#gateways.set(url, { source, tier, asks });
    }
  }

  get gateways(): GatewaySource[] {
    return [...this.#gateways.values()].map((g) => g.source);
  }

  /** Healthy mirrors in random order, then the origin. */
  candidates(): Source[] {
    return [...shuffled(this.mirrors.filter((m) => !this.isBenched(m.url))), this.origin];
  }

  /**
   * Where a blob may come from: healthy peers in random order, then healthy
   * mirrors and web seeds mixed at random, then the origin. Gateways only
   * when they can serve it (one raw block, or a DAG whose root is known).
   */
  blobCandidates(ref: GatewayBlobRef): (Source | GatewaySource)[] {
    const gateways = gatewayCanServe(ref)
      ? [...this.#gateways.values()].filter(
          (g) => !this.isBenched(g.source.url) && (g.asks?.(ref) ?? true),
        )
      : [];
    const tier = (t: GatewayTier) => gateways.filter((g) => g.tier === t).map((g) => g.source);
    const mirrors = this.mirrors.filter((m) => !this.isBenched(m.url));
    // The least busy peer first (at random among equals), so a blob rarely waits for a turn.
    const peers = shuffled(tier("peer")).sort((a, b) => a.busy - b.busy);
    return [
      ...peers,
      ...shuffled<Source | GatewaySource>([...mirrors, ...tier("web-seed")]),
      this.origin,
    ];
  }

  /**
   * Runs `attempt` against each candidate in turn until one succeeds. Any
   * error it throws is classified (`check` names what a verification failure
   * means), reported, and counted against that source.
   */
  async first<T>(
    what: string,
    check: Check,
    attempt: (source: Source) => Promise<T>,
    sources: readonly Source[] = this.candidates(),
    options: FirstOptions = {},
  ): Promise<T> {
    return this.firstOf(sources, what, check, attempt, options);
  }

  /** As `first`, over any kind of source (mirrors and gateways alike). */
  async firstOf<S extends { readonly url: string }, T>(
    sources: readonly S[],
    what: string,
    check: Check,
    attempt: (source: S) => Promise<T>,
    options: FirstOptions = {},
  ): Promise<T> {
    const errors: SourceError[] = [];
    for (const source of sources) {
      try {
        return await attempt(source);
      } catch (err) {
        const failure = classify(err, source.url, check);
        this.report(failure, options);
        errors.push(failure);
      }
    }
    throw new NoSourceError(what, errors);
  }

  /** Records a failure of a source and sets a mirror or gateway aside for a while. */
  report(failure: SourceError, options: FirstOptions = {}): void {
    const stats = this.#statsOf(failure.source);
    stats.failures++;
    if (!(options.optional && failure.code === "unavailable")) this.#options.onProblem?.(failure);
    const mirror =
      this.#mirrors.get(treeUrl(failure.source)) ?? this.#gateways.get(failure.source)?.source;
    // Missing files are normal on a mirror that lags, or a gateway; either may still have others.
    if (!mirror || failure.code === "unavailable") return;
    const penalty = failure.hard
      ? (this.#options.hardPenaltyMs ?? 10 * 60_000)
      : (this.#options.softPenaltyMs ?? 30_000);
    const until = Date.now() + penalty;
    const held = this.#benched.get(mirror.url);
    // Not answering now does not shorten a penalty for having served wrong bytes.
    if (held?.hard && held.until > until) return;
    this.#benched.set(mirror.url, { until, hard: failure.hard });
  }

  /** Whether a mirror or gateway is set aside now. */
  isBenched(url: string): boolean {
    return (this.#benched.get(url)?.until ?? 0) > Date.now();
  }

  /**
   * Lifts the penalty of a mirror that did not answer or lagged, once a
   * health check finds it well again; one for serving wrong bytes runs its
   * course, since a good checkpoint says nothing about its tarballs.
   */
  clear(url: string): void {
    if (!this.#benched.get(url)?.hard) this.#benched.delete(url);
  }

  /** Requests, bytes and failures per source URL. */
  stats(): Map<string, SourceStats> {
    return new Map([...this.#stats].map(([url, s]) => [url, { ...s }]));
  }

  /** Requests and bytes over every source so far. */
  traffic(): { bytes: number; requests: number } {
    let bytes = 0;
    let requests = 0;
    for (const s of this.#stats.values()) {
      bytes += s.bytes;
      requests += s.requests;
    }
    return { bytes, requests };
  }

  #statsOf(url: string): SourceStats {
    let stats = this.#stats.get(url);
    if (!stats) {
      stats = { requests: 0, bytes: 0, failures: 0 };
      this.#stats.set(url, stats);
    }
    return stats;
  }

  #source(url: string, isOrigin: boolean): Source {
    const http = new HttpSource(treeUrl(url), { timeoutMs: this.#options.timeoutMs });
    const stats = this.#statsOf(url);
    const counted: LogSource = {
      name: url,
      read: async (path, maxBytes) => {
        stats.requests++;
        const data = await http.read(path, maxBytes);
        stats.bytes += data.length;
        return data;
      },
    };
    async function* stream(path: string, maxBytes: number): AsyncGenerator<Uint8Array> {
      stats.requests++;
      for await (const chunk of http.stream(path, maxBytes)) {
        stats.bytes += chunk.length;
        yield chunk;
      }
    }
    return { url, isOrigin, log: withFullTileFallback(counted), stream };
  }
}
