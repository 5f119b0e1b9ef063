/**
 * The test upstream's change feed, as CouchDB's `_changes` (which npm's
 * replication endpoint serves): every change to a package gets the next
 * sequence number, and a package appears once, at its latest change, as
 * in CouchDB. `GET /_changes?since=3&limit=2` answers
 * `{"results":[{"seq":4,"id":"ms","changes":[{"rev":"2-…"}]}],"last_seq":4}`.
 */

export interface ChangeRow {
  readonly seq: number;
  readonly id: string;
  readonly changes: readonly { rev: string }[];
  /** Present when the whole package is gone. */
  readonly deleted?: true;
}

export interface ChangesPage {
  readonly results: ChangeRow[];
  readonly last_seq: number;
}

interface Latest {
  seq: number;
  rev: string;
  deleted: boolean;
}

export class ChangeFeed {
  #seq = 0;
  readonly #latest = new Map<string, Latest>();
  readonly #waiters = new Set<() => void>();

  get seq(): number {
    return this.#seq;
  }

  record(name: string, rev: string, deleted = false): number {
    this.#seq++;
    this.#latest.set(name, { seq: this.#seq, rev, deleted });
    for (const wake of [...this.#waiters]) wake();
    return this.#seq;
  }

  page(since: number, limit: number): ChangesPage {
    const rows = [...this.#latest]
      .filter(([, l]) => l.seq > since)
      .sort((a, b) => a[1].seq - b[1].seq)
      .slice(0, limit)
      .map(
        ([id, l]): ChangeRow => ({
          seq: l.seq,
          id,
          changes: [{ rev: l.rev }],
          ...(l.deleted ? { deleted: true as const } : {}),
        }),
      );
    return { results: rows, last_seq: rows.at(-1)?.seq ?? Math.min(since, this.#seq) };
  }

  /** Resolves at the next change, or when `cancel` is called (the request ended, or the server closed). */
  nextChange(): { changed: Promise<void>; cancel(): void } {
    let wake = () => {};
    const changed = new Promise<void>((resolve) => {
      wake = () => {
        this.#waiters.delete(wake);
        resolve();
      };
      this.#waiters.add(wake);
    });
    return { changed, cancel: wake };
  }

  /** Ends every wait, as if something changed. */
  wakeAll(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}
