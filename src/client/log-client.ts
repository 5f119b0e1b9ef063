/**
 * The verifying client of a Cairn log. It pins the origin's verifier key,
 * keeps the last verified checkpoint on disk, fetches the checkpoint and
 * the mirror list from the origin (from mirrors only when the origin does
 * not answer), and reads everything else through a SourcePool: tiles,
 * entry bundles and blobs, each verified before it is returned.
 *
 * - A new checkpoint must be signed by the pinned key and extend the stored
 *   one (a consistency proof from tiles); a smaller one is a rollback. One
 *   signed by a key the origin rotated to is accepted after following the
 *   chain of rotations from the pinned key (key-chain.ts).
 * - A tile is authenticated up to the checkpoint root (TileHashReader).
 * - Entries are checked against the leaf hashes of their level-0 tile.
 * - A blob must have the size and SHA-256 the log names (and any further
 *   check the caller adds, such as npm's SHA-512).
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { zstdDecompressSync } from "node:zlib";
import {
  bundlePath,
  type Hash,
  isLogError,
  MAX_BUNDLE_BYTES,
  MAX_CHECKPOINT_BYTES,
  type NoteVerifier,
  openCheckpoint,
  proveConsistency,
  type SignedCheckpoint,
  TILE_WIDTH,
  type Tile,
  TileHashReader,
} from "../log/index.ts";
import { MAX_MIRROR_LIST_BYTES, MIRROR_LIST_PATH, openMirrorList } from "../log/mirror-list.ts";
import { hasNewerCosignatures, type PolicyCheckpoint, type WitnessPolicy } from "../log/policy.ts";
import type { BlobRef } from "../registry/entries.ts";
import { deltaPath, maxDeltaSize } from "../store/delta-path.ts";
import { tap } from "../util/streams.ts";
import { CheckpointStore, type StoredCheckpoint } from "./checkpoint-store.ts";
import { checkBlob, checkBundle, checkConsistency, openServedCheckpoint } from "./checks.ts";
import { classify, NoSourceError, SourceError } from "./errors.ts";
import { type GatewayBlobRef, GatewaySource } from "./gateway-source.ts";
import { KeyChain, openFollowing, type PendingChain } from "./key-chain.ts";
import { type Source, SourcePool, type SourcePoolOptions } from "./source-pool.ts";

export interface LogClientOptions extends SourcePoolOptions {
  /** The origin's base URL: the checkpoint and mirror list come from here. */
  readonly origin: string;
  /** The pinned origin key. */
  readonly verifier: NoteVerifier;
  /** The cosignatures a checkpoint needs besides the origin key's signature. */
  readonly policy?: WitnessPolicy;
  /** Where the last verified checkpoint is kept. */
  readonly stateDir: string;
  /** Mirrors to use besides those on the origin's signed list. */
  readonly mirrors?: readonly string[];
  /** IPFS trustless gateways to fetch blobs from (web seeds): never checkpoints, tiles or documents. */
  readonly gateways?: readonly string[];
  /** Read the origin's mirror list (default true). */
  readonly useMirrorList?: boolean;
  /** How many entries a mirror may lag behind the origin and still count as healthy. */
  readonly maxLag?: number;
}

/** The verified state of one mirror, as the last health check found it. */
export interface MirrorHealth {
  readonly url: string;
  /** Its checkpoint's size, when it verified. */
  readonly size?: number;
  readonly error?: SourceError;
  /** Milliseconds the check took. */
  readonly ms: number;
}

export class LogClient {
  readonly pool: SourcePool;
  readonly verifier: NoteVerifier;
  readonly #store: CheckpointStore;
  readonly #keys: KeyChain;
  readonly #options: LogClientOptions;
  /** The last verified checkpoint, as the store holds it. */
  #stored: StoredCheckpoint | undefined;
  /** Tile readers for the current checkpoint, one per source (tiles are authenticated per source). */
  #readers = new Map<string, TileHashReader>();
  /** The largest checkpoint size each mirror has served, to catch a mirror going back. */
  readonly #mirrorSizes = new Map<string, number>();
  /** What the health check of the last refresh found, mirror by mirror. */
  lastHealth: MirrorHealth[] = [];
  #healthCheck: Promise<void> | undefined;
  /** Until when (policy seconds) the stored note last checked meets the policy. */
  #freshUntil: { note: Uint8Array; until: number } | undefined;

  private constructor(
    options: LogClientOptions,
    store: CheckpointStore,
    keys: KeyChain,
    stored: StoredCheckpoint | undefined,
  ) {
    this.#options = options;
    this.verifier = options.verifier;
    this.pool = new SourcePool(options.origin, options);
    this.pool.setMirrors(options.mirrors ?? []);
    this.pool.setGateways(options.gateways ?? []);
    this.#store = store;
    this.#keys = keys;
    this.#stored = stored;
  }

  static async open(options: LogClientOptions): Promise<LogClient> {
    let keys: KeyChain | undefined;
    const store = new CheckpointStore(options.stateDir, options.verifier, {
      verifiers: () => (keys as KeyChain).all(),
      reloadVerifiers: () => (keys as KeyChain).reload(),
      policy: options.policy,
    });
    keys = await KeyChain.load(store.keyChainPath, options.verifier);
    return new LogClient(options, store, keys, await store.load());
  }

  /** The key the origin signs checkpoints and its mirror list with now (the pinned one, or one it rotated to). */
  get currentVerifier(): NoteVerifier {
    return this.#keys.current;
  }

  /** Every key of the followed chain: a checkpoint verified earlier may bear any of them. */
  get chainVerifiers(): NoteVerifier[] {
    return this.#keys.all();
  }

  /** The key rotations followed, as the origin's `keys` file holds them; undefined before any. */
  get keysFile(): Uint8Array | undefined {
    return this.#keys.keysFile;
  }

  /** The last verified checkpoint, if any. */
  get checkpoint(): SignedCheckpoint | undefined {
    return this.#stored?.checkpoint;
  }

  /**
   * Takes a checkpoint this client's owner verified earlier by other means
   * (a mirror's own tree) as the base to prove new ones against, if it is
   * newer than the stored one.
   */
  async seed(note: Uint8Array): Promise<void> {
    const cp = openCheckpoint(note, this.#keys.all(), this.verifier.name);
    while (!this.#stored || this.#stored.checkpoint.size < cp.size) {
      const result = await this.#store.save(note, this.#stored);
      this.#adopt(result.saved ? result.stored : result.current);
    }
  }

  #adopt(stored: StoredCheckpoint): void {
    this.#stored = stored;
    this.#readers = new Map();
  }

  /**
   * False when the stored checkpoint no longer meets the witness policy: its
   * cosignatures are older than the maximum age (a freeze would otherwise
   * last forever), or it was stored without them (a mirror's copy held from
   * a run without the policy). What it names may then not be served.
   */
  isFresh(): boolean {
    try {
      this.checkFresh();
      return true;
    } catch {
      return false;
    }
  }

  /** Throws SourceError "witness" or "stale" when isFresh() is false. */
  checkFresh(): void {
    const policy = this.#options.policy;
    if (!this.#stored || !policy) return;
    const { note } = this.#stored;
    const now = policy.now?.() ?? Math.floor(Date.now() / 1000);
    // Every read of a server asks: the signatures are checked once per note, then only the clock.
    if (this.#freshUntil?.note === note && now <= this.#freshUntil.until) return;
    const cp = openServedCheckpoint(note, this.#keys.all(), "the stored checkpoint", policy);
    const { cosignedAt } = cp as PolicyCheckpoint;
    this.#freshUntil = {
      note,
      until: policy.maxAgeSeconds === undefined ? Infinity : cosignedAt + policy.maxAgeSeconds,
    };
  }

  /** The signed note of `checkpoint`, byte for byte as it was served. */
  get checkpointNote(): Uint8Array | undefined {
    return this.#stored?.note;
  }

  /**
   * Fetches the origin's checkpoint (a mirror's, if the origin does not
   * answer), verifies it and its consistency with the stored one, stores it,
   * then refreshes the mirror list and checks each mirror's health. With
   * `mirrorCheck: "background"` the health check runs on without holding up
   * the caller (a mirror that stalls would otherwise delay every refresh);
   * every byte read later is verified whatever the check finds.
   */
  async refresh(options: { mirrorCheck?: "wait" | "background" } = {}): Promise<SignedCheckpoint> {
    const sources = [this.pool.origin, ...this.pool.candidates().filter((s) => !s.isOrigin)];
    const checkpoint = await this.pool.first(
      "a verified checkpoint",
      "signature",
      async (source) => {
        const raw = await source.log.read("checkpoint", MAX_CHECKPOINT_BYTES);
        const { cp, pending } = await openFollowing(
          this.#keys,
          raw,
          source.url,
          source.log,
          (c) => this.#reader(source, c),
          {
            policy: this.#options.policy,
            stored: this.#stored?.checkpoint.size ?? 0,
            // The first checkpoint: the chain so far is learned with it (key-chain.ts).
            learn: !this.#stored,
          },
        );
        await this.#advance(cp, raw, source, pending);
        return cp;
      },
      sources,
    );
    if (this.#options.useMirrorList !== false) await this.#refreshMirrorList();
    this.#healthCheck ??= this.checkMirrors()
      .then((health) => {
        this.lastHealth = health;
      })
      .finally(() => {
        this.#healthCheck = undefined;
      });
    if (options.mirrorCheck !== "background") await this.#healthCheck;
    return checkpoint;
  }

  /** Checks every mirror's checkpoint: signature, consistency with ours, lag. */
  async checkMirrors(): Promise<MirrorHealth[]> {
    return Promise.all(
      this.pool.mirrors.map(async (mirror): Promise<MirrorHealth> => {
        const started = performance.now();
        const ms = () => Math.round(performance.now() - started);
        try {
          const size = await this.#checkMirror(mirror);
          this.pool.clear(mirror.url);
          return { url: mirror.url, size, ms: ms() };
        } catch (err) {
          const error = classify(err, mirror.url, "consistency");
          this.pool.report(error);
          // A mirror that is merely behind is still consistent; say how far it got.
          const size = error.code === "freshness" ? this.#mirrorSizes.get(mirror.url) : undefined;
          return { url: mirror.url, size, error, ms: ms() };
        }
      }),
    );
  }

  /**
   * The verified entries [start, end) of the current checkpoint's tree, one
   * bundle at a time, in order.
   */
  async *entries(
    start: number,
    end: number,
  ): AsyncGenerator<{ first: number; entries: Uint8Array[] }> {
    const cp = this.#require();
    if (start < 0 || end > cp.size || start > end)
      throw new RangeError(`entries [${start}, ${end}) are not in a tree of size ${cp.size}`);
    for (let at = start; at < end; ) {
      const index = Math.floor(at / TILE_WIDTH);
      const width = Math.min(TILE_WIDTH, cp.size - index * TILE_WIDTH);
      const bundle = await this.bundle(index, width);
      const from = at - index * TILE_WIDTH;
      const to = Math.min(width, end - index * TILE_WIDTH);
      yield { first: at, entries: bundle.slice(from, to) };
      at = index * TILE_WIDTH + to;
    }
  }

  /** Entry bundle `index` of `width` entries, each checked against its level-0 tile. */
  async bundle(index: number, width: number): Promise<Uint8Array[]> {
    const path = bundlePath(index, width);
    return this.pool.first(path, "bundle", async (source) => {
      // A tile that fails to authenticate is the tile's fault, not the bundle's.
      const hashes = await this.#reader(source)
        .readTile({ level: 0, index, width })
        .catch((err: unknown) => {
          throw classify(err, source.url, "tile");
        });
      const data = await source.log.read(path, MAX_BUNDLE_BYTES);
      return checkBundle(data, index, width, hashes, source.url);
    });
  }

  /** A tile of the current tree, authenticated up to the checkpoint root. */
  async tile(tile: Tile): Promise<Hash[]> {
    return this.pool.first(`tile ${tile.level}/${tile.index}`, "tile", (source) =>
      this.#reader(source).readTile(tile),
    );
  }

  /**
   * A blob by the hash and size the log names, from the first source whose
   * bytes match (gateways among them: by its raw CID, or by the root CID of
   * its DAG when `ref.unixfs` gives one); `check` may refuse bytes for
   * further reasons (throw).
   */
  async blob(ref: GatewayBlobRef, check?: (data: Uint8Array) => void): Promise<Uint8Array> {
    const path = `blob/sha256/${ref.sha256}`;
    return this.pool.firstOf(this.pool.blobCandidates(ref), path, "blob", async (source) => {
      const data =
        source instanceof GatewaySource
          ? await source.blob(ref)
          : await source.log.read(path, ref.size);
      checkBlob(ref, data, source.url, check);
      return data;
    });
  }

  /**
   * Downloads a blob too large to hold in memory (a SQLite snapshot) into
   * the file at `path`, hashing it as it arrives, from the first source
   * whose bytes match `ref`. The file holds the checked blob on return; a
   * source's wrong bytes are deleted before the next source is asked.
   */
  async blobToFile(ref: BlobRef, path: string): Promise<void> {
    const tree = `blob/sha256/${ref.sha256}`;
    await this.pool.first(tree, "blob", async (source) => {
      const hash = createHash("sha256");
      let size = 0;
      try {
        await pipeline(
          source.stream(tree, ref.size),
          tap((chunk) => {
            hash.update(chunk);
            size += chunk.length;
          }),
          createWriteStream(path),
        );
        const sha256 = hash.digest("hex");
        if (size !== ref.size || sha256 !== ref.sha256)
          throw new SourceError(
            source.url,
            "blob",
            `${tree}: ${size} bytes hashing to ${sha256}, not ${ref.size} bytes hashing to ${ref.sha256}`,
          );
      } catch (err) {
        await rm(path, { force: true });
        throw err;
      }
    });
  }

  /**
   * The blob `target` rebuilt from a per-file delta against `base`, a file
   * the caller holds (`delta/sha256/<base>/<target>`: a zstd frame made with
   * the base's bytes as its dictionary), from the first source whose
   * rebuilt bytes match `target`. The frame itself is unchecked: only what
   * it rebuilds counts, so a wrong base or a damaged frame is a wrong blob.
   */
  async blobFromDelta(
    base: { sha256: string; bytes: Uint8Array },
    target: BlobRef,
  ): Promise<{ data: Uint8Array; deltaBytes: number }> {
    const path = deltaPath(base.sha256, target.sha256);
    return this.pool.first(
      path,
      "blob",
      async (source) => {
        const delta = await source.log.read(path, maxDeltaSize(target.size));
        let data: Uint8Array;
        try {
          data = zstdDecompressSync(delta, {
            dictionary: base.bytes,
            maxOutputLength: Math.max(1, target.size),
          });
        } catch (err) {
          throw new SourceError(source.url, "blob", `${path}: ${(err as Error).message}`);
        }
        checkBlob(target, data, source.url);
        return { data, deltaBytes: delta.length };
      },
      undefined,
      { optional: true },
    );
  }

  /**
   * A blob named by its SHA-256 alone (a snapshot shard or package
   * document, whose size no entry states), of at most `maxBytes`.
   */
  async blobByHash(sha256: string, maxBytes: number): Promise<Uint8Array> {
    const path = `blob/sha256/${sha256}`;
    return this.pool.first(path, "blob", async (source) => {
      const data = await source.log.read(path, maxBytes);
      checkBlob({ sha256, size: data.length }, data, source.url);
      return data;
    });
  }

  #require(): SignedCheckpoint {
    if (!this.#stored) throw new Error("no verified checkpoint yet: refresh first");
    return this.#stored.checkpoint;
  }

  #reader(source: Source, cp: SignedCheckpoint = this.#require()): TileHashReader {
    const key = `${cp.size} ${source.url}`;
    let reader = this.#readers.get(key);
    if (!reader) {
      reader = new TileHashReader(cp.size, cp.root, source.log);
      this.#readers.set(key, reader);
    }
    return reader;
  }

  /** True when `note` is the stored tree's with newer cosignatures (consistency already proven). */
  #fresher(note: Uint8Array, than: StoredCheckpoint): boolean {
    return hasNewerCosignatures(note, than.note, this.#keys.all(), this.#options.policy);
  }

  /**
   * Accepts `cp` as the new head if it extends the stored checkpoint, or is
   * the same tree with newer cosignatures.
   */
  async #advance(
    cp: SignedCheckpoint,
    raw: Uint8Array,
    from: Source,
    pending?: PendingChain,
  ): Promise<void> {
    const old = this.#stored?.checkpoint;
    if (old && cp.size < old.size) {
      throw new SourceError(
        from.url,
        "rollback",
        `its checkpoint has size ${cp.size}, older than the verified size ${old.size}`,
      );
    }
    if (old) await this.#proveConsistent(old, cp, from);
    if (pending) await this.#keys.adopt(pending);
    if (this.#stored && old?.size === cp.size && !this.#fresher(raw, this.#stored)) return;
    for (;;) {
      const result = await this.#store.save(raw, this.#stored);
      if (result.saved) return this.#adopt(result.stored);
      // Another process sharing the state directory stored a checkpoint first:
      // the two must be one log, and the store keeps the larger (or fresher).
      const current = result.current.checkpoint;
      if (
        current.size > cp.size ||
        (current.size === cp.size && !this.#fresher(raw, result.current))
      ) {
        await this.#proveConsistent(cp, current, from, false);
        return this.#adopt(result.current);
      }
      await this.#proveConsistent(current, cp, from);
      this.#stored = result.current;
    }
  }

  /**
   * Proves that `older` and `newer` are one log, with hashes from tiles of
   * `newer`'s tree; `blamed` served the checkpoint in question. The tiles are
   * read from it first when it holds `newer`'s tree, from the others otherwise.
   */
  async #proveConsistent(
    older: SignedCheckpoint,
    newer: SignedCheckpoint,
    blamed: Source,
    blamedHoldsNewer = true,
  ): Promise<void> {
    if (older.size === 0) return;
    const sources = blamedHoldsNewer
      ? [blamed, ...this.pool.candidates().filter((s) => s !== blamed)]
      : this.pool.candidates();
    const proof =
      older.size === newer.size
        ? []
        : await this.pool.first(
            `a consistency proof from size ${older.size} to ${newer.size}`,
            "tile",
            (source) => proveConsistency(older.size, newer.size, this.#reader(source, newer)),
            sources,
          );
    checkConsistency(older, newer, proof, blamed.url);
  }

  async #refreshMirrorList(): Promise<void> {
    const origin = this.pool.origin;
    try {
      const raw = await origin.log.read(MIRROR_LIST_PATH, MAX_MIRROR_LIST_BYTES);
      let list: ReturnType<typeof openMirrorList>;
      try {
        list = openMirrorList(raw, this.#keys.current);
      } catch (err) {
        throw new SourceError(origin.url, "signature", `mirror list: ${(err as Error).message}`);
      }
      this.pool.setMirrors([...(this.#options.mirrors ?? []), ...list.mirrors]);
    } catch (err) {
      // No list published yet is normal; anything else is reported, and the mirrors stay as they were.
      if (!isLogError(err, "not-found")) this.pool.report(classify(err, origin.url, "signature"));
    }
  }

  /** Verifies one mirror's checkpoint against ours; returns its size. */
  async #checkMirror(mirror: Source): Promise<number> {
    const ours = this.#require();
    const raw = await mirror.log.read("checkpoint", MAX_CHECKPOINT_BYTES);
    // A mirror ahead across a rotation this client has not followed yet: its chain is checked
    // (and its entries proven in its tree) only to judge it; the chain is adopted from a refresh.
    const { cp: theirs } = await openFollowing(
      this.#keys,
      raw,
      mirror.url,
      mirror.log,
      (c) => this.#reader(mirror, c),
      { policy: this.#options.policy, stored: ours.size },
    );
    const seen = this.#mirrorSizes.get(mirror.url) ?? 0;
    if (theirs.size < seen) {
      throw new SourceError(
        mirror.url,
        "rollback",
        `its checkpoint has size ${theirs.size}, but it served size ${seen} before`,
      );
    }
    if (theirs.size >= ours.size) {
      await this.#proveConsistent(ours, theirs, mirror);
    } else {
      await this.#proveConsistent(theirs, ours, mirror, false);
      this.#mirrorSizes.set(mirror.url, theirs.size);
      const lag = ours.size - theirs.size;
      if (lag > (this.#options.maxLag ?? 256)) {
        throw new SourceError(
          mirror.url,
          "freshness",
          `its checkpoint (size ${theirs.size}) is ${lag} entries behind the origin's (size ${ours.size})`,
        );
      }
    }
    this.#mirrorSizes.set(mirror.url, theirs.size);
    return theirs.size;
  }
}

export { NoSourceError, SourceError };
