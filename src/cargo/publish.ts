/**
 * `cargo publish` as crates.io takes it, after the body's own checks
 * (rules/publish-body.ts) and the `.crate`'s (rules/crate-file.ts): the
 * checks against what the registry holds, then the version's projection
 * for the origin's neutral publish.
 *
 * - A name taken by a crate spelled otherwise (`Serde`, `ser-de` after
 *   `serde`) is refused naming that crate (crates.io: 400 to its owners,
 *   403 to others; here 409 "name-taken" to all, as the name is public).
 * - A version published before, also when only build metadata differs
 *   (`1.0.7+extra` after `1.0.7`), or withdrawn since: 409 "version-exists".
 * - Every dependency on this registry (no `registry`) must name a crate it
 *   holds, spelled as published (crates.io: "no known crate named").
 * - Only owners publish new versions (the origin checks, as for npm).
 *
 * The `.crate` is stored by its SHA-256, which is cargo's `cksum`.
 */

import type { PublishRequest, Registry } from "../origin/registry.ts";
import { canonicalJsonBytes } from "../registry/canonical-json.ts";
import { KeyedQueue } from "../util/keyed-queue.ts";
import { sha256Hex } from "../util/sha256.ts";
import { CargoApiError } from "./api-error.ts";
import { type CrateLimits, DEFAULT_CRATE_LIMITS, inspectCrate } from "./rules/crate-file.ts";
import { CARGO } from "./rules/ecosystem.ts";
import { keyName } from "./rules/name.ts";
import {
  type CratePublish,
  DEFAULT_PUBLISH_LIMITS,
  type PublishLimits,
  parsePublishBody,
} from "./rules/publish-body.ts";
import { sameIgnoringBuild } from "./rules/version.ts";

export interface CargoLimits {
  readonly publish: PublishLimits;
  readonly crate: CrateLimits;
}

export const DEFAULT_CARGO_LIMITS: CargoLimits = {
  publish: DEFAULT_PUBLISH_LIMITS,
  crate: DEFAULT_CRATE_LIMITS,
};

/** crates.io's limits with the `.crate` capped at `maxCrateBytes` instead of 10 MiB. */
export function cargoLimits(maxCrateBytes?: number): CargoLimits {
  if (maxCrateBytes === undefined) return DEFAULT_CARGO_LIMITS;
  return {
    publish: { ...DEFAULT_PUBLISH_LIMITS, maxCrateBytes },
    crate: { ...DEFAULT_CRATE_LIMITS, maxCompressedBytes: maxCrateBytes },
  };
}

/** The crate's name as first published, or undefined when the registry has no such crate. */
function publishedName(registry: Registry, name: string): string | undefined {
  const row = registry.state.table(CARGO).getPackage(keyName(name));
  return row && (row.spelling ?? row.name);
}

/** Parses, checks and publishes a `cargo publish` body as `actor`. */
export async function publishCrate(
  registry: Registry,
  actor: string,
  body: Uint8Array,
  limits: CargoLimits = DEFAULT_CARGO_LIMITS,
): Promise<CratePublish> {
  const crate = parsePublishBody(body, limits.publish);
  // All that the registry decides (spelling, version, dependencies, owners) is checked before
  // the .crate is unpacked, and again below, in order with the crate's other writes.
  checkAgainstRegistry(registry, crate);
  registry.assertMayPublish(actor, CARGO, crate.name, crate.version);
  await inspectCrate(crate.crate, crate, limits.crate);
  // One publish of a crate at a time: the checks against the registry see every earlier one
  // (`1.0.0` and `1.0.0+build`, or two spellings, sent at once would both pass them otherwise).
  return oneAtATime(registry, crate.name, () => publishChecked(registry, actor, crate));
}

async function publishChecked(
  registry: Registry,
  actor: string,
  crate: CratePublish,
): Promise<CratePublish> {
  checkAgainstRegistry(registry, crate);
  // Canonical, as every stored document is: a number cargo never sends is refused here.
  const metadata = canonicalJsonBytes(crate.metadata);
  const { description, keywords } = crate.description;
  const request: PublishRequest = {
    actor,
    ecosystem: CARGO,
    name: crate.name,
    version: crate.version,
    artifact: crate.crate,
    sha256: sha256Hex(crate.crate),
    metadata,
    resolution: crate.resolution as unknown as PublishRequest["resolution"],
    ...(description !== undefined ? { description } : {}),
    ...(keywords.length > 0 ? { keywords } : {}),
  };
  await registry.publish(request);
  return crate;
}

/** Each registry's queue of writes (publishes, yanks), by crate key. */
const queues = new WeakMap<Registry, KeyedQueue>();

/**
 * Runs `run` after every earlier write to the crate `name` (any spelling)
 * has finished, so a write's checks against the registry see them all.
 */
export function oneAtATime<T>(registry: Registry, name: string, run: () => Promise<T>): Promise<T> {
  let queue = queues.get(registry);
  if (!queue) {
    queue = new KeyedQueue();
    queues.set(registry, queue);
  }
  return queue.run(keyName(name), run);
}

function checkAgainstRegistry(registry: Registry, crate: CratePublish): void {
  const table = registry.state.table(CARGO);
  const existing = publishedName(registry, crate.name);
  if (existing !== undefined && existing !== crate.name)
    throw new CargoApiError(
      "name-taken",
      `crate was previously named \`${existing}\`: crate names are compared ignoring case and \`-\`/\`_\``,
    );
  const versions = existing === undefined ? [] : table.versions(keyName(crate.name));
  if (versions.some((row) => sameIgnoringBuild(row.version, crate.version)))
    throw new CargoApiError(
      "version-exists",
      `crate version \`${crate.version}\` is already uploaded`,
    );
  for (const dep of crate.resolution.deps) {
    if (dep.registry !== undefined) continue;
    const target = dep.package ?? dep.name;
    if (publishedName(registry, target) !== target)
      throw new CargoApiError("unknown-dependency", `no known crate named \`${target}\``);
  }
}
