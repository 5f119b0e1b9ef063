/**
 * Per-file deltas, so an upgrade fetches what changed rather than whole
 * files. For each path that a new version and its previous version both
 * hold with other bytes, and for the version's file index itself (from the
 * previous version's index), the origin serves
 *
 *   delta/sha256/<base sha256>/<target sha256>
 *
 * a single zstd frame made by node:zlib's `zstdCompress` with the base
 * file's bytes as `dictionary` and the parameters of `deltaParams`: level
 * 19, `ZSTD_c_windowLog` = max(10, ⌈log2(base size + target size)⌉) so the
 * window covers both (at most 25: both files are at most 16 MiB), and
 * long-distance matching on. `zstdDecompress(delta, {dictionary: base})`
 * gives the target's bytes, which the client checks against the target's
 * hash before use; a client that lacks the base, or whose result fails
 * that check, takes the target's blob instead.
 *
 * The previous version is the highest version lower (by semver) than the
 * new one that has a file index and is not unpublished. Deltas are made
 * after the publish is durable, one file at a time, by a bounded queue
 * whose compression runs on libuv's thread pool, so neither requests nor
 * the sequencer wait for them. Each is written to a temporary file and
 * renamed into place, so no partial delta is ever served; a crash only
 * leaves some missing, and a delta already there is not made again.
 * Mirrors do not copy deltas: anyone can recompute them from the blobs.
 */
import { mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { constants, zstdCompress, zstdDecompressSync } from "node:zlib";
import semver from "semver";
import type { Registry } from "../origin/registry.ts";
import type { BlobRef, Entry } from "../registry/entries.ts";
import { deltaPath } from "../store/delta-path.ts";
import { replaceFile } from "../util/durable-file.ts";
import { type FileIndex, parseFileIndex } from "./file-index.ts";

/** Larger files get no delta: their blob is fetched whole. */
export const MAX_DELTA_FILE_SIZE = 16 << 20;
export const DELTA_LEVEL = 19;
/** Versions waiting for their deltas; past this, a publish gets none (clients fetch blobs). */
const MAX_QUEUED_VERSIONS = 10_000;

/** The zstd parameters of a delta from a base of `baseSize` bytes to a target of `targetSize`. */
export function deltaParams(baseSize: number, targetSize: number): Record<number, number> {
  const windowLog = Math.max(10, Math.ceil(Math.log2(baseSize + targetSize)));
  return {
    [constants.ZSTD_c_compressionLevel]: DELTA_LEVEL,
    [constants.ZSTD_c_windowLog]: windowLog,
    [constants.ZSTD_c_enableLongDistanceMatching]: 1,
  };
}

const compress = promisify(zstdCompress) as (
  data: Uint8Array,
  options: { params: Record<number, number>; dictionary: Uint8Array },
) => Promise<Buffer>;

export function makeDelta(base: Uint8Array, target: Uint8Array): Promise<Buffer> {
  return compress(target, { params: deltaParams(base.length, target.length), dictionary: base });
}

/** The target's bytes; the caller checks them against the target's hash. */
export function applyDelta(base: Uint8Array, delta: Uint8Array): Buffer {
  return zstdDecompressSync(delta, { dictionary: base, maxOutputLength: MAX_DELTA_FILE_SIZE });
}

/** The (base, target) pairs of files a version changed at the same path. */
export function changedFiles(
  previous: FileIndex,
  next: FileIndex,
): { base: string; target: string }[] {
  const pairs = new Map<string, { base: string; target: string }>();
  for (const [path, file] of next.files) {
    const old = previous.files.get(path);
    if (old === undefined || old.sha256 === file.sha256) continue;
    if (old.size > MAX_DELTA_FILE_SIZE || file.size > MAX_DELTA_FILE_SIZE) continue;
    pairs.set(`${old.sha256}/${file.sha256}`, { base: old.sha256, target: file.sha256 });
  }
  return [...pairs.values()];
}

interface Version {
  readonly name: string;
  readonly version: string;
}

export interface FileDeltasOptions {
  readonly durable: boolean;
  /** Told of a version whose deltas failed (they are optional: nothing else happens). */
  readonly onError?: (version: Version, err: unknown) => void;
}

/** The origin's queue of versions whose deltas are still to be made. */
export class FileDeltas {
  readonly #treeDir: string;
  readonly #registry: Registry;
  readonly #options: FileDeltasOptions;
  readonly #queue: Version[] = [];
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(treeDir: string, registry: Registry, options: FileDeltasOptions) {
    this.#treeDir = treeDir;
    this.#registry = registry;
    this.#options = options;
  }

  /** Queues the versions of durable entries that name a file index. */
  enqueue(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if ((entry.kind !== "publish" && entry.kind !== "artifact") || !entry.files) continue;
      if (this.#queue.length >= MAX_QUEUED_VERSIONS) break;
      this.#queue.push({ name: entry.name, version: entry.version });
    }
    this.#kick();
  }

  /** Resolves once every queued version's deltas are made (or failed). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops after the version in hand; the rest get no deltas. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    await this.idle();
  }

  #kick(): void {
    if (this.#running || this.#closed || this.#queue.length === 0) return;
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      this.#kick();
    });
  }

  async #drain(): Promise<void> {
    for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
      try {
        await this.#deltasOf(next);
      } catch (err) {
        this.#options.onError?.(next, err);
      }
      if (this.#closed) return;
    }
  }

  async #deltasOf({ name, version }: Version): Promise<void> {
    const rows = this.#registry.state
      .table("npm")
      .versions(name)
      .filter((r) => r.unpublished === null && r.entry.files !== undefined);
    const current = rows.find((r) => r.version === version);
    const lower = rows.filter((r) => semver.lt(r.version, version));
    const previous = semver.rsort(lower.map((r) => r.version))[0];
    const base = rows.find((r) => r.version === previous);
    if (!current?.entry.files || !base?.entry.files) return;
    const [next, old] = await Promise.all([
      this.#index(current.entry.files),
      this.#index(base.entry.files),
    ]);
    if (!next || !old) return;
    // The index too: a client upgrading holds the previous one, and an index's hashes do not compress.
    const pairs = [{ base: base.entry.files.sha256, target: current.entry.files.sha256 }];
    for (const pair of [...pairs, ...changedFiles(old, next)]) {
      if (this.#closed) return;
      await this.#delta(pair.base, pair.target);
    }
  }

  async #index(ref: BlobRef): Promise<FileIndex | undefined> {
    const bytes = await this.#registry.blobs.get(ref.sha256);
    return bytes && parseFileIndex(new TextDecoder().decode(bytes));
  }

  async #delta(baseHex: string, targetHex: string): Promise<void> {
    const target = join(this.#treeDir, deltaPath(baseHex, targetHex));
    if (await stat(target).catch(() => undefined)) return;
    const [base, bytes] = await Promise.all([
      this.#registry.blobs.get(baseHex),
      this.#registry.blobs.get(targetHex),
    ]);
    if (!base || !bytes) return;
    const delta = await makeDelta(base, bytes);
    await mkdir(dirname(target), { recursive: true });
    await replaceFile(target, delta, this.#options.durable, this.#registry.blobs.tempPath());
  }
}
