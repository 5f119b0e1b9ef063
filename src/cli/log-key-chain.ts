/**
 * What `cairn log verify` checks of a log's key rotations: the served
 * `keys` file is followed from the pinned key to the keys the checkpoint
 * may bear, and every `key` entry met while replaying the log must be the
 * next valid rotation (from the log alone) and be listed in that file, at
 * its index, byte for byte: the file hides no rotation and adds none.
 */
import { isLogError, type LogSource } from "../log/index.ts";
import {
  checkpointKeys,
  followChain,
  KEYS_PATH,
  KeyChainError,
  type KeyTrust,
  MAX_KEYS_BYTES,
} from "../log/key-rotation.ts";
import { type NoteVerifier, parseVerifierKey } from "../log/note.ts";
import { decodeEntry } from "../registry/entries.ts";
import {
  checkKeyEntry,
  type KeysFileLine,
  type LoggedKey,
  parseKeysFile,
} from "../registry/key-chain-log.ts";

const KEY_KIND = new TextEncoder().encode('"kind":"key"');

export class LogKeyChain {
  readonly served: readonly KeysFileLine[];
  readonly trust: KeyTrust;
  readonly #logged: LoggedKey[] = [];

  private constructor(served: readonly KeysFileLine[], trust: KeyTrust) {
    this.served = served;
    this.trust = trust;
  }

  /** Reads and follows the source's keys file (none: no rotation) from `pinned`. */
  static async read(source: LogSource, pinned: string): Promise<LogKeyChain> {
    const data = await source.read(KEYS_PATH, MAX_KEYS_BYTES).catch((err: unknown) => {
      if (isLogError(err, "not-found")) return new Uint8Array();
      throw err;
    });
    const served = parseKeysFile(data);
    return new LogKeyChain(
      served,
      followChain(
        pinned,
        served.map((line) => line.entry.note),
      ),
    );
  }

  /** The keys the checkpoint may be signed by now. */
  verifiers(now: number): NoteVerifier[] {
    return checkpointKeys(this.trust, now).map(parseVerifierKey);
  }

  /** Checks the key entries among a bundle's entries, in log order. */
  onEntries = (first: number, entries: readonly Uint8Array[]): void => {
    entries.forEach((bytes, i) => {
      if (Buffer.from(bytes).indexOf(KEY_KIND) < 0) return;
      const entry = decodeEntry(bytes);
      if (entry.kind !== "key") return;
      const index = first + i;
      checkKeyEntry(this.#logged, entry, index);
      const listed = this.served[this.#logged.length];
      if (!listed || listed.index !== index || !Buffer.from(listed.bytes).equals(bytes))
        throw new KeyChainError(
          "key-chain",
          `the log's rotation ${entry.sequence} at ${index} is not in the keys file as it is`,
        );
      this.#logged.push({ index, entry });
    });
  };

  /** After the replay: every rotation the file lists was in the log. */
  finish(): number {
    if (this.#logged.length !== this.served.length)
      throw new KeyChainError(
        "key-chain",
        `the keys file lists ${this.served.length} rotations, the log holds ${this.#logged.length}`,
      );
    return this.#logged.length;
  }
}
