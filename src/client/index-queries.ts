/**
 * Offline questions to the local index: show and resolve, all from SQLite
 * on this machine, in milliseconds (listing is RegistryState.listPackages).
 */
import type { PackageDocument, VersionDocument } from "../registry/package-document.ts";
import type { RegistryState } from "../registry/state.ts";
import {
  type PackageLookup,
  pickVersion,
  type ResolvablePackage,
  type ResolvableVersion,
} from "./resolve.ts";

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
    this.#resolution ??= this.#state.table("npm").resolution(this.#name, this.version) ?? {};
    return this.#resolution;
  }
}

/** The resolver's view of the index: live versions, tags and deprecations. */
export function indexLookup(state: RegistryState): PackageLookup {
  const cache = new Map<string, ResolvablePackage | undefined>();
  return (name) => {
    if (cache.has(name)) return cache.get(name);
    const pickable = state.table("npm").pickable(name);
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
  const document = state.table("npm").document(name);
  if (!document) throw new Error(`${name} is not in the index`);
  const exact = document.versions[spec];
  if (exact) return { document, version: spec, detail: exact };
  if (document.unpublished !== undefined)
    throw new Error(`${name} was unpublished on ${document.unpublished}`);
  const picked = pickVersion(indexLookup(state), name, spec);
  if ("reason" in picked) throw new Error(picked.reason);
  return { document, version: picked.version, detail: document.versions[picked.version] };
}
