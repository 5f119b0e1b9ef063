/**
 * Submits the origin's checkpoints to its witnesses (C2SP tlog-witness
 * v1.0.0) and collects their cosignatures (tlog-cosignature v1.0.1), so that
 * the checkpoint the origin publishes already carries them.
 *
 * The Appender awaits `cosign` for each new checkpoint between the batch's
 * durable writes and the checkpoint's swap: it resolves once `quorum`
 * witnesses have cosigned, or after `timeoutMs` with what arrived (the
 * entries are durable and log-signed; refusing to publish would lie about
 * that). Cosignatures that arrive later, and the fresh ones the idle
 * re-cosigning fetches every `refreshMs`, are added by replacing the
 * published checkpoint with the same checkpoint and more lines.
 *
 * Per witness: one request in flight, and the newest checkpoint goes next
 * (latest wins: two requests in flight would carry the same old size, and
 * one would get 409). Its cosigned size is learned from the 409 body the
 * first request (`old 0`) gets. Every returned line is verified against that
 * witness's key before it is served; other lines are dropped, so a witness
 * cannot make the checkpoint fail to open for everyone. A witness that does
 * not know the log (403 or 404, as implementations differ) or that holds a
 * tree inconsistent with ours (a fork, or data we lost) is logged and
 * counted, never retried in a loop; a witness that cannot be reached is
 * retried with backoff.
 */
import {
  type CosignatureVerifier,
  formatAddCheckpointRequest,
  type Hash,
  type LogSource,
  type NoteVerifier,
  parseCosignatureVerifierKey,
  parseNote,
  proveConsistency,
  readUnverifiedCheckpoint,
  TileHashReader,
} from "../log/index.ts";
import { ConfigError, type OriginConfig } from "./config.ts";

export interface WitnessSetting {
  /** The witness's submission prefix: requests go to `<url>/add-checkpoint`. */
  readonly url: string;
  /** Its cosigner verifier key (type 0x04). */
  readonly key: string;
}

/** `<url>=<vkey>`, split at the last "=" (a verifier key has none; a URL may). */
export function parseWitnessSetting(spec: string): WitnessSetting {
  const eq = spec.lastIndexOf("=");
  if (eq <= 0) throw new ConfigError(`--witness ${spec}: give <url>=<verifier key>`);
  return { url: spec.slice(0, eq), key: spec.slice(eq + 1) };
}

/** What the submitter needs of the log: its published checkpoint, and a same-checkpoint swap. */
export interface CosignedLog {
  readonly checkpoint: Uint8Array;
  /** Publishes `next` if it is the published checkpoint with other signatures (see Appender). */
  replaceCheckpoint(next: Uint8Array): Promise<boolean>;
}

export interface WitnessSubmitterOptions {
  readonly witnesses: readonly WitnessSetting[];
  /** Cosignatures a new checkpoint waits for (default: every witness). */
  readonly quorum?: number;
  /** How long a new checkpoint waits for the quorum (default 2000 ms). */
  readonly timeoutMs?: number;
  /** Idle re-cosigning interval (default 15 minutes); 0: never. */
  readonly refreshMs?: number;
  /** First retry delay for an unreachable witness, doubled up to a minute (default 1000 ms). */
  readonly retryMs?: number;
  /** The log's key: the lines of a published checkpoint that are the log's own. */
  readonly logKey: NoteVerifier;
  /** The durable tree, to prove consistency from. */
  readonly source: LogSource;
  readonly log?: (line: string) => void;
}

export interface WitnessStatus {
  readonly url: string;
  readonly name: string;
  /** The size the witness last cosigned for us, if known. */
  readonly size?: number;
  readonly cosignatures: number;
  readonly failures: number;
  /** Conflicts that show the witness holds a tree inconsistent with ours. */
  readonly forks: number;
  /** Answers that it does not witness this log (403, 404). */
  readonly refusals: number;
  readonly lastError?: string;
}

interface Target {
  /** The checkpoint with the log's signatures only. */
  readonly note: string;
  readonly text: string;
  readonly size: number;
  readonly root: Hash;
}

interface Witness {
  readonly index: number;
  readonly url: string;
  readonly verifier: CosignatureVerifier;
  size?: number;
  inFlight: boolean;
  pending?: Target;
  retry?: NodeJS.Timeout;
  cosignatures: number;
  failures: number;
  forks: number;
  refusals: number;
  lastError?: string;
}

interface Waiter {
  readonly text: string;
  readonly done: () => void;
}

type Outcome = "done" | "retry";

const SIZE_BODY = /^(0|[1-9][0-9]{0,15})\n$/;
const MAX_RESPONSE_BYTES = 64 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_RETRY_MS = 60_000;

export class WitnessSubmitter {
  readonly #witnesses: Witness[];
  readonly #quorum: number;
  readonly #options: WitnessSubmitterOptions;
  readonly #log: (line: string) => void;
  /** Verified cosignature lines by checkpoint text, then by witness. */
  readonly #lines = new Map<string, Map<number, string>>();
  readonly #waiters = new Set<Waiter>();
  readonly #abort = new AbortController();
  #target: Target | undefined;
  #cosignedLog: CosignedLog | undefined;
  #replacing: Promise<unknown> = Promise.resolve();
  #refresh: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #republished: ((checkpoint: Uint8Array) => void)[] = [];

  constructor(options: WitnessSubmitterOptions) {
    this.#options = options;
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.#witnesses = options.witnesses.map((w, index) => ({
      index,
      url: w.url.replace(/\/+$/, ""),
      verifier: parseCosignatureVerifierKey(w.key),
      inFlight: false,
      cosignatures: 0,
      failures: 0,
      forks: 0,
      refusals: 0,
    }));
    const quorum = options.quorum ?? this.#witnesses.length;
    if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > this.#witnesses.length)
      throw new Error(`the witness quorum must be from 0 to ${this.#witnesses.length}`);
    this.#quorum = quorum;
  }

  /**
   * Starts serving `log`: submits its current checkpoint (learning each
   * witness's size, refreshing cosignatures after a restart) and re-cosigns
   * it every refreshMs.
   */
  attach(log: CosignedLog): void {
    this.#cosignedLog = log;
    void this.refresh();
    const every = this.#options.refreshMs ?? 15 * 60_000;
    if (every > 0) {
      this.#refresh = setInterval(() => void this.refresh(), every);
      this.#refresh.unref();
    }
  }

  /** The checkpoint with the quorum's cosignatures, or with what arrived within the timeout. */
  async cosign(checkpoint: Uint8Array): Promise<Uint8Array> {
    const target = this.#targetOf(new TextDecoder().decode(checkpoint));
    if (this.#closed || this.#witnesses.length === 0) return checkpoint;
    this.#submit(target);
    if (this.#count(target.text) < this.#quorum) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => finish(), this.#options.timeoutMs ?? 2000);
        const waiter: Waiter = { text: target.text, done: () => finish() };
        const finish = () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve();
        };
        this.#waiters.add(waiter);
      });
    }
    return new TextEncoder().encode(this.#compose(target));
  }

  /** Re-submits the published checkpoint: fresh timestamps for an idle log. */
  async refresh(): Promise<void> {
    const log = this.#cosignedLog;
    if (!log || this.#closed) return;
    this.#submit(this.#targetOf(new TextDecoder().decode(log.checkpoint)));
  }

  /** Calls `listener` with each checkpoint republished with cosignatures that came late or fresh. */
  onRepublished(listener: (checkpoint: Uint8Array) => void): void {
    this.#republished.push(listener);
  }

  status(): { quorum: number; witnesses: WitnessStatus[] } {
    return {
      quorum: this.#quorum,
      witnesses: this.#witnesses.map((w) => ({
        url: w.url,
        name: w.verifier.name,
        ...(w.size !== undefined ? { size: w.size } : {}),
        cosignatures: w.cosignatures,
        failures: w.failures,
        forks: w.forks,
        refusals: w.refusals,
        ...(w.lastError !== undefined ? { lastError: w.lastError } : {}),
      })),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#refresh);
    for (const w of this.#witnesses) clearTimeout(w.retry);
    this.#abort.abort();
    for (const waiter of [...this.#waiters]) waiter.done();
    await this.#replacing;
  }

  /** The checkpoint as the log alone signed it, and what it says. */
  #targetOf(note: string): Target {
    const { text, signatures } = parseNote(note);
    const key = this.#options.logKey;
    const own = signatures.filter((s) => s.name === key.name && s.keyId === key.keyId);
    const { size, root } = readUnverifiedCheckpoint(note);
    return { note: `${text}\n${own.map((s) => `${s.line}\n`).join("")}`, text, size, root };
  }

  #compose(target: Target): string {
    const lines = [...(this.#lines.get(target.text) ?? new Map()).entries()]
      .sort(([a], [b]) => a - b)
      .map(([, line]) => line);
    return target.note + lines.join("");
  }

  #count(text: string): number {
    return this.#lines.get(text)?.size ?? 0;
  }

  #submit(target: Target): void {
    // Only the newest checkpoint is worth cosigning; only its cosignatures are kept.
    if (this.#target && target.size < this.#target.size) return;
    if (this.#target && this.#target.text !== target.text) this.#lines.delete(this.#target.text);
    this.#target = target;
    for (const w of this.#witnesses) {
      w.pending = target;
      void this.#pump(w);
    }
  }

  async #pump(w: Witness): Promise<void> {
    if (w.inFlight || this.#closed) return;
    w.inFlight = true;
    try {
      while (w.pending && !this.#closed) {
        const target = w.pending;
        w.pending = undefined;
        if ((await this.#submitTo(w, target)) === "retry") {
          w.pending ??= target;
          this.#scheduleRetry(w);
          return;
        }
      }
    } finally {
      w.inFlight = false;
    }
  }

  #scheduleRetry(w: Witness): void {
    if (w.retry || this.#closed) return;
    const delay = Math.min((this.#options.retryMs ?? 1000) * 2 ** (w.failures - 1), MAX_RETRY_MS);
    w.retry = setTimeout(() => {
      w.retry = undefined;
      void this.#pump(w);
    }, delay);
    w.retry.unref();
  }

  #fail(w: Witness, message: string): Outcome {
    w.failures++;
    w.lastError = message;
    return "retry";
  }

  #fork(w: Witness, message: string): Outcome {
    w.forks++;
    w.lastError = message;
    this.#log(`witness ${w.url} (${w.verifier.name}): ${message}; not retrying this checkpoint`);
    return "done";
  }

  async #submitTo(w: Witness, target: Target): Promise<Outcome> {
    // At most two rounds: the second after learning the witness's size from a 409.
    for (let round = 0; round < 2; round++) {
      const old = w.size ?? 0;
      if (old > target.size)
        return this.#fork(w, `it has cosigned size ${old}, past our size ${target.size}`);
      let status: number;
      let body: string;
      try {
        const proof =
          old === 0 || old === target.size
            ? []
            : await proveConsistency(
                old,
                target.size,
                new TileHashReader(target.size, target.root, this.#options.source),
              );
        const res = await fetch(`${w.url}/add-checkpoint`, {
          method: "POST",
          body: formatAddCheckpointRequest({ oldSize: old, proof, checkpoint: target.note }),
          signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
        });
        status = res.status;
        body = await readLimited(res);
      } catch (err) {
        if (this.#closed) return "done";
        return this.#fail(w, `request failed: ${(err as Error).message}`);
      }
      if (status === 200) return this.#accept(w, target, body);
      if (status === 403 || status === 404) {
        w.refusals++;
        w.lastError = `it does not witness this log (${status})`;
        this.#log(`witness ${w.url} (${w.verifier.name}): ${w.lastError}`);
        return "done";
      }
      if (status === 422)
        return this.#fork(w, `its tree at size ${old} is inconsistent with ours (422)`);
      if (status !== 409) return this.#fail(w, `answered ${status}: ${body.slice(0, 200)}`);
      const learned = SIZE_BODY.exec(body);
      if (!learned) return this.#fail(w, "answered 409 without a size");
      const size = Number(learned[1]);
      if (size === old)
        return this.#fork(w, `it holds another root at size ${size} (a same-size conflict)`);
      w.size = size;
    }
    return this.#fail(w, "its size kept changing");
  }

  #accept(w: Witness, target: Target, body: string): Outcome {
    const verified = verifiedLines(w.verifier, target, body);
    if (verified.length === 0) {
      w.failures++;
      w.lastError = "answered 200 without a cosignature that verifies with its key";
      this.#log(`witness ${w.url} (${w.verifier.name}): ${w.lastError}`);
      return "done";
    }
    w.size = target.size;
    w.failures = 0;
    w.lastError = undefined;
    w.cosignatures++;
    if (this.#target?.text !== target.text) return "done";
    const lines = this.#lines.get(target.text) ?? new Map<number, string>();
    lines.set(w.index, verified[verified.length - 1]);
    this.#lines.set(target.text, lines);
    const waiting = [...this.#waiters].filter((waiter) => waiter.text === target.text);
    if (waiting.length > 0) {
      if (lines.size >= this.#quorum) for (const waiter of waiting) waiter.done();
    } else this.#republish(target);
    return "done";
  }

  /** Swaps the published checkpoint for the same one with the cosignatures now known. */
  #republish(target: Target): void {
    const log = this.#cosignedLog;
    if (!log) return;
    // One swap at a time, each composed when it runs, so a later one never has fewer lines.
    this.#replacing = this.#replacing.then(async () => {
      if (this.#closed || this.#target?.text !== target.text) return;
      try {
        const next = new TextEncoder().encode(this.#compose(target));
        if (await log.replaceCheckpoint(next))
          for (const listener of this.#republished) listener(next);
      } catch (err) {
        this.#log(`adding cosignatures to the checkpoint failed: ${(err as Error).message}`);
      }
    });
  }
}

/** The lines of a 200 answer that are this witness's valid cosignatures of `target`. */
function verifiedLines(verifier: CosignatureVerifier, target: Target, body: string): string[] {
  let signatures: ReturnType<typeof parseNote>["signatures"];
  try {
    signatures = parseNote(target.note + body).signatures;
  } catch {
    return [];
  }
  const text = new TextEncoder().encode(target.text);
  return signatures
    .filter(
      (s) =>
        s.name === verifier.name &&
        s.keyId === verifier.keyId &&
        verifier.verify(text, s.signature) &&
        verifier.timestampOf(s.signature) > 0n,
    )
    .map((s) => `${s.line}\n`);
}

async function readLimited(res: Response): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (declared > MAX_RESPONSE_BYTES) throw new Error("the answer is too large");
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > MAX_RESPONSE_BYTES) throw new Error("the answer is too large");
  return new TextDecoder().decode(bytes);
}

/** The submitter `config` asks for, if it names witnesses. */
export function witnessSubmitterFor(
  config: OriginConfig,
  logKey: NoteVerifier,
  source: LogSource,
  log?: (line: string) => void,
): WitnessSubmitter | undefined {
  const witnesses = Object.entries(config.witnesses ?? {}).map(([url, key]) => ({ url, key }));
  if (witnesses.length === 0) return undefined;
  return new WitnessSubmitter({
    witnesses,
    quorum: config.witnessQuorum,
    timeoutMs: (config.witnessTimeout ?? 2) * 1000,
    refreshMs: (config.witnessRefresh ?? 900) * 1000,
    logKey,
    source,
    log,
  });
}
