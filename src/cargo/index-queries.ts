/**
 * Offline questions about crates to the local index (`cairn show` and
 * `cairn resolve` with `--ecosystem cargo`): cargo's requirement syntax
 * picks a version, and a Cargo.toml resolves with cargo's rules over
 * every crate the index holds, as `cargo generate-lockfile` would from the
 * registry the index follows.
 */

import { parse } from "smol-toml";
import type { PackageDocument, VersionDocument } from "../registry/package-document.ts";
import type { RegistryState } from "../registry/state.ts";
import { isWithdrawn } from "../registry/takedown.ts";
import { currentVersion } from "./rules/current.ts";
import { CARGO } from "./rules/ecosystem.ts";
import { CargoError } from "./rules/errors.ts";
import type { CrateResolution, IndexDependency } from "./rules/index-line.ts";
import { checkCrateName, keyName } from "./rules/name.ts";
import {
  type CrateLookup,
  type PackageRef,
  type RegistryVersion,
  type RootCrate,
  resolveCrates,
} from "./rules/resolve.ts";
import { compareVersionStrings, isVersion, parseVersion } from "./rules/version.ts";
import { matchesReq, parseVersionReq } from "./rules/version-req.ts";

export interface ShownCrate {
  readonly document: PackageDocument;
  readonly version: string;
  readonly detail: VersionDocument;
}

function crateDocument(state: RegistryState, name: string): PackageDocument {
  checkCrateName(name);
  const document = state.table(CARGO).document(keyName(name));
  if (!document) throw new CargoError("no-such-crate", `crate \`${name}\` is not in the index`);
  return document;
}

const usable = (v: VersionDocument) => !isWithdrawn(v) && v.yanked === undefined;

/**
 * The version of crate `name` that `req` picks as cargo would (the highest
 * match neither yanked nor taken down); the current version when `req` is
 * absent. An exact version is shown whatever became of it.
 */
export function showCrate(state: RegistryState, name: string, req?: string): ShownCrate {
  const document = crateDocument(state, name);
  const at = (version: string) => ({ document, version, detail: document.versions[version] });
  if (req !== undefined && Object.hasOwn(document.versions, req)) return at(req);
  if (document.unpublished !== undefined)
    throw new CargoError(
      "no-such-crate",
      `${document.name} was taken down on ${document.unpublished}`,
    );
  if (req === undefined) {
    const current = currentVersion(document);
    if (current === undefined)
      throw new CargoError(
        "no-matching-version",
        `every version of ${document.name} is yanked: name one exactly`,
      );
    return at(current);
  }
  const parsed = parseVersionReq(req);
  let best: string | undefined;
  for (const [version, v] of Object.entries(document.versions))
    if (
      usable(v) &&
      matchesReq(parsed, parseVersion(version)) &&
      (best === undefined || compareVersionStrings(version, best) > 0)
    )
      best = version;
  if (best === undefined)
    throw new CargoError(
      "no-matching-version",
      `no version of ${document.name} that is not yanked matches \`${req}\``,
    );
  return at(best);
}

/** The resolver's view of the index: every version not taken down, yanked ones marked. */
export function crateLookup(state: RegistryState): CrateLookup {
  const table = state.table(CARGO);
  const cache = new Map<string, readonly RegistryVersion[]>();
  return (key) => {
    let found = cache.get(key);
    if (found === undefined) {
      const doc = table.document(key);
      found =
        doc === undefined || isWithdrawn(doc)
          ? []
          : Object.entries(doc.versions)
              .filter(([, v]) => !isWithdrawn(v))
              .map(([version, v]) => ({
                name: doc.name,
                version,
                resolution: v.resolution as unknown as CrateResolution,
                yanked: v.yanked !== undefined,
              }));
      cache.set(key, found);
    }
    return found;
  };
}

/** The registry packages a Cargo.lock pins (those with a `source`; path and root ones have none). */
export function lockedOf(lockText: string): PackageRef[] {
  let lock: Record<string, unknown>;
  try {
    lock = parse(lockText) as Record<string, unknown>;
  } catch (err) {
    throw new CargoError(
      "bad-manifest",
      `Cargo.lock is not valid TOML: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const packages = Array.isArray(lock.package) ? lock.package : [];
  const locked: PackageRef[] = [];
  for (const p of packages as Record<string, unknown>[]) {
    const { name, version, source } = p;
    if (typeof name !== "string" || typeof version !== "string" || !isVersion(version))
      throw new CargoError("bad-manifest", "a Cargo.lock package needs a name and a version");
    if (typeof source === "string" && /^(registry|sparse)\+/.test(source))
      locked.push({ name, version });
  }
  return locked;
}

/** A root asking for `name@req` crates as normal dependencies (`*` without a requirement). */
export function rootOfRequests(requests: readonly string[]): RootCrate {
  const deps: IndexDependency[] = requests.map((request) => {
    const at = request.indexOf("@");
    const name = at < 0 ? request : request.slice(0, at);
    const req = at < 0 ? "*" : request.slice(at + 1);
    checkCrateName(name, "dependency");
    parseVersionReq(req);
    return {
      name,
      req,
      features: [],
      optional: false,
      default_features: true,
      target: null,
      kind: "normal",
    };
  });
  deps.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { name: "cairn-resolve", version: "0.0.0", resolution: { deps, features: {} } };
}

export interface LockedCrate {
  readonly name: string;
  readonly version: string;
  /** The `.crate`'s SHA-256; absent for the root. */
  readonly checksum?: string;
  /** Pinned by the Cargo.lock though yanked. */
  readonly yanked?: true;
  readonly dependencies: readonly PackageRef[];
}

/**
 * `root` resolved with cargo's rules over the index, `locked` versions
 * preferred and usable though yanked: every package as Cargo.lock lists
 * it, sorted by name then version, registry ones with their checksum.
 */
export function resolveRoot(
  state: RegistryState,
  root: RootCrate,
  locked: readonly PackageRef[] = [],
): LockedCrate[] {
  const resolved = resolveCrates(root, crateLookup(state), { locked });
  const table = state.table(CARGO);
  const packages = resolved.map((pkg, i): LockedCrate => {
    if (i === 0) return { ...pkg };
    const detail = table.document(keyName(pkg.name))?.versions[pkg.version];
    const checksum = detail && "artifact" in detail ? detail.artifact?.sha256 : undefined;
    return {
      ...pkg,
      ...(checksum !== undefined ? { checksum } : {}),
      ...(detail?.yanked !== undefined ? { yanked: true as const } : {}),
    };
  });
  return packages.sort(
    (a, b) =>
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
      compareVersionStrings(a.version, b.version),
  );
}
