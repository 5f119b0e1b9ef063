/**
 * Concurrent calls with the same key share one run of the work: the first
 * caller starts it, later ones get the same promise. Once it settles the
 * key is free, so a failure is not cached and the next call tries again.
 * Keys compare as Map keys do (SameValueZero).
 */
export class SingleFlight<K, V> {
  readonly #flights = new Map<K, Promise<V>>();

  run(key: K, fn: () => Promise<V>): Promise<V> {
    const current = this.#flights.get(key);
    if (current) return current;
    // Async, so a synchronous throw from `fn` settles the flight like a rejection.
    const flight = (async () => fn())();
    this.#flights.set(key, flight);
    const land = () => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    };
    flight.then(land, land);
    return flight;
  }

  /** How many keys have a run in progress. */
  get size(): number {
    return this.#flights.size;
  }
}
