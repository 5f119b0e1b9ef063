/**
 * Worker threads that write the store's files. An install of a fresh tree
 * creates thousands of files (create, write, futimes, close, link,
 * unlink each); on the main thread those calls held up fetching, hashing
 * and unpacking the next tarballs, and where creating a file is slow
 * (ext4 without a journal skips every recently freed inode one by one)
 * they were most of the install. Two threads: the machines this targets
 * have few cores, and the main thread needs one. Each job is one
 * package's batch, run in order on one thread; jobs run in any order
 * across threads, which the store's writes allow (O_EXCL and link's
 * EEXIST, as between processes). Linking stays on the main thread: there
 * it overlaps nothing, and a job's round trip cost more than its links.
 * Idle threads do not keep the process alive.
 */
import { Worker } from "node:worker_threads";
import { siblingModule } from "../util/sibling-module.ts";
import type { StoreJob, StoreReply } from "./store-worker.ts";
import { encodeWrites, type StoreWrite } from "./store-writes.ts";

const THREADS = 2;

type JobBody = Omit<StoreJob, "id">;

interface Pending {
  readonly id: number;
  readonly body: JobBody;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  job?: Pending;
}

class StoreThreads {
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 0;

  /** Runs writes in order on one thread; `data` holds their bytes one after another (it is transferred). */
  async write(writes: readonly StoreWrite[], data: Uint8Array<ArrayBuffer>): Promise<void> {
    // Only a buffer of exactly these bytes is sent: a view would send (and detach) all of its
    // buffer, and Node's pooled buffers cannot be transferred.
    const own =
      data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !Buffer.isBuffer(data)
        ? data.buffer
        : new Uint8Array(data).buffer;
    await this.#run({ writes: encodeWrites(writes), data: own });
  }

  #run(body: JobBody): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, body, resolve, reject });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const slot = this.#slots.find((s) => !s.job) ?? this.#spawn();
      if (!slot) return;
      const job = this.#queue.shift() as Pending;
      const message = { id: job.id, ...job.body } as StoreJob;
      try {
        slot.worker.postMessage(message, [message.data]);
      } catch (err) {
        job.reject(err as Error);
        continue;
      }
      slot.job = job;
      // Held while it works, so a command waiting on it is not cut short.
      slot.worker.ref();
    }
  }

  #spawn(): Slot | undefined {
    if (this.#slots.length >= THREADS) return undefined;
    // A parent run with `-e --input-type=module` would pass on the flag, which a worker's file refuses.
    const inputType = process.execArgv.some((flag) => flag.startsWith("--input-type"));
    const worker = new Worker(
      siblingModule(import.meta.url, "store-worker"),
      inputType
        ? { execArgv: process.execArgv.filter((flag) => !flag.startsWith("--input-type")) }
        : {},
    );
    worker.unref();
    const slot: Slot = { worker };
    worker.on("message", (reply: StoreReply) => {
      const job = slot.job;
      slot.job = undefined;
      worker.unref();
      if (job?.id === reply.id) {
        if ("error" in reply)
          job.reject(Object.assign(new Error(reply.error.message), reply.error));
        else job.resolve();
      }
      this.#dispatch();
    });
    worker.on("error", (err) => this.#lose(slot, err));
    worker.on("exit", () => this.#lose(slot, new Error("a store thread stopped")));
    this.#slots.push(slot);
    return slot;
  }

  /** A thread that died fails its job; the next job starts another. */
  #lose(slot: Slot, err: Error): void {
    const at = this.#slots.indexOf(slot);
    if (at === -1) return;
    this.#slots.splice(at, 1);
    slot.job?.reject(err);
    slot.job = undefined;
    this.#dispatch();
  }
}

/** The process's store threads, shared by every store handle. */
export const storeThreads = new StoreThreads();
