/**
 * Password hashing off the main thread and off libuv's thread pool.
 *
 * Node's async scrypt runs on libuv's pool (4 threads by default), the same
 * pool every file read uses: a few concurrent logins used to leave the
 * static tree's reads queued behind ~100 ms hashes. Here each hash runs
 * synchronously in a dedicated worker thread, `workers` at a time; the rest
 * wait in a queue of bounded length, and past it a hash is refused as
 * "busy" rather than queued without end. The pool is the concurrency
 * limiter, so no separate one is needed.
 */
import { EventEmitter } from "node:events";
import { Worker } from "node:worker_threads";
import { CodedError } from "../util/coded-error.ts";
import { siblingModule } from "../util/sibling-module.ts";

export type HashingErrorCode = "busy" | "failed";

export class HashingError extends CodedError<HashingErrorCode> {
  override name = "HashingError";
}

export interface ScryptOptions {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly maxmem: number;
}

interface Job {
  readonly id: number;
  readonly password: string;
  readonly salt: Uint8Array;
  readonly keylen: number;
  readonly options: ScryptOptions;
  readonly resolve: (hash: Buffer) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  job?: Job;
}

export interface PasswordHasherOptions {
  /** Hashes computed at once (each a worker thread and 32 MiB while it runs). */
  readonly workers: number;
  /** Hashes that may wait for a worker; more are refused as "busy". */
  readonly maxQueue: number;
}

/** Emits "load" with the number of hashes running or waiting, whenever it changes. */
export class PasswordHasher extends EventEmitter<{ load: [number] }> {
  #options: PasswordHasherOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 0;

  constructor(options: PasswordHasherOptions) {
    super();
    this.#options = options;
  }

  configure(options: PasswordHasherOptions): void {
    this.#options = options;
  }

  /** Hashes running or waiting. */
  get load(): number {
    return this.#slots.filter((s) => s.job).length + this.#queue.length;
  }

  /** True when a new hash would be refused. */
  get full(): boolean {
    return this.#queue.length >= this.#options.maxQueue && this.#idleSlot() === undefined;
  }

  scrypt(
    password: string,
    salt: Uint8Array,
    keylen: number,
    options: ScryptOptions,
  ): Promise<Buffer> {
    if (this.full) {
      return Promise.reject(
        new HashingError("busy", "too many sign-ins at once: try again shortly"),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, password, salt, keylen, options, resolve, reject });
      this.#dispatch();
      this.emit("load", this.load);
    });
  }

  /** Stops the workers; hashes still running or waiting fail. */
  async close(): Promise<void> {
    const slots = this.#slots.splice(0);
    for (const job of this.#queue.splice(0))
      job.reject(new HashingError("failed", "shutting down"));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  #idleSlot(): Slot | undefined {
    const idle = this.#slots.find((s) => !s.job);
    if (idle) return idle;
    if (this.#slots.length >= this.#options.workers) return undefined;
    const slot = this.#spawn();
    return slot;
  }

  #spawn(): Slot {
    const worker = new Worker(siblingModule(import.meta.url, "password-hash-worker"));
    // Idle workers must not keep the process alive.
    worker.unref();
    const slot: Slot = { worker };
    worker.on("message", (msg: { id: number; hash?: Uint8Array; error?: string }) => {
      const job = slot.job;
      slot.job = undefined;
      worker.unref();
      if (job?.id === msg.id) {
        if (msg.hash) job.resolve(Buffer.from(msg.hash));
        else job.reject(new HashingError("failed", `scrypt failed: ${msg.error}`));
      }
      this.#dispatch();
      this.emit("load", this.load);
    });
    worker.on("error", (err) => this.#lose(slot, err));
    worker.on("exit", () => this.#lose(slot, new Error("the hashing worker stopped")));
    this.#slots.push(slot);
    return slot;
  }

  /** A worker that died fails its job; the next hash starts a new one. */
  #lose(slot: Slot, err: Error): void {
    const at = this.#slots.indexOf(slot);
    if (at === -1) return;
    this.#slots.splice(at, 1);
    slot.job?.reject(new HashingError("failed", err.message, { cause: err }));
    slot.job = undefined;
    this.#dispatch();
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const slot = this.#idleSlot();
      if (!slot) return;
      const job = this.#queue.shift() as Job;
      slot.job = job;
      const { id, password, salt, keylen, options } = job;
      // Held while it works, so a command waiting on a hash is not cut short.
      slot.worker.ref();
      slot.worker.postMessage({ id, password, salt, keylen, options });
    }
  }
}

/** The process's hasher: one worker and a queue of 32 until the origin configures it. */
export const passwordHasher = new PasswordHasher({ workers: 1, maxQueue: 32 });
