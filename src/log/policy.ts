/**
 * A witness policy: the rule a consumer of checkpoints (client, mirror,
 * proxy) applies before it accepts one. A checkpoint counts only when the
 * log's key signed it and at least `threshold` distinct trusted witnesses
 * cosigned it (C2SP tlog-cosignature v1.0.1). Cosignature timestamps are
 * the only clock a checkpoint has: with a maximum age, `threshold` of them
 * must be recent, which bounds how long a frozen (replayed) checkpoint can
 * hide newer entries.
 *
 * As signed-note asks, every signature by a known key must verify (one that
 * does not refuses the whole note) and signatures by unknown keys are
 * ignored. A cosignature dated beyond now + skew is not counted (a witness's
 * wrong clock must not let a checkpoint outlive its maximum age).
 */
import { type Checkpoint, parseCheckpoint, type SignedCheckpoint } from "./checkpoint.ts";
import type { CosignatureVerifier } from "./cosignature.ts";
import { LogError } from "./errors.ts";
import { type NoteSignature, type NoteVerifier, parseNote } from "./note.ts";

/** What a consumer demands of cosignatures, besides the log key's signature. */
export interface WitnessPolicy {
  readonly witnesses: readonly CosignatureVerifier[];
  /** Distinct witnesses that must have cosigned (1 to witnesses.length). */
  readonly threshold: number;
  /** Seconds: `threshold` cosignatures must be at most this old. */
  readonly maxAgeSeconds?: number;
  /** Seconds a cosignature may be dated ahead of the local clock (default 300). */
  readonly skewSeconds?: number;
  /** The current POSIX time in seconds (tests inject one). */
  readonly now?: () => number;
}

export interface CheckpointPolicy extends WitnessPolicy {
  readonly logKeys: readonly NoteVerifier[];
  /** The origin line the checkpoint must carry. */
  readonly origin?: string;
}

export const DEFAULT_SKEW_SECONDS = 300;

/** One signature line of a checkpoint that is not the log's, as a report shows it. */
export interface CosignatureReport {
  readonly name: string;
  readonly keyId: number;
  /** The timestamp the line carries, if it is shaped as a cosignature. */
  readonly timestamp?: number;
  /**
   * valid: by a trusted witness, verified and counted; future: verified but dated
   * beyond now + skew; invalid: by a trusted witness, does not verify; unknown: not a trusted key.
   */
  readonly status: "valid" | "future" | "invalid" | "unknown";
}

export interface PolicyCheckpoint extends SignedCheckpoint {
  /** Every signature line that is not the log key's. */
  readonly cosignatures: readonly CosignatureReport[];
  /** The newest time `threshold` distinct witnesses vouch for (seconds). */
  readonly cosignedAt: number;
}

const encoder = new TextEncoder();

function nowSeconds(policy: WitnessPolicy): number {
  return policy.now?.() ?? Math.floor(Date.now() / 1000);
}

/** A policy must name a threshold it can meet: refused as a usage error before any checkpoint is read. */
export function checkWitnessPolicy(policy: WitnessPolicy): void {
  const n = new Set(policy.witnesses.map((w) => w.publicKey)).size;
  if (!Number.isInteger(policy.threshold) || policy.threshold < 1 || policy.threshold > n)
    throw new LogError(
      "malformed-key",
      `a witness threshold of ${policy.threshold} cannot be met by ${n} distinct witness keys`,
    );
}

interface Sorted {
  readonly text: string;
  readonly logSignatures: NoteSignature[];
  readonly cosignatures: CosignatureReport[];
  /** The lines by keys the policy does not know, as signed-note reports them. */
  readonly unknown: NoteSignature[];
  /** Each trusted witness key's newest valid time, by public key (one key under two names counts once). */
  readonly counted: Map<string, number>;
}

/**
 * Sorts a note's signature lines into the log key's (each verified) and the
 * rest (each trusted witness's verified); throws on any that fails.
 */
function sortSignatures(
  msg: string | Uint8Array,
  logKeys: readonly NoteVerifier[],
  policy: WitnessPolicy,
  strict: boolean,
): Sorted {
  const { text, signatures } = parseNote(msg);
  const bytes = encoder.encode(text);
  const latest = nowSeconds(policy) + (policy.skewSeconds ?? DEFAULT_SKEW_SECONDS);
  const logSignatures: NoteSignature[] = [];
  const cosignatures: CosignatureReport[] = [];
  const unknown: NoteSignature[] = [];
  const counted = new Map<string, number>();
  const known = (v: NoteVerifier, s: NoteSignature) => v.name === s.name && v.keyId === s.keyId;
  for (const sig of signatures) {
    const logKey = logKeys.find((v) => known(v, sig));
    const witness = policy.witnesses.find((v) => known(v, sig));
    const report = { name: sig.name, keyId: sig.keyId };
    if (logKey) {
      if (!logKey.verify(bytes, sig.signature)) {
        if (strict) throw new LogError("invalid-signature", `invalid log signature by ${sig.name}`);
        continue;
      }
      logSignatures.push({ name: sig.name, keyId: sig.keyId, base64: sig.base64 });
    } else if (witness) {
      if (!witness.verify(bytes, sig.signature)) {
        if (strict)
          throw new LogError(
            "invalid-cosignature",
            `the cosignature by witness ${sig.name} does not verify`,
          );
        cosignatures.push({ ...report, status: "invalid" });
        continue;
      }
      const timestamp = Number(witness.timestampOf(sig.signature));
      const valid = timestamp <= latest;
      cosignatures.push({ ...report, timestamp, status: valid ? "valid" : "future" });
      if (valid)
        counted.set(witness.publicKey, Math.max(counted.get(witness.publicKey) ?? 0, timestamp));
    } else {
      cosignatures.push({ ...report, timestamp: timestampOf(sig.signature), status: "unknown" });
      unknown.push({ name: sig.name, keyId: sig.keyId, base64: sig.base64 });
    }
  }
  return { text, logSignatures, cosignatures, unknown, counted };
}

/** The timestamp of a line shaped as an Ed25519 cosignature, unverified. */
function timestampOf(signature: Uint8Array): number | undefined {
  if (signature.length !== 8 + 64) return undefined;
  return Number(Buffer.from(signature).readBigUInt64BE(0));
}

/** The counted timestamps, one per distinct witness key (its newest), newest first. */
function countedTimes(sorted: Sorted): number[] {
  return [...sorted.counted.values()].sort((a, b) => b - a);
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/**
 * Opens a checkpoint under `policy`. Throws LogError: "malformed-note",
 * "invalid-signature", "unverified-note" or "wrong-origin" for the log's
 * part, "invalid-cosignature" or "too-few-cosignatures" for the witnesses',
 * "stale-checkpoint" when it is older than the maximum age.
 */
export function openCheckpointWithPolicy(
  msg: string | Uint8Array,
  policy: CheckpointPolicy,
): PolicyCheckpoint {
  const sorted = sortSignatures(msg, policy.logKeys, policy, true);
  if (sorted.logSignatures.length === 0)
    throw new LogError("unverified-note", "checkpoint has no valid signature by the log key");
  const checkpoint = parseCheckpoint(sorted.text);
  if (policy.origin !== undefined && checkpoint.origin !== policy.origin)
    throw new LogError(
      "wrong-origin",
      `checkpoint is for ${JSON.stringify(checkpoint.origin)}, want ${JSON.stringify(policy.origin)}`,
    );
  const times = countedTimes(sorted);
  const k = policy.threshold;
  if (times.length < k) {
    const future = sorted.cosignatures.filter((c) => c.status === "future").length;
    throw new LogError(
      "too-few-cosignatures",
      `checkpoint of size ${checkpoint.size} has valid cosignatures by ${times.length} trusted witnesses, ` +
        `${k} required${future > 0 ? ` (${future} dated in the future, not counted)` : ""}`,
    );
  }
  const cosignedAt = times[k - 1];
  const now = nowSeconds(policy);
  if (policy.maxAgeSeconds !== undefined && cosignedAt < now - policy.maxAgeSeconds)
    throw new LogError(
      "stale-checkpoint",
      `checkpoint of size ${checkpoint.size} cosigned at ${iso(cosignedAt)} is older than the maximum age ${policy.maxAgeSeconds} s`,
    );
  return {
    ...checkpoint,
    note: { text: sorted.text, verified: sorted.logSignatures, unverified: sorted.unknown },
    cosignatures: sorted.cosignatures,
    cosignedAt,
  };
}

/**
 * Every signature line of a checkpoint that is not by `logKeys`, each with
 * its time and whether it verified under `witnesses` (for reports: never throws on a bad cosignature).
 */
export function describeCosignatures(
  msg: string | Uint8Array,
  logKeys: readonly NoteVerifier[],
  witnesses: readonly CosignatureVerifier[] = [],
  now?: () => number,
): CosignatureReport[] {
  return sortSignatures(msg, logKeys, { witnesses, threshold: 1, now }, false).cosignatures;
}

/**
 * How fresh a note's cosignatures are, to choose between two notes of one
 * size and root: the `threshold`-th and the newest counted time.
 */
function freshness(
  note: Uint8Array,
  logKeys: readonly NoteVerifier[],
  policy: WitnessPolicy,
): [number, number] {
  const times = countedTimes(sortSignatures(note, logKeys, policy, false));
  return [times[policy.threshold - 1] ?? 0, times[0] ?? 0];
}

/**
 * True when `candidate` should replace `current`, both notes of one
 * checkpoint (the caller has checked size and root agree): under a policy,
 * when its verified cosignatures are newer. Without one, nothing in a
 * cosignature line can be checked, and ordering by what the lines claim
 * would let one forged line (a witness's name, a far-future time) pin the
 * note for good: so any other note replaces it. A consumer without a policy
 * trusts no cosignature, and one with a policy checks what is relayed.
 */
export function hasNewerCosignatures(
  candidate: Uint8Array,
  current: Uint8Array,
  logKeys: readonly NoteVerifier[],
  policy?: WitnessPolicy,
): boolean {
  if (!policy) return !Buffer.from(candidate).equals(Buffer.from(current));
  const [kthNew, newestNew] = freshness(candidate, logKeys, policy);
  const [kthOld, newestOld] = freshness(current, logKeys, policy);
  return kthNew > kthOld || (kthNew === kthOld && newestNew > newestOld);
}

/** True when two checkpoints name one tree: same origin, size and root. */
export function sameTree(a: Checkpoint, b: Checkpoint): boolean {
  return (
    a.origin === b.origin && a.size === b.size && Buffer.from(a.root).equals(Buffer.from(b.root))
  );
}
