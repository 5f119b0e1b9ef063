/**
 * What stands in front of the origin's handlers: rate limits on sign-ins
 * and writes, the bound on password hashing, and the refusal to extend a
 * damaged tree. All run in `onRequest`, before a body is read or a hash
 * computed, so a refused request costs its sender and almost nothing else.
 *
 * - Sign-ins (PUT /-/user/:id, POST /-/npm/v1/tokens) spend a token per
 *   address and per user name (the name in the URL, or the token's owner);
 *   a sign-in that succeeds gives the user's token back, so only failures
 *   lock a name out. Unknown names are limited alike, so the answer tells
 *   nothing about which names exist.
 * - Writes (npm's, cargo's and the moderators' takedowns and restores) spend
 *   a token per address and per user (the bearer token's owner).
 * - Over a limit: 429 with `Retry-After` (seconds) and code "rate-limited".
 *   Hashing queue full: 503 with `Retry-After` and code "busy". Both are
 *   held for REFUSAL_DELAY_MS first: a client that floods in a loop then
 *   waits on a timer instead of keeping the event loop busy with refusals
 *   (tens of thousands a second otherwise), and a person barely notices.
 * - A damaged tree: every write to the log answers 503, code "tree-damaged".
 */
import { setTimeout as delay } from "node:timers/promises";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { authorizationToken, CARGO_WRITE_ROUTES } from "../cargo/api.ts";
import { cargoErrorBody } from "../cargo/api-error.ts";
import type { AuthStore } from "../origin/auth.ts";
import type { OriginLimits } from "../origin/config.ts";
import type { PasswordHasher } from "../origin/password-hasher.ts";
import { addressKey, RateLimit, type Take } from "../util/rate-limit.ts";
import { writeRoutes } from "./read-only.ts";
import { TAKEDOWN_WRITE_ROUTES } from "./takedown-routes.ts";

export type GuardCode = "rate-limited" | "busy" | "tree-damaged";

export interface GuardOptions {
  readonly limits: OriginLimits;
  readonly auth: AuthStore;
  readonly hasher: PasswordHasher;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  readonly now?: () => number;
  /** Why the log must not be extended now, or undefined when it may. */
  readonly refuseWrites?: () => string | undefined;
}

export const REFUSAL_DELAY_MS = 1000;
const SIGN_INS = new Set(["PUT /-/user/:id", "POST /-/npm/v1/tokens"]);
const TOKEN_ROUTES = /^\/-\/npm\/v1\/tokens/;
/** How npm names a user in `PUT /-/user/:id`. */
const USER_ID = "org.couchdb.user:";

interface Refusal {
  readonly status: 429 | 503;
  readonly code: GuardCode;
  readonly error: string;
  readonly retryAfter?: number;
}

function tooMany(took: Take, what: string): Refusal | undefined {
  if (took.ok) return undefined;
  const error = `too many ${what}: try again in ${took.retryAfter} s`;
  return { status: 429, code: "rate-limited", error, retryAfter: took.retryAfter };
}

function bearer(req: FastifyRequest): string | undefined {
  return /^Bearer (\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
}

/** The routes that count as writes, as "METHOD /path" in Fastify's path syntax. */
export function guardedWriteRoutes(): string[] {
  const routeKey = ([method, url]: readonly [string, string]) => `${method} ${url}`;
  return [...writeRoutes(), ...CARGO_WRITE_ROUTES, ...TAKEDOWN_WRITE_ROUTES].map(routeKey);
}

export function registerGuards(app: FastifyInstance, options: GuardOptions): void {
  const { limits, auth, hasher } = options;
  const limit = (count: number) =>
    new RateLimit({ limit: count, windowSeconds: limits.rateLimitWindow, now: options.now });
  const signInsByAddress = limit(limits.loginsPerAddress);
  const failuresByUser = limit(limits.loginFailuresPerUser);
  const writesByAddress = limit(limits.writesPerAddress);
  const writesByUser = limit(limits.writesPerUser);
  const writes = new Set(guardedWriteRoutes());
  const cargoWrites = new Set(CARGO_WRITE_ROUTES.map(([method, url]) => `${method} ${url}`));
  /** The user a sign-in is for, kept until its answer tells whether it failed. */
  const signInUser = new WeakMap<FastifyRequest, string>();

  const tokenOwner = (req: FastifyRequest) => {
    // cargo sends its token raw, with no scheme; read as the cargo API reads it.
    const token = bearer(req) ?? authorizationToken(req.headers.authorization);
    return token ? auth.lookupToken(token)?.user : undefined;
  };
  /** Whether to refuse the request before its handler runs, and how. */
  const decide = (req: FastifyRequest): Refusal | undefined => {
    const route = `${req.method} ${req.routeOptions.url}`;
    const address = addressKey(req.ip);
    if (SIGN_INS.has(route)) {
      const id = (req.params as { id?: string }).id;
      const user = id?.startsWith(USER_ID) ? id.slice(USER_ID.length) : tokenOwner(req);
      const byUser = user === undefined ? { ok: true as const } : failuresByUser.check(user);
      const refusal =
        tooMany(byUser, "failed sign-ins for this user") ??
        tooMany(signInsByAddress.take(address), "sign-ins from this address");
      if (refusal) return refusal;
      if (hasher.full) {
        const error = "too many sign-ins at once: try again shortly";
        return { status: 503, code: "busy", error, retryAfter: 1 };
      }
      if (user !== undefined) {
        failuresByUser.take(user);
        signInUser.set(req, user);
      }
      return undefined;
    }
    if (!writes.has(route)) return undefined;
    const why = TOKEN_ROUTES.test(req.url) ? undefined : options.refuseWrites?.();
    if (why) return { status: 503, code: "tree-damaged", error: why };
    const user = tokenOwner(req);
    return (
      tooMany(writesByAddress.take(address), "writes from this address") ??
      (user === undefined ? undefined : tooMany(writesByUser.take(user), "writes by this user"))
    );
  };

  app.addHook("onRequest", async (req, reply) => {
    const refusal = decide(req);
    if (!refusal) return;
    if (refusal.retryAfter !== undefined) {
      await delay(REFUSAL_DELAY_MS);
      reply.header("retry-after", String(refusal.retryAfter));
    }
    // Each client's own error shape, so cargo prints why it was refused.
    const cargo = cargoWrites.has(`${req.method} ${req.routeOptions.url}`);
    return reply
      .code(refusal.status)
      .send(
        cargo
          ? cargoErrorBody(refusal.error, refusal.code)
          : { error: refusal.error, code: refusal.code },
      );
  });

  app.addHook("onResponse", async (req, reply) => {
    const user = signInUser.get(req);
    if (user !== undefined && reply.statusCode < 400) failuresByUser.refund(user);
  });
}
