/**
 * Package search over names, descriptions and keywords, one document per
 * package, describing its `latest` version. It is derived state: rebuilt
 * from the log and the manifest fields its entries carry, so every copy
 * ranks alike.
 *
 * Ranking, in classes, each ordered by popularity (then shorter names):
 *   1. exact: the name is the query (`babel/core` also names `@babel/core`);
 *   2. prefix: the name starts with the query (`react` → `react-dom`);
 *   3. scope: the name after its scope starts with it (`react` → `@types/react`);
 *   4. text: the words match the description, keywords or name (SQLite
 *      FTS5's bm25, names weighted most), popularity breaking ties.
 * Each ecosystem is searched on its own: every index of the documents leads
 * with the ecosystem, and each ecosystem's text has its own FTS5 table, so
 * a query never walks another ecosystem's postings.
 * Name classes are range scans on indexes of the lower-cased name; every
 * candidate set is capped, and the total is counted only up to
 * TOTAL_CAP, so a one-letter query typed into a box costs no more than a
 * long one.
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
  /** The tie-break inside a match class (search-documents.ts says what it counts). */
  readonly popularity: number;
}

export type MatchClass = "exact" | "prefix" | "scope" | "text";

export interface SearchHit extends SearchDocument {
  readonly match: MatchClass;
  /** Higher is better: the class, then the place inside it. */
  readonly score: number;
}

export interface SearchResult {
  /** How many packages match, counted up to TOTAL_CAP. */
  readonly total: number;
  /** Whether more than `total` match (the count stopped at the cap). */
  readonly capped: boolean;
  readonly hits: SearchHit[];
}

/** Matches are counted up to here: past it a page says "1,000+". */
export const TOTAL_CAP = 1000;
/** No package name is longer (npm's limit); longer text cannot match a name. */
const MAX_NAME = 214;
const MAX_WORDS = 16;
const MAX_WORD = 64;
/** Shorter words match whole tokens only: a one-letter prefix would match most of the index. */
const MIN_PREFIX_WORD = 3;
/** Above every code point: `q || TOP` bounds the range of strings that start with q. */
const TOP = "\u{10FFFF}";

/**
 * `rank` orders a class, lower first: more popular, then shorter names
 * (`length(lname) - popularity * 256`; no name is 256 long). Each index
 * covers what its query reads, so a class never touches the table.
 */
export const SEARCH_SCHEMA = `
CREATE TABLE IF NOT EXISTS search_docs (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  doc TEXT NOT NULL,
  lname TEXT NOT NULL,
  tail TEXT,
  popularity INTEGER NOT NULL,
  rank INTEGER NOT NULL,
  UNIQUE (ecosystem, name)
) STRICT;
CREATE INDEX IF NOT EXISTS search_docs_lname ON search_docs (ecosystem, lname, rank);
CREATE INDEX IF NOT EXISTS search_docs_tail ON search_docs (ecosystem, tail, rank, lname) WHERE tail IS NOT NULL;
CREATE INDEX IF NOT EXISTS search_docs_rank ON search_docs (ecosystem, rank, lname, tail);
`;

/** An ecosystem id as the text table's name holds it (the log's ids are lower-case letters, digits and "-"). */
const ECOSYSTEM_ID = /^[a-z][a-z0-9-]{0,15}$/;

/** The FTS5 table of one ecosystem's text, created with its first document. */
function textTable(ecosystem: string): string {
  if (!ECOSYSTEM_ID.test(ecosystem))
    throw new Error(`not an ecosystem id: ${JSON.stringify(ecosystem)}`);
  return `"search_text_${ecosystem}"`;
}

/** A name range holding this many names is walked in rank order instead of sorted whole. */
const DENSE_RANGE = 2000;

function rankOf(lname: string, popularity: number): number {
  return lname.length - popularity * 256;
}

/** The place inside a class, in [0, 1): bigger for more popular. */
function placeOf(rank: number): number {
  const popularity = Math.max(0, Math.ceil(-rank / 256));
  return popularity / (popularity + 1);
}

const CLASS_ORDER: readonly MatchClass[] = ["exact", "prefix", "scope", "text"];

/** Turns free text into an FTS5 query: every word must match something (prefix-match from 3 letters). */
export function ftsQuery(text: string): string | undefined {
  const words = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}\-_.@/]+/u)
    .filter((w) => w.length > 0)
    .slice(0, MAX_WORDS)
    .map((w) => w.slice(0, MAX_WORD));
  if (words.length === 0) return undefined;
  return words
    .map((w) => `"${w.replaceAll('"', '""')}"${w.length >= MIN_PREFIX_WORD ? "*" : ""}`)
    .join(" ");
}

/** The query as names are compared: trimmed, lower-cased, at most a name long. */
function nameQuery(text: string): string {
  return text.trim().toLowerCase().slice(0, MAX_NAME);
}

/** The names a query may mean whole: itself, and `@scope/name` for `scope/name`. */
function nameForms(q: string): string[] {
  return !q.startsWith("@") && q.includes("/") ? [q, `@${q}`] : [q];
}

function tailOf(lname: string): string | null {
  return lname.startsWith("@") && lname.includes("/") ? lname.slice(lname.indexOf("/") + 1) : null;
}

/** The names that start with `start`, whole (lname) or after their scope (tail). */
interface NameRange {
  readonly column: "lname" | "tail";
  readonly start: string;
}

interface Candidate {
  readonly rowid: number;
  readonly match: MatchClass;
  /** Inside the class: bigger is better, in [0, 1). */
  readonly place: number;
}

export class SearchIndex {
  readonly ecosystem: string;
  readonly #sql: (sql: string) => StatementSync;
  readonly #db: DatabaseSync;
  readonly #text: string;

  constructor(db: DatabaseSync, ecosystem: string) {
    this.ecosystem = ecosystem;
    this.#db = db;
    this.#sql = statementCache(db);
    this.#text = textTable(ecosystem);
  }

  /**
   * Whether the ecosystem's text table exists yet: a reader may look before
   * any document was put. Asked each time, not remembered: a batch that
   * created it may have been rolled back.
   */
  #textExists(): boolean {
    return (
      this.#sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(
        this.#text.slice(1, -1),
      ) !== undefined
    );
  }

  // The FTS rows share their rowid with search_docs: FTS5 can find a row fast
  // by rowid, but deleting by a column would scan the whole table.
  // Keyed by the package's row key (cargo's canonical name), as dependents and
  // popularity name it; `doc.name` stays the published spelling names match on.
  put(doc: SearchDocument, key: string = doc.name): void {
    this.remove(key);
    if (!this.#textExists())
      this.#db.exec(
        `CREATE VIRTUAL TABLE ${this.#text} USING fts5(name, description, keywords, tokenize = 'unicode61 tokenchars ''-_.@/''')`,
      );
    const lname = doc.name.toLowerCase();
    const { popularity, ...stored } = doc;
    const { lastInsertRowid } = this.#sql(
      "INSERT INTO search_docs (ecosystem, name, doc, lname, tail, popularity, rank) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).run(
      this.ecosystem,
      key,
      JSON.stringify(stored),
      lname,
      tailOf(lname),
      popularity,
      rankOf(lname, popularity),
    );
    this.#sql(
      `INSERT INTO ${this.#text} (rowid, name, description, keywords) VALUES (?, ?, ?, ?)`,
    ).run(lastInsertRowid, doc.name, doc.description, doc.keywords.join(" "));
  }

  remove(name: string): void {
    const row = this.#sql("SELECT rowid FROM search_docs WHERE ecosystem = ? AND name = ?").get(
      this.ecosystem,
      name,
    ) as { rowid: number } | undefined;
    if (!row) return;
    this.#sql(`DELETE FROM ${this.#text} WHERE rowid = ?`).run(row.rowid);
    this.#sql("DELETE FROM search_docs WHERE rowid = ?").run(row.rowid);
  }

  /** A package's popularity, or undefined when it has no document. */
  popularityOf(name: string): number | undefined {
    const row = this.#sql(
      "SELECT popularity FROM search_docs WHERE ecosystem = ? AND name = ?",
    ).get(this.ecosystem, name) as { popularity: number } | undefined;
    return row?.popularity;
  }

  /** Sets a package's popularity (a measure folded in after its document was put). */
  setPopularity(name: string, popularity: number): void {
    this.#sql(
      "UPDATE search_docs SET popularity = ?1, rank = length(lname) - ?1 * 256 WHERE ecosystem = ?2 AND name = ?3",
    ).run(popularity, this.ecosystem, name);
  }

  /** Best matches first (the classes above); `from` and `size` page through them. */
  search(text: string, from: number, size: number): SearchResult {
    const q = nameQuery(text);
    const fts = ftsQuery(text);
    if (q === "" && !fts) return { total: 0, capped: false, hits: [] };
    const need = from + size;
    const seen = new Set<number>();
    const ranked: Candidate[] = [];
    const take = (rows: readonly Candidate[]) => {
      for (const c of rows)
        if (!seen.has(c.rowid)) {
          seen.add(c.rowid);
          ranked.push(c);
        }
    };
    const forms = q === "" ? [] : nameForms(q);
    const ranges: NameRange[] = forms.map((form) => ({ column: "lname", start: form }));
    if (q !== "" && !q.includes("/")) ranges.push({ column: "tail", start: q });
    for (const form of forms) take(this.#exact(form));
    // Sizes up to the cap: they pick each range's plan, and give the total when names alone pass it.
    const sizes = ranges.map((r) => this.#rangeSize(r, Math.max(DENSE_RANGE, TOTAL_CAP + 1)));
    for (const [i, range] of ranges.entries())
      if (ranked.length < need) take(this.#range(range, need, sizes[i] >= DENSE_RANGE));
    // The text class may repeat names already ranked: fetch enough to fill the page past them.
    if (fts && ranked.length < need) take(this.#textMatches(fts, need + ranked.length));
    const count = sizes.some((n) => n > TOTAL_CAP) ? TOTAL_CAP + 1 : this.#count(ranges, fts);
    const page = ranked.slice(from, need);
    const docs = this.#docs(page.map((c) => c.rowid));
    return {
      total: Math.min(count, TOTAL_CAP),
      capped: count > TOTAL_CAP,
      hits: page.flatMap((c) => {
        const doc = docs.get(c.rowid);
        if (!doc) return [];
        const score = CLASS_ORDER.length - CLASS_ORDER.indexOf(c.match) - 1 + c.place;
        return [{ ...doc, match: c.match, score }];
      }),
    };
  }

  #exact(form: string): Candidate[] {
    const rows = this.#sql("SELECT rowid FROM search_docs WHERE ecosystem = ? AND lname = ?").all(
      this.ecosystem,
      form,
    ) as { rowid: number }[];
    return rows.map(({ rowid }) => ({ rowid, match: "exact", place: 0.5 }));
  }

  /** How many names the range holds, counted up to `cap`. */
  #rangeSize({ column, start }: NameRange, cap: number): number {
    return (
      this.#sql(
        `SELECT count(*) AS n FROM (SELECT 1 FROM search_docs
          WHERE ecosystem = ?4 AND ${column} >= ?1 AND ${column} < ?1 || ?2 LIMIT ?3)`,
      ).get(start, TOP, cap, this.ecosystem) as { n: number }
    ).n;
  }

  /**
   * The best of a name range: a small range is read whole and sorted; a
   * dense one (a letter or two) is walked in rank order until enough turn up.
   */
  #range({ column, start }: NameRange, limit: number, dense: boolean): Candidate[] {
    const rows = this.#sql(
      `SELECT rowid, rank FROM search_docs ${dense ? "INDEXED BY search_docs_rank" : ""}
        WHERE ecosystem = ?4 AND ${column} >= ?1 AND ${column} < ?1 || ?2
        ORDER BY rank, lname LIMIT ?3`,
    ).all(start, TOP, limit, this.ecosystem) as { rowid: number; rank: number }[];
    const match: MatchClass = column === "lname" ? "prefix" : "scope";
    return rows.map(({ rowid, rank }) => ({ rowid, match, place: placeOf(rank) }));
  }

  #textMatches(fts: string, limit: number): Candidate[] {
    if (!this.#textExists()) return [];
    const rows = this.#sql(
      `SELECT f.rowid AS rowid, -f.rank / (1.0 - f.rank) AS place
         FROM (SELECT rowid, bm25(${this.#text}, 10.0, 2.0, 4.0) AS rank FROM ${this.#text}
                WHERE ${this.#text} MATCH ?1) f
         JOIN search_docs d ON d.rowid = f.rowid
        ORDER BY f.rank, d.rank LIMIT ?2`,
    ).all(fts, limit) as { rowid: number; place: number }[];
    return rows.map(({ rowid, place }) => ({ rowid, match: "text", place }));
  }

  /**
   * How many packages match, when no name range alone passes the cap: each
   * class is counted up to one past the cap and is a subset of the union, so
   * a union past the cap means more than the cap match, and one within it is
   * exact.
   */
  #count(ranges: readonly NameRange[], fts: string | undefined): number {
    const parts: string[] = [];
    const params: (string | number)[] = [];
    for (const { column, start } of ranges) {
      parts.push(
        `SELECT rowid FROM (SELECT rowid FROM search_docs
          WHERE ecosystem = ? AND ${column} >= ? AND ${column} < ? LIMIT ?)`,
      );
      params.push(this.ecosystem, start, start + TOP, TOTAL_CAP + 1);
    }
    if (fts && this.#textExists()) {
      parts.push(
        `SELECT rowid FROM (SELECT rowid FROM ${this.#text} WHERE ${this.#text} MATCH ? LIMIT ?)`,
      );
      params.push(fts, TOTAL_CAP + 1);
    }
    if (parts.length === 0) return 0;
    const row = this.#sql(`SELECT count(*) AS n FROM (${parts.join(" UNION ")})`).get(
      ...params,
    ) as { n: number };
    return row.n;
  }

  #docs(rowids: readonly number[]): Map<number, SearchDocument> {
    const out = new Map<number, SearchDocument>();
    const get = this.#sql("SELECT doc, popularity FROM search_docs WHERE rowid = ?");
    for (const rowid of rowids) {
      const row = get.get(rowid) as { doc: string; popularity: number } | undefined;
      if (row)
        out.set(rowid, { ...(JSON.parse(row.doc) as SearchDocument), popularity: row.popularity });
    }
    return out;
  }

  /** Names near `text` for a page that found nothing: the closest by edit distance among names sharing its first letters. */
  nearby(text: string, limit: number): string[] {
    const q = nameQuery(text);
    if (q.length < 2) return [];
    const pool = new Map<string, number>();
    // Names sharing ever shorter prefixes, most popular first, until enough candidates turn up.
    for (let keep = Math.min(q.length - 1, 4); keep >= 1 && pool.size < 200; keep--) {
      const stem = q.slice(0, keep);
      const rows = this.#sql(
        `SELECT name, lname FROM search_docs WHERE ecosystem = ?3 AND lname >= ?1 AND lname < ?1 || ?2
          ORDER BY rank LIMIT 400`,
      ).all(stem, TOP, this.ecosystem) as { name: string; lname: string }[];
      for (const r of rows) if (!pool.has(r.name)) pool.set(r.name, editDistance(q, r.lname));
    }
    const bound = Math.max(2, Math.floor(q.length / 3));
    return [...pool]
      .filter(([, d]) => d <= bound)
      .sort((a, b) => a[1] - b[1] || a[0].length - b[0].length)
      .slice(0, limit)
      .map(([name]) => name);
  }
}

/** Levenshtein distance, by code unit (names are ASCII; others just rank further). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row.push(
        Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)),
      );
    prev = row;
  }
  return prev[b.length];
}
