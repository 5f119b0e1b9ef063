/**
 * A mirror: a verified copy of another server's static tree (the origin's
 * or another mirror's), and the registry state derived from it.
 *
 * A sync fetches the upstream checkpoint and proves it extends the one held
 * (LogClient), then copies what is new, each file verified on arrival: the
 * entry bundles (against their tiles), the hash tiles (up to the root) and
 * every blob the new entries name (against the hashes in the entries), and
 * the files of each version whose entry names a file index: unpacked from
 * its tarball as the origin did, the index checked byte for byte against
 * the one the entry names (src/npm/version-files.ts), and the UnixFS
 * nodes of each tarball over 1 MiB, made from its bytes, the root checked
 * against the one the entry records (src/registry/artifact-dag.ts). The
 * checkpoint is swapped in last, by rename, so a reader of the copy never
 * sees a checkpoint whose files are missing. Files are written only at
 * paths no held checkpoint covers, as the origin's appender does.
 */
import { mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { LogClient, type LogClientOptions } from "../client/log-client.ts";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import {
  bundlePath,
  DirectorySource,
  encodeBundle,
  isLogError,
  MAX_CHECKPOINT_BYTES,
  type NoteVerifier,
  openCheckpoint,
  parseBundle,
  type SignedCheckpoint,
  TILE_WIDTH,
  tilePath,
  tilesOfTree,
} from "../log/index.ts";
import { KEYS_PATH } from "../log/key-rotation.ts";
import { MAX_MIRROR_LIST_BYTES, MIRROR_LIST_PATH, openMirrorList } from "../log/mirror-list.ts";
import type { WitnessPolicy } from "../log/policy.ts";
import { backfillVersionFiles } from "../npm/file-versions-backfill.ts";
import { type FilesClaim, filesClaimOf, recomputeVersionFiles } from "../npm/version-files.ts";
import { checkUnixfs, hasUnixfsRoot, storeUnixfsNodes } from "../registry/artifact-dag.ts";
import { BlobError, verifyIntegrity } from "../registry/blob-check.ts";
import {
  type Artifact,
  type BlobRef,
  blobsNamedBy,
  type DatabaseEntry,
  type NamedBlob,
} from "../registry/entries.ts";
import { replayInto } from "../registry/replay.ts";
import { RegistryState, rowName } from "../registry/state.ts";
import { type StateBatch, snapshotBlobs } from "../registry/state-batch.ts";
import { decodeLogEntries } from "../registry/void-entries.ts";
import {
  filesOfVersion,
  type PendingWithheld,
  pendingWithheld,
  type RestoredVersion,
  recordVersionFiles,
  type Withholding,
  withholdingOf,
} from "../registry/withheld.ts";
import { BlobStore } from "../store/blobs.ts";
import { unixfsOf } from "../store/unixfs.ts";
import { replaceFile, syncDir } from "../util/durable-file.ts";
import { sha256Hex } from "../util/sha256.ts";
import { MirrorError, upstreamWithheld } from "./mirror-error.ts";

export interface MirrorOptions {
  /** The base URL of the server to copy: the origin or another mirror. */
  readonly from: string;
  readonly verifier: NoteVerifier;
  /** The cosignatures an upstream checkpoint needs to be copied. */
  readonly policy?: WitnessPolicy;
  readonly dataDir: string;
  /** fsync every file before the checkpoint moves (default true). */
  readonly durable?: boolean;
  readonly timeoutMs?: number;
  /** IPFS trustless gateways to copy blobs from besides the server copied (web seeds). */
  readonly gateways?: readonly string[];
  /** Blobs fetched at once. */
  readonly concurrency?: number;
  readonly onProblem?: LogClientOptions["onProblem"];
  /** Told how far a sync has got: entries copied and blobs fetched so far. */
  readonly onProgress?: (progress: {
    entries: number;
    totalEntries: number;
    blobs: number;
  }) => void;
}

export interface SyncResult {
  readonly fromSize: number;
  readonly toSize: number;
  readonly blobs: number;
  readonly tiles: number;
  readonly bundles: number;
  /** Bytes read from upstream in this sync. */
  readonly bytes: number;
  /** Requests made upstream in this sync. */
  readonly requests: number;
  /** Snapshot keys (`npm/left-pad`) of the packages whose state changed. */
  readonly touched: ReadonlySet<string>;
}

export class Mirror {
  readonly treeDir: string;
  readonly state: RegistryState;
  readonly blobs: BlobStore;
  readonly client: LogClient;
  readonly #options: MirrorOptions;
  readonly #durable: boolean;
  #held: SignedCheckpoint | undefined;
  /** The held checkpoint's signed note, as served. */
  #heldNote: Uint8Array | undefined;
  #syncing: Promise<SyncResult> | undefined;
  /** The withheld set as the running sync leaves it, from before its checkpoint is served until its state commits. */
  #pendingWithheld: PendingWithheld | undefined;

  private constructor(
    options: MirrorOptions,
    client: LogClient,
    state: RegistryState,
    blobs: BlobStore,
    held: { checkpoint: SignedCheckpoint; note: Uint8Array } | undefined,
  ) {
    this.#options = options;
    this.#durable = options.durable ?? true;
    this.treeDir = join(options.dataDir, "tree");
    this.client = client;
    this.state = state;
    this.blobs = blobs;
    this.#held = held?.checkpoint;
    this.#heldNote = held?.note;
  }

  static async open(options: MirrorOptions): Promise<Mirror> {
    const treeDir = join(options.dataDir, "tree");
    await mkdir(treeDir, { recursive: true });
    const client = await LogClient.open({
      origin: options.from,
      verifier: options.verifier,
      policy: options.policy,
      stateDir: options.dataDir,
      useMirrorList: false,
      gateways: options.gateways,
      timeoutMs: options.timeoutMs,
      onProblem: options.onProblem,
    });
    // The tree held was verified when it was written: new checkpoints must extend it.
    const held = await readHeldCheckpoint(treeDir, client.chainVerifiers);
    if (held) await client.seed(held.note);
    const blobs = await BlobStore.open(treeDir, { durable: options.durable ?? true });
    const state = RegistryState.open(join(options.dataDir, "state.sqlite"), {
      ecosystems: ECOSYSTEMS,
    });
    try {
      await replayInto(state, new DirectorySource(treeDir), held?.checkpoint.size ?? 0);
      await backfillVersionFiles(state, (sha256) => blobs.get(sha256));
    } catch (err) {
      state.close();
      throw err;
    }
    return new Mirror(options, client, state, blobs, held);
  }

  /** The checkpoint of the copy as served now. */
  get checkpoint(): SignedCheckpoint | undefined {
    return this.#held;
  }

  close(): void {
    this.state.close();
  }

  /** Why a blob is withheld (taken down) on this copy, or undefined: what the server answers 451 for. */
  withholding(sha256: string): Withholding | undefined {
    return this.#pendingWithheld
      ? this.#pendingWithheld.withholding(sha256)
      : withholdingOf(this.state.sql, sha256);
  }

  /** Resolves when no sync is running. */
  async settled(): Promise<void> {
    await this.#syncing?.catch(() => undefined);
  }

  /** One sync; concurrent callers share it. */
  sync(): Promise<SyncResult> {
    this.#syncing ??= this.#sync().finally(() => {
      this.#syncing = undefined;
      // Committed (or the sync failed and nothing was): the state speaks again.
      this.#pendingWithheld = undefined;
    });
    return this.#syncing;
  }

  async #sync(): Promise<SyncResult> {
    const before = this.client.pool.traffic();
    const fromSize = this.#held?.size ?? 0;
    const upstream = await this.client.refresh();
    const toSize = upstream.size;
    // The entries must prove the origin's snapshots before the checkpoint that signs them is
    // served; each is folded in as its bundle arrives, so no list of the sync's entries is held.
    const batch = this.state.begin(fromSize);
    let copied = { blobs: 0, tiles: 0, bundles: 0 };
    if (toSize > fromSize) copied = await this.#copy(fromSize, upstream, batch);
    const withheld = this.#pendingWithheld;
    // The bytes of newly taken-down versions go before the checkpoint naming the takedown is served.
    for (const hex of withheld?.withheld ?? [])
      await rm(join(this.treeDir, "blob", "sha256", hex), { force: true });
    const snapshot = batch.endingSnapshot();
    if (snapshot) {
      // The snapshot's blobs are made here from the verified documents: the same bytes the origin stored.
      await this.blobs.putMany(snapshotBlobs(snapshot));
    }
    // The keys file first: a client of this mirror needs it to follow a rotation to the checkpoint.
    const keys = this.client.keysFile;
    if (keys) await this.#writeIfChanged(KEYS_PATH, keys);
    // Also at the same size when the client adopted newer cosignatures: relayed byte for byte.
    const note = this.client.checkpointNote as Uint8Array;
    if (toSize !== fromSize || !this.#heldNote || !Buffer.from(note).equals(this.#heldNote)) {
      await this.#writeCheckpoint(upstream, note);
    }
    await this.#copyMirrorList();
    const touched = batch.commit();
    // Then the files only the newly taken-down versions list (the reverse index is the state's).
    for (const { name, version } of withheld?.takenDown ?? [])
      for (const hex of this.#versionFiles(name, version))
        if (withholdingOf(this.state.sql, hex))
          await rm(join(this.treeDir, "blob", "sha256", hex), { force: true });
    const after = this.client.pool.traffic();
    return {
      fromSize,
      toSize,
      blobs: copied.blobs,
      tiles: copied.tiles,
      bundles: copied.bundles,
      bytes: after.bytes - before.bytes,
      requests: after.requests - before.requests,
      touched,
    };
  }

  async #copy(fromSize: number, upstream: SignedCheckpoint, batch: StateBatch) {
    const toSize = upstream.size;
    let entries = 0;
    let bundles = 0;
    let blobs = 0;
    const pendingBlobs: Promise<unknown>[] = [];
    let failed = false;
    /** Awaited together after the bundles; marked handled now, so one failing meanwhile is not an unhandled rejection. */
    const pending = (work: Promise<unknown>) => {
      work.catch(() => {
        failed = true;
      });
      pendingBlobs.push(work);
    };
    const limit = this.#options.concurrency ?? 8;
    let active = 0;
    const waiters: (() => void)[] = [];
    /** Runs `work`, at most `limit` at a time. */
    const limited = async (work: () => Promise<void>) => {
      while (active >= limit) await new Promise<void>((r) => waiters.push(r));
      active++;
      try {
        await work();
      } finally {
        active--;
        waiters.shift()?.();
      }
    };
    /** Copies a blob the mirror lacks with `copy`. */
    const fetchBlob = (ref: BlobRef, copy: () => Promise<unknown>) =>
      limited(async () => {
        // Checked inside the limit too: `has` reads the whole blob to hash it.
        if (await this.blobs.has(ref.sha256)) return;
        await copy();
        blobs++;
      });
    const copyBlob = (ref: BlobRef, check?: (d: Uint8Array) => void) =>
      fetchBlob(ref, async () => {
        const data = await this.client.blob(ref, check).catch((err: unknown) => {
          // Only this copy's own replay decides what is withheld: an upstream's 451 is a fault.
          if (upstreamWithheld(err))
            throw new MirrorError(
              "upstream-withheld",
              `upstream answered 451 for blob ${ref.sha256}, which the log does not withhold`,
              { cause: err },
            );
          throw err;
        });
        await this.blobs.put(data);
      });
    /** A SQLite snapshot is gigabytes at scale: streamed to disk, never held in memory. */
    const copyLargeBlob = (ref: BlobRef) =>
      fetchBlob(ref, async () => {
        const tmp = this.blobs.tempPath();
        await this.client.blobToFile(ref, tmp);
        await this.blobs.putFile(tmp, ref);
      });
    /** Copies the blobs `named` (a tarball checked against its hashes), then what derives from them. */
    const copyNamed = (named: readonly NamedBlob[], claim: FilesClaim | undefined) => {
      const copies = named.map(({ ref, artifact }) =>
        copyBlob(ref, artifact && ((data) => verifyIntegrity(artifact, data))),
      );
      for (const copy of copies) pending(copy);
      for (const [i, { artifact }] of named.entries())
        if (artifact && hasUnixfsRoot(artifact.size))
          pending(copies[i].then(() => limited(() => this.#deriveDag(artifact))));
      // Once its tarball and index are held (and whether or not this sync copied them).
      if (claim) pending(Promise.all(copies).then(() => limited(() => this.#deriveFiles(claim))));
    };
    const bundleRange = function* () {
      for (let index = Math.floor(fromSize / TILE_WIDTH); index * TILE_WIDTH < toSize; index++) {
        const width = Math.min(TILE_WIDTH, toSize - index * TILE_WIDTH);
        yield { index, width, first: Math.max(fromSize, index * TILE_WIDTH) };
      }
    };
    let database: DatabaseEntry | undefined;
    // First every bundle, folded: only the whole range says which blobs a takedown in it withholds,
    // and those are never asked for (the origin no longer has them).
    for (const { index, width, first } of bundleRange()) {
      const bundle = await this.client.bundle(index, width);
      await this.#writeNew(bundlePath(index, width), encodeBundle(bundle));
      bundles++;
      for (const entry of decodeLogEntries(first, bundle.slice(first - index * TILE_WIDTH))) {
        batch.replay(entry);
        entries++;
        if (entry.kind === "database") database = entry;
      }
      this.#options.onProgress?.({ entries, totalEntries: toSize - fromSize, blobs });
    }
    const withheld = pendingWithheld(this.state.sql, batch.touchedDocuments());
    this.#pendingWithheld = withheld;
    const kept = (ref: BlobRef) => withheld.withholding(ref.sha256) === undefined;
    // Then the blobs the new entries name, read back from the bundles just written (the range may
    // be the whole log: no list of its entries is held), minus the withheld ones.
    for (const { index, width, first } of bundleRange()) {
      // A blob failed: the sync fails with it, so reading more bundles is wasted.
      if (failed) break;
      const bundle = parseBundle(
        await readFile(join(this.treeDir, bundlePath(index, width))),
        width,
      );
      for (const entry of decodeLogEntries(first, bundle.slice(first - index * TILE_WIDTH))) {
        const claim = filesClaimOf(entry);
        copyNamed(
          blobsNamedBy(entry).filter(({ ref }) => kept(ref)),
          claim && kept(claim.artifact) && kept(claim.files) ? claim : undefined,
        );
      }
      this.#options.onProgress?.({ entries, totalEntries: toSize - fromSize, blobs });
    }
    // A restore names a version's blobs again; entries before this sync named them long ago.
    for (const restored of withheld.restored) copyNamed(...restoredBlobs(restored));
    // Only the newest SQLite snapshot is worth copying: a new client starts from it.
    if (database) pending(copyLargeBlob(database.blob));
    // Every copy settles before the sync answers, so none writes after a failed sync has returned.
    const settled = await Promise.allSettled(pendingBlobs);
    const failure = settled.find((s) => s.status === "rejected");
    if (failure) throw failure.reason;
    const held = new Set([...tilesOfTree(fromSize)].map(tilePath));
    let tiles = 0;
    for (const tile of tilesOfTree(toSize)) {
      const path = tilePath(tile);
      if (held.has(path)) continue;
      await this.#writeNew(path, Buffer.concat(await this.client.tile(tile)));
      tiles++;
    }
    if (this.#durable) for (const dir of this.#dirsWritten) await syncDir(dir);
    this.#dirsWritten.clear();
    return { blobs, tiles, bundles };
  }

  /** Stores a version's files, made from its tarball, once its index is checked against them. */
  async #deriveFiles(claim: FilesClaim): Promise<void> {
    const [tarball, index] = await Promise.all([
      this.blobs.get(claim.artifact.sha256),
      this.blobs.get(claim.files.sha256),
    ]);
    if (!tarball || !index)
      throw new BlobError(
        "missing",
        `the tarball or file index of ${claim.name}@${claim.version} is missing`,
      );
    const files = await recomputeVersionFiles(claim, tarball, index);
    await this.blobs.putMany(files.contents, { derived: true });
    const rowKey = rowName(this.state.ecosystems, { ecosystem: "npm", name: claim.name });
    recordVersionFiles(
      this.state.sql,
      "npm",
      rowKey,
      claim.version,
      files.contents.map((bytes) => sha256Hex(bytes)),
    );
  }

  /** The files an npm version's index lists, as this copy recorded them (file indexes are npm's). */
  #versionFiles(name: string, version: string): string[] {
    const rowKey = rowName(this.state.ecosystems, { ecosystem: "npm", name });
    return filesOfVersion(this.state.sql, "npm", rowKey, version);
  }

  /**
   * Stores a large tarball's UnixFS nodes, made from its bytes, once the
   * root its entry records is checked against them (src/registry/artifact-dag.ts).
   */
  async #deriveDag(artifact: Artifact): Promise<void> {
    // Read as a stream: a tarball may be 100 MiB, and only its nodes are kept.
    const dag = await unixfsOf(this.blobs.stream(artifact.sha256)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    });
    if (dag?.sha256 !== artifact.sha256)
      throw new BlobError("missing", `the tarball ${artifact.sha256} is missing or damaged`);
    checkUnixfs(artifact, dag);
    await storeUnixfsNodes(dag, this.blobs);
  }

  readonly #dirsWritten = new Set<string>();

  /** Writes a file of the tree whole (temporary file, then rename). */
  async #writeNew(path: string, data: Uint8Array): Promise<void> {
    const target = join(this.treeDir, path);
    await mkdir(dirname(target), { recursive: true });
    await replaceFile(target, data, this.#durable);
    this.#dirsWritten.add(dirname(target));
  }

  /** Swaps in the verified checkpoint, as its signed note was served. */
  async #writeCheckpoint(cp: SignedCheckpoint, note: Uint8Array): Promise<void> {
    await this.#writeNew("checkpoint", note);
    if (this.#durable) await syncDir(this.treeDir);
    this.#held = cp;
    this.#heldNote = note;
  }

  async #copyMirrorList(): Promise<void> {
    let raw: Uint8Array;
    try {
      raw = await this.client.pool.origin.log.read(MIRROR_LIST_PATH, MAX_MIRROR_LIST_BYTES);
      openMirrorList(raw, this.client.currentVerifier);
    } catch {
      return; // Relaying the list is a courtesy: a missing or bad one is not copied.
    }
    await this.#writeIfChanged(MIRROR_LIST_PATH, raw);
  }

  async #writeIfChanged(path: string, data: Uint8Array): Promise<void> {
    const current = await readFile(join(this.treeDir, path)).catch(() => undefined);
    if (!current || !Buffer.from(current).equals(Buffer.from(data))) {
      await this.#writeNew(path, data);
      if (this.#durable) await syncDir(this.treeDir);
    }
  }
}

/** The blobs of a restored version, and the claim its files make, as its publish or artifact entry named them. */
function restoredBlobs({
  name,
  version,
  doc,
}: RestoredVersion): [NamedBlob[], FilesClaim | undefined] {
  const named: NamedBlob[] = [{ ref: doc.manifest }];
  if (doc.artifact) named.push({ ref: doc.artifact, artifact: doc.artifact });
  if (doc.files) named.push({ ref: doc.files });
  const claim =
    doc.artifact && doc.files
      ? { name, version, artifact: doc.artifact, files: doc.files }
      : undefined;
  return [named, claim];
}

async function readHeldCheckpoint(
  treeDir: string,
  verifiers: readonly NoteVerifier[],
): Promise<{ checkpoint: SignedCheckpoint; note: Uint8Array } | undefined> {
  let note: Uint8Array;
  try {
    note = await new DirectorySource(treeDir).read("checkpoint", MAX_CHECKPOINT_BYTES);
  } catch (err) {
    if (isLogError(err, "not-found")) return undefined;
    throw err;
  }
  return { checkpoint: openCheckpoint(note, verifiers, verifiers[0].name), note };
}
