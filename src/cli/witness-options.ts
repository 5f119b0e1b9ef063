/**
 * The witness policy flags every command that takes `--key` shares:
 * `--witness <vkey>` (repeatable), `--witness-threshold <k>` (default: every
 * witness) and `--max-age <duration>` (default with witnesses: a day for
 * clients, an hour for mirrors and proxies, which many clients read through).
 * Each falls back to an environment variable, as `--key` falls back to
 * CAIRN_KEY, and then to what the local index remembered.
 */
import { type Command, InvalidArgumentError } from "commander";
import { parseCosignatureVerifierKey } from "../log/cosignature.ts";
import { type CosignatureReport, checkWitnessPolicy, type WitnessPolicy } from "../log/policy.ts";

export interface WitnessFlags {
  witness?: string[];
  witnessThreshold?: number;
  maxAge?: number;
}

/** Default maximum ages, in seconds. */
export const CLIENT_MAX_AGE = 24 * 3600;
export const SERVER_MAX_AGE = 3600;

const UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };

/** A duration such as `90s`, `30m`, `24h`, `7d`, or plain seconds. */
export function parseDuration(value: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(value);
  const seconds = match ? Number(match[1]) * UNITS[match[2]] : 0;
  if (seconds < 1)
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a duration (a whole number with s, m, h or d, at least 1 s)`,
    );
  return seconds;
}

function collectWitness(value: string, previous: readonly string[] = []): string[] {
  try {
    parseCosignatureVerifierKey(value);
  } catch (err) {
    throw new InvalidArgumentError(`--witness ${value}: ${(err as Error).message}`);
  }
  return [...previous, value];
}

function parseThreshold(value: string): number {
  if (!/^[1-9]\d{0,3}$/.test(value))
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a witness threshold (1 or more)`,
    );
  return Number(value);
}

/** Adds the three flags to `command`. */
export function witnessOptions(command: Command): Command {
  return command
    .option(
      "--witness <vkey>",
      "a witness's cosignature verifier key: checkpoints must be cosigned (repeatable; default: $CAIRN_WITNESSES)",
      collectWitness,
    )
    .option(
      "--witness-threshold <k>",
      "how many distinct witnesses must cosign (default: $CAIRN_WITNESS_THRESHOLD, or every --witness)",
      parseThreshold,
    )
    .option(
      "--max-age <duration>",
      "refuse a checkpoint whose cosignatures are older than this, e.g. 1h (default with witnesses: $CAIRN_MAX_AGE, or 24h for clients, 1h for mirrors and proxies)",
      parseDuration,
    );
}

/** The policy flags as the index remembers them (in its meta table), beside the key. */
export interface RememberedPolicy {
  witnesses?: string;
  threshold?: string;
  maxAge?: string;
}

/**
 * The witness policy of a command: the flags, else the environment, else
 * what the index remembered; undefined when no witness is named.
 * `defaultMaxAge` is the command's (clients: a day; mirrors and proxies: an hour).
 */
export function witnessPolicyOf(
  flags: WitnessFlags,
  defaultMaxAge: number,
  remembered: RememberedPolicy = {},
): WitnessPolicy | undefined {
  const env = process.env;
  const fromList = (list: string | undefined) =>
    (list ?? "").split(/[\s,]+/).filter((k) => k.length > 0);
  const keys =
    flags.witness ??
    (env.CAIRN_WITNESSES ? fromList(env.CAIRN_WITNESSES) : fromList(remembered.witnesses));
  const fallback = (name: string, value: string | undefined, parse: (v: string) => number) => {
    try {
      return value === undefined || value === "" ? undefined : parse(value);
    } catch (err) {
      throw new InvalidArgumentError(`${name}: ${(err as Error).message}`);
    }
  };
  const threshold =
    flags.witnessThreshold ??
    fallback("CAIRN_WITNESS_THRESHOLD", env.CAIRN_WITNESS_THRESHOLD, parseThreshold) ??
    fallback("the index's witness threshold", remembered.threshold, parseThreshold);
  const maxAge =
    flags.maxAge ??
    fallback("CAIRN_MAX_AGE", env.CAIRN_MAX_AGE, parseDuration) ??
    fallback("the index's maximum age", remembered.maxAge, parseDuration);
  if (keys.length === 0) {
    if (flags.witnessThreshold !== undefined || flags.maxAge !== undefined)
      throw new InvalidArgumentError(
        "--witness-threshold and --max-age need at least one --witness: a checkpoint has no time but its cosignatures'",
      );
    return undefined;
  }
  const witnesses = keys.map((key) => {
    try {
      return parseCosignatureVerifierKey(key);
    } catch (err) {
      throw new InvalidArgumentError(`witness key ${key}: ${(err as Error).message}`);
    }
  });
  const policy = {
    witnesses,
    threshold: threshold ?? new Set(keys).size,
    maxAgeSeconds: maxAge ?? defaultMaxAge,
  };
  try {
    checkWitnessPolicy(policy);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return policy;
}

/** The policy as the index's meta table keeps it (what `witnessPolicyOf` reads back). */
export function rememberedPolicyOf(flags: WitnessFlags): RememberedPolicy {
  const env = process.env;
  return {
    witnesses: flags.witness?.join(" ") ?? env.CAIRN_WITNESSES,
    threshold: flags.witnessThreshold?.toString() ?? env.CAIRN_WITNESS_THRESHOLD,
    maxAge: flags.maxAge?.toString() ?? env.CAIRN_MAX_AGE,
  };
}

const META = {
  witnesses: "index_witnesses",
  threshold: "index_witness_threshold",
  maxAge: "index_max_age",
};

/** What an index's meta table remembers of the policy it was synced with. */
export function readRememberedPolicy(meta: (key: string) => string | undefined): RememberedPolicy {
  return {
    witnesses: meta(META.witnesses),
    threshold: meta(META.threshold),
    maxAge: meta(META.maxAge),
  };
}

/**
 * Remembers the policy in an index's meta table, beside the key. New
 * witnesses replace the whole policy (a threshold or age left unsaid goes
 * back to its default); a threshold or age alone replaces only itself.
 */
export function rememberPolicy(
  setMeta: (key: string, value: string) => void,
  flags: WitnessFlags,
): void {
  const policy = rememberedPolicyOf(flags);
  const replaceAll = policy.witnesses !== undefined;
  for (const name of ["witnesses", "threshold", "maxAge"] as const) {
    const value = policy[name];
    if (value !== undefined || replaceAll) setMeta(META[name], value ?? "");
  }
}

/** One line of a report per cosignature: name, key ID, time, and whether it verified. */
export function formatCosignature(c: CosignatureReport): string {
  const id = `${c.name}+${c.keyId.toString(16).padStart(8, "0")}`;
  const time = c.timestamp === undefined ? "no time" : new Date(c.timestamp * 1000).toISOString();
  const status = {
    valid: "valid",
    future: "valid, dated in the future (not counted)",
    invalid: "INVALID",
    unknown: "unknown key (not checked)",
  }[c.status];
  return `cosigned by ${id}  ${time}  ${status}`;
}
