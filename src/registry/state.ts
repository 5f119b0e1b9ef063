/**
 * The registry's derived state in SQLite (node:sqlite): every package
 * document stored as rows (packages, versions, dist-tags, owners), the
 * document hashes and shard hashes of the snapshot map, and the search
 * index. It is a pure function of the log entries applied in order; the
 * database records how many it has applied, so after a crash the origin
 * replays what it missed, and `cairn rebuild` recreates it from the log.
 *
 * Writes happen only when a StateBatch commits, one transaction per batch,
 * so the database is always the state after some prefix of the log. The
 * same file, published as a SQLite snapshot, is a client's local index.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { CodedError } from "../util/coded-error.ts";
import { CURRENT_VERSIONS_SCHEMA } from "./current-versions.ts";
import { DEPENDENTS_SCHEMA, dependentCount, dependentsOf } from "./dependents.ts";
import type { Ecosystems } from "./ecosystem.ts";
import {
  type Artifact,
  type PopularityEntry,
  publishedAt,
  type RegistryKeysEntry,
  type VersionEntry,
} from "./entries.ts";
import type { LoggedKey } from "./key-chain-log.ts";
import type { PackageDocument, VersionDocument } from "./package-document.ts";
import { versionDocument, versionEntryOf } from "./package-document.ts";
import type { RegistrySignature } from "./registry-keys.ts";
import { SEARCH_SCHEMA, SearchIndex } from "./search.ts";
import { StateBatch } from "./state-batch.ts";
import { statementCache } from "./statements.ts";
import type { TakenDown } from "./takedown.ts";
import type { LogEntry } from "./void-entries.ts";
import { TAKEDOWNS_SCHEMA, takedownsOf, WITHHELD_SCHEMA } from "./withheld.ts";

/** Bumped when the tables or what they derive change; an older database is dropped and rebuilt from the log. */
export const STATE_SCHEMA = 7;

/**
 * The version of a published SQLite snapshot's tables (CORE_SCHEMA), its
 * `user_version` and its log entry's `schema`. Apart from STATE_SCHEMA:
 * a change to the tables a copy derives for itself (search, dependents)
 * must not make every database file already in the log unreadable.
 */
export const DATABASE_SCHEMA = 4;

/**
 * The tables a published SQLite snapshot holds; the rest is recomputed from
 * them. Every row is keyed by (ecosystem, name): `name` is the name part of
 * the package's snapshot key, `spelling` the published name where it
 * differs from it (never for npm).
 */
export const CORE_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS packages (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  spelling TEXT,
  created TEXT NOT NULL,
  modified TEXT NOT NULL,
  updated INTEGER NOT NULL,
  unpublished TEXT,
  PRIMARY KEY (ecosystem, name)
) STRICT;
CREATE TABLE IF NOT EXISTS versions (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  time TEXT NOT NULL,
  entry TEXT NOT NULL,
  deprecated TEXT,
  unpublished TEXT,
  yanked TEXT,
  PRIMARY KEY (ecosystem, name, version)
) STRICT;
CREATE TABLE IF NOT EXISTS dist_tags (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  tag TEXT NOT NULL,
  version TEXT NOT NULL,
  PRIMARY KEY (ecosystem, name, tag)
) STRICT;
CREATE TABLE IF NOT EXISTS owners (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  user TEXT NOT NULL,
  PRIMARY KEY (ecosystem, name, user)
) STRICT;
`;

/**
 * DATABASE_SCHEMA 2's tables, byte for byte as its files hold them (npm
 * only, keyed by name): database entries already in logs name such files,
 * and adopting one checks its schema text against this.
 */
export const CORE_SCHEMA_V2 = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS packages (
  name TEXT PRIMARY KEY,
  created TEXT NOT NULL,
  modified TEXT NOT NULL,
  updated INTEGER NOT NULL,
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

/** Every ecosystem's rows were npm's before the core tables were keyed by ecosystem. */
export const V2_ECOSYSTEM = "npm";

const DERIVED_SCHEMA = `
CREATE TABLE IF NOT EXISTS documents (
  key TEXT PRIMARY KEY,
  prefix INTEGER NOT NULL,
  sha256 TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS documents_prefix ON documents (prefix);
CREATE TABLE IF NOT EXISTS shard_hashes (shard INTEGER PRIMARY KEY, sha256 TEXT NOT NULL) STRICT;
-- The native index views (index-view.ts): a row per package with an index file, keyed and
-- sharded by its key name; the hashes of the non-empty shards at the snapshot's shard count.
CREATE TABLE IF NOT EXISTS index_rows (
  ecosystem TEXT NOT NULL,
  key TEXT NOT NULL,
  prefix INTEGER NOT NULL,
  name TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (ecosystem, key)
) STRICT;
CREATE INDEX IF NOT EXISTS index_rows_prefix ON index_rows (ecosystem, prefix);
CREATE TABLE IF NOT EXISTS index_shard_hashes (
  ecosystem TEXT NOT NULL,
  shard INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (ecosystem, shard)
) STRICT;
-- Covers what picking a version reads (see pickable), without touching the entries.
CREATE INDEX IF NOT EXISTS versions_pickable ON versions (ecosystem, name, unpublished, yanked, version, deprecated);
`;

const TARBALL_SHA256 = "json_extract(entry, '$.artifact.sha256')";
const FILES_SHA256 = "json_extract(entry, '$.files.sha256')";

/** The tables CORE_SCHEMA creates, in the order a copy fills them. */
export const CORE_TABLES = ["meta", "packages", "versions", "dist_tags", "owners"] as const;

/**
 * A published SQLite snapshot's tables since DATABASE_SCHEMA 4: the core
 * ones and the takedowns in force, which the package documents include
 * (schema 3 files predate takedowns, and have none to carry).
 */
export const DATABASE_FILE_SCHEMA = `${CORE_SCHEMA}${TAKEDOWNS_SCHEMA}`;
/** The tables DATABASE_FILE_SCHEMA creates, in the order a copy fills them. */
export const DATABASE_FILE_TABLES = [...CORE_TABLES, "takedowns"] as const;

export interface VersionRow {
  readonly name: string;
  readonly version: string;
  readonly logIndex: number;
  readonly time: string;
  readonly entry: VersionEntry;
  readonly deprecated: string | null;
  readonly unpublished: string | null;
  /** When the version was yanked (an ecosystem with yank). */
  readonly yanked?: string;
  /** The takedown in force, if any (takedown.ts). */
  readonly takenDown?: TakenDown;
  /** The origin's registry signatures on the version, if any. */
  readonly signatures?: readonly RegistrySignature[];
}

/** A version as a list of versions shows it. */
export interface VersionOutline {
  readonly version: string;
  readonly index: number;
  /** Publish time (an imported version's upstream time). */
  readonly time: string;
  readonly deprecated?: string;
  readonly unpublished?: string;
}

export interface PackageRow {
  readonly name: string;
  /** The published name, where it differs from the name the rows are keyed by. */
  readonly spelling: string | null;
  readonly created: string;
  readonly modified: string;
  /** Log index of the last entry about the package. */
  readonly updated: number;
  readonly unpublished: string | null;
}

/** The latest snapshot entry applied. */
export interface SnapshotPointer {
  readonly index: number;
  /** Snapshot id: hex SHA-256 of the root file. */
  readonly id: string;
  readonly shards: number;
  readonly packages: number;
}

/** The newest database entry applied. */
export interface DatabasePointer {
  readonly index: number;
}

/** The newest registry-keys entry applied, whole: signatures are checked against it, and npm reads it. */
export interface RegistryKeysPointer {
  readonly index: number;
  readonly entry: RegistryKeysEntry;
}

/** The newest popularity entry applied, whole: peers read its sketch and threshold. */
export interface PopularityPointer {
  readonly index: number;
  readonly entry: PopularityEntry;
}

const VERSION_COLUMNS = `v.name AS name, v.version AS version, v.log_index AS log_index,
  v.time AS time, v.entry AS entry, v.deprecated AS deprecated, v.unpublished AS unpublished,
  v.yanked AS yanked, t.actor AS taken_down_actor, t.log_index AS taken_down_index,
  t.reason AS taken_down_reason, t.time AS taken_down_time`;
/** A version row `v` with no takedown in force. */
const NOT_TAKEN_DOWN = `NOT EXISTS (SELECT 1 FROM takedowns t
  WHERE t.ecosystem = v.ecosystem AND t.name = v.name AND t.version = v.version)`;
/** Versions with their takedown in force, if any (withheld.ts). */
const VERSIONS_WITH_TAKEDOWNS = `versions v LEFT JOIN takedowns t
  ON t.ecosystem = v.ecosystem AND t.name = v.name AND t.version = v.version`;

export interface RawVersionRow {
  name: string;
  version: string;
  log_index: number;
  time: string;
  entry: string;
  deprecated: string | null;
  unpublished: string | null;
  yanked: string | null;
  taken_down_actor?: string | null;
  taken_down_index?: number | null;
  taken_down_reason?: string | null;
  taken_down_time?: string | null;
}

/**
 * The `entry` column: the version's entry, with its registry signatures
 * beside the entry's fields when it has any (so the tables keep their schema).
 */
export function versionColumn(entry: VersionEntry, doc: VersionDocument): string {
  return JSON.stringify(doc.signatures ? { ...entry, signatures: doc.signatures } : entry);
}

function versionRow(r: RawVersionRow): VersionRow {
  const takenDown =
    r.taken_down_index != null
      ? {
          actor: r.taken_down_actor ?? "",
          index: r.taken_down_index,
          reason: r.taken_down_reason ?? "",
          time: r.taken_down_time ?? "",
        }
      : undefined;
  const { signatures, ...entry } = JSON.parse(r.entry) as VersionEntry & {
    signatures?: readonly RegistrySignature[];
  };
  return {
    name: r.name,
    version: r.version,
    logIndex: r.log_index,
    time: r.time,
    entry: entry as VersionEntry,
    deprecated: r.deprecated,
    unpublished: r.unpublished,
    ...(r.yanked !== null ? { yanked: r.yanked } : {}),
    ...(takenDown ? { takenDown } : {}),
    ...(signatures ? { signatures } : {}),
  };
}

/** When a version was yanked, for an ecosystem whose documents say so; null otherwise. */
export function yankedOf(doc: VersionDocument): string | null {
  const { yanked } = doc as { readonly yanked?: unknown };
  return typeof yanked === "string" ? yanked : null;
}

/** A version's row from its document (the inverse of versionDocumentOfRow). */
export function versionRowOf(
  pkg: { readonly ecosystem: string; readonly name: string },
  version: string,
  doc: VersionDocument,
): VersionRow {
  const entry = versionEntryOf(pkg, version, doc);
  const yanked = yankedOf(doc);
  return {
    name: pkg.name,
    version,
    logIndex: doc.index,
    time: publishedAt(entry),
    entry,
    deprecated: doc.deprecated ?? null,
    unpublished: doc.unpublished ?? null,
    ...(yanked !== null ? { yanked } : {}),
    ...(doc.takenDown ? { takenDown: doc.takenDown } : {}),
    ...(doc.signatures ? { signatures: doc.signatures } : {}),
  };
}

/** A version's document from its row (the entry column holds the publish entry). */
export function versionDocumentOfRow(row: VersionRow): VersionDocument {
  return {
    ...versionDocument(row.entry, row.logIndex),
    ...(row.deprecated !== null ? { deprecated: row.deprecated } : {}),
    ...(row.unpublished !== null ? { unpublished: row.unpublished } : {}),
    ...(row.yanked !== undefined ? { yanked: row.yanked } : {}),
    ...(row.takenDown !== undefined ? { takenDown: row.takenDown } : {}),
    ...(row.signatures ? { signatures: row.signatures } : {}),
  };
}

/** A package's snapshot key split at its first "/": the ecosystem, and the name its rows are keyed by. */
export function splitDocumentKey(key: string): { ecosystem: string; name: string } {
  const slash = key.indexOf("/");
  return { ecosystem: key.slice(0, slash), name: key.slice(slash + 1) };
}

/**
 * The name a package's rows are keyed by: its ecosystem's key name (the
 * name itself for an ecosystem without rules, whose entries cannot apply).
 */
export function rowName(
  ecosystems: Ecosystems,
  pkg: { readonly ecosystem: string; readonly name: string },
): string {
  const rules = ecosystems.get(pkg.ecosystem);
  return rules ? rules.keyName(pkg.name) : pkg.name;
}

/** A package's snapshot key, `<ecosystem>/<row name>`. */
export function packageKey(
  ecosystems: Ecosystems,
  pkg: { readonly ecosystem: string; readonly name: string },
): string {
  return `${pkg.ecosystem}/${rowName(ecosystems, pkg)}`;
}

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

/** What picking a version of a live package reads (see PackageTable.pickable). */
export interface Pickable {
  readonly distTags: Record<string, string>;
  readonly versions: { version: string; deprecated: string | null }[];
}

export type StateErrorCode =
  /** A state written by another version of Cairn, which only a writer may rebuild. */
  "stale-schema";

export class StateError extends CodedError<StateErrorCode> {
  override name = "StateError";
}

/** How much of a state database a reader maps into memory (pages stay the OS's to evict). */
const READER_MMAP_BYTES = 4 * 1024 ** 3;

export class RegistryState {
  readonly db: DatabaseSync;
  readonly sql: (sql: string) => StatementSync;
  readonly #tables = new Map<string, PackageTable>();
  /** The rules entries are folded by, per ecosystem. */
  readonly ecosystems: Ecosystems;

  private constructor(db: DatabaseSync, ecosystems: Ecosystems) {
    this.db = db;
    this.sql = statementCache(db);
    this.ecosystems = ecosystems;
  }

  /** Opens (creating if needed) the state database at `path` (":memory:" for tests). */
  static open(
    path: string,
    options: {
      readonly readOnly?: boolean;
      readonly ecosystems: Ecosystems;
      /** Read-only: open a state of another schema too, for its meta alone. */
      readonly anySchema?: boolean;
    },
  ): RegistryState {
    const db = new DatabaseSync(path, { readOnly: options.readOnly ?? false });
    if (options.readOnly) {
      const { user_version } = db.prepare("PRAGMA user_version").get() as { user_version: number };
      if (user_version !== STATE_SCHEMA && !options.anySchema) {
        db.close();
        // A writer drops and rebuilds such a state; a reader must not query tables it does not know.
        throw new StateError(
          "stale-schema",
          `${path} holds schema ${user_version}, and this Cairn reads schema ${STATE_SCHEMA}: run cairn sync to rebuild it from the log`,
        );
      }
      // Queries (resolve, show, search) jump about a large file: map it rather than read page by page.
      db.exec(`PRAGMA mmap_size = ${READER_MMAP_BYTES}`);
      return new RegistryState(db, options.ecosystems);
    }
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
    const schema = db.prepare("PRAGMA user_version").get() as { user_version: number };
    const hasTables = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table'").get();
    if (hasTables && schema.user_version !== STATE_SCHEMA) dropTables(db);
    db.exec(CORE_SCHEMA);
    db.exec(DERIVED_SCHEMA);
    db.exec(DEPENDENTS_SCHEMA);
    db.exec(CURRENT_VERSIONS_SCHEMA);
    db.exec(SEARCH_SCHEMA);
    db.exec(WITHHELD_SCHEMA);
    db.exec(`PRAGMA user_version = ${STATE_SCHEMA}`);
    return new RegistryState(db, options.ecosystems);
  }

  close(): void {
    this.db.close();
  }

  /** The packages of one ecosystem ("npm", "cargo"): every read below takes a name within it. */
  table(ecosystem: string): PackageTable {
    let table = this.#tables.get(ecosystem);
    if (!table) {
      table = new PackageTable(this.db, this.sql, ecosystem);
      this.#tables.set(ecosystem, table);
    }
    return table;
  }

  meta(key: string): string | undefined {
    const row = this.sql("SELECT value FROM meta WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  /** Records a key the derived state does not own (a local index notes where it syncs from). */
  setMeta(key: string, value: string): void {
    this.sql(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  }

  /** How many log entries the state reflects. */
  get logSize(): number {
    return Number(this.meta("log_size") ?? 0);
  }

  /** The latest snapshot entry applied, if any. */
  get snapshot(): SnapshotPointer | undefined {
    const value = this.meta("snapshot");
    return value === undefined ? undefined : (JSON.parse(value) as SnapshotPointer);
  }

  /** The newest database entry applied, if any. */
  get database(): DatabasePointer | undefined {
    const value = this.meta("database");
    return value === undefined ? undefined : (JSON.parse(value) as DatabasePointer);
  }

  /** The `key` entries applied, in order. */
  get keyChain(): LoggedKey[] {
    const value = this.meta("key_chain");
    return value === undefined ? [] : (JSON.parse(value) as LoggedKey[]);
  }

  /** The newest registry-keys entry applied, if any. */
  get registryKeys(): RegistryKeysPointer | undefined {
    const value = this.meta("registry_keys");
    return value === undefined ? undefined : (JSON.parse(value) as RegistryKeysPointer);
  }

  /** The newest popularity entry applied, if any. */
  get popularity(): PopularityPointer | undefined {
    const value = this.meta("popularity");
    return value === undefined ? undefined : (JSON.parse(value) as PopularityPointer);
  }

  /**
   * Indexes versions by the SHA-256 of their tarball and of their file
   * index, for `versionOfBlob`. Only the origin asks (it counts downloads
   * by blob); copies of the state need not carry the indexes.
   */
  indexVersionBlobs(): void {
    this.db.exec(`CREATE INDEX IF NOT EXISTS versions_tarball ON versions (${TARBALL_SHA256});
      CREATE INDEX IF NOT EXISTS versions_files ON versions (${FILES_SHA256});`);
  }

  /** The version whose tarball or file index is the blob `sha256`, if any. */
  versionOfBlob(sha256: string): { ecosystem: string; name: string; version: string } | undefined {
    return this.sql(
      `SELECT ecosystem, name, version FROM versions WHERE ${TARBALL_SHA256} = ?1
       UNION ALL SELECT ecosystem, name, version FROM versions WHERE ${FILES_SHA256} = ?1 LIMIT 1`,
    ).get(sha256) as { ecosystem: string; name: string; version: string } | undefined;
  }

  /** Whether a version's entry names the blob `sha256` (its tarball, manifest or file index). */
  namesBlob(sha256: string): boolean {
    if (this.versionOfBlob(sha256) !== undefined) return true;
    const manifest = this.sql(
      "SELECT 1 FROM versions WHERE json_extract(entry, '$.manifest.sha256') = ?1 LIMIT 1",
    ).get(sha256);
    return manifest !== undefined;
  }

  /** Starts a batch of entries that follow the state's log size; nothing is written until it commits. */
  begin(first: number): StateBatch {
    const size = this.logSize;
    if (first !== size)
      throw new Error(`state is at log size ${size}, cannot apply entries from ${first}`);
    return new StateBatch(this, first);
  }

  /**
   * Applies entries that follow the state's log size, in one transaction,
   * checking each snapshot entry against the state it describes. Returns
   * the snapshot keys (`npm/left-pad`) of the packages they changed.
   */
  apply(
    first: number,
    entries: readonly LogEntry[],
    alongside?: Parameters<StateBatch["commit"]>[0],
  ): Set<string> {
    const batch = this.begin(first);
    for (const entry of entries) batch.replay(entry);
    return batch.commit(alongside);
  }

  /** Every package the state knows, by ecosystem then name, bytewise (unpublished ones included). */
  packageKeys(): { ecosystem: string; name: string }[] {
    const rows = this.sql(
      "SELECT ecosystem, name FROM packages ORDER BY ecosystem, name",
    ).all() as {
      ecosystem: string;
      name: string;
    }[];
    return rows.map(({ ecosystem, name }) => ({ ecosystem, name }));
  }

  /**
   * The artifacts of live versions whose tarball has a recorded UnixFS root
   * (src/registry/artifact-dag.ts): one scan of the versions table, for a
   * server's block index at start.
   */
  unixfsArtifacts(): Artifact[] {
    const rows = this.sql(
      `SELECT json_extract(entry, '$.artifact') AS artifact FROM versions v
       WHERE unpublished IS NULL AND json_extract(entry, '$.artifact.unixfs') IS NOT NULL
         AND ${NOT_TAKEN_DOWN}`,
    ).all() as { artifact: string }[];
    return rows.map((row) => JSON.parse(row.artifact) as Artifact);
  }

  /** The SHA-256 of the package's document, as the snapshot map lists it. */
  documentHash(key: string): string | undefined {
    const row = this.sql("SELECT sha256 FROM documents WHERE key = ?").get(key) as
      | { sha256: string }
      | undefined;
    return row?.sha256;
  }
}

/**
 * Drops every table of an older state. Virtual tables (search text) go
 * first: dropping one drops its shadow tables, which must not be dropped
 * on their own before it.
 */
function dropTables(db: DatabaseSync): void {
  const tables = (virtual: boolean) =>
    db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
           AND (sql LIKE 'CREATE VIRTUAL TABLE%') = ?`,
      )
      .all(virtual ? 1 : 0) as { name: string }[];
  for (const virtual of [true, false])
    for (const { name } of tables(virtual)) db.exec(`DROP TABLE IF EXISTS "${name}"`);
}

/**
 * The packages of one ecosystem. Every statement binds the ecosystem
 * first, and every index leads with it, so each read is still one index
 * seek however many ecosystems the state holds.
 */
export class PackageTable {
  readonly ecosystem: string;
  readonly search: SearchIndex;
  readonly #sql: (sql: string) => StatementSync;
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync, sql: (sql: string) => StatementSync, ecosystem: string) {
    this.ecosystem = ecosystem;
    this.#db = db;
    this.#sql = sql;
    this.search = new SearchIndex(db, ecosystem);
  }

  /** Every package name the ecosystem holds, sorted bytewise (unpublished ones included). */
  packageNames(): string[] {
    return (
      this.#sql("SELECT name FROM packages WHERE ecosystem = ? ORDER BY name").all(
        this.ecosystem,
      ) as { name: string }[]
    ).map((r) => r.name);
  }

  /** Every package, in name order (bytewise), filtered. */
  listPackages(filter: ListFilter = {}): PackageSummary[] {
    const where = ["p.ecosystem = ?"];
    const args: (string | number)[] = [this.ecosystem];
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
    // A package whose every live version is taken down (as a whole or one by one) has nothing to show.
    const shown = filter.all ? "" : "WHERE versions > 0 OR down = 0";
    const sql = `SELECT name, modified, latest, versions FROM (
      SELECT p.name AS key, coalesce(p.spelling, p.name) AS name, p.modified AS modified,
        (SELECT version FROM current_versions c
          WHERE c.ecosystem = p.ecosystem AND c.name = p.name) AS latest,
        (SELECT count(*) FROM versions v
          WHERE v.ecosystem = p.ecosystem AND v.name = p.name AND v.unpublished IS NULL
            AND ${NOT_TAKEN_DOWN}) AS versions,
        (SELECT count(*) FROM takedowns t
          WHERE t.ecosystem = p.ecosystem AND t.name = p.name) AS down
      FROM packages p WHERE ${where.join(" AND ")}) ${shown}
      ORDER BY key LIMIT ?`;
    args.push(filter.limit ?? -1);
    const rows = this.#db.prepare(sql).all(...args) as {
      name: string;
      modified: string;
      latest: string | null;
      versions: number;
    }[];
    return rows.map((r) => ({ ...r, latest: r.latest ?? undefined }));
  }

  getPackage(name: string): PackageRow | undefined {
    return this.#sql(
      "SELECT name, spelling, created, modified, updated, unpublished FROM packages WHERE ecosystem = ? AND name = ?",
    ).get(this.ecosystem, name) as PackageRow | undefined;
  }

  /** Every version ever published, unpublished ones included (a name@version is never reused). */
  versions(name: string): VersionRow[] {
    const rows = this.#sql(
      `SELECT ${VERSION_COLUMNS} FROM ${VERSIONS_WITH_TAKEDOWNS}
       WHERE v.ecosystem = ? AND v.name = ? ORDER BY v.log_index`,
    ).all(this.ecosystem, name);
    return (rows as unknown as RawVersionRow[]).map(versionRow);
  }

  /**
   * Every live version not yet signed by registry key `keyid`, one row at a
   * time (the origin signs them on start). The signatures sit in the entry
   * column (versionColumn), so SQLite skips the signed rows without the
   * entries being parsed: a start of a signed registry reads next to nothing.
   */
  *versionsUnsignedBy(keyid: string): Generator<VersionRow> {
    const rows = this.#sql(
      `SELECT ${VERSION_COLUMNS} FROM ${VERSIONS_WITH_TAKEDOWNS}
       WHERE v.ecosystem = ? AND v.unpublished IS NULL AND instr(v.entry, ?) = 0`,
    ).iterate(this.ecosystem, JSON.stringify(keyid));
    for (const row of rows) yield versionRow(row as unknown as RawVersionRow);
  }

  /**
   * Every version's log index, publish time and status, without reading
   * its entry: a package page lists thousands of versions from this.
   */
  versionOutlines(name: string): VersionOutline[] {
    const rows = this.#sql(
      "SELECT version, log_index, time, deprecated, unpublished FROM versions WHERE ecosystem = ? AND name = ?",
    ).all(this.ecosystem, name) as {
      version: string;
      log_index: number;
      time: string;
      deprecated: string | null;
      unpublished: string | null;
    }[];
    return rows.map((r) => ({
      version: r.version,
      index: r.log_index,
      time: r.time,
      ...(r.deprecated !== null ? { deprecated: r.deprecated } : {}),
      ...(r.unpublished !== null ? { unpublished: r.unpublished } : {}),
    }));
  }

  /**
   * What picking a version of a live package reads, in one query: its
   * dist-tags and its live versions (without their entries) with any
   * deprecation. Popular packages have thousands of versions, so they come
   * back as one JSON array rather than a row each. Undefined for a package
   * that is absent or unpublished.
   */
  pickable(name: string): Pickable | undefined {
    const row = this.#sql(
      `SELECT
         (SELECT json_group_object(tag, version) FROM dist_tags
            WHERE ecosystem = p.ecosystem AND name = p.name) AS tags,
         (SELECT json_group_array(version) FROM versions v
            WHERE ecosystem = p.ecosystem AND name = p.name AND unpublished IS NULL
              AND yanked IS NULL AND ${NOT_TAKEN_DOWN}) AS versions,
         (SELECT json_group_object(version, deprecated) FROM versions v
            WHERE ecosystem = p.ecosystem AND name = p.name AND unpublished IS NULL
              AND yanked IS NULL AND deprecated IS NOT NULL AND ${NOT_TAKEN_DOWN}) AS deprecated
       FROM packages AS p WHERE p.ecosystem = ? AND p.name = ? AND p.unpublished IS NULL
         AND NOT EXISTS (SELECT 1 FROM takedowns t
           WHERE t.ecosystem = p.ecosystem AND t.name = p.name AND t.version = '')`,
    ).get(this.ecosystem, name) as
      | { tags: string; versions: string; deprecated: string }
      | undefined;
    if (!row) return undefined;
    const deprecated = JSON.parse(row.deprecated) as Record<string, string>;
    return {
      distTags: JSON.parse(row.tags) as Record<string, string>,
      versions: (JSON.parse(row.versions) as string[]).map((version) => ({
        version,
        deprecated: Object.hasOwn(deprecated, version) ? deprecated[version] : null,
      })),
    };
  }

  /** A version's resolution fields (dependencies, engines, os…), read out of its entry alone. */
  resolution(name: string, version: string): Record<string, unknown> | undefined {
    const row = this.#sql(
      "SELECT json_extract(entry, '$.resolution') AS resolution FROM versions WHERE ecosystem = ? AND name = ? AND version = ?",
    ).get(this.ecosystem, name, version) as { resolution: string | null } | undefined;
    if (!row) return undefined;
    return row.resolution === null ? {} : (JSON.parse(row.resolution) as Record<string, unknown>);
  }

  /**
   * Where a package's versions come from: `{}` when published here,
   * `{ uplink }` when imported (the fold keeps a package to one source),
   * undefined when it has no versions.
   */
  source(name: string): { readonly uplink?: string } | undefined {
    const row = this.#sql(
      "SELECT entry FROM versions WHERE ecosystem = ? AND name = ? LIMIT 1",
    ).get(this.ecosystem, name) as { entry: string } | undefined;
    if (!row) return undefined;
    const entry = JSON.parse(row.entry) as VersionEntry;
    return entry.kind === "import" ? { uplink: entry.uplink } : {};
  }

  /** One version's row, by its primary key. */
  version(name: string, version: string): VersionRow | undefined {
    const row = this.#sql(
      `SELECT ${VERSION_COLUMNS} FROM ${VERSIONS_WITH_TAKEDOWNS}
       WHERE v.ecosystem = ? AND v.name = ? AND v.version = ?`,
    ).get(this.ecosystem, name, version);
    return row ? versionRow(row as unknown as RawVersionRow) : undefined;
  }

  hasVersion(name: string, version: string): boolean {
    return (
      this.#sql("SELECT 1 FROM versions WHERE ecosystem = ? AND name = ? AND version = ?").get(
        this.ecosystem,
        name,
        version,
      ) !== undefined
    );
  }

  distTags(name: string): Record<string, string> {
    const rows = this.#sql(
      "SELECT tag, version FROM dist_tags WHERE ecosystem = ? AND name = ? ORDER BY tag",
    ).all(this.ecosystem, name) as { tag: string; version: string }[];
    return Object.fromEntries(rows.map((r) => [r.tag, r.version]));
  }

  owners(name: string): string[] {
    const rows = this.#sql("SELECT user FROM owners WHERE ecosystem = ? AND name = ?").all(
      this.ecosystem,
      name,
    ) as { user: string }[];
    return rows.map((r) => r.user).sort();
  }

  /** The package's document as the state holds it; `rows` are its versions, when already read. */
  document(name: string, rows?: readonly VersionRow[]): PackageDocument | undefined {
    const pkg = this.getPackage(name);
    if (!pkg) return undefined;
    const packageMark = takedownsOf(this.#sql, this.ecosystem, name).get("");
    return {
      v: 1,
      ecosystem: this.ecosystem,
      name: pkg.spelling ?? name,
      created: pkg.created,
      modified: pkg.modified,
      updated: pkg.updated,
      ...(pkg.unpublished !== null ? { unpublished: pkg.unpublished } : {}),
      ...(packageMark ? { takenDown: packageMark } : {}),
      distTags: this.distTags(name),
      owners: this.owners(name),
      versions: Object.fromEntries(
        (rows ?? this.versions(name)).map((row) => [row.version, versionDocumentOfRow(row)]),
      ),
    } as PackageDocument;
  }

  /** Up to `limit` packages whose current version depends on `name`, in name order (dependents.ts). */
  dependents(name: string, limit: number): string[] {
    return dependentsOf(this.#sql, this.ecosystem, name, limit);
  }

  /** How many packages' current version depends on `name`. */
  dependentCount(name: string): number {
    return dependentCount(this.#sql, this.ecosystem, name);
  }
}
