/**
 * The origin's watch over its own static tree: disks flip bits and files
 * get cut short, and a registry that signs new checkpoints over a damaged
 * tree serves the damage to every mirror.
 *
 * Three checks, one walker (checkTree in src/log):
 * - at start, the right edge: the partial tiles against the signed root,
 *   the last bundles, their tiles and the tiles above them, and that the
 *   blobs their entries name exist;
 * - in the background, a scrub of everything (every tile, every bundle,
 *   every blob file hashed against its name), reading at a bounded rate;
 * - `cairn serve --check`: the scrub at full speed, once.
 *
 * What is found goes into TreeHealth: one log line per damaged file, the
 * status endpoint, the refusal of writes and of serving those files.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { opendir, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { readGcState, requiredAfterGc } from "../gc/retention.ts";
import {
  checkTree,
  DirectorySource,
  type LogSource,
  type NoteVerifier,
  openCheckpoint,
  type TreeDamage,
} from "../log/index.ts";
import {
  type BlobRef,
  blobsNamedBy,
  decodeEntry,
  type Entry,
  isPackageEntry,
} from "../registry/entries.ts";
import { CodedError } from "../util/coded-error.ts";

export type { TreeDamage };

export type TreeHealthCode = "tree-damaged" | "damaged-file";

export class TreeHealthError extends CodedError<TreeHealthCode> {
  override name = "TreeHealthError";
}

/** Bundles the start-up check reads: the newest entries, where a crash or a bad disk bites first. */
export const RECENT_BUNDLES = 4;
const HEX64 = /^[0-9a-f]{64}$/;

export interface CheckScope {
  /** Only the right edge and the last `recent` bundles; everything when absent. */
  readonly recent?: number;
  /** Hash every blob file against its name (otherwise only check that named blobs exist). */
  readonly hashBlobs: boolean;
  /** Called with the bytes of each read, and awaited: the scrub's pace. */
  readonly pace?: (bytes: number) => Promise<void>;
  readonly signal?: AbortSignal;
  /** Blobs a takedown withholds (src/registry/withheld.ts): expected absent, not damage. */
  readonly isWithheld?: (sha256: string) => boolean;
}

export interface CheckResult {
  readonly size: number;
  readonly damage: readonly TreeDamage[];
  readonly tiles: number;
  readonly bundles: number;
  readonly blobs: number;
}

/** The blobs an entry names, which the tree must hold. */
function namedBlobs(entry: Entry): BlobRef[] {
  switch (entry.kind) {
    case "snapshot":
      return [entry.root];
    case "database":
      return [entry.blob];
    default:
      return blobsNamedBy(entry).map((blob) => blob.ref);
  }
}

function blobPath(hex: string): string {
  return `blob/sha256/${hex}`;
}

/** Checks the tree in `treeDir` against its own signed checkpoint. */
export async function checkStoredTree(
  treeDir: string,
  verifier: NoteVerifier,
  scope: CheckScope,
): Promise<CheckResult> {
  const pace = scope.pace ?? (async () => {});
  const dir = new DirectorySource(treeDir);
  const source: LogSource = {
    name: dir.name,
    read: async (path, maxBytes) => {
      const data = await dir.read(path, maxBytes);
      await pace(data.length);
      return data;
    },
  };
  let size: number;
  let root: Uint8Array;
  try {
    ({ size, root } = openCheckpoint(
      await source.read("checkpoint", 64 * 1024),
      [verifier],
      verifier.name,
    ));
  } catch (err) {
    const damage = [{ path: "checkpoint", problem: (err as Error).message }];
    return { size: 0, damage, tiles: 0, bundles: 0, blobs: 0 };
  }
  const damage: TreeDamage[] = [];
  let blobs = 0;
  // Snapshot files and databases garbage collection removed are not damage.
  let required = requiredAfterGc(await readGcState(treeDir));
  const onBundle = async (index: number, entries: readonly Uint8Array[]) => {
    for (const [i, bytes] of entries.entries()) {
      let entry: Entry;
      try {
        entry = decodeEntry(bytes);
      } catch {
        // Authentic bytes the decoder refuses are the log's problem, not the disk's.
        continue;
      }
      if (!required(index * 256 + i, entry)) continue;
      for (const ref of namedBlobs(entry)) {
        if (scope.isWithheld?.(ref.sha256)) continue;
        const found = await stat(join(treeDir, blobPath(ref.sha256))).catch(() => undefined);
        if (found === undefined && entry.kind !== "popularity" && !isPackageEntry(entry)) {
          // A collection may have run since this check began: it records its scan before it deletes.
          required = requiredAfterGc(await readGcState(treeDir));
          if (!required(index * 256 + i, entry)) continue;
        }
        if (found?.size !== ref.size) {
          const problem = found ? `has ${found.size} bytes, not ${ref.size}` : "missing";
          damage.push({
            path: blobPath(ref.sha256),
            problem: `${problem} (named by entry ${index * 256 + i})`,
          });
        }
      }
    }
  };
  const tree = await checkTree(source, size, root, {
    recent: scope.recent,
    onBundle,
    signal: scope.signal,
  });
  damage.unshift(...tree.damage);
  if (scope.hashBlobs) {
    const dirPath = join(treeDir, "blob", "sha256");
    for await (const file of await opendir(dirPath).catch(() => [])) {
      if (scope.signal?.aborted) break;
      if (!HEX64.test(file.name)) continue;
      blobs++;
      const actual = await hashFile(join(dirPath, file.name), pace).catch(
        (err: NodeJS.ErrnoException) => {
          // Deleted since it was listed (garbage collection): nothing to check.
          if (err.code === "ENOENT") return file.name;
          throw err;
        },
      );
      if (actual !== file.name && !damage.some((d) => d.path === blobPath(file.name)))
        damage.push({ path: blobPath(file.name), problem: "its bytes do not hash to its name" });
    }
  }
  return { size, damage, tiles: tree.tiles, bundles: tree.bundles, blobs };
}

async function hashFile(path: string, pace: (bytes: number) => Promise<void>): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    await pace((chunk as Buffer).length);
  }
  return hash.digest("hex");
}

/** Keeps the average read rate at or under `bytesPerSecond`. */
export function pacer(
  bytesPerSecond: number,
  signal?: AbortSignal,
): (bytes: number) => Promise<void> {
  const started = performance.now();
  let total = 0;
  return async (bytes) => {
    total += bytes;
    const due = started + (total / bytesPerSecond) * 1000 - performance.now();
    if (due > 1) await delay(due, undefined, { signal }).catch(() => {});
  };
}

export interface ScrubStatus {
  readonly passes: number;
  readonly running: boolean;
  readonly lastFinished: string | null;
}

export interface HealthStatus {
  readonly tree: "ok" | "damaged";
  readonly damaged: readonly TreeDamage[];
  readonly scrub: ScrubStatus;
}

/** What is known to be damaged, and what follows from it. */
export class TreeHealth {
  readonly #damaged = new Map<string, string>();
  readonly #log: (line: string) => void;
  readonly #listeners = new Set<() => void>();
  #scrub: ScrubStatus = { passes: 0, running: false, lastFinished: null };

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  /** Records damage found; each file is logged once. */
  report(damage: readonly TreeDamage[]): void {
    for (const { path, problem } of damage) {
      if (this.#damaged.has(path)) continue;
      this.#damaged.set(path, problem);
      this.#log(
        `cairn: damaged file in the static tree: ${path}: ${problem}; ` +
          "writes are refused and the file is not served until it is repaired (see cairn serve --check)",
      );
    }
  }

  /** A line for the operator that changes nothing. */
  note(line: string): void {
    this.#log(line);
  }

  get damaged(): boolean {
    return this.#damaged.size > 0;
  }

  isDamaged(path: string): boolean {
    return this.#damaged.has(path);
  }

  /** Why the log must not be extended, or undefined if it may. */
  refuseWrites(): string | undefined {
    if (!this.damaged) return undefined;
    const [first] = this.#damaged.keys();
    return (
      `the registry's static tree is damaged (${this.#damaged.size} file(s), such as ${first}): ` +
      "writes are refused until an operator repairs it"
    );
  }

  scrubStarted(): void {
    this.#scrub = { ...this.#scrub, running: true };
    this.#emit();
  }

  scrubFinished(): void {
    this.#scrub = {
      passes: this.#scrub.passes + 1,
      running: false,
      lastFinished: new Date().toISOString(),
    };
    this.#emit();
  }

  /** Calls `listener` after each change of the scrub's state; returns a function that stops it. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): HealthStatus {
    return {
      tree: this.damaged ? "damaged" : "ok",
      damaged: [...this.#damaged].map(([path, problem]) => ({ path, problem })),
      scrub: this.#scrub,
    };
  }

  #emit(): void {
    for (const listener of this.#listeners) listener();
  }
}

/**
 * Scrubs the whole tree now and then (a pass at once, then one a day),
 * reading at most `mibPerSecond`; returns a function that stops it.
 */
export function startScrub(
  treeDir: string,
  verifier: NoteVerifier,
  health: TreeHealth,
  mibPerSecond: number,
  isWithheld?: (sha256: string) => boolean,
): () => Promise<void> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const pass = () => {
    health.scrubStarted();
    running = checkStoredTree(treeDir, verifier, {
      hashBlobs: true,
      pace: pacer(mibPerSecond * 1024 * 1024, abort.signal),
      signal: abort.signal,
      isWithheld,
    })
      .then((result) => {
        if (!abort.signal.aborted) health.report(result.damage);
      })
      .catch((err: unknown) => {
        // A scrub that cannot read (too many open files, say) proves nothing damaged: say so, try again later.
        if (!abort.signal.aborted)
          health.note(`cairn: the scrub of the static tree failed: ${(err as Error).message}`);
      })
      .finally(() => {
        if (abort.signal.aborted) return;
        health.scrubFinished();
        timer = setTimeout(pass, 24 * 3600 * 1000);
        timer.unref();
      });
  };
  pass();
  return async () => {
    abort.abort();
    clearTimeout(timer);
    await running;
  };
}
