/**
 * Limits on what a peer gives its LAN, around any handler:
 *
 * - every request from an address spends a token of its bucket (hits and
 *   misses alike, so the limiter's state says nothing of what is held);
 * - an address may name at most so many distinct blocks a minute (probing
 *   for holdings is many distinct CIDs; an install asks each block once);
 * - an address may have so many responses in flight at once;
 * - all responses together go out at most so many bytes a second.
 *
 * Over a limit: 429 with `Retry-After` (seconds), the same bytes whatever
 * was asked. Addresses are keyed as the origin's limits key them (an IPv6
 * address by its /64). The clock and the sleep are injectable, so tests
 * move time instead of waiting.
 */

import { Readable } from "node:stream";
import { setTimeout as sleepFor } from "node:timers/promises";
import { LRUCache } from "lru-cache";
import { PEER_REQUESTS_IN_FLIGHT } from "../client/source-pool.ts";
import { addressKey, RateLimit } from "../util/rate-limit.ts";
import { blockOf, cidTextOf, type PeerHandler, type PeerResponse } from "./response.ts";

export interface PeerLimitOptions {
  /** Requests per second an address regains (default 100). */
  readonly requestsPerSecond?: number;
  /** Requests an address may make at once (default 1000). */
  readonly burst?: number;
  /** Distinct blocks an address may ask for per minute (default 2000). */
  readonly blocksPerMinute?: number;
  /** Responses in flight per address (default 4). */
  readonly concurrentPerAddress?: number;
  /** Bytes per second all responses together may send (default 5 MiB/s; 0: no cap). */
  readonly uploadBytesPerSecond?: number;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
  /** Waits `ms` milliseconds. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Addresses remembered at once. */
  readonly maxAddresses?: number;
}

// One install of a large app (the corpus app asks about 850 blobs in 3 to 4 s)
// fits in one burst, so a lone peer is not refused halfway and its asker sent
// to a mirror; the distinct-blocks cap, not this bucket, is what bounds probing.
const DEFAULT_PEER_LIMITS = {
  requestsPerSecond: 100,
  burst: 1000,
  blocksPerMinute: 2000,
  concurrentPerAddress: PEER_REQUESTS_IN_FLIGHT,
  uploadBytesPerSecond: 5 << 20,
} as const;

const TOO_MANY_BODY = Buffer.from("too many requests\n");

/** The one "too many" answer. */
export function tooMany(method: string, retryAfter: number): PeerResponse {
  const headers = {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "content-length": String(TOO_MANY_BODY.length),
    "retry-after": String(retryAfter),
  };
  return method === "HEAD"
    ? { status: 429, headers }
    : { status: 429, headers, body: TOO_MANY_BODY };
}

/** Pieces the upload cap meters at a time: small enough that responses interleave. */
const PIECE = 64 << 10;

/**
 * A byte budget shared by all responses: `rate` bytes a second, up to one
 * second's worth at once. Each piece reserves its bytes in turn and waits
 * until the budget has covered them, so concurrent responses share fairly.
 */
export class UploadBudget {
  readonly #rate: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  #tokens: number;
  #at: number;
  /** Bytes metered so far. */
  sent = 0;

  constructor(rate: number, now: () => number, sleep: (ms: number) => Promise<void>) {
    this.#rate = rate;
    this.#now = now;
    this.#sleep = sleep;
    this.#tokens = rate;
    this.#at = now();
  }

  async take(bytes: number): Promise<void> {
    this.sent += bytes;
    if (this.#rate === 0) return;
    const now = this.#now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#at) * this.#rate) / 1000);
    this.#at = now;
    this.#tokens -= bytes;
    if (this.#tokens < 0) await this.#sleep(Math.ceil((-this.#tokens * 1000) / this.#rate));
  }
}

/** The body as a stream metered by `budget`, calling `done` once when it closes (ended or destroyed). */
function metered(body: Uint8Array | Readable, budget: UploadBudget, done: () => void): Readable {
  async function* pieces() {
    const source = body instanceof Uint8Array ? [body] : body;
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      for (let at = 0; at < chunk.length; at += PIECE) {
        const piece = chunk.subarray(at, at + PIECE);
        await budget.take(piece.length);
        yield piece;
      }
    }
  }
  const stream = Readable.from(pieces(), { objectMode: false });
  stream.once("close", () => {
    if (!(body instanceof Uint8Array)) body.destroy();
    done();
  });
  return stream;
}

interface BlockWindow {
  start: number;
  readonly blocks: Set<string>;
}

export class PeerLimits {
  readonly #requests: RateLimit;
  readonly #blocksPerMinute: number;
  readonly #concurrent: number;
  readonly #now: () => number;
  readonly #windows: LRUCache<string, BlockWindow>;
  readonly #active = new Map<string, number>();
  readonly budget: UploadBudget;

  constructor(options: PeerLimitOptions = {}) {
    const rate = options.requestsPerSecond ?? DEFAULT_PEER_LIMITS.requestsPerSecond;
    const burst = options.burst ?? DEFAULT_PEER_LIMITS.burst;
    this.#now = options.now ?? Date.now;
    const maxKeys = options.maxAddresses ?? 1024;
    // The bucket holds `burst` and refills it in burst / rate seconds: `rate` a second.
    this.#requests = new RateLimit({
      limit: burst,
      windowSeconds: burst / rate,
      now: this.#now,
      maxKeys,
    });
    this.#blocksPerMinute = options.blocksPerMinute ?? DEFAULT_PEER_LIMITS.blocksPerMinute;
    this.#concurrent = options.concurrentPerAddress ?? DEFAULT_PEER_LIMITS.concurrentPerAddress;
    this.#windows = new LRUCache({ max: maxKeys });
    this.budget = new UploadBudget(
      options.uploadBytesPerSecond ?? DEFAULT_PEER_LIMITS.uploadBytesPerSecond,
      this.#now,
      options.sleep ?? ((ms) => sleepFor(ms)),
    );
  }

  /** Responses in flight for all addresses. */
  get active(): number {
    let total = 0;
    for (const n of this.#active.values()) total += n;
    return total;
  }

  /** `handler` behind the limits. */
  wrap(handler: PeerHandler): PeerHandler {
    return async (request) => {
      const key = addressKey(request.ip);
      const took = this.#requests.take(key);
      if (!took.ok) return tooMany(request.method, took.retryAfter);
      const wait = this.#countBlock(key, request.url);
      if (wait !== undefined) return tooMany(request.method, wait);
      const active = this.#active.get(key) ?? 0;
      if (active >= this.#concurrent) return tooMany(request.method, 1);
      this.#active.set(key, active + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const left = (this.#active.get(key) ?? 1) - 1;
        if (left === 0) this.#active.delete(key);
        else this.#active.set(key, left);
      };
      let response: PeerResponse;
      try {
        response = await handler(request);
      } catch (err) {
        release();
        throw err;
      }
      if (response.body === undefined) {
        release();
        return response;
      }
      return { ...response, body: metered(response.body, this.budget, release) };
    };
  }

  /** Counts the block a target names; the seconds to wait if it is one too many this minute. */
  #countBlock(key: string, url: string): number | undefined {
    const block = blockOf(url);
    const name = typeof block === "object" ? block.sha256 : (cidTextOf(url) ?? url);
    const now = this.#now();
    let window = this.#windows.get(key);
    if (!window || now - window.start >= 60_000) {
      window = { start: now, blocks: new Set() };
      this.#windows.set(key, window);
    }
    if (window.blocks.has(name)) return undefined;
    if (window.blocks.size >= this.#blocksPerMinute)
      return Math.max(1, Math.ceil((window.start + 60_000 - now) / 1000));
    window.blocks.add(name);
    return undefined;
  }
}
