/**
 * Names an uplink said it does not have, and when it said so, kept across
 * restarts: with the uplink away, such a name still answers 404 as it did
 * (npm then skips an optional peer dependency offline as it does online)
 * rather than 502. A cache, not a record: it lives beside the log, never in
 * it, is bounded (least recently asked names go first), and a damaged or
 * missing file only costs a question to the uplink.
 */
import { readFile } from "node:fs/promises";
import { LRUCache } from "lru-cache";
import { replaceFile } from "../util/durable-file.ts";

/** Names remembered; at most a few MB on disk. */
const MAX_NAMES = 100_000;

export class MissingNames {
  readonly #path: string | undefined;
  readonly #names = new LRUCache<string, number>({ max: MAX_NAMES });
  #dirty = false;
  #saving: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(path: string | undefined) {
    this.#path = path;
  }

  /** The names saved at `path` (none if it is absent or unreadable); in memory only without a path. */
  static async open(path?: string): Promise<MissingNames> {
    const names = new MissingNames(path);
    if (!path) return names;
    try {
      const saved: unknown = JSON.parse(await readFile(path, "utf8"));
      if (Array.isArray(saved))
        for (const item of saved.slice(-MAX_NAMES)) {
          if (Array.isArray(item) && typeof item[0] === "string" && Number.isFinite(item[1]))
            names.#names.set(item[0], item[1]);
        }
    } catch {
      // Unreadable or absent: start empty, and the uplink is asked again.
    }
    return names;
  }

  /** When the uplink last said it lacks `name`, if it did. */
  since(name: string): number | undefined {
    return this.#names.get(name);
  }

  set(name: string, at: number): void {
    this.#names.set(name, at);
    this.#changed();
  }

  delete(name: string): void {
    if (this.#names.delete(name)) this.#changed();
  }

  /** Saved a second after a change, so a burst of 404s costs one write. */
  #changed(): void {
    this.#dirty = true;
    if (!this.#path || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, 1000);
    this.#timer.unref();
  }

  /** Writes the names now if they changed (on close, and a second after changes). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#saving;
    if (!this.#dirty || !this.#path) return;
    this.#dirty = false;
    const entries = [...this.#names.entries()].reverse();
    this.#saving = replaceFile(
      this.#path,
      Buffer.from(JSON.stringify(entries)),
      false,
      `${this.#path}.tmp`,
    )
      .catch(() => {
        this.#dirty = true;
      })
      .finally(() => {
        this.#saving = undefined;
      });
    await this.#saving;
  }
}
