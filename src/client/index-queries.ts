/**
 * Offline questions to the local index: list, show and resolve, all from
 * SQLite on this machine, in milliseconds.
 */
import type { PackageDocument, VersionDocument } from "../registry/package-document.ts";
import type { RegistryState } from "../registry/state.ts";
import {
  type PackageLookup,
  pickVersion,
  type ResolvablePackage,
  type ResolvableVersion,
} from "./resolve.ts";

export interface PackageSummary {
  readonly name: string;
  readonly latest: string | undefined;
  readonly versions: number;
  readonly modified: string;
}

export interface ListFilter {
  /** Only names starting with this (e.g. a scope, `@babel/`). */
  readonly prefix?: string;
  /** Only names containing this. */
  readonly contains?: string;
  readonly limit?: number;
  /** Include packages whose every version is unpublished. */
  readonly all?: boolean;
}

/** Every package, in name order (bytewise), filtered. */
export function listPackages(state: RegistryState, filter: ListFilter = {}): PackageSummary[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (filter.prefix) {
    // A range on the primary key, not LIKE: names may hold % and _.
    where.push("p.name >= ? AND p.name < ?");
    args.push(filter.prefix, `${filter.prefix}\u{10ffff}`);
  }
  if (filter.contains) {
    where.push("instr(p.name, ?) > 0");
    args.push(filter.contains);
  }
  if (!filter.all) where.push("p.unpublished IS NULL");
  const sql = `SELECT p.name AS name, p.modified AS modified,
      (SELECT version FROM dist_tags t WHERE t.name = p.name AND t.tag = 'latest') AS latest,
      (SELECT count(*) FROM versions v WHERE v.name = p.name AND v.unpublished IS NULL) AS versions
    FROM packages p ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY p.name LIMIT ?`;
  args.push(filter.limit ?? -1);
  const rows = state.db.prepare(sql).all(...args) as {
    name: string;
    modified: string;
    latest: string | null;
    versions: number;
  }[];
  return rows.map((r) => ({ ...r, latest: r.latest ?? undefined }));
}

/** A version as the resolver sees it; its entry is read only if the resolver picks it. */
class IndexVersion implements ResolvableVersion {
  readonly #state: RegistryState;
  readonly #name: string;
  readonly version: string;
  readonly deprecated: string | null;
  #resolution: Record<string, unknown> | undefined;

  constructor(state: RegistryState, name: string, version: string, deprecated: string | null) {
    this.#state = state;
    this.#name = name;
    this.version = version;
    this.deprecated = deprecated;
  }

  get resolution(): Record<string, unknown> {
    this.#resolution ??= this.#state.resolution(this.#name, this.version) ?? {};
    return this.#resolution;
  }
}

/** The resolver's view of the index: live versions, tags and deprecations. */
export function indexLookup(state: RegistryState): PackageLookup {
  const cache = new Map<string, ResolvablePackage | undefined>();
  return (name) => {
    if (cache.has(name)) return cache.get(name);
    const pickable = state.pickable(name);
    const found: ResolvablePackage | undefined = pickable && {
      name,
      distTags: pickable.distTags,
      versions: pickable.versions.map(
        (v) => new IndexVersion(state, name, v.version, v.deprecated),
      ),
    };
    cache.set(name, found);
    return found;
  };
}

export interface ShownVersion {
  readonly document: PackageDocument;
  readonly version: string;
  readonly detail: VersionDocument;
}

/**
 * The version `spec` picks (a range, tag or exact version; `latest` when
 * absent), with npm's rules; unpublished versions can be shown by exact
 * version. Throws with the reason when there is none.
 */
export function showVersion(state: RegistryState, name: string, spec = "latest"): ShownVersion {
  const document = state.document(name);
  if (!document) throw new Error(`${name} is not in the index`);
  const exact = document.versions[spec];
  if (exact) return { document, version: spec, detail: exact };
  if (document.unpublished !== undefined)
    throw new Error(`${name} was unpublished on ${document.unpublished}`);
  const picked = pickVersion(indexLookup(state), name, spec);
  if ("reason" in picked) throw new Error(picked.reason);
  return { document, version: picked.version, detail: document.versions[picked.version] };
}
