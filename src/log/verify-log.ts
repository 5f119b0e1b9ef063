/**
 * Full audit of a static log: the checkpoint signature, then every entry
 * bundle, replayed in order, must rebuild byte for byte every hash tile the
 * source serves, and the rebuilt root must be the signed one.
 */
import { openCheckpoint, type SignedCheckpoint } from "./checkpoint.ts";
import { LogError } from "./errors.ts";
import { equalBytes } from "./hash.ts";
import type { NoteVerifier } from "./note.ts";
import { type LogSource, MAX_TILE_BYTES } from "./tile-reader.ts";
import { bundlePath, MAX_BUNDLE_BYTES, parseBundle, TILE_WIDTH } from "./tiles.ts";
import { type LogFile, TreeBuilder } from "./tree-builder.ts";

/** Checkpoints are a few lines plus signatures; anything bigger is refused. */
export const MAX_CHECKPOINT_BYTES = 64 * 1024;

export async function readCheckpoint(
  source: LogSource,
  verifiers: readonly NoteVerifier[],
  origin?: string,
): Promise<SignedCheckpoint> {
  const data = await source.read("checkpoint", MAX_CHECKPOINT_BYTES);
  return openCheckpoint(data, verifiers, origin);
}

export interface VerifyLogOptions {
  readonly origin?: string;
  /** Called after each bundle with the number of entries checked so far. */
  readonly onProgress?: (checked: number, size: number) => void;
  /** Bundles and tiles fetched at once. */
  readonly concurrency?: number;
  /** Called with each bundle's entries, in log order, as they are replayed. */
  readonly onEntries?: (first: number, entries: readonly Uint8Array[]) => void;
}

export interface VerifyLogResult {
  readonly checkpoint: SignedCheckpoint;
  readonly bundles: number;
  readonly tiles: number;
}

export async function verifyLog(
  source: LogSource,
  verifiers: readonly NoteVerifier[],
  options: VerifyLogOptions = {},
): Promise<VerifyLogResult> {
  const checkpoint = await readCheckpoint(source, verifiers, options.origin);
  const { size } = checkpoint;
  const concurrency = options.concurrency ?? 8;
  const tree = TreeBuilder.empty();
  const pendingTiles = new Set<Promise<void>>();
  let tiles = 0;
  let tileError: unknown;

  const checkTile = (file: LogFile) => {
    if (file.path.startsWith("tile/entries/")) return;
    tiles++;
    const check = source.read(file.path, MAX_TILE_BYTES).then((served) => {
      if (!equalBytes(served, file.data)) {
        throw new LogError(
          "hash-mismatch",
          `${file.path} from ${source.name} does not match the entries`,
        );
      }
    });
    const tracked: Promise<void> = check
      .catch((err: unknown) => {
        tileError ??= err;
      })
      .finally(() => pendingTiles.delete(tracked));
    pendingTiles.add(tracked);
  };

  const bundleCount = Math.ceil(size / TILE_WIDTH);
  const fetchBundle = (index: number) => {
    const width = Math.min(TILE_WIDTH, size - index * TILE_WIDTH);
    const path = bundlePath(index, width);
    const entries = source.read(path, MAX_BUNDLE_BYTES).then((data) => parseBundle(data, width));
    // Awaited in order below; this only stops a prefetched failure from being reported as unhandled.
    entries.catch(() => {});
    return entries;
  };
  const inFlight: Promise<Uint8Array[]>[] = [];
  let next = 0;
  const fill = () => {
    while (next < bundleCount && inFlight.length < concurrency) inFlight.push(fetchBundle(next++));
  };
  fill();
  for (let index = 0; index < bundleCount; index++) {
    const entries = await (inFlight.shift() as Promise<Uint8Array[]>);
    fill();
    options.onEntries?.(tree.size, entries);
    for (const entry of entries) tree.append(entry, checkTile);
    while (pendingTiles.size >= concurrency) await Promise.race(pendingTiles);
    if (tileError) throw tileError;
    options.onProgress?.(tree.size, size);
  }
  for (const file of tree.partialFiles()) checkTile(file);
  await Promise.all(pendingTiles);
  if (tileError) throw tileError;
  if (!equalBytes(tree.root(), checkpoint.root)) {
    throw new LogError(
      "hash-mismatch",
      `entries from ${source.name} do not hash to the checkpoint root`,
    );
  }
  if (size === 0) options.onProgress?.(0, 0);
  return { checkpoint, bundles: bundleCount, tiles };
}
