/**
 * The sequencer appends concurrent writes to the log in batches (group
 * commit, below), so the cost of fsync and signing is paid per batch, not
 * per publish.
 *
 * Each write is checked against the state *including the writes accepted
 * before it in the same batch* (two publishes of one version: the first
 * wins, the second is refused), appended, applied to the derived state, and
 * only then acknowledged: a caller's promise resolves once its entry is
 * durable under a signed checkpoint. Batches run one at a time, in order.
 */

export interface SequencedEntry<T> {
  readonly value: T;
  readonly bytes: Uint8Array;
  /** The entry's index in the log. */
  readonly index: number;
}

/** The checks of one batch: against the state and the entries the batch accepted so far. */
export interface BatchChecker<T> {
  /** Throws (the caller's error) if `candidate` may not be appended next. */
  check(candidate: T): void;
  /**
   * Records an accepted entry, so later checks in the batch see it. It may
   * throw instead, leaving the batch as it was: the write alone is refused.
   */
  accept(value: T): void;
}

export interface SequencerHooks<T> {
  /** A checker for a new batch (it can index the batch's entries as they are accepted). */
  checker(): BatchChecker<T>;
  /** Encodes an accepted value as log entry bytes. */
  encode(value: T): Uint8Array;
  /** Appends a batch durably; returns the index of its first entry. */
  append(entries: readonly Uint8Array[], values: readonly T[]): Promise<{ first: number }>;
  /** Applies appended entries to the derived state, before callers hear back. */
  apply(entries: readonly SequencedEntry<T>[]): Promise<void> | void;
}

export interface SequencerOptions {
  /** A batch holds at most this many writes; the rest wait for the next one. */
  readonly maxBatch: number;
}

interface Pending<T> {
  readonly value: T;
  resolve(result: SequencedEntry<T>): void;
  reject(err: unknown): void;
}

/**
 * Group commit: when no batch is running, the writes that arrived are cut
 * into a batch at once (after the current turn of the event loop, so that
 * requests arriving together share it); while one runs, new writes wait and
 * form the next batch as soon as it finishes. Under load batches grow by
 * themselves; a lone write never waits on a timer.
 */
export class Sequencer<T> {
  readonly #hooks: SequencerHooks<T>;
  readonly #options: SequencerOptions;
  #waiting: Pending<T>[] = [];
  #running = false;
  #scheduled = false;
  #closed = false;
  #idle: (() => void)[] = [];
  /** Set when an appended batch could not be applied: the derived state is behind the log. */
  #broken: unknown;

  constructor(hooks: SequencerHooks<T>, options: SequencerOptions) {
    this.#hooks = hooks;
    this.#options = options;
  }

  /** Resolves with the entry's log index once it is durable and applied; rejects if refused. */
  submit(value: T): Promise<SequencedEntry<T>> {
    if (this.#closed) return Promise.reject(new Error("the sequencer is closed"));
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ value, resolve, reject });
      this.#schedule();
    });
  }

  /** Stops taking writes and waits until every write already submitted is settled. */
  async close(): Promise<void> {
    this.#closed = true;
    if (!this.#running && !this.#scheduled && this.#waiting.length === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #schedule(): void {
    if (this.#running || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#next();
    });
  }

  async #next(): Promise<void> {
    if (this.#running) return;
    if (this.#waiting.length === 0) {
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    const batch = this.#waiting.splice(0, this.#options.maxBatch);
    this.#running = true;
    try {
      await this.#run(batch);
    } finally {
      this.#running = false;
    }
    await this.#next();
  }

  async #run(batch: Pending<T>[]): Promise<void> {
    if (this.#broken) {
      for (const item of batch) item.reject(this.#broken);
      return;
    }
    const accepted: Pending<T>[] = [];
    const acceptedValues: T[] = [];
    const encoded: Uint8Array[] = [];
    const checker = this.#hooks.checker();
    for (const item of batch) {
      try {
        checker.check(item.value);
        const bytes = this.#hooks.encode(item.value);
        // Accepting may still refuse the write (the origin folds it into the batch here).
        checker.accept(item.value);
        encoded.push(bytes);
        accepted.push(item);
        acceptedValues.push(item.value);
      } catch (err) {
        item.reject(err);
      }
    }
    if (accepted.length === 0) return;
    let first: number;
    try {
      ({ first } = await this.#hooks.append(encoded, acceptedValues));
    } catch (err) {
      // Nothing was appended: every caller of the batch hears the failure.
      for (const item of accepted) item.reject(err);
      return;
    }
    const sequenced = accepted.map((item, i) => ({
      value: item.value,
      bytes: encoded[i],
      index: first + i,
    }));
    try {
      await this.#hooks.apply(sequenced);
    } catch (err) {
      // The entries are in the log but the derived state missed them: refuse every
      // later write (its checks would read stale state) until a restart replays the log.
      this.#broken = new Error("the derived state fell behind the log; restart to replay it", {
        cause: err,
      });
      for (const item of accepted) item.reject(this.#broken);
      return;
    }
    for (const [i, item] of accepted.entries()) item.resolve(sequenced[i]);
  }
}
