/** Option parsers and defaults the subcommands share. */
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import { isLogLevel, LOG_LEVELS, type LogLevel } from "../util/log-level.ts";

/** Where client commands keep the last verified checkpoint of each log. */
export function defaultStateDir(): string {
  return process.env.CAIRN_HOME ?? join(homedir(), ".cairn");
}

/** A parser for a non-negative decimal integer option. */
export function wholeNumber(what: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n > max)
      throw new InvalidArgumentError(`${JSON.stringify(value)} is not a valid ${what}`);
    return n;
  };
}

export const parsePort = wholeNumber("port", 65535);

export const LOG_LEVEL_HELP = `least severe log line written to standard error as JSON: ${LOG_LEVELS.join(", ")} ("debug" adds every request)`;

export function parseLogLevel(value: string): LogLevel {
  if (!isLogLevel(value))
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not one of ${LOG_LEVELS.join(", ")}`,
    );
  return value;
}
