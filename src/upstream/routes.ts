/**
 * Which source each package name comes from: the first of the configured
 * patterns (minimatch, as Verdaccio's `packages` section) that matches
 * decides, naming an uplink or none. Each name routes to exactly one
 * source, so an uplink is never asked for a name that a pattern keeps
 * local, and a name published here never reaches any uplink (the
 * importer checks that against the state).
 */
import { minimatch } from "minimatch";
import type { OriginConfig, UplinkSettings } from "../origin/config.ts";
import { UPLINK_DEFAULTS, type Uplink } from "./uplink.ts";

/** Seconds an imported packument is served before a background refresh (Verdaccio's `maxage`). */
export const DEFAULT_MAX_AGE_SECONDS = 120;

/** An uplink with what the importer needs beyond the exchange bounds. */
export interface UplinkSource extends Uplink {
  /** Milliseconds an imported packument is served before it is refreshed in the background. */
  readonly maxAgeMs: number;
  readonly changes?: string;
  readonly follow: readonly string[];
  /** Imports the dependencies of a package imported on request ahead of their requests. */
  readonly readAhead: boolean;
}

function sourceOf(name: string, settings: UplinkSettings, env: NodeJS.ProcessEnv): UplinkSource {
  const token = settings.token ?? (settings.tokenEnv ? env[settings.tokenEnv] : undefined);
  return {
    ...UPLINK_DEFAULTS,
    name,
    url: settings.url.endsWith("/") ? settings.url : `${settings.url}/`,
    ...(token ? { token } : {}),
    ...(settings.timeout !== undefined ? { timeoutMs: settings.timeout * 1000 } : {}),
    ...(settings.maxPackumentBytes !== undefined
      ? { maxPackumentBytes: settings.maxPackumentBytes }
      : {}),
    ...(settings.maxTarballBytes !== undefined
      ? { maxTarballBytes: settings.maxTarballBytes }
      : {}),
    maxAgeMs: (settings.maxAge ?? DEFAULT_MAX_AGE_SECONDS) * 1000,
    ...(settings.changes !== undefined ? { changes: settings.changes } : {}),
    follow: settings.follow ?? [],
    readAhead: settings.readAhead ?? true,
  };
}

export class UplinkRoutes {
  readonly #uplinks: ReadonlyMap<string, UplinkSource>;
  readonly #patterns: readonly { readonly pattern: string; readonly uplink: string | null }[];

  private constructor(
    uplinks: ReadonlyMap<string, UplinkSource>,
    patterns: readonly { pattern: string; uplink: string | null }[],
  ) {
    this.#uplinks = uplinks;
    this.#patterns = patterns;
  }

  /** The routes a configuration sets; undefined when it names no uplink. */
  static fromConfig(config: OriginConfig, env = process.env): UplinkRoutes | undefined {
    const entries = Object.entries(config.uplinks ?? {});
    if (entries.length === 0) return undefined;
    const uplinks = new Map(entries.map(([name, s]) => [name, sourceOf(name, s, env)]));
    // Names no pattern claims go to the first uplink; `"**": {"uplink": null}` keeps them local.
    const packages = { ...config.packages };
    if (!Object.hasOwn(packages, "**")) packages["**"] = { uplink: entries[0][0] };
    const patterns = Object.entries(packages).map(([pattern, { uplink }]) => ({ pattern, uplink }));
    return new UplinkRoutes(uplinks, patterns);
  }

  /** The uplink a name not published here comes from, if any. */
  route(name: string): UplinkSource | undefined {
    for (const { pattern, uplink } of this.#patterns) {
      if (minimatch(name, pattern, { dot: true }))
        return uplink === null ? undefined : this.#uplinks.get(uplink);
    }
    return undefined;
  }

  /** An uplink by its configured name. */
  uplink(name: string): UplinkSource | undefined {
    return this.#uplinks.get(name);
  }

  get uplinks(): readonly UplinkSource[] {
    return [...this.#uplinks.values()];
  }
}
