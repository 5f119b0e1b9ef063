/**
 * The origin's count of downloads per version, published as `popularity`
 * entries (src/registry/popularity.ts) so that every LAN peer applies the
 * same rule for what is popular enough to share.
 *
 * Counted: each tarball (through the npm API or the static tree) and each
 * file index (the static tree) the origin serves whole with a 200, once
 * per request, under `npm/<name>@<version>`. Mirrors do not report their
 * downloads (yet), so the counts are a lower bound of use.
 *
 * The counts of each interval go into a sketch of their own; every interval
 * the origin publishes the sum of the last `window` of them (the sketches
 * add up cell by cell). Counts live in memory: after a restart the window
 * starts again, and the entry says so by its shorter `window`; a shorter
 * window only makes fewer versions popular, which errs toward privacy.
 */
import { CountMinSketch, defaultThreshold, popularityKey } from "../registry/popularity.ts";

export interface PopularityOptions {
  /** Intervals one published sketch sums (default 7: a week of daily sketches). */
  readonly window?: number;
  /** The threshold to publish; by default max(100, ⌈1e-4 · total⌉) of the window's total. */
  readonly threshold?: number;
  readonly depth?: number;
  readonly width?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
}

interface Interval {
  readonly from: string;
  readonly sketch: CountMinSketch;
}

/** What one publication names: the window's summed sketch and its bounds. */
export interface PopularityWindow {
  readonly from: string;
  readonly to: string;
  readonly sketch: CountMinSketch;
  readonly threshold: number;
}

export class DownloadCounter {
  readonly #window: number;
  readonly #threshold: number | undefined;
  readonly #depth: number | undefined;
  readonly #width: number | undefined;
  readonly #now: () => number;
  /** Closed intervals, oldest first, at most window - 1 of them. */
  readonly #closed: Interval[] = [];
  #current: Interval;

  constructor(options: PopularityOptions = {}) {
    this.#window = Math.max(1, options.window ?? 7);
    this.#threshold = options.threshold;
    this.#depth = options.depth;
    this.#width = options.width;
    this.#now = options.now ?? Date.now;
    this.#current = this.#open();
  }

  #open(): Interval {
    return {
      from: new Date(this.#now()).toISOString(),
      sketch: new CountMinSketch(this.#depth, this.#width),
    };
  }

  /** Counts one download of `name@version` of `ecosystem` (its key name: a crate's canonical one). */
  count(ecosystem: string, name: string, version: string): void {
    this.#current.sketch.add(popularityKey(ecosystem, name, version));
  }

  /**
   * Closes the current interval and returns the sum of the window's
   * intervals, to be published; counting goes on in a new interval.
   */
  roll(): PopularityWindow {
    const closing = this.#current;
    this.#current = this.#open();
    const sum = new CountMinSketch(closing.sketch.depth, closing.sketch.width);
    for (const interval of [...this.#closed, closing]) sum.merge(interval.sketch);
    const from = this.#closed[0]?.from ?? closing.from;
    this.#closed.push(closing);
    while (this.#closed.length > this.#window - 1) this.#closed.shift();
    return {
      from,
      to: this.#current.from,
      sketch: sum,
      threshold: this.#threshold ?? defaultThreshold(sum.total),
    };
  }
}
