/**
 * Runs tasks one at a time per key (tasks of other keys run alongside),
 * each after the one queued before it settles, whether it failed or not.
 * A key is forgotten once its queue empties.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const done = (this.#tails.get(key) ?? Promise.resolve()).then(task, task);
    const tail = done.then(
      () => {},
      () => {},
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return done;
  }
}
