/**
 * A full audit of one server's copy of the log: the checkpoint signature,
 * its consistency with the checkpoint this client verified before, every
 * hash tile (each authenticated up to the root), every entry bundle (against
 * its tile) and every blob the entries name (size, SHA-256 and, for
 * tarballs, npm's SHA-512 and the UnixFS root the entry records), and the
 * files a sparse reader reads: the root, shards and package documents of
 * the latest snapshot, each by the hash that names it. It reports every
 * problem it finds rather than stopping at the first, except when the
 * tiles themselves cannot be trusted.
 */
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import {
  bundlePath,
  isLogError,
  type LogSource,
  MAX_BUNDLE_BYTES,
  MAX_CHECKPOINT_BYTES,
  type NoteVerifier,
  proveConsistency,
  type SignedCheckpoint,
  TILE_WIDTH,
  TileHashReader,
} from "../log/index.ts";
import { type CosignatureReport, describeCosignatures, type WitnessPolicy } from "../log/policy.ts";
import { checkUnixfs } from "../registry/artifact-dag.ts";
import { verifyIntegrity } from "../registry/blob-check.ts";
import {
  type Artifact,
  type BlobRef,
  blobsNamedBy,
  type Entry,
  type SnapshotEntry,
} from "../registry/entries.ts";
import {
  EMPTY_SHARD_HASH,
  MAX_INDEX_FILE_BYTES,
  parseIndexMeta,
  parseIndexShard,
} from "../registry/index-view.ts";
import { decodeDocument, MAX_DOCUMENT_BYTES } from "../registry/package-document.ts";
import { MAX_SHARD_BYTES, parseRoot, parseShard } from "../registry/snapshot.ts";
import type { RegistryState } from "../registry/state.ts";
import { decodeLogEntries, type LogEntry } from "../registry/void-entries.ts";
import { unixfsOfBytes } from "../store/unixfs.ts";
import { CheckpointStore } from "./checkpoint-store.ts";
import { checkBlob, checkBundle, checkConsistency } from "./checks.ts";
import { classify, SourceError } from "./errors.ts";
import { KeyChain, openFollowing, type PendingChain } from "./key-chain.ts";
import { WithheldClaims } from "./withheld-audit.ts";

export interface AuditOptions {
  /** The cosignatures the checkpoint needs besides the origin key's signature. */
  readonly policy?: WitnessPolicy;
  /** Where the last verified checkpoint is kept; the audit updates it when all is well. */
  readonly stateDir: string;
  readonly concurrency?: number;
  /**
   * Replays every entry into this (empty) state, checking each snapshot
   * entry against the state the entries before it give: a monitor's check
   * that the origin's snapshots are honest.
   */
  readonly replay?: RegistryState;
  /**
   * Checks what an entry claims about its blobs beyond their hashes (a
   * version's file index against its tarball), given the entry and the
   * bytes of each blob it names that was served whole; throws on a lie.
   */
  readonly checkEntry?: (
    entry: Entry,
    blob: (sha256: string) => Uint8Array | undefined,
  ) => Promise<void>;
  /** Told of progress: bundles and blobs checked so far. */
  readonly onProgress?: (done: { bundles: number; totalBundles: number; blobs: number }) => void;
}

export interface AuditResult {
  readonly checkpoint?: SignedCheckpoint;
  /** Every signature line of the checkpoint that is not the origin key's, checked against the policy's witnesses. */
  readonly cosignatures?: readonly CosignatureReport[];
  readonly bundles: number;
  readonly blobs: number;
  readonly problems: readonly SourceError[];
}

/**
 * Applies bundles to `state` in log order as they arrive in any order; the
 * first entry that does not replay stops it (later ones cannot be judged).
 */
function orderedReplay(state: RegistryState, report: (message: string) => void) {
  const waiting = new Map<number, LogEntry[] | undefined>();
  let next = 0;
  let stopped = false;
  return {
    offer(bundle: number, entries: LogEntry[] | undefined): void {
      waiting.set(bundle, entries);
      while (waiting.has(next)) {
        const ready = waiting.get(next);
        waiting.delete(next);
        if (!stopped && ready === undefined) {
          stopped = true;
          report(`replay stopped at entry ${next * TILE_WIDTH}: its bundle could not be read`);
        } else if (!stopped && ready) {
          try {
            state.apply(next * TILE_WIDTH, ready);
          } catch (err) {
            stopped = true;
            report(`the entries do not replay: ${(err as Error).message}`);
          }
        }
        next++;
      }
    },
  };
}

export async function auditTree(
  source: LogSource,
  verifier: NoteVerifier,
  options: AuditOptions,
): Promise<AuditResult> {
  const problems: SourceError[] = [];
  const fail = (err: unknown, check: Parameters<typeof classify>[2]) => {
    problems.push(classify(err, source.name, check));
  };
  let keys: KeyChain | undefined;
  const store = new CheckpointStore(options.stateDir, verifier, {
    verifiers: () => (keys as KeyChain).all(),
    reloadVerifiers: () => (keys as KeyChain).reload(),
    policy: options.policy,
  });
  keys = await KeyChain.load(store.keyChainPath, verifier);
  const storedCheckpoint = await store.load();
  const stored = storedCheckpoint?.checkpoint;
  let note: Uint8Array;
  let cp: SignedCheckpoint;
  let pending: PendingChain | undefined;
  try {
    note = await source.read("checkpoint", MAX_CHECKPOINT_BYTES);
    ({ cp, pending } = await openFollowing(
      keys,
      note,
      source.name,
      source,
      (c) => new TileHashReader(c.size, c.root, source),
      { policy: options.policy, stored: stored?.size ?? 0 },
    ));
  } catch (err) {
    fail(err, "signature");
    return { bundles: 0, blobs: 0, problems };
  }
  const cosignatures = describeCosignatures(
    note,
    // A key the origin rotated to is the log's, not an unknown cosigner.
    keys.all(pending),
    options.policy?.witnesses,
    options.policy?.now,
  );
  const reader = new TileHashReader(cp.size, cp.root, source);
  if (stored && cp.size < stored.size) {
    problems.push(
      new SourceError(
        source.name,
        "rollback",
        `its checkpoint has size ${cp.size}, older than the size ${stored.size} verified before (${store.path})`,
      ),
    );
    return { checkpoint: cp, cosignatures, bundles: 0, blobs: 0, problems };
  }
  if (stored && stored.size > 0) {
    try {
      checkConsistency(
        stored,
        cp,
        await proveConsistency(stored.size, cp.size, reader),
        source.name,
      );
    } catch (err) {
      fail(err, "tile");
      return { checkpoint: cp, cosignatures, bundles: 0, blobs: 0, problems };
    }
  }

  const totalBundles = Math.ceil(cp.size / TILE_WIDTH);
  let bundles = 0;
  let blobs = 0;
  let tilesBroken = false;
  const report = () => options.onProgress?.({ bundles, totalBundles, blobs });
  const replay =
    options.replay &&
    orderedReplay(options.replay, (message) => {
      problems.push(new SourceError(source.name, "replay", message));
    });
  /**
   * A served blob, read with at most `maxBytes` and passed to `check` (which
   * throws on a mismatch and may parse); undefined after reporting a problem.
   */
  const withheld = new WithheldClaims();
  const checkServed = async <T>(
    sha256: string,
    maxBytes: number,
    check: (data: Uint8Array) => T,
    namedBy?: LogEntry,
  ): Promise<T | undefined> => {
    try {
      return check(await source.read(`blob/sha256/${sha256}`, maxBytes));
    } catch (err) {
      // A 451 is judged at the end, against the log's own takedowns; never taken on trust.
      if (!(isLogError(err, "withheld") && namedBy && withheld.claim(sha256, namedBy)))
        fail(err, "blob");
      return undefined;
    } finally {
      blobs++;
      report();
    }
  };
  /** A blob an entry names, by its size and SHA-256 (and a tarball's SHA-512 and UnixFS root). */
  const checkServedBlob = (ref: BlobRef, namedBy: LogEntry, artifact?: Artifact) =>
    checkServed(
      ref.sha256,
      ref.size,
      (data) => {
        checkBlob(ref, data, source.name, artifact && ((d) => checkTarball(artifact, d)));
        return data;
      },
      namedBy,
    );
  /** A snapshot file by the hash that names it, parsed. */
  const checkHashed = <T>(sha256: string, maxBytes: number, parse: (data: Uint8Array) => T) =>
    checkServed(sha256, maxBytes, (data) => {
      checkBlob({ sha256, size: data.length }, data, source.name);
      return parse(data);
    });
  const auditSnapshot = async (entry: SnapshotEntry) => {
    const shards = await checkHashed(entry.root.sha256, entry.root.size, parseRoot);
    const documents: string[] = [];
    for (const [index, shard] of (shards ?? []).entries()) {
      const place = { shard: index, count: shards?.length ?? 0 };
      const rows = await checkHashed(shard, MAX_SHARD_BYTES, (data) => parseShard(data, place));
      for (const row of rows ?? []) documents.push(row.document);
    }
    await inParallel(documents.length, (i) =>
      checkHashed(documents[i], MAX_DOCUMENT_BYTES, (data) => decodeDocument(data, ECOSYSTEMS)),
    );
    for (const [ecosystem, ref] of Object.entries(entry.indexes ?? {}))
      await auditIndexView(ecosystem, ref);
  };
  /** A native index view (index-view.ts): its meta file, every shard, every index file. */
  const auditIndexView = async (ecosystem: string, ref: BlobRef) => {
    const meta = await checkHashed(ref.sha256, ref.size, parseIndexMeta);
    const keyName = ECOSYSTEMS.get(ecosystem)?.keyName;
    if (!meta || !keyName) return;
    const files: string[] = [];
    for (const [index, shard] of meta.shards.entries()) {
      if (shard === EMPTY_SHARD_HASH) continue;
      const place = { shard: index, count: meta.shards.length };
      const rows = await checkHashed(shard, MAX_SHARD_BYTES, (data) =>
        parseIndexShard(data, keyName, place),
      );
      for (const row of rows ?? []) files.push(row.file);
    }
    await inParallel(files.length, (i) => checkHashed(files[i], MAX_INDEX_FILE_BYTES, () => {}));
  };
  let snapshot: SnapshotEntry | undefined;
  const auditBundle = async (index: number) => {
    const width = Math.min(TILE_WIDTH, cp.size - index * TILE_WIDTH);
    let hashes: Uint8Array[];
    try {
      hashes = await reader.readTile({ level: 0, index, width });
    } catch (err) {
      tilesBroken = true;
      fail(err, "tile");
      return;
    }
    const path = bundlePath(index, width);
    let entries: Uint8Array[];
    try {
      const data = await source.read(path, MAX_BUNDLE_BYTES);
      entries = checkBundle(data, index, width, hashes, source.name);
    } catch (err) {
      fail(err, "bundle");
      replay?.offer(index, undefined);
      return;
    }
    bundles++;
    report();
    const decoded: LogEntry[] = [];
    for (const [i, bytes] of entries.entries()) {
      let entry: LogEntry;
      try {
        [entry] = decodeLogEntries(index * TILE_WIDTH + i, [bytes]);
      } catch (err) {
        fail(
          new SourceError(source.name, "bundle", `${path}: entry ${i}: ${(err as Error).message}`),
          "bundle",
        );
        continue;
      }
      withheld.noteEntry(index * TILE_WIDTH + i, entry);
      decoded.push(entry);
    }
    replay?.offer(index, decoded.length === entries.length ? decoded : undefined);
    const last = decoded.at(-1);
    if (
      index === totalBundles - 1 &&
      decoded.length === entries.length &&
      last?.kind === "snapshot"
    )
      snapshot = last;
    for (const entry of decoded) {
      const named = blobsNamedBy(entry);
      const served = await Promise.all(
        named.map(({ ref, artifact }) => checkServedBlob(ref, entry, artifact)),
      );
      if (!options.checkEntry || entry.kind === "void" || named.length === 0) continue;
      const bytes = new Map(named.map(({ ref }, i) => [ref.sha256, served[i]]));
      await options
        .checkEntry(entry, (sha256) => bytes.get(sha256))
        .catch((err: unknown) => {
          fail(new SourceError(source.name, "blob", (err as Error).message), "blob");
        });
    }
  };

  const concurrency = options.concurrency ?? 8;
  /** Runs `work(0 … count-1)`, `concurrency` at a time, until done or the tiles break. */
  const inParallel = async (count: number, work: (i: number) => Promise<unknown>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, count) }, async () => {
        while (next < count && !tilesBroken) await work(next++);
      }),
    );
  };
  await inParallel(totalBundles, auditBundle);
  if (snapshot) await auditSnapshot(snapshot);
  for (const claim of withheld.unbacked())
    problems.push(
      new SourceError(
        source.name,
        "blob",
        `answered 451 for blob ${claim.sha256} of ${claim.name}@${claim.version}, which the log does not take down`,
      ),
    );
  report();
  // If another process stored a checkpoint meanwhile, the store keeps it: the next audit proves from there.
  if (problems.length === 0 && pending) await keys.adopt(pending);
  if (problems.length === 0 && (!stored || cp.size > stored.size))
    await store.save(note, storedCheckpoint);
  return { checkpoint: cp, cosignatures, bundles, blobs, problems };
}

/** A tarball's npm SHA-512, and the UnixFS root its entry records made again from its bytes. */
function checkTarball(artifact: Artifact, data: Uint8Array): void {
  verifyIntegrity(artifact, data);
  if (artifact.unixfs !== undefined) checkUnixfs(artifact, unixfsOfBytes(data));
}
