/**
 * The last checkpoint a client verified, kept on disk per pinned key, so
 * the next run can demand that the log only grew (a consistency proof from
 * it) and never went back. It is written whole or not at all.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type NoteVerifier, openCheckpoint, type SignedCheckpoint } from "../log/index.ts";
import { replaceFile, syncDir } from "../util/durable-file.ts";

export class CheckpointStore {
  readonly #dir: string;
  readonly #path: string;
  readonly #verifier: NoteVerifier;

  constructor(stateDir: string, verifier: NoteVerifier) {
    this.#dir = join(stateDir, "checkpoints");
    const id = verifier.keyId.toString(16).padStart(8, "0");
    this.#path = join(this.#dir, `${verifier.name.replace(/[^A-Za-z0-9.-]/g, "_")}+${id}`);
    this.#verifier = verifier;
  }

  get path(): string {
    return this.#path;
  }

  /** The stored checkpoint (and its note as served), verified again; undefined before the first one. */
  async load(): Promise<{ checkpoint: SignedCheckpoint; note: Uint8Array } | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(this.#path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    try {
      return {
        checkpoint: openCheckpoint(bytes, [this.#verifier], this.#verifier.name),
        note: bytes,
      };
    } catch (err) {
      throw new Error(
        `the stored checkpoint ${this.#path} does not verify (${(err as Error).message}); ` +
          "it was damaged or replaced: remove it only if you trust the log's current state",
        { cause: err },
      );
    }
  }

  /** Stores a checkpoint's signed note, as served. */
  async save(note: Uint8Array): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await replaceFile(this.#path, note, true);
    await syncDir(this.#dir);
  }
}
