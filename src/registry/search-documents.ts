/**
 * Search documents derived from the registry state: one per live package,
 * describing the version `latest` points at (or the newest live one), with
 * the description and keywords of its published manifest. The origin and
 * its mirrors run the same function, so they build the same index.
 */
import type { PublishEntry } from "./entries.ts";
import type { RegistryState } from "./state.ts";

/** A manifest's JSON, or undefined when it cannot be had (the package is still indexed by name). */
export type ManifestLoader = (entry: PublishEntry) => Promise<Record<string, unknown> | undefined>;

/** Refreshes the search documents of `names`, removing those of packages with nothing live. */
export async function reindexSearch(
  state: RegistryState,
  names: Iterable<string>,
  loadManifest: ManifestLoader,
): Promise<void> {
  for (const name of names) {
    const pkg = state.getPackage(name);
    const live = state.versions(name).filter((v) => v.unpublished === null);
    const latest = state.distTags(name).latest;
    const row = live.find((v) => v.version === latest) ?? live.at(-1);
    if (!pkg || pkg.unpublished !== null || !row) {
      state.search.remove(name);
      continue;
    }
    const manifest = (await loadManifest(row.entry)) ?? {};
    const keywords = Array.isArray(manifest.keywords)
      ? manifest.keywords.filter((k): k is string => typeof k === "string")
      : [];
    state.search.put({
      name,
      version: row.version,
      description: typeof manifest.description === "string" ? manifest.description : "",
      keywords,
      date: row.time,
      publisher: row.entry.actor,
      maintainers: state.owners(name),
    });
  }
}
