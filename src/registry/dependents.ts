/**
 * Dependents: which packages' current version (npm: `latest`; the
 * ecosystem's `current`) depends on a package, as
 * its ecosystem reads the dependencies of a resolution (npm: every registry
 * dependency field, an `npm:` alias counting for the package it names;
 * src/npm/rules/ecosystem.ts). Derived state, kept as package documents change
 * (state-batch.ts) and recomputed when a SQLite snapshot is adopted
 * (database-file.ts), so every copy of the state answers the same.
 *
 * One row per (ecosystem, dependency, dependent), keyed in that order: listing
 * a package's dependents is a range of the primary key; their count is
 * kept beside, as counting a range costs its length.
 */
import type { StatementSync } from "node:sqlite";
import type { Ecosystem } from "./ecosystem.ts";
import type { PackageDocument } from "./package-document.ts";

export const DEPENDENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS dependents (
  ecosystem TEXT NOT NULL,
  dependency TEXT NOT NULL,
  dependent TEXT NOT NULL,
  PRIMARY KEY (ecosystem, dependency, dependent)
) STRICT, WITHOUT ROWID;
-- Counted as rows come and go: the most depended-on packages have a hundred thousand dependents.
CREATE TABLE IF NOT EXISTS dependent_counts (
  ecosystem TEXT NOT NULL,
  dependency TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (ecosystem, dependency)
) STRICT, WITHOUT ROWID;
`;

type Sql = (sql: string) => StatementSync;

/** The registry packages the document's live current version depends on (never itself). */
export function currentDependencies(
  rules: Ecosystem,
  doc: PackageDocument | undefined,
): Set<string> {
  const names = new Set<string>();
  if (!doc || doc.unpublished !== undefined) return names;
  const current = rules.current(doc);
  if (current === undefined || !Object.hasOwn(doc.versions, current)) return names;
  const version = doc.versions[current];
  if (version.unpublished !== undefined) return names;
  for (const name of rules.dependencyNames(version.resolution))
    if (name !== doc.name) names.add(name);
  return names;
}

/**
 * Rewrites the package's rows when what its current version depends on
 * changed. Returns the dependencies whose count of dependents changed.
 */
export function updateDependents(
  sql: Sql,
  rules: Ecosystem,
  before: PackageDocument | undefined,
  after: PackageDocument,
): string[] {
  const currentBefore = before && rules.current(before);
  const currentAfter = rules.current(after);
  // The common case of a batch: tags, owners or other versions changed, not the current version.
  if (
    before !== undefined &&
    before.unpublished === after.unpublished &&
    currentBefore === currentAfter &&
    currentAfter !== undefined &&
    before.versions[currentAfter] === after.versions[currentAfter]
  )
    return [];
  const old = currentDependencies(rules, before);
  const next = currentDependencies(rules, after);
  const changed: string[] = [];
  const { ecosystem } = after;
  for (const name of old)
    if (!next.has(name) && deleteDependent(sql, ecosystem, name, after.name)) changed.push(name);
  for (const name of next)
    if (!old.has(name) && insertDependent(sql, ecosystem, name, after.name)) changed.push(name);
  return changed;
}

/** Whether the row was there to delete. */
function deleteDependent(
  sql: Sql,
  ecosystem: string,
  dependency: string,
  dependent: string,
): boolean {
  const { changes } = sql(
    "DELETE FROM dependents WHERE ecosystem = ? AND dependency = ? AND dependent = ?",
  ).run(ecosystem, dependency, dependent);
  if (changes === 0) return false;
  sql("UPDATE dependent_counts SET n = n - 1 WHERE ecosystem = ? AND dependency = ?").run(
    ecosystem,
    dependency,
  );
  sql("DELETE FROM dependent_counts WHERE ecosystem = ? AND dependency = ? AND n = 0").run(
    ecosystem,
    dependency,
  );
  return true;
}

/** Records that `dependent`'s current version depends on `dependency`; whether it was new. */
export function insertDependent(
  sql: Sql,
  ecosystem: string,
  dependency: string,
  dependent: string,
): boolean {
  const { changes } = sql(
    "INSERT OR IGNORE INTO dependents (ecosystem, dependency, dependent) VALUES (?, ?, ?)",
  ).run(ecosystem, dependency, dependent);
  if (changes === 0) return false;
  sql(
    "INSERT INTO dependent_counts (ecosystem, dependency, n) VALUES (?, ?, 1) ON CONFLICT (ecosystem, dependency) DO UPDATE SET n = n + 1",
  ).run(ecosystem, dependency);
  return true;
}

/** Every package with dependents, and how many. */
export function allDependentCounts(
  sql: Sql,
): { ecosystem: string; dependency: string; n: number }[] {
  return sql("SELECT ecosystem, dependency, n FROM dependent_counts").all() as {
    ecosystem: string;
    dependency: string;
    n: number;
  }[];
}

/** Up to `limit` packages whose current version depends on `name`, in name order (bytewise). */
export function dependentsOf(sql: Sql, ecosystem: string, name: string, limit: number): string[] {
  const rows = sql(
    "SELECT dependent FROM dependents WHERE ecosystem = ? AND dependency = ? ORDER BY dependent LIMIT ?",
  ).all(ecosystem, name, limit) as { dependent: string }[];
  return rows.map((r) => r.dependent);
}

/** How many packages' current version depends on `name`. */
export function dependentCount(sql: Sql, ecosystem: string, name: string): number {
  const row = sql("SELECT n FROM dependent_counts WHERE ecosystem = ? AND dependency = ?").get(
    ecosystem,
    name,
  ) as { n: number } | undefined;
  return row?.n ?? 0;
}
