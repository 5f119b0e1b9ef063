/**
 * A full audit of one server's copy of the log: the checkpoint signature,
 * its consistency with the checkpoint this client verified before, every
 * hash tile (each authenticated up to the root), every entry bundle (against
 * its tile) and every blob the entries name (size, SHA-256 and, for
 * tarballs, npm's SHA-512). It reports every problem it finds rather than
 * stopping at the first, except when the tiles themselves cannot be trusted.
 */
import {
  bundlePath,
  type LogSource,
  leafHash,
  MAX_BUNDLE_BYTES,
  MAX_CHECKPOINT_BYTES,
  type NoteVerifier,
  openCheckpoint,
  parseBundle,
  proveConsistency,
  type SignedCheckpoint,
  TILE_WIDTH,
  TileHashReader,
  verifyConsistency,
} from "../log/index.ts";
import { verifyBlob, verifyTarball } from "../registry/blob-check.ts";
import { decodeEntry } from "../registry/entries.ts";
import { CheckpointStore } from "./checkpoint-store.ts";
import { classify, SourceError } from "./errors.ts";

export interface AuditOptions {
  /** Where the last verified checkpoint is kept; the audit updates it when all is well. */
  readonly stateDir: string;
  readonly concurrency?: number;
  /** Told of progress: bundles and blobs checked so far. */
  readonly onProgress?: (done: { bundles: number; totalBundles: number; blobs: number }) => void;
}

export interface AuditResult {
  readonly checkpoint?: SignedCheckpoint;
  readonly bundles: number;
  readonly blobs: number;
  readonly problems: readonly SourceError[];
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
  const store = new CheckpointStore(options.stateDir, verifier);
  const stored = (await store.load())?.checkpoint;
  let note: Uint8Array;
  let cp: SignedCheckpoint;
  try {
    note = await source.read("checkpoint", MAX_CHECKPOINT_BYTES);
    cp = openCheckpoint(note, [verifier], verifier.name);
  } catch (err) {
    const code = (err as { code?: string }).code;
    fail(err, code === "wrong-origin" ? "origin" : "signature");
    return { bundles: 0, blobs: 0, problems };
  }
  const reader = new TileHashReader(cp.size, cp.root, source);
  if (stored && cp.size < stored.size) {
    problems.push(
      new SourceError(
        source.name,
        "rollback",
        `its checkpoint has size ${cp.size}, older than the size ${stored.size} verified before (${store.path})`,
      ),
    );
    return { checkpoint: cp, bundles: 0, blobs: 0, problems };
  }
  if (stored && stored.size > 0) {
    try {
      const proof = await proveConsistency(stored.size, cp.size, reader);
      try {
        verifyConsistency(stored.size, cp.size, proof, stored.root, cp.root);
      } catch (err) {
        throw new SourceError(
          source.name,
          "consistency",
          `its checkpoint of size ${cp.size} does not extend the one of size ${stored.size} verified before: ` +
            `the log was forked or rewritten (${(err as Error).message})`,
        );
      }
    } catch (err) {
      fail(err, "tile");
      return { checkpoint: cp, bundles: 0, blobs: 0, problems };
    }
  }

  const totalBundles = Math.ceil(cp.size / TILE_WIDTH);
  let bundles = 0;
  let blobs = 0;
  let tilesBroken = false;
  const report = () => options.onProgress?.({ bundles, totalBundles, blobs });
  const checkBlob = async (
    ref: { sha256: string; size: number },
    tarball?: Parameters<typeof verifyTarball>[0],
  ) => {
    const path = `blob/sha256/${ref.sha256}`;
    try {
      const data = await source.read(path, ref.size);
      try {
        if (tarball) verifyTarball(tarball, data);
        else verifyBlob(ref, data);
      } catch (err) {
        throw new SourceError(source.name, "blob", `${path}: ${(err as Error).message}`);
      }
    } catch (err) {
      fail(err, "blob");
    }
    blobs++;
    report();
  };
  const checkBundle = async (index: number) => {
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
      entries = parseBundle(await source.read(path, MAX_BUNDLE_BYTES), width);
      const bad = entries.findIndex(
        (e, i) => !Buffer.from(leafHash(e)).equals(Buffer.from(hashes[i])),
      );
      if (bad >= 0)
        throw new SourceError(
          source.name,
          "bundle",
          `${path}: entry ${bad} does not match its tile`,
        );
    } catch (err) {
      fail(err, "bundle");
      return;
    }
    bundles++;
    report();
    for (const [i, bytes] of entries.entries()) {
      let entry: ReturnType<typeof decodeEntry>;
      try {
        entry = decodeEntry(bytes);
      } catch (err) {
        fail(
          new SourceError(source.name, "bundle", `${path}: entry ${i}: ${(err as Error).message}`),
          "bundle",
        );
        continue;
      }
      if (entry.kind !== "publish") continue;
      await Promise.all([checkBlob(entry.manifest), checkBlob(entry.artifact, entry.artifact)]);
    }
  };

  const concurrency = options.concurrency ?? 8;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, totalBundles) }, async () => {
      while (next < totalBundles && !tilesBroken) await checkBundle(next++);
    }),
  );
  report();
  if (problems.length === 0 && (!stored || cp.size > stored.size)) await store.save(note);
  return { checkpoint: cp, bundles, blobs, problems };
}
