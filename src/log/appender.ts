/**
 * The log's single writer: appends batches of entries and publishes, in this
 * order, the new entry bundles, the new hash tiles, and last the new signed
 * checkpoint. A reader that follows the checkpoint therefore never finds a
 * tile or bundle missing, and a crash at any point leaves the previous
 * checkpoint valid: files written past it are simply written again by the
 * next batch.
 *
 * State kept in memory is small: the frontier (one hash per complete subtree
 * on the right edge), the partial tile at each level and the entries of the
 * partial bundle. On open it is recovered from the checkpoint and the partial
 * tiles and bundle it names, and checked against the signed root.
 */
import { formatCheckpoint, openCheckpoint } from "./checkpoint.ts";
import { LogError } from "./errors.ts";
import type { Hash } from "./hash.ts";
import { type NoteSigner, type NoteVerifier, parseNote, signNote } from "./note.ts";
import {
  bundlePath,
  checkEntrySize,
  edgeTiles,
  parseBundle,
  TILE_WIDTH,
  tileHashes,
  tilePath,
} from "./tiles.ts";
import { type LogFile, TreeBuilder } from "./tree-builder.ts";

export type { LogFile } from "./tree-builder.ts";

/**
 * Where the appender keeps the static tree. Contract:
 * - `read` returns undefined for a path that does not exist.
 * - `writeFiles` is durable once it resolves. It is only ever given paths
 *   that no stored checkpoint covers (a file a checkpoint covers is never
 *   written again), so it may write them in place: until the checkpoint
 *   moves, nobody should read them. Files written by a batch that crashed
 *   before its checkpoint are written again by the next batch.
 * - `swapCheckpoint` replaces the checkpoint atomically and durably, and only
 *   if the stored one is still `expected` (compare-and-swap), else it throws
 *   LogError "conflict". A reader sees the old or the new one, never a mix.
 */
export interface LogStorage {
  read(path: string): Promise<Uint8Array | undefined>;
  writeFiles(files: readonly LogFile[]): Promise<void>;
  swapCheckpoint(expected: Uint8Array | undefined, next: Uint8Array): Promise<void>;
  /**
   * Optional: prepares `next` for the following swapCheckpoint (written
   * durably where no reader looks), so the swap itself is only a rename.
   * Called while the batch's files are written.
   */
  stageCheckpoint?(next: Uint8Array): Promise<void>;
  /**
   * Optional, needed with `cosign`: keeps `next` durably as the pending
   * checkpoint (replacing the previous one) once every file it covers is
   * durable, before witnesses see it; `readPending` returns it (undefined
   * if none). A crash after witnesses cosigned it but before the swap then
   * rolls forward to it on open, so the log never falls behind a size a
   * witness holds (which would look like a fork from then on).
   */
  savePending?(next: Uint8Array): Promise<void>;
  readPending?(): Promise<Uint8Array | undefined>;
}

export interface AppenderOptions {
  /** The checkpoint origin line, the log's name. */
  readonly origin: string;
  readonly signer: NoteSigner;
  /** Verifies the stored checkpoint on open: the signer's own public key. */
  readonly verifier: NoteVerifier;
  /**
   * Signers of extra signatures added to each checkpoint (a key being
   * rotated out, while its window lasts): asked anew for every checkpoint.
   */
  readonly cosigners?: readonly NoteSigner[] | (() => readonly NoteSigner[]);
  /**
   * Awaited once a batch is durable, before its checkpoint is published:
   * returns the checkpoint to publish, the signed one with witnesses'
   * cosignatures added, so the first published checkpoint of a size
   * already carries them (and a publish's acknowledgement waits for them).
   */
  readonly cosign?: (checkpoint: Uint8Array) => Promise<Uint8Array>;
}

export interface AppendResult {
  /** Index of the first entry of the batch. */
  readonly first: number;
  /** Tree size after the batch. */
  readonly size: number;
  readonly checkpoint: Uint8Array;
}

const encoder = new TextEncoder();

export class Appender {
  readonly #storage: LogStorage;
  readonly #options: AppenderOptions;
  #tree: TreeBuilder;
  #checkpoint: Uint8Array;
  #busy: Promise<unknown> = Promise.resolve();

  private constructor(
    storage: LogStorage,
    options: AppenderOptions,
    tree: TreeBuilder,
    checkpoint: Uint8Array,
  ) {
    this.#storage = storage;
    this.#options = options;
    this.#tree = tree;
    this.#checkpoint = checkpoint;
  }

  /** Opens the log in `storage`, creating an empty one if there is no checkpoint. */
  static async open(storage: LogStorage, options: AppenderOptions): Promise<Appender> {
    const stored = await rollForward(storage, options, await storage.read("checkpoint"));
    if (stored === undefined) {
      const empty = TreeBuilder.empty();
      const checkpoint = signCheckpoint(options, empty);
      await storage.swapCheckpoint(undefined, checkpoint);
      return new Appender(storage, options, empty, checkpoint);
    }
    return new Appender(storage, options, await recoverTree(storage, options, stored), stored);
  }

  get size(): number {
    return this.#tree.size;
  }

  get root(): Hash {
    return this.#tree.root();
  }

  /** The latest signed checkpoint, as served. */
  get checkpoint(): Uint8Array {
    return this.#checkpoint;
  }

  /**
   * Appends a batch. Resolves once the entries are durable under a signed
   * checkpoint. Batches are applied one at a time, in call order; a batch
   * that fails changes nothing. `alongside` is other writes the checkpoint
   * must wait for (files the entries name): they go on while the tiles and
   * bundles are written, and the checkpoint is published only once both
   * are durable; if it fails, so does the append.
   */
  append(entries: readonly Uint8Array[], alongside?: Promise<unknown>): Promise<AppendResult> {
    for (const entry of entries) checkEntrySize(entry);
    const run = this.#busy.then(() => this.#append(entries, alongside));
    this.#busy = run.catch(() => {});
    return run;
  }

  async #append(
    entries: readonly Uint8Array[],
    alongside: Promise<unknown> | undefined,
  ): Promise<AppendResult> {
    const first = this.#tree.size;
    const next = this.#tree.clone();
    const files: LogFile[] = [];
    for (const entry of entries) next.append(entry, (f) => files.push(f));
    // A partial tile whose width did not change is already stored, and covered
    // by the current checkpoint: never rewrite it.
    const stored = new Set(this.#tree.partialFiles().map((f) => f.path));
    files.push(...next.partialFiles().filter((f) => !stored.has(f.path)));
    const checkpoint = signCheckpoint(this.#options, next);
    const cosigned = this.#options.cosign !== undefined;
    // A crash after this line leaves files past the old checkpoint; the next batch rewrites them.
    // Every write settles before a failure is reported: the next batch rewrites these paths.
    const written = await Promise.allSettled([
      this.#storage.writeFiles(files),
      // With witnesses the checkpoint changes once they answer: nothing to stage yet.
      cosigned ? undefined : this.#storage.stageCheckpoint?.(checkpoint),
      alongside,
    ]);
    for (const result of written) if (result.status === "rejected") throw result.reason;
    if (cosigned) await this.#savePending(checkpoint);
    const published = await this.#withCosignatures(checkpoint);
    await this.#storage.swapCheckpoint(this.#checkpoint, published);
    this.#tree = next;
    this.#checkpoint = published;
    return { first, size: next.size, checkpoint: published };
  }

  async #savePending(checkpoint: Uint8Array): Promise<void> {
    if (!this.#storage.savePending)
      throw new LogError("conflict", "witnesses need a storage that keeps a pending checkpoint");
    await this.#storage.savePending(checkpoint);
  }

  async #withCosignatures(checkpoint: Uint8Array): Promise<Uint8Array> {
    if (!this.#options.cosign) return checkpoint;
    try {
      const cosigned = await this.#options.cosign(checkpoint);
      // Whatever the hook did, the note published is this checkpoint, signed by the log.
      this.#checkSameCheckpoint(checkpoint, cosigned);
      return cosigned;
    } catch {
      // The batch is durable and witnesses may have cosigned it: publish it as the log signed it.
      return checkpoint;
    }
  }

  #checkSameCheckpoint(current: Uint8Array, next: Uint8Array): void {
    if (parseNote(next).text !== parseNote(current).text)
      throw new LogError("conflict", "a replacement checkpoint must be the same checkpoint");
    openCheckpoint(next, [this.#options.verifier], this.#options.origin);
  }

  /**
   * Publishes `next` in place of the current checkpoint if it is the same
   * checkpoint (same text: size and root) with other signatures, such as
   * cosignatures that arrived after it was published or fresher ones.
   * Runs after any batch in progress; resolves false, changing nothing, if
   * by then the checkpoint has moved on.
   */
  replaceCheckpoint(next: Uint8Array): Promise<boolean> {
    const run = this.#busy.then(async () => {
      const current = this.#checkpoint;
      if (parseNote(next).text !== parseNote(current).text) return false;
      this.#checkSameCheckpoint(current, next);
      await this.#storage.swapCheckpoint(current, next);
      this.#checkpoint = next;
      return true;
    });
    this.#busy = run.catch(() => {});
    return run;
  }
}

function signCheckpoint(options: AppenderOptions, tree: TreeBuilder): Uint8Array {
  const text = formatCheckpoint({
    origin: options.origin,
    size: tree.size,
    root: tree.root(),
    extensions: [],
  });
  const { cosigners = [] } = options;
  const extra = typeof cosigners === "function" ? cosigners() : cosigners;
  return encoder.encode(signNote(text, [options.signer, ...extra]));
}

/**
 * The checkpoint to open with: the stored one, or the pending one if it is
 * the log's, larger, and every file it covers is there (see savePending).
 */
async function rollForward(
  storage: LogStorage,
  options: AppenderOptions,
  stored: Uint8Array | undefined,
): Promise<Uint8Array | undefined> {
  const pending = await storage.readPending?.();
  if (stored === undefined || pending === undefined) return stored;
  let ahead: boolean;
  try {
    const next = openCheckpoint(pending, [options.verifier], options.origin);
    ahead = next.size > openCheckpoint(stored, [options.verifier], options.origin).size;
  } catch {
    return stored; // torn by a crash while it was written, before any witness saw it
  }
  if (!ahead) return stored;
  await recoverTree(storage, options, pending); // throws if a file it covers is missing
  await storage.swapCheckpoint(stored, pending);
  return pending;
}

function corrupt(message: string, cause?: unknown): LogError {
  return new LogError("corrupt-storage", message, { cause });
}

/** Rebuilds the tree state from the stored checkpoint and the partial tiles and bundle it names. */
async function recoverTree(
  storage: LogStorage,
  options: AppenderOptions,
  stored: Uint8Array,
): Promise<TreeBuilder> {
  try {
    const { size, root } = openCheckpoint(stored, [options.verifier], options.origin);
    const partialTiles = new Map<number, Hash[]>();
    for (const tile of edgeTiles(size)) {
      const data = await storage.read(tilePath(tile));
      if (!data) throw corrupt(`${tilePath(tile)} is missing for checkpoint size ${size}`);
      partialTiles.set(tile.level, tileHashes(tile, data));
    }
    let bundle: Uint8Array[] = [];
    const width = size % TILE_WIDTH;
    if (width > 0) {
      const path = bundlePath(Math.floor(size / TILE_WIDTH), width);
      const data = await storage.read(path);
      if (!data) throw corrupt(`${path} is missing for checkpoint size ${size}`);
      bundle = parseBundle(data, width);
    }
    return TreeBuilder.resume(size, root, partialTiles, bundle);
  } catch (err) {
    if (err instanceof LogError && err.code === "corrupt-storage") throw err;
    throw corrupt(`cannot recover the log: ${(err as Error).message}`, err);
  }
}
