/**
 * The witness's durable memory, in SQLite: for each log the latest cosigned
 * size, root and note, and the evidence table of refused requests that a
 * log key had signed (a fork's proof, which the operator can publish).
 *
 * Contract (WitnessStore): compareAndSwap is one SQL statement that only
 * changes the row whose size is still the old size, committed with
 * synchronous=FULL before it returns true. So a crash, or a race between
 * requests, can lose an unanswered cosignature but never roll a log back
 * below a size it answered for (tlog-witness: "persist the new checkpoint
 * before responding"; the check and the write are atomic).
 */
import { DatabaseSync } from "node:sqlite";
import type { CosignedState, EvidenceReason, WitnessStore } from "../log/index.ts";
import { sha256Hex } from "../util/sha256.ts";

export interface Evidence {
  readonly origin: string;
  readonly reason: EvidenceReason;
  /** Seconds since the epoch. */
  readonly received: number;
  /** The request body as received. */
  readonly body: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS log (
  origin TEXT PRIMARY KEY,
  origin_hash TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  root BLOB NOT NULL,
  note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
  id INTEGER PRIMARY KEY,
  origin TEXT NOT NULL,
  reason TEXT NOT NULL,
  received INTEGER NOT NULL,
  body TEXT NOT NULL
);`;

const MAX_EVIDENCE_PER_LOG = 1000;

interface LogRow {
  size: number;
  root: Uint8Array;
  note: string;
}

export class SqliteWitnessStore implements WitnessStore {
  readonly #db: DatabaseSync;
  readonly #now: () => number;

  private constructor(db: DatabaseSync, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  static open(path: string, now = () => Math.floor(Date.now() / 1000)): SqliteWitnessStore {
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
    db.exec(SCHEMA);
    return new SqliteWitnessStore(db, now);
  }

  close(): void {
    this.#db.close();
  }

  async get(origin: string): Promise<CosignedState | undefined> {
    const row = this.#db.prepare("SELECT size, root, note FROM log WHERE origin = ?").get(origin) as
      | LogRow
      | undefined;
    return row && { size: row.size, root: new Uint8Array(row.root), note: row.note };
  }

  /** The latest cosigned note of the log whose origin line hashes (SHA-256, hex) to `hash`. */
  latestNote(originHash: string): string | undefined {
    const row = this.#db.prepare("SELECT note FROM log WHERE origin_hash = ?").get(originHash) as
      | { note: string }
      | undefined;
    return row?.note;
  }

  async compareAndSwap(origin: string, oldSize: number, next: CosignedState): Promise<boolean> {
    const note = next.note ?? "";
    // Without a row the old size is 0; with one, only the row still at oldSize changes.
    const result =
      oldSize === 0
        ? this.#db
            .prepare(
              `INSERT INTO log (origin, origin_hash, size, root, note) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root,
               note = excluded.note WHERE log.size = 0`,
            )
            .run(origin, sha256Hex(origin), next.size, next.root, note)
        : this.#db
            .prepare("UPDATE log SET size = ?, root = ?, note = ? WHERE origin = ? AND size = ?")
            .run(next.size, next.root, note, origin, oldSize);
    return result.changes === 1;
  }

  async recordEvidence(origin: string, reason: EvidenceReason, body: string): Promise<void> {
    // The first requests of a fork prove it; a log's key holder must not fill the disk with more.
    const kept = this.#db
      .prepare("SELECT count(*) AS n FROM evidence WHERE origin = ?")
      .get(origin) as { n: number };
    if (kept.n >= MAX_EVIDENCE_PER_LOG) return;
    this.#db
      .prepare("INSERT INTO evidence (origin, reason, received, body) VALUES (?, ?, ?, ?)")
      .run(origin, reason, this.#now(), body);
  }

  evidence(): Evidence[] {
    return this.#db
      .prepare("SELECT origin, reason, received, body FROM evidence ORDER BY id")
      .all() as unknown as Evidence[];
  }
}
