/**
 * The checks a client makes on what one source served, shared by the
 * LogClient (which then tries another source) and the audit (which lists
 * every failure). Each throws a SourceError that names the source and the
 * check.
 */
import {
  bundlePath,
  equalBytes,
  type Hash,
  isLogError,
  leafHash,
  type NoteVerifier,
  openCheckpoint,
  parseBundle,
  type SignedCheckpoint,
  verifyConsistency,
} from "../log/index.ts";
import { openCheckpointWithPolicy, type WitnessPolicy } from "../log/policy.ts";
import { verifyBlob } from "../registry/blob-check.ts";
import type { BlobRef } from "../registry/entries.ts";
import { type Check, SourceError } from "./errors.ts";

/** The check a checkpoint failed, by the log core's code. */
function checkpointCheck(err: unknown): Check {
  if (isLogError(err, "wrong-origin")) return "origin";
  if (isLogError(err, "too-few-cosignatures") || isLogError(err, "invalid-cosignature"))
    return "witness";
  if (isLogError(err, "stale-checkpoint")) return "stale";
  return "signature";
}

/**
 * A checkpoint signed by the pinned key (or one it rotated to), for the pinned key's log, and
 * cosigned as `policy` demands when there is one.
 */
export function openServedCheckpoint(
  raw: Uint8Array,
  verifier: NoteVerifier | readonly NoteVerifier[],
  source: string,
  policy?: WitnessPolicy,
): SignedCheckpoint {
  const verifiers = "name" in verifier ? [verifier] : verifier;
  try {
    if (policy)
      return openCheckpointWithPolicy(raw, {
        ...policy,
        logKeys: verifiers,
        origin: verifiers[0].name,
      });
    return openCheckpoint(raw, verifiers, verifiers[0].name);
  } catch (err) {
    throw new SourceError(source, checkpointCheck(err), (err as Error).message);
  }
}

/**
 * Verifies that `older` and `newer` are one log, with a proof whose hashes
 * came from authenticated tiles of `newer`'s tree; blames `source` if not.
 */
export function checkConsistency(
  older: SignedCheckpoint,
  newer: SignedCheckpoint,
  proof: readonly Hash[],
  source: string,
): void {
  if (older.size === 0) return;
  try {
    verifyConsistency(older.size, newer.size, proof, older.root, newer.root);
  } catch (err) {
    throw new SourceError(
      source,
      "consistency",
      `the checkpoints of size ${older.size} and ${newer.size}, both signed by the origin key, ` +
        `are not one log: it was forked or rewritten (${(err as Error).message})`,
    );
  }
}

/** Entry bundle `index` of `width` entries, each checked against its authenticated level-0 tile hashes. */
export function checkBundle(
  data: Uint8Array,
  index: number,
  width: number,
  tileHashes: readonly Hash[],
  source: string,
): Uint8Array[] {
  const path = bundlePath(index, width);
  const entries = parseBundle(data, width);
  entries.forEach((entry, i) => {
    if (!equalBytes(leafHash(entry), tileHashes[i]))
      throw new SourceError(source, "bundle", `${path}: entry ${i} does not match its tile`);
  });
  return entries;
}

/**
 * A blob's bytes must have the size and SHA-256 the log names, and pass
 * `check` (say npm's SHA-512 of a tarball).
 */
export function checkBlob(
  ref: BlobRef,
  data: Uint8Array,
  source: string,
  check?: (data: Uint8Array) => void,
): void {
  try {
    verifyBlob(ref, data);
    check?.(data);
  } catch (err) {
    throw new SourceError(source, "blob", `blob/sha256/${ref.sha256}: ${(err as Error).message}`);
  }
}
