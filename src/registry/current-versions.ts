/**
 * Each package's current version (its ecosystem's `current`: npm's
 * `latest`, cargo's highest live release), kept as documents change
 * (state-batch.ts) and recomputed when a SQLite snapshot is adopted
 * (database-file.ts): listings show it without reading documents.
 */
import type { StatementSync } from "node:sqlite";

export const CURRENT_VERSIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS current_versions (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  PRIMARY KEY (ecosystem, name)
) STRICT, WITHOUT ROWID;
`;

type Sql = (sql: string) => StatementSync;

/** Records the current version of the package whose row key is `name`; undefined removes it. */
export function writeCurrentVersion(
  sql: Sql,
  ecosystem: string,
  name: string,
  version: string | undefined,
): void {
  if (version === undefined)
    sql("DELETE FROM current_versions WHERE ecosystem = ? AND name = ?").run(ecosystem, name);
  else
    sql(
      "INSERT INTO current_versions (ecosystem, name, version) VALUES (?, ?, ?) ON CONFLICT (ecosystem, name) DO UPDATE SET version = excluded.version",
    ).run(ecosystem, name, version);
}
