/** Option parsers and defaults the subcommands share. */
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";

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
