/**
 * Option parsers and defaults the subcommands share. Every numeric option of
 * every command is parsed by one of the parsers here, each with the bounds its
 * meaning allows, so a value such as "abc", "-1", "1e3" or one beyond what a
 * timer can wait is refused as a usage error before any command runs.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import { isLogLevel, LOG_LEVELS, type LogLevel } from "../util/log-level.ts";

/** Where client commands keep the last verified checkpoint of each log. */
export function defaultStateDir(): string {
  return process.env.CAIRN_HOME ?? join(homedir(), ".cairn");
}

let umaskAtStart: number | undefined;

/** Remembers the umask the user started cairn with (main sets a private one). */
export function rememberUserUmask(mask: number): void {
  umaskAtStart ??= mask;
}

/** The umask the user started cairn with: files written into a project are made with it. */
export function userUmask(): number {
  return umaskAtStart ?? 0o022;
}

/** The longest delay Node's timers take; a longer one fires at once (after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A parser for a decimal integer option from `min` to `max`. */
function integer(what: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max)
      throw new InvalidArgumentError(
        `${JSON.stringify(value)} is not a valid ${what} (a whole number from ${min} to ${max})`,
      );
    return n;
  };
}

export const parsePort = integer("port", 0, 65535);
/** Requests or checks in flight at once. */
export const parseConcurrency = integer("concurrency", 1, 1024);
/** Milliseconds before a request is abandoned. */
export const parseTimeoutMs = integer("timeout", 1, MAX_TIMER_MS);
/** A count of things: entries of lag, results, shards, bytes. */
export const parseCount = (what: string, min = 0) => integer(what, min, Number.MAX_SAFE_INTEGER);
/** Seconds between runs of something periodic; `min` 0 where 0 has a meaning. */
export const parseSeconds = (what: string, min = 1) =>
  integer(what, min, Math.floor(MAX_TIMER_MS / 1000));

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** A size in bytes: a whole number, optionally with K, M, G or T (powers of 1024; `MiB`, `MB` alike). */
export function parseSize(value: string): number {
  const m = /^([1-9][0-9]{0,15})(?:([kmgt])(?:i?b)?)?$/i.exec(value);
  const bytes = m ? Number(m[1]) * SIZE_UNITS[(m[2] ?? "").toLowerCase()] : Number.NaN;
  if (!Number.isSafeInteger(bytes))
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a size (a whole number of bytes, or with K, M, G or T)`,
    );
  return bytes;
}

export const LOG_LEVEL_HELP = `least severe log line written to standard error as JSON: ${LOG_LEVELS.join(", ")} ("debug" adds every request)`;

export function parseLogLevel(value: string): LogLevel {
  if (!isLogLevel(value))
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not one of ${LOG_LEVELS.join(", ")}`,
    );
  return value;
}

export const GATEWAY_HELP =
  "an IPFS trustless gateway to fetch blobs from, before the origin (repeatable); every block is checked";

/** Collects repeated `--gateway` URLs, each the http(s) base a gateway serves `/ipfs/<cid>` below. */
export function collectGateway(value: string, previous: readonly string[] = []): string[] {
  const url = URL.parse(value);
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash)
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not the http(s) URL of a gateway`);
  return [...previous, value];
}
