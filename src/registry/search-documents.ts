/**
 * Search documents derived from package documents: one per live package,
 * describing the version `latest` points at (or the newest live one), with
 * the description and keywords its publish entry carries. Every copy of the
 * log (origin, mirror, proxy, local index) builds the same index from it.
 */
import type { PackageDocument } from "./package-document.ts";
import type { SearchDocument } from "./search.ts";

/** The package's search document, or undefined when nothing of it is live. */
export function searchDocumentOf(doc: PackageDocument): SearchDocument | undefined {
  if (doc.unpublished !== undefined) return undefined;
  const live = Object.entries(doc.versions).filter(([, v]) => v.unpublished === undefined);
  if (live.length === 0) return undefined;
  const latest = doc.distTags.latest;
  const [version, row] =
    live.find(([v]) => v === latest) ?? live.reduce((a, b) => (b[1].index > a[1].index ? b : a));
  return {
    name: doc.name,
    version,
    description: row.description ?? "",
    keywords: row.keywords ?? [],
    date: row.time,
    publisher: row.actor,
    maintainers: doc.owners,
    popularity: searchPopularity(live.length),
  };
}

/**
 * The tie-break inside a search class. It must be computed alike by every
 * copy from the log alone, so it is what the package's own entries say:
 * how many live versions it has (busy packages publish often). The count
 * of dependents, once derived state holds it, folds in here, kept current
 * through SearchIndex.setPopularity.
 */
export function searchPopularity(liveVersions: number): number {
  return liveVersions;
}
