/**
 * The last checkpoint a client verified, kept on disk per pinned key, so
 * the next run can demand that the log only grew (a consistency proof from
 * it) and never went back.
 *
 * Several processes may share the directory (`cairn sync` and `cairn verify`
 * under one $CAIRN_HOME), so saving is a compare-and-swap: each stored
 * checkpoint is a generation, written whole to a file of its own (`<key>.<n>`)
 * and named by a hard link, which fails if the name exists. Only one writer
 * can store the successor of generation n; the others learn what was stored
 * instead and must prove their checkpoint against it. Each generation is
 * larger than the one before it, or the same tree with newer cosignatures
 * (an idle log's witnesses re-cosign it), so the stored checkpoint never
 * moves back.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { type NoteVerifier, openCheckpoint, type SignedCheckpoint } from "../log/index.ts";
import { hasNewerCosignatures, sameTree, type WitnessPolicy } from "../log/policy.ts";
import { syncDir, writeFileDurably } from "../util/durable-file.ts";

export interface StoredCheckpoint {
  readonly checkpoint: SignedCheckpoint;
  /** Its signed note, as served. */
  readonly note: Uint8Array;
  /** Its place in the store's sequence: 0 for the file of earlier versions. */
  readonly generation: number;
}

export type SaveResult =
  | { readonly saved: true; readonly stored: StoredCheckpoint }
  /** Another writer stored a successor of the same generation first: this is what the store holds now. */
  | { readonly saved: false; readonly current: StoredCheckpoint };

export class CheckpointStore {
  readonly #dir: string;
  readonly #name: string;
  readonly #verifier: NoteVerifier;
  readonly #verifiers: () => readonly NoteVerifier[];
  readonly #reloadVerifiers: (() => Promise<void>) | undefined;
  readonly #policy: WitnessPolicy | undefined;

  /**
   * Named by the pinned `verifier`; a stored checkpoint may bear any of
   * `verifiers` (a key it rotated to). `policy` judges which of two notes of
   * one tree has the newer cosignatures.
   */
  constructor(
    stateDir: string,
    verifier: NoteVerifier,
    options: {
      verifiers?: () => readonly NoteVerifier[];
      /** Called before a stored checkpoint that does not verify is refused: `verifiers` may have grown on disk. */
      reloadVerifiers?: () => Promise<void>;
      policy?: WitnessPolicy;
    } = {},
  ) {
    this.#dir = join(stateDir, "checkpoints");
    const id = verifier.keyId.toString(16).padStart(8, "0");
    this.#name = `${verifier.name.replace(/[^A-Za-z0-9.-]/g, "_")}+${id}`;
    this.#verifier = verifier;
    this.#verifiers = options.verifiers ?? (() => [verifier]);
    this.#reloadVerifiers = options.reloadVerifiers;
    this.#policy = options.policy;
  }

  /** Where the key rotations followed from the pinned key are remembered. */
  get keyChainPath(): string {
    return `${this.path}.keys`;
  }

  /** Where the checkpoints are kept: this path, with `.<generation>` after it. */
  get path(): string {
    return join(this.#dir, this.#name);
  }

  /** The newest stored checkpoint, verified again; undefined before the first one. */
  async load(): Promise<StoredCheckpoint | undefined> {
    // A generation found by name may be pruned by a writer before it is read: look again.
    for (;;) {
      const generation = await this.#newestGeneration();
      if (generation === undefined) return undefined;
      const path = this.#file(generation);
      let note: Uint8Array;
      try {
        note = await readFile(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      try {
        return { checkpoint: this.#open(note, path), note, generation };
      } catch (err) {
        // Another process sharing the directory may have stored it under a key it rotated to.
        if (!this.#reloadVerifiers) throw err;
        await this.#reloadVerifiers();
        return { checkpoint: this.#open(note, path), note, generation };
      }
    }
  }

  /**
   * Stores `note` as the successor of `basedOn` (undefined: the store was
   * empty when the caller loaded it), if nothing else was stored since. Its
   * checkpoint must be larger than `basedOn`'s, or the same tree with newer cosignatures.
   */
  async save(note: Uint8Array, basedOn: StoredCheckpoint | undefined): Promise<SaveResult> {
    const checkpoint = openCheckpoint(note, this.#verifiers(), this.#verifier.name);
    if (basedOn && !this.#follows(checkpoint, note, basedOn))
      throw new RangeError(
        `a checkpoint of size ${checkpoint.size} cannot follow one of size ${basedOn.checkpoint.size}`,
      );
    const generation = (basedOn?.generation ?? 0) + 1;
    await mkdir(this.#dir, { recursive: true });
    const tmp = join(this.#dir, `.${this.#name}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      await writeFileDurably(tmp, note, true, "wx");
      await link(tmp, this.#file(generation));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const current = await this.load();
      if (!current) throw err;
      return { saved: false, current };
    } finally {
      await rm(tmp, { force: true });
    }
    await syncDir(this.#dir);
    await this.#prune(generation);
    return { saved: true, stored: { checkpoint, note, generation } };
  }

  #follows(checkpoint: SignedCheckpoint, note: Uint8Array, basedOn: StoredCheckpoint): boolean {
    if (checkpoint.size !== basedOn.checkpoint.size)
      return checkpoint.size > basedOn.checkpoint.size;
    return (
      sameTree(checkpoint, basedOn.checkpoint) &&
      hasNewerCosignatures(note, basedOn.note, this.#verifiers(), this.#policy)
    );
  }

  #file(generation: number): string {
    return generation === 0 ? this.path : `${this.path}.${generation}`;
  }

  /** The generation a file name in the directory holds, if it is one of this key's. */
  #generationOf(name: string): number | undefined {
    if (name === this.#name) return 0;
    if (!name.startsWith(`${this.#name}.`)) return undefined;
    const suffix = name.slice(this.#name.length + 1);
    return /^[1-9]\d{0,14}$/.test(suffix) ? Number(suffix) : undefined;
  }

  async #newestGeneration(): Promise<number | undefined> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    let newest: number | undefined;
    for (const name of names) {
      const generation = this.#generationOf(name);
      if (generation !== undefined) newest = Math.max(newest ?? 0, generation);
    }
    return newest;
  }

  /** Removes generations older than the one before `generation` (a reader may still be on that one). */
  async #prune(generation: number): Promise<void> {
    for (const name of await readdir(this.#dir)) {
      const old = this.#generationOf(name);
      if (old !== undefined && old < generation - 1)
        await rm(join(this.#dir, name), { force: true });
    }
  }

  #open(note: Uint8Array, where: string): SignedCheckpoint {
    try {
      return openCheckpoint(note, this.#verifiers(), this.#verifier.name);
    } catch (err) {
      throw new Error(
        `the stored checkpoint ${where} does not verify (${(err as Error).message}); ` +
          "it was damaged or replaced: remove it only if you trust the log's current state",
        { cause: err },
      );
    }
  }
}
