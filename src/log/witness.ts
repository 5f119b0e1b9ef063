/**
 * C2SP tlog-witness v1.0.0: the add-checkpoint exchange, as a pure function
 * from request bytes to response status and bytes, around a store that
 * updates each log's latest cosigned size with compare-and-swap.
 *
 * Request body:
 *
 *   old 20852014
 *   <base64 consistency proof hash>   (0 to 63 lines)
 *
 *   <signed checkpoint>
 *
 * Responses: 200 with cosignature lines; 400 malformed or old > new; 403 no
 * trusted signature; 404 unknown origin; 409 (text/x.tlog.size, the latest
 * cosigned size) when the old size is stale or a same-size root differs; 422
 * when the consistency proof does not verify, or a size-0 checkpoint does not
 * carry the empty tree's root (a rule of the spec after v1.0.0 that v1.0.0
 * does not forbid).
 */
import { decodeBase64Strict, encodeBase64 } from "./base64.ts";
import { openCheckpoint } from "./checkpoint.ts";
import { LogError } from "./errors.ts";
import { EMPTY_ROOT, equalBytes, HASH_SIZE, type Hash } from "./hash.ts";
import { verifyConsistency } from "./merkle.ts";
import { addSignatures, type NoteSigner, type NoteVerifier, parseNote } from "./note.ts";

export const MAX_PROOF_LINES = 63;

export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Hash[];
  readonly checkpoint: string;
}

export function formatAddCheckpointRequest(req: AddCheckpointRequest): string {
  return `old ${req.oldSize}\n${req.proof.map((h) => `${encodeBase64(h)}\n`).join("")}\n${req.checkpoint}`;
}

export function parseAddCheckpointRequest(body: string): AddCheckpointRequest {
  const bad = (message: string) =>
    new LogError("malformed-note", `add-checkpoint request: ${message}`);
  const blank = body.indexOf("\n\n");
  if (blank < 0) throw bad("no empty line before the checkpoint");
  const lines = body.slice(0, blank).split("\n");
  const checkpoint = body.slice(blank + 2);
  const old = /^old (0|[1-9][0-9]*)$/.exec(lines[0]);
  if (!old || !Number.isSafeInteger(Number(old[1]))) throw bad("first line must be `old <size>`");
  const proofLines = lines.slice(1);
  if (proofLines.length > MAX_PROOF_LINES) throw bad(`more than ${MAX_PROOF_LINES} proof lines`);
  const proof = proofLines.map((line) => {
    const hash = decodeBase64Strict(line);
    if (!hash || hash.length !== HASH_SIZE) throw bad("proof line is not base64 of 32 bytes");
    return hash;
  });
  return { oldSize: Number(old[1]), proof, checkpoint };
}

export interface CosignedState {
  readonly size: number;
  readonly root: Hash;
  /** The checkpoint as cosigned, the log's signatures and this witness's included. */
  readonly note?: string;
}

/** Why a request whose log signature verified was refused: what a fork looks like. */
export type EvidenceReason = "inconsistent" | "same-size-conflict";

/**
 * A witness's memory of each log. `compareAndSwap` stores `next` only if the
 * stored size is still `oldSize` (0 when none), atomically, and durably
 * before it returns true; it returns false if another request got there
 * first. Without it, two racing requests could roll a log back.
 */
export interface WitnessStore {
  get(origin: string): Promise<CosignedState | undefined>;
  compareAndSwap(origin: string, oldSize: number, next: CosignedState): Promise<boolean>;
  /**
   * Keeps a request that carried a valid log signature but failed the
   * consistency checks (tlog-witness: it "might be proof of log misbehavior").
   */
  recordEvidence?(origin: string, reason: EvidenceReason, body: string): Promise<void>;
}

export class MemoryWitnessStore implements WitnessStore {
  readonly #logs = new Map<string, CosignedState>();

  async get(origin: string): Promise<CosignedState | undefined> {
    return this.#logs.get(origin);
  }

  async compareAndSwap(origin: string, oldSize: number, next: CosignedState): Promise<boolean> {
    if ((this.#logs.get(origin)?.size ?? 0) !== oldSize) return false;
    this.#logs.set(origin, next);
    return true;
  }
}

export interface WitnessResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

export interface WitnessOptions {
  readonly cosigner: NoteSigner;
  /** Trusted log keys, by checkpoint origin. */
  readonly logs: ReadonlyMap<string, readonly NoteVerifier[]>;
  readonly store: WitnessStore;
  /** Runs between the checks and the compare-and-swap; tests stall races here. */
  readonly beforeSwap?: (origin: string, size: number) => Promise<void>;
}

const text = (status: number, body: string): WitnessResponse => ({
  status,
  contentType: "text/plain; charset=utf-8",
  body,
});

/** Handles one add-checkpoint request body. */
export async function addCheckpoint(
  options: WitnessOptions,
  body: string,
): Promise<WitnessResponse> {
  let req: AddCheckpointRequest;
  let origin: string;
  try {
    req = parseAddCheckpointRequest(body);
    origin = parseNote(req.checkpoint).text.split("\n")[0];
  } catch (err) {
    return text(400, `${(err as Error).message}\n`);
  }
  const verifiers = options.logs.get(origin);
  if (!verifiers) return text(404, "unknown log origin\n");
  let checkpoint: ReturnType<typeof openCheckpoint>;
  try {
    checkpoint = openCheckpoint(req.checkpoint, verifiers, origin);
  } catch (err) {
    const forbidden =
      err instanceof LogError &&
      (err.code === "unverified-note" || err.code === "invalid-signature");
    return text(forbidden ? 403 : 400, `${(err as Error).message}\n`);
  }
  if (req.oldSize > checkpoint.size)
    return text(400, "old size is larger than the checkpoint size\n");
  if (checkpoint.size === 0 && !equalBytes(checkpoint.root, EMPTY_ROOT))
    return text(422, "a checkpoint of size 0 must carry the empty tree's root\n");
  const evidence = (reason: EvidenceReason) => options.store.recordEvidence?.(origin, reason, body);
  const known = await options.store.get(origin);
  const conflict = (): WitnessResponse => ({
    status: 409,
    contentType: "text/x.tlog.size",
    body: `${known?.size ?? 0}\n`,
  });
  if (req.oldSize !== (known?.size ?? 0)) return conflict();
  if (known && req.oldSize === checkpoint.size) {
    if (!equalBytes(known.root, checkpoint.root)) {
      await evidence("same-size-conflict");
      return conflict();
    }
  } else if (known && known.size > 0) {
    try {
      verifyConsistency(known.size, checkpoint.size, req.proof, known.root, checkpoint.root);
    } catch (err) {
      await evidence("inconsistent");
      return text(422, `${(err as Error).message}\n`);
    }
  } else if (req.proof.length > 0) {
    return text(422, "the proof must be empty when the old size is zero\n");
  }
  // Signed before the swap so that the stored note is the one answered; unused if the swap loses.
  const cosigned = addSignatures(req.checkpoint, [options.cosigner]);
  await options.beforeSwap?.(origin, checkpoint.size);
  const stored = await options.store.compareAndSwap(origin, req.oldSize, {
    size: checkpoint.size,
    root: checkpoint.root,
    note: cosigned,
  });
  if (!stored) {
    const latest = await options.store.get(origin);
    return { status: 409, contentType: "text/x.tlog.size", body: `${latest?.size ?? 0}\n` };
  }
  return text(200, cosigned.slice(req.checkpoint.length));
}
