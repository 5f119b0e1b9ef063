/**
 * The registry's derived state in SQLite (node:sqlite): packages, versions,
 * dist-tags, deprecations and owners, as a pure function of the log
 * entries applied in order. The database records how many log entries it
 * has applied, so after a crash the origin replays what it missed, and
 * `cairn rebuild` recreates it from the log alone.
 *
 * Writes happen only in `apply`, one transaction per batch, so the database
 * is always the state after some prefix of the log.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import semver from "semver";
import type { Entry, PublishEntry } from "./entries.ts";
import { SEARCH_SCHEMA, SearchIndex } from "./search.ts";
import { statementCache } from "./statements.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS packages (
  name TEXT PRIMARY KEY,
  created TEXT NOT NULL,
  modified TEXT NOT NULL,
  unpublished TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS versions (
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  time TEXT NOT NULL,
  entry TEXT NOT NULL,
  deprecated TEXT,
  unpublished TEXT,
  PRIMARY KEY (name, version)
) STRICT;
CREATE TABLE IF NOT EXISTS dist_tags (
  name TEXT NOT NULL,
  tag TEXT NOT NULL,
  version TEXT NOT NULL,
  PRIMARY KEY (name, tag)
) STRICT;
CREATE TABLE IF NOT EXISTS owners (
  name TEXT NOT NULL,
  user TEXT NOT NULL,
  PRIMARY KEY (name, user)
) STRICT;
`;

export interface VersionRow {
  readonly name: string;
  readonly version: string;
  readonly logIndex: number;
  readonly time: string;
  readonly entry: PublishEntry;
  readonly deprecated: string | null;
  readonly unpublished: string | null;
}

export interface PackageRow {
  readonly name: string;
  readonly created: string;
  readonly modified: string;
  readonly unpublished: string | null;
}

const VERSION_COLUMNS = "name, version, log_index, time, entry, deprecated, unpublished";

interface RawVersionRow {
  name: string;
  version: string;
  log_index: number;
  time: string;
  entry: string;
  deprecated: string | null;
  unpublished: string | null;
}

function versionRow(r: RawVersionRow): VersionRow {
  return {
    name: r.name,
    version: r.version,
    logIndex: r.log_index,
    time: r.time,
    entry: JSON.parse(r.entry) as PublishEntry,
    deprecated: r.deprecated,
    unpublished: r.unpublished,
  };
}

export class RegistryState {
  readonly #db: DatabaseSync;
  readonly #sql: (sql: string) => StatementSync;
  readonly search: SearchIndex;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.search = new SearchIndex(db);
  }

  /** Opens (creating if needed) the state database at `path` (":memory:" for tests). */
  static open(path: string): RegistryState {
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
    db.exec(SCHEMA);
    db.exec(SEARCH_SCHEMA);
    return new RegistryState(db);
  }

  close(): void {
    this.#db.close();
  }

  /** How many log entries the state reflects. */
  get logSize(): number {
    const row = this.#sql("SELECT value FROM meta WHERE key = 'log_size'").get() as
      | { value: string }
      | undefined;
    return row ? Number(row.value) : 0;
  }

  /**
   * Applies entries that follow the state's log size, in one transaction.
   * `first` must equal the current log size: entries are never applied twice
   * or out of order.
   */
  apply(first: number, entries: readonly Entry[]): void {
    const size = this.logSize;
    if (first !== size)
      throw new Error(`state is at log size ${size}, cannot apply entries from ${first}`);
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      entries.forEach((entry, i) => {
        this.#applyOne(entry, first + i);
      });
      this.#sql(
        "INSERT INTO meta (key, value) VALUES ('log_size', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ).run(String(first + entries.length));
      this.#db.exec("COMMIT");
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
  }

  #applyOne(entry: Entry, index: number): void {
    const touch = () =>
      this.#sql(
        "INSERT INTO packages (name, created, modified) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET modified = excluded.modified",
      ).run(entry.name, entry.time, entry.time);
    switch (entry.kind) {
      case "publish": {
        touch();
        this.#sql("UPDATE packages SET unpublished = NULL WHERE name = ?").run(entry.name);
        this.#sql(
          "INSERT INTO versions (name, version, log_index, time, entry) VALUES (?, ?, ?, ?, ?)",
        ).run(entry.name, entry.version, index, entry.time, JSON.stringify(entry));
        if (entry.tag) this.#setTag(entry.name, entry.tag, entry.version);
        const owned = this.#sql("SELECT 1 FROM owners WHERE name = ?").get(entry.name);
        if (!owned)
          this.#sql("INSERT INTO owners (name, user) VALUES (?, ?)").run(entry.name, entry.actor);
        break;
      }
      case "unpublish":
        touch();
        if (entry.version === undefined) {
          this.#sql("UPDATE packages SET unpublished = ? WHERE name = ?").run(
            entry.time,
            entry.name,
          );
          this.#sql(
            "UPDATE versions SET unpublished = ? WHERE name = ? AND unpublished IS NULL",
          ).run(entry.time, entry.name);
          this.#sql("DELETE FROM dist_tags WHERE name = ?").run(entry.name);
        } else {
          this.#sql("UPDATE versions SET unpublished = ? WHERE name = ? AND version = ?").run(
            entry.time,
            entry.name,
            entry.version,
          );
          this.#sql("DELETE FROM dist_tags WHERE name = ? AND version = ?").run(
            entry.name,
            entry.version,
          );
          this.#repointLatest(entry.name);
        }
        break;
      case "dist-tag":
        touch();
        if (entry.version === null)
          this.#sql("DELETE FROM dist_tags WHERE name = ? AND tag = ?").run(entry.name, entry.tag);
        else this.#setTag(entry.name, entry.tag, entry.version);
        break;
      case "deprecate":
        touch();
        this.#sql("UPDATE versions SET deprecated = ? WHERE name = ? AND version = ?").run(
          entry.message === "" ? null : entry.message,
          entry.name,
          entry.version,
        );
        break;
      case "owner":
        if (entry.action === "add")
          this.#sql("INSERT OR IGNORE INTO owners (name, user) VALUES (?, ?)").run(
            entry.name,
            entry.user,
          );
        else
          this.#sql("DELETE FROM owners WHERE name = ? AND user = ?").run(entry.name, entry.user);
        break;
    }
  }

  /**
   * If `latest` was removed with its version, it moves to the highest
   * remaining release (or prerelease if there is none), as npm's registry does.
   */
  #repointLatest(name: string): void {
    if (this.#sql("SELECT 1 FROM dist_tags WHERE name = ? AND tag = 'latest'").get(name)) return;
    const live = (
      this.#sql("SELECT version FROM versions WHERE name = ? AND unpublished IS NULL").all(
        name,
      ) as {
        version: string;
      }[]
    ).map((r) => r.version);
    const releases = live.filter((v) => semver.prerelease(v) === null);
    const pick = semver.rsort(releases.length > 0 ? releases : live)[0];
    if (pick !== undefined) this.#setTag(name, "latest", pick);
  }

  #setTag(name: string, tag: string, version: string): void {
    this.#sql(
      "INSERT INTO dist_tags (name, tag, version) VALUES (?, ?, ?) ON CONFLICT (name, tag) DO UPDATE SET version = excluded.version",
    ).run(name, tag, version);
  }

  getPackage(name: string): PackageRow | undefined {
    return this.#sql(
      "SELECT name, created, modified, unpublished FROM packages WHERE name = ?",
    ).get(name) as PackageRow | undefined;
  }

  /** Every version ever published, unpublished ones included (a name@version is never reused). */
  versions(name: string): VersionRow[] {
    const rows = this.#sql(
      `SELECT ${VERSION_COLUMNS} FROM versions WHERE name = ? ORDER BY log_index`,
    ).all(name);
    return (rows as unknown as RawVersionRow[]).map(versionRow);
  }

  /** One version's row, by its primary key. */
  version(name: string, version: string): VersionRow | undefined {
    const row = this.#sql(
      `SELECT ${VERSION_COLUMNS} FROM versions WHERE name = ? AND version = ?`,
    ).get(name, version);
    return row ? versionRow(row as unknown as RawVersionRow) : undefined;
  }

  hasVersion(name: string, version: string): boolean {
    return (
      this.#sql("SELECT 1 FROM versions WHERE name = ? AND version = ?").get(name, version) !==
      undefined
    );
  }

  distTags(name: string): Record<string, string> {
    const rows = this.#sql("SELECT tag, version FROM dist_tags WHERE name = ? ORDER BY tag").all(
      name,
    ) as {
      tag: string;
      version: string;
    }[];
    return Object.fromEntries(rows.map((r) => [r.tag, r.version]));
  }

  owners(name: string): string[] {
    return (
      this.#sql("SELECT user FROM owners WHERE name = ? ORDER BY user").all(name) as {
        user: string;
      }[]
    ).map((r) => r.user);
  }
}
