/**
 * Per-key rate limits as token buckets: a key may spend `limit` tokens at
 * once, and gets them back at `limit` per `windowSeconds`. A bucket that is
 * empty answers how many seconds until the next token (a `Retry-After`).
 *
 * The clock is injected, so a lockout can be tested without waiting. Keys
 * are held in a bounded LRU: a flood from many addresses costs a fixed
 * amount of memory, and a key pushed out starts full again, which is the
 * price of that bound (the per-user limits still hold).
 */
import { LRUCache } from "lru-cache";

export interface RateLimitOptions {
  /** Tokens a key may spend at once, and regains per window; 0 turns the limit off. */
  readonly limit: number;
  readonly windowSeconds: number;
  /** Milliseconds since the epoch; `Date.now` by default. */
  readonly now?: () => number;
  /** Keys remembered at once. */
  readonly maxKeys?: number;
}

export type Take = { readonly ok: true } | { readonly ok: false; readonly retryAfter: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimit {
  readonly #limit: number;
  readonly #perMs: number;
  readonly #now: () => number;
  readonly #buckets: LRUCache<string, Bucket>;

  constructor(options: RateLimitOptions) {
    this.#limit = options.limit;
    this.#perMs = options.limit / (options.windowSeconds * 1000);
    this.#now = options.now ?? Date.now;
    this.#buckets = new LRUCache({ max: options.maxKeys ?? 100_000 });
  }

  /** Spends one of `key`'s tokens, or says how long until there is one. */
  take(key: string): Take {
    const blocked = this.check(key);
    if (!blocked.ok) return blocked;
    const bucket = this.#refilled(key);
    bucket.tokens -= 1;
    this.#buckets.set(key, bucket);
    return blocked;
  }

  /** Whether `key` has a token, without spending it. */
  check(key: string): Take {
    if (this.#limit === 0) return { ok: true };
    const bucket = this.#refilled(key);
    if (bucket.tokens >= 1) return { ok: true };
    return {
      ok: false,
      retryAfter: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000)),
    };
  }

  /** Gives a token back (a login that turned out to be right). */
  refund(key: string): void {
    if (this.#limit === 0) return;
    const bucket = this.#refilled(key);
    bucket.tokens = Math.min(this.#limit, bucket.tokens + 1);
    this.#buckets.set(key, bucket);
  }

  #refilled(key: string): Bucket {
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#limit, at: now };
    bucket.tokens = Math.min(this.#limit, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    return bucket;
  }
}

/**
 * The key a client's address is limited under: an IPv4 address as it is,
 * an IPv6 address by its /64, since one host is commonly given a whole /64.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(":")) return ip;
  const [head, tail = ""] = ip.toLowerCase().split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = [
    ...left,
    ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"),
    ...right,
  ];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
