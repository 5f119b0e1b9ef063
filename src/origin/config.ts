/**
 * Origin configuration: embedded defaults, overridden by a JSON config file,
 * overridden by command-line flags. Unknown keys and wrong types are errors,
 * so a typo never silently falls back to a default.
 */
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { parseCosignatureVerifierKey } from "../log/index.ts";
import { isShardCount } from "../registry/snapshot.ts";
import { DEFAULT_TARBALL_LIMITS, type TarballLimits } from "../registry/tarball-limits.ts";
import { DEFAULT_LOG_LEVEL, isLogLevel, LOG_LEVELS, type LogLevel } from "../util/log-level.ts";

export interface OriginConfig {
  /** Directory for the key, the static tree and the derived database. */
  readonly data: string;
  readonly host: string;
  readonly port: number;
  /** The log's origin line, used only when the key is first created. */
  readonly origin?: string;
  /** fsync before acknowledging writes; turn off only for throwaway registries. */
  readonly durable: boolean;
  /** Anyone may create an account with `npm adduser`; when off, `cairn user add` creates them. */
  readonly signup: boolean;
  /** Seconds between SQLite snapshots for new clients (0: only on SIGHUP). */
  readonly databaseInterval: number;
  /** Seconds between garbage collections of the static tree (0: never; `cairn gc` runs one). */
  readonly gcInterval?: number;
  /** Seconds between popularity sketches of downloads, for LAN peers (0: never). */
  readonly popularityInterval?: number;
  /** Intervals one popularity sketch sums (default 7). */
  readonly popularityWindow?: number;
  /** Downloads per window at which a version is popular; 0 (default): max(100, ⌈1e-4 · total⌉). */
  readonly popularityThreshold?: number;
  /** Shards of the snapshot map (a power of two); 0 chooses by the number of packages. */
  readonly snapshotShards: number;
  /** The least severe log lines written: "info" logs failures and warnings, "debug" every request. */
  readonly logLevel?: LogLevel;
  /** Where log lines go (standard error by default); not a config file setting. */
  readonly logStream?: NodeJS.WritableStream;
  /** The largest tarball a publish may carry, in bytes (default 100 MiB). */
  readonly maxTarballBytes?: number;
  /** The most a tarball may unpack to, in bytes (default 500 MiB). */
  readonly maxUnpackedBytes?: number;
  /** The most a tarball may inflate per compressed byte (default 100). */
  readonly maxCompressionRatio?: number;
  /**
   * Proxies whose X-Forwarded-For is believed, as a comma-separated list of
   * addresses, CIDR ranges or `loopback`, `linklocal`, `uniquelocal`; empty
   * (the default) trusts none, so limits apply to the connecting address.
   */
  readonly trustProxy?: string;
  /** Seconds over which each rate limit below is counted (a lockout lasts at most this long). */
  readonly rateLimitWindow?: number;
  /** Sign-ins (logins, sign-ups, token creation: each costs a password hash) per address per window. */
  readonly loginsPerAddress?: number;
  /** Failed sign-ins per user name per window; past it that name is locked until tokens return. */
  readonly loginFailuresPerUser?: number;
  /** Writes (publishes, tags, owners, deprecations, unpublishes) per address per window. */
  readonly writesPerAddress?: number;
  /** Writes per user per window. */
  readonly writesPerUser?: number;
  /** Password hashes computed at once, each in its own thread (about 32 MiB each while it runs). */
  readonly passwordHashers?: number;
  /** MiB per second the background scrub of the static tree may read; 0 turns it off. */
  readonly scrubRate?: number;
  /** Upstream registries this origin imports from, by name. */
  readonly uplinks?: Readonly<Record<string, UplinkSettings>>;
  /**
   * Where each package name comes from, the first matching pattern
   * (minimatch, as Verdaccio's `packages`) deciding: an uplink's name, or
   * null for names that only ever come from publishes here. Names no
   * pattern matches go to the first uplink (`**` decides otherwise).
   */
  readonly packages?: Readonly<Record<string, PackageSource>>;
  /** Witnesses each checkpoint is submitted to: their verifier keys (0x04) by submission URL. */
  readonly witnesses?: Readonly<Record<string, string>>;
  /** Cosignatures a new checkpoint waits for (default: every witness). */
  readonly witnessQuorum?: number;
  /** Seconds a new checkpoint waits for the quorum before it is published without it (default 2). */
  readonly witnessTimeout?: number;
  /** Seconds between re-cosignings of an idle log's checkpoint (default 900; 0: never). */
  readonly witnessRefresh?: number;
  /** Users who may take packages down and restore them (cairn takedown, PUT /-/cairn/takedown). */
  readonly moderators?: readonly string[];
}

export interface UplinkSettings {
  /** The registry's base URL. */
  readonly url: string;
  /** A bearer token the upstream wants; `tokenEnv` names an environment variable holding it instead. */
  readonly token?: string;
  readonly tokenEnv?: string;
  /** Seconds an imported packument is served before it is refreshed (in the background). */
  readonly maxAge?: number;
  /** Seconds without a byte from the upstream before a request is given up. */
  readonly timeout?: number;
  /** The largest packument and tarball taken from it, in bytes. */
  readonly maxPackumentBytes?: number;
  readonly maxTarballBytes?: number;
  /** A CouchDB-style change feed for following (the URL of its `_changes`). */
  readonly changes?: string;
  /** Packages imported eagerly and kept current; a path to a package.json or lockfile names a closure. */
  readonly follow?: readonly string[];
  /**
   * Import the dependencies of a package imported on request before anyone
   * asks for them (on unless false): a cold install then finds most of its
   * tree imported; the cost is upstream requests for dependencies of
   * latest versions that an install resolving older ones does not need.
   */
  readonly readAhead?: boolean;
}

export interface PackageSource {
  readonly uplink: string | null;
}

/** The settings above that have defaults of their own. */
export type OriginLimits = Required<Pick<OriginConfig, LimitKey>>;
type LimitKey =
  | "trustProxy"
  | "rateLimitWindow"
  | "loginsPerAddress"
  | "loginFailuresPerUser"
  | "writesPerAddress"
  | "writesPerUser"
  | "passwordHashers"
  | "scrubRate";

/**
 * In the spirit of Verdaccio's user rate limit (15 minutes) and of the
 * lockouts npm's registry applies: generous for people and CI, tight for
 * password guessing.
 */
export const DEFAULT_LIMITS: OriginLimits = {
  trustProxy: "",
  rateLimitWindow: 900,
  loginsPerAddress: 60,
  loginFailuresPerUser: 10,
  writesPerAddress: 1000,
  writesPerUser: 1000,
  passwordHashers: 1,
  scrubRate: 16,
};

/** The limits of `config`, defaults filled in. */
export function limitsOf(config: OriginConfig): OriginLimits {
  const limits: Record<string, unknown> = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as LimitKey[]) {
    if (config[key] !== undefined) limits[key] = config[key];
  }
  return limits as OriginLimits;
}

export const DEFAULT_CONFIG: OriginConfig = {
  data: "./cairn-data",
  host: "127.0.0.1",
  port: 4873,
  durable: true,
  signup: true,
  databaseInterval: 3600,
  gcInterval: 3600,
  popularityInterval: 86400,
  popularityWindow: 7,
  popularityThreshold: 0,
  snapshotShards: 0,
  logLevel: DEFAULT_LOG_LEVEL,
  maxTarballBytes: DEFAULT_TARBALL_LIMITS.maxCompressedBytes,
  maxUnpackedBytes: DEFAULT_TARBALL_LIMITS.maxUnpackedBytes,
  maxCompressionRatio: DEFAULT_TARBALL_LIMITS.maxRatio,
  ...DEFAULT_LIMITS,
};

const TYPES: Record<
  Exclude<keyof OriginConfig, "logStream">,
  "string" | "number" | "boolean" | "object" | "list"
> = {
  data: "string",
  host: "string",
  port: "number",
  origin: "string",
  durable: "boolean",
  signup: "boolean",
  databaseInterval: "number",
  gcInterval: "number",
  popularityInterval: "number",
  popularityWindow: "number",
  popularityThreshold: "number",
  snapshotShards: "number",
  logLevel: "string",
  maxTarballBytes: "number",
  maxUnpackedBytes: "number",
  maxCompressionRatio: "number",
  trustProxy: "string",
  rateLimitWindow: "number",
  loginsPerAddress: "number",
  loginFailuresPerUser: "number",
  writesPerAddress: "number",
  writesPerUser: "number",
  passwordHashers: "number",
  scrubRate: "number",
  uplinks: "object",
  packages: "object",
  witnesses: "object",
  witnessQuorum: "number",
  witnessTimeout: "number",
  witnessRefresh: "number",
  moderators: "list",
};

const PROXY_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

function checkLimits(values: Record<string, unknown>, where: string): void {
  for (const key of [
    "loginsPerAddress",
    "loginFailuresPerUser",
    "writesPerAddress",
    "writesPerUser",
  ]) {
    const n = values[key];
    if (n !== undefined && (!Number.isInteger(n) || (n as number) < 0)) {
      throw new ConfigError(`${where}: ${key} must be a whole number (0 turns the limit off)`);
    }
  }
  for (const key of ["rateLimitWindow", "passwordHashers"]) {
    const n = values[key];
    if (n !== undefined && (!Number.isInteger(n) || (n as number) < 1)) {
      throw new ConfigError(`${where}: ${key} must be a whole number of at least 1`);
    }
  }
  const rate = values.scrubRate;
  if (rate !== undefined && (!Number.isFinite(rate) || (rate as number) < 0)) {
    throw new ConfigError(`${where}: scrubRate must be a number of MiB per second, 0 for off`);
  }
  const proxies = values.trustProxy as string | undefined;
  for (const part of proxies ? proxies.split(",") : []) {
    const [address, bits, ...rest] = part.trim().split("/");
    const family = isIP(address);
    const okBits =
      bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!PROXY_NAMES.has(part.trim()) && (family === 0 || !okBits || rest.length > 0)) {
      throw new ConfigError(
        `${where}: trustProxy: ${JSON.stringify(part)} is not an address, a CIDR range or loopback/linklocal/uniquelocal`,
      );
    }
  }
}

/** An uplink's name: it appears in log entries and headers. */
const UPLINK_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const UPLINK_FIELDS: Record<keyof UplinkSettings, "string" | "number" | "boolean" | "list"> = {
  url: "string",
  token: "string",
  tokenEnv: "string",
  maxAge: "number",
  timeout: "number",
  maxPackumentBytes: "number",
  maxTarballBytes: "number",
  changes: "string",
  follow: "list",
  readAhead: "boolean",
};

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function checkUplinks(uplinks: Record<string, unknown>, where: string): void {
  for (const [name, settings] of Object.entries(uplinks)) {
    const at = `${where}: uplinks.${name}`;
    if (!UPLINK_NAME.test(name))
      throw new ConfigError(
        `${at}: an uplink's name is 1-64 lowercase letters, digits, ".", "_", "-"`,
      );
    if (typeof settings !== "object" || settings === null || Array.isArray(settings))
      throw new ConfigError(`${at} must be an object`);
    for (const [key, value] of Object.entries(settings)) {
      const type = UPLINK_FIELDS[key as keyof UplinkSettings];
      if (!type) throw new ConfigError(`${at}: unknown setting ${JSON.stringify(key)}`);
      const ok =
        type === "list"
          ? Array.isArray(value) && value.every((v) => typeof v === "string" && v !== "")
          : typeof value === type;
      if (!ok)
        throw new ConfigError(
          `${at}.${key} must be a ${type === "list" ? "list of strings" : type}`,
        );
    }
    const s = settings as Partial<UplinkSettings>;
    if (typeof s.url !== "string" || !isHttpUrl(s.url))
      throw new ConfigError(`${at}.url must be an http or https URL`);
    if (s.changes !== undefined && !isHttpUrl(s.changes))
      throw new ConfigError(`${at}.changes must be an http or https URL`);
    for (const key of ["maxPackumentBytes", "maxTarballBytes"] as const) {
      const n = s[key];
      if (n !== undefined && (!Number.isSafeInteger(n) || n < 1))
        throw new ConfigError(`${at}.${key} must be a positive whole number of bytes`);
    }
    for (const key of ["maxAge", "timeout"] as const) {
      const n = s[key];
      if (n !== undefined && (!Number.isFinite(n) || n <= 0 || n > 86_400 * 365))
        throw new ConfigError(`${at}.${key} must be a positive number of seconds`);
    }
  }
}

function checkWitnesses(values: Record<string, unknown>, where: string): void {
  const witnesses = (values.witnesses ?? {}) as Record<string, unknown>;
  for (const [url, key] of Object.entries(witnesses)) {
    if (!isHttpUrl(url)) throw new ConfigError(`${where}: witnesses: ${url} is not an http(s) URL`);
    try {
      parseCosignatureVerifierKey(key as string);
    } catch (err) {
      throw new ConfigError(`${where}: witnesses[${url}]: ${(err as Error).message}`);
    }
  }
  const quorum = values.witnessQuorum as number | undefined;
  if (quorum !== undefined && (!Number.isSafeInteger(quorum) || quorum < 0))
    throw new ConfigError(`${where}: witnessQuorum must be a whole number`);
  for (const key of ["witnessTimeout", "witnessRefresh"]) {
    const n = values[key] as number | undefined;
    // A publish always waits a little for its cosignatures; a refresh of 0 turns re-cosigning off.
    const tooSmall =
      key === "witnessTimeout" ? n !== undefined && n <= 0 : n !== undefined && n < 0;
    if (n !== undefined && (!Number.isFinite(n) || tooSmall || n > 86_400 * 365))
      throw new ConfigError(`${where}: ${key} must be a number of seconds`);
  }
}

function checkPackages(packages: Record<string, unknown>, where: string): void {
  for (const [pattern, source] of Object.entries(packages)) {
    const at = `${where}: packages[${JSON.stringify(pattern)}]`;
    const uplink = (source as { uplink?: unknown } | null)?.uplink;
    if (
      typeof source !== "object" ||
      source === null ||
      Object.keys(source).join() !== "uplink" ||
      (uplink !== null && typeof uplink !== "string")
    )
      throw new ConfigError(`${at} must be {"uplink": "<name>"} or {"uplink": null}`);
    if (pattern === "" || pattern.length > 256) throw new ConfigError(`${at}: empty or too long`);
  }
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function checkConfig(values: Record<string, unknown>, where: string): Partial<OriginConfig> {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const type = TYPES[key as keyof typeof TYPES];
    if (!type) throw new ConfigError(`${where}: unknown setting ${JSON.stringify(key)}`);
    if (type === "list") {
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v === ""))
        throw new ConfigError(`${where}: ${key} must be a list of names`);
      continue;
    }
    if (typeof value !== type || (type === "object" && (value === null || Array.isArray(value))))
      throw new ConfigError(
        `${where}: ${key} must be ${type === "object" ? "an object" : `a ${type}`}`,
      );
  }
  if (values.uplinks !== undefined) checkUplinks(values.uplinks as Record<string, unknown>, where);
  if (values.packages !== undefined)
    checkPackages(values.packages as Record<string, unknown>, where);
  checkWitnesses(values, where);
  const port = values.port as number | undefined;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new ConfigError(`${where}: port must be an integer from 0 to 65535`);
  }
  for (const key of [
    "databaseInterval",
    "gcInterval",
    "popularityInterval",
    "popularityThreshold",
  ]) {
    const value = values[key] as number | undefined;
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
      throw new ConfigError(`${where}: ${key} must be a whole number`);
  }
  const window = values.popularityWindow as number | undefined;
  if (window !== undefined && (!Number.isSafeInteger(window) || window < 1 || window > 366))
    throw new ConfigError(`${where}: popularityWindow must be a whole number from 1 to 366`);
  if (values.logLevel !== undefined && !isLogLevel(values.logLevel)) {
    throw new ConfigError(`${where}: logLevel must be one of ${LOG_LEVELS.join(", ")}`);
  }
  const shards = values.snapshotShards as number | undefined;
  if (shards !== undefined && shards !== 0 && !isShardCount(shards)) {
    throw new ConfigError(`${where}: snapshotShards must be 0 or a power of two up to 65536`);
  }
  for (const key of ["maxTarballBytes", "maxUnpackedBytes", "maxCompressionRatio"] as const) {
    const limit = values[key] as number | undefined;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1))
      throw new ConfigError(`${where}: ${key} must be a positive whole number`);
  }
  checkLimits(values, where);
  return values as Partial<OriginConfig>;
}

/**
 * Resolves the configuration: `configFile` if given (it must exist), else
 * `<data>/config.json` if present; then the flags on top.
 */
export async function loadConfig(
  flags: Partial<OriginConfig>,
  configFile?: string,
): Promise<OriginConfig> {
  const checkedFlags = checkConfig(withoutUndefined(flags), "flags");
  const dataDir = checkedFlags.data ?? DEFAULT_CONFIG.data;
  const path = configFile ?? join(dataDir, "config.json");
  let fromFile: Partial<OriginConfig> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`${path}: must hold a JSON object`);
    }
    fromFile = checkConfig(parsed as Record<string, unknown>, path);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    if (!missing || configFile !== undefined) {
      if (err instanceof SyntaxError) throw new ConfigError(`${path}: ${err.message}`);
      throw err;
    }
  }
  const merged = { ...DEFAULT_CONFIG, ...fromFile, ...checkedFlags };
  // Uplinks named by flag join those of the file. Patterns given by flag come first, so
  // `--local '@corp/*'` keeps that scope local even when the file routes `**` upstream.
  const uplinks = { ...fromFile.uplinks, ...checkedFlags.uplinks };
  const packages = Object.fromEntries([
    ...Object.entries(checkedFlags.packages ?? {}),
    ...Object.entries(fromFile.packages ?? {}).filter(
      ([pattern]) => !Object.hasOwn(checkedFlags.packages ?? {}, pattern),
    ),
  ]);
  checkRoutes(uplinks, packages);
  const witnesses = { ...fromFile.witnesses, ...checkedFlags.witnesses };
  if ((merged.witnessQuorum ?? 0) > Object.keys(witnesses).length)
    throw new ConfigError(
      `witnessQuorum ${merged.witnessQuorum} is more than the ${Object.keys(witnesses).length} witnesses`,
    );
  return {
    ...merged,
    data: resolve(merged.data),
    ...(Object.keys(uplinks).length > 0 ? { uplinks } : {}),
    ...(Object.keys(packages).length > 0 ? { packages } : {}),
    ...(Object.keys(witnesses).length > 0 ? { witnesses } : {}),
  };
}

/** Every pattern names a configured uplink (or none). */
function checkRoutes(
  uplinks: Readonly<Record<string, UplinkSettings>>,
  packages: Readonly<Record<string, PackageSource>>,
): void {
  for (const [pattern, { uplink }] of Object.entries(packages)) {
    if (uplink !== null && !Object.hasOwn(uplinks, uplink))
      throw new ConfigError(`packages[${JSON.stringify(pattern)}]: no uplink is named ${uplink}`);
  }
}

function withoutUndefined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

/** The caps on a published tarball this configuration sets. */
export function tarballLimits(config: OriginConfig): TarballLimits {
  return {
    ...DEFAULT_TARBALL_LIMITS,
    maxCompressedBytes: config.maxTarballBytes ?? DEFAULT_TARBALL_LIMITS.maxCompressedBytes,
    maxUnpackedBytes: config.maxUnpackedBytes ?? DEFAULT_TARBALL_LIMITS.maxUnpackedBytes,
    maxRatio: config.maxCompressionRatio ?? DEFAULT_TARBALL_LIMITS.maxRatio,
  };
}
