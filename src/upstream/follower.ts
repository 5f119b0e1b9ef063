/**
 * Following: packages imported eagerly and kept current, so that the
 * origin (and every mirror of it) holds them before anyone asks, as a
 * mirror cluster must. What to follow is a list of specs:
 *
 *   express              the package, and the closure of its latest version
 *   express@^4.18.0      the closure of the highest version in the range
 *   ./package.json       the closure of its dependencies (dev and optional too)
 *   ./package-lock.json  exactly the versions it pins (npm's lockfile v2/v3)
 *
 * A closure walks dependencies, optionalDependencies and peerDependencies
 * from the imported entries, picking what a fresh install picks (the
 * highest version a range allows), and fetches each tarball. After the
 * first sync the follower re-syncs on each change the uplink's change feed
 * reports for a followed package, or, without a feed, every max age.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import semver from "semver";
import {
  DEPENDENCY_FIELDS,
  type DependencyRoot,
  parseSpec,
  registryDependencies,
} from "../npm/rules/dependencies.ts";
import type { Registry } from "../origin/registry.ts";
import type { VersionEntry } from "../registry/entries.ts";
import { readChanges } from "./changes.ts";
import { isObject } from "./import-plan.ts";
import type { UplinkImporter } from "./importer.ts";
import type { UplinkSource } from "./routes.ts";

/** A package to hold: a version range or tag, or one exact version (from a lockfile). */
export type FollowRoot = DependencyRoot;

export interface SyncReport {
  /** Packages whose packuments were refreshed. */
  readonly packages: number;
  /** Versions whose tarballs the origin now holds. */
  readonly versions: number;
  /** What could not be had, and why. */
  readonly missing: readonly string[];
}

/** The shortest time between two polls of a change feed that reported nothing. */
const MIN_POLL_MS = 1000;
/** Tarballs fetched at once during a sync. */
const SYNC_CONCURRENCY = 8;

/** The roots a package.json or lockfile names. */
export async function rootsOfFile(path: string): Promise<FollowRoot[]> {
  const json: unknown = JSON.parse(await readFile(path, "utf8"));
  if (!isObject(json)) throw new Error(`${path} does not hold a JSON object`);
  const file = basename(path);
  if (file === "package-lock.json" || file === "npm-shrinkwrap.json") {
    const roots: FollowRoot[] = [];
    if (!isObject(json.packages))
      throw new Error(`${path} is not an npm lockfile of version 2 or 3`);
    for (const [where, entry] of Object.entries(json.packages)) {
      if (where === "" || !isObject(entry) || entry.link === true) continue;
      if (typeof entry.version !== "string" || semver.valid(entry.version) === null) continue;
      const name =
        typeof entry.name === "string"
          ? entry.name
          : where.slice(where.lastIndexOf("node_modules/") + "node_modules/".length);
      roots.push({ name, range: entry.version });
    }
    return roots;
  }
  return registryDependencies(json, [...DEPENDENCY_FIELDS, "devDependencies"]);
}

/** The roots of every spec: names and ranges as they are, files read. */
export async function rootsOf(specs: readonly string[]): Promise<FollowRoot[]> {
  const roots: FollowRoot[] = [];
  for (const spec of specs) {
    if (spec.endsWith(".json")) roots.push(...(await rootsOfFile(spec)));
    else roots.push(parseSpec(spec));
  }
  return roots;
}

export class Follower {
  readonly #registry: Registry;
  readonly #importer: UplinkImporter;
  readonly #uplink: UplinkSource;
  readonly #specs: readonly string[];
  /** Names the last sync reached: the feed's changes to these trigger a sync. */
  #followed = new Set<string>();
  #stopped = false;
  #waiting: ((report: SyncReport) => void)[] = [];
  #loop: Promise<void> | undefined;
  readonly #abort = new AbortController();

  constructor(
    registry: Registry,
    importer: UplinkImporter,
    uplink: UplinkSource,
    specs: readonly string[],
  ) {
    this.#registry = registry;
    this.#importer = importer;
    this.#uplink = uplink;
    this.#specs = specs;
  }

  /** Imports every followed package and closure now; resolves with what it holds. */
  async sync(): Promise<SyncReport> {
    const roots = await rootsOf(this.#specs);
    const refreshed = new Map<string, Promise<void>>();
    const reached = new Set<string>();
    const missing: string[] = [];
    const held = new Set<string>();
    const queue: FollowRoot[] = [...roots];
    const refresh = (name: string) => {
      let done = refreshed.get(name);
      if (!done) {
        done = this.#importer.refresh(name);
        refreshed.set(name, done);
      }
      return done;
    };
    const visit = async ({ name, range }: FollowRoot) => {
      try {
        await refresh(name);
      } catch (err) {
        missing.push(`${name}: ${(err as Error).message}`);
        return;
      }
      reached.add(name);
      const entry = this.#pick(name, range);
      if (!entry) {
        missing.push(`${name}@${range}: no such version`);
        return;
      }
      const id = `${name}@${entry.version}`;
      if (held.has(id)) return;
      held.add(id);
      try {
        // A package published here holds its tarballs already.
        if (entry.kind === "import") await this.#importer.fetchArtifact(entry);
      } catch (err) {
        missing.push(`${id}: ${(err as Error).message}`);
        return;
      }
      queue.push(...registryDependencies(entry.resolution));
    };
    const worker = async () => {
      for (let next = queue.shift(); next && !this.#stopped; next = queue.shift())
        await visit(next);
    };
    // Workers end when the queue runs dry; a visit may refill it, so go again until it stays empty.
    while (queue.length > 0 && !this.#stopped)
      await Promise.all(Array.from({ length: SYNC_CONCURRENCY }, worker));
    this.#followed = reached;
    return { packages: refreshed.size, versions: held.size, missing };
  }

  /** The version a fresh install would take for `range`, among the live versions. */
  #pick(name: string, range: string): VersionEntry | undefined {
    const rows = this.#registry.state
      .table("npm")
      .versions(name)
      .filter((r) => r.unpublished === null && r.takenDown === undefined);
    const tagged = this.#registry.state.table("npm").distTags(name)[range];
    const version =
      tagged ??
      semver.maxSatisfying(
        rows.map((r) => r.version),
        range,
      ) ??
      undefined;
    return rows.find((r) => r.version === version)?.entry;
  }

  /** The name of the uplink followed. */
  get uplink(): string {
    return this.#uplink.name;
  }

  /** Resolves with the report of the next background sync to finish. */
  nextSync(): Promise<SyncReport> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Syncs now, then again on every relevant change (or every max age without a feed). */
  start(onSync?: (report: SyncReport) => void): void {
    this.#loop ??= (async () => {
      let since: string | undefined;
      while (!this.#stopped) {
        const report = await this.sync().catch(() => undefined);
        if (report) {
          onSync?.(report);
          for (const resolve of this.#waiting.splice(0)) resolve(report);
        }
        since = await this.#waitForChange(since);
      }
    })();
  }

  /** Waits for the feed to report a followed package (or for max age); returns the feed position. */
  async #waitForChange(since: string | undefined): Promise<string | undefined> {
    const feed = this.#uplink.changes;
    if (feed === undefined) {
      await sleep(this.#uplink.maxAgeMs, this.#abort.signal);
      return undefined;
    }
    let position = since ?? "now";
    while (!this.#stopped) {
      const polled = performance.now();
      try {
        const { changed, last } = await readChanges(
          this.#uplink,
          feed,
          position,
          this.#abort.signal,
        );
        position = last;
        if (changed.some((name) => this.#followed.has(name))) return position;
        // A feed that ignores long polling answers at once: ask it at most once a second.
        const quick = MIN_POLL_MS - (performance.now() - polled);
        if (changed.length === 0 && quick > 0) await sleep(quick, this.#abort.signal);
      } catch {
        // An unreachable feed is polled again after max age, as if there were none.
        await sleep(this.#uplink.maxAgeMs, this.#abort.signal);
        return position;
      }
    }
    return position;
  }

  /** Stops following: a wait or a long poll of the feed ends at once, a sync after its current fetches. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await this.#loop;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}
