/**
 * Search documents derived from package documents: one per live package,
 * describing its ecosystem's current version (npm: `latest`) or else the
 * newest live one, with
 * the description and keywords its publish entry carries. Every copy of the
 * log (origin, mirror, proxy, local index) builds the same index from it.
 */
import type { Ecosystem } from "./ecosystem.ts";
import type { PackageDocument } from "./package-document.ts";
import type { SearchDocument, SearchIndex } from "./search.ts";
import { isWithdrawn } from "./takedown.ts";

/**
 * The package's search document, or undefined when nothing of it is live;
 * `dependents` is its count of dependents as the state holds it now.
 */
export function searchDocumentOf(
  doc: PackageDocument,
  dependents: number,
  rules: Ecosystem,
): SearchDocument | undefined {
  if (isWithdrawn(doc)) return undefined;
  const live = Object.entries(doc.versions).filter(([, v]) => !isWithdrawn(v));
  if (live.length === 0) return undefined;
  const current = rules.current(doc);
  const [version, row] =
    live.find(([v]) => v === current) ?? live.reduce((a, b) => (b[1].index > a[1].index ? b : a));
  return {
    name: doc.name,
    version,
    description: row.description ?? "",
    keywords: row.keywords ?? [],
    date: row.time,
    publisher: row.actor,
    maintainers: doc.owners,
    popularity: searchPopularity(dependents, live.length),
  };
}

/** Live versions counted into popularity: at most one less than this, so they never outweigh a dependent. */
const VERSION_PLACES = 1024;

/**
 * The tie-break inside a search class. Every copy must compute it alike
 * from the log alone, so it counts what the entries say: first how many
 * packages' current version depends on this one (dependents.ts), then, among
 * packages with as many dependents, how many live versions it has (busy
 * packages publish often; counted up to VERSION_PLACES - 1). One integer
 * holds both, so a class is still one index range in `rank` order.
 */
export function searchPopularity(dependents: number, liveVersions: number): number {
  return dependents * VERSION_PLACES + Math.min(liveVersions, VERSION_PLACES - 1);
}

/**
 * Folds a package's new count of dependents into its search document, if
 * it has one, keeping the live versions part: another package's current
 * changed, not this package's document. Two lookups by name.
 */
export function setSearchDependents(search: SearchIndex, name: string, dependents: number): void {
  const popularity = search.popularityOf(name);
  if (popularity === undefined) return;
  search.setPopularity(name, searchPopularity(dependents, popularity % VERSION_PLACES));
}
