/**
 * Full-text search over package names, descriptions and keywords (SQLite
 * FTS5), one document per package, describing its `latest` version. It is
 * derived state: rebuilt from the log and the manifest blobs it names.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { statementCache } from "./statements.ts";

export interface SearchDocument {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly keywords: readonly string[];
  /** Publish time of `version`. */
  readonly date: string;
  readonly publisher: string;
  readonly maintainers: readonly string[];
}

export interface SearchHit extends SearchDocument {
  readonly score: number;
}

export const SEARCH_SCHEMA = `
CREATE TABLE IF NOT EXISTS search_docs (name TEXT PRIMARY KEY, doc TEXT NOT NULL) STRICT;
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(name, description, keywords, tokenize = 'unicode61 tokenchars ''-_.@/''');
`;

/** Turns free text into an FTS5 query: every word must prefix-match something. */
export function ftsQuery(text: string): string | undefined {
  const words = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}\-_.@/]+/u)
    .filter((w) => w.length > 0)
    .slice(0, 16);
  if (words.length === 0) return undefined;
  return words.map((w) => `"${w.replaceAll('"', '""')}"*`).join(" ");
}

export class SearchIndex {
  readonly #sql: (sql: string) => StatementSync;

  constructor(db: DatabaseSync) {
    this.#sql = statementCache(db);
  }

  // The FTS rows share their rowid with search_docs: FTS5 can find a row fast
  // by rowid, but deleting by a column would scan the whole table.
  put(doc: SearchDocument): void {
    this.remove(doc.name);
    const { lastInsertRowid } = this.#sql("INSERT INTO search_docs (name, doc) VALUES (?, ?)").run(
      doc.name,
      JSON.stringify(doc),
    );
    this.#sql(
      "INSERT INTO search_fts (rowid, name, description, keywords) VALUES (?, ?, ?, ?)",
    ).run(lastInsertRowid, doc.name, doc.description, doc.keywords.join(" "));
  }

  remove(name: string): void {
    const row = this.#sql("SELECT rowid FROM search_docs WHERE name = ?").get(name) as
      | { rowid: number }
      | undefined;
    if (!row) return;
    this.#sql("DELETE FROM search_fts WHERE rowid = ?").run(row.rowid);
    this.#sql("DELETE FROM search_docs WHERE rowid = ?").run(row.rowid);
  }

  /** Best matches first: an exact name, then FTS5's bm25 rank with names weighted most. */
  search(text: string, from: number, size: number): { total: number; hits: SearchHit[] } {
    const query = ftsQuery(text);
    if (!query) return { total: 0, hits: [] };
    const total = (
      this.#sql("SELECT count(*) AS n FROM search_fts WHERE search_fts MATCH ?").get(query) as {
        n: number;
      }
    ).n;
    const rows = this.#sql(
      `SELECT d.doc AS doc, bm25(search_fts, 10.0, 2.0, 4.0) AS rank
         FROM search_fts JOIN search_docs d ON d.rowid = search_fts.rowid
        WHERE search_fts MATCH ?
        ORDER BY (d.name = ?) DESC, rank
        LIMIT ? OFFSET ?`,
    ).all(query, text.trim().toLowerCase(), size, from) as { doc: string; rank: number }[];
    return {
      total,
      hits: rows.map((r) => ({ ...(JSON.parse(r.doc) as SearchDocument), score: -r.rank })),
    };
  }
}
