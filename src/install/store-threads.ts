/**
 * Worker threads that put packages into the store. A cold install checks,
 * gunzips, parses and hashes every tarball and then creates, writes and
 * links thousands of files; on the main thread all that held up fetching
 * (and where creating a file is slow, as on ext4 without a journal, which
 * skips every recently freed inode one by one, the writes were most of
 * the install). Here each package is one job: its tarball checked,
 * unpacked and stored, then its index written (store-worker.ts). Two
 * threads: the machines this targets have few cores, and the main thread
 * needs one. Jobs run in any order across threads, which the store's
 * writes allow (O_EXCL and its EEXIST, as between processes). Linking
 * stays on the main thread: measured on these threads it was slower (a
 * warm install leaves the main thread nothing to do meanwhile, and each
 * job's round trip cost more than its links). Idle threads do not keep
 * the process alive.
 */
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { siblingModule } from "../util/sibling-module.ts";
import { InstallError, type InstallErrorCode } from "./install-error.ts";
import type { ExpectedTarball, FileIndex } from "./package-files.ts";
import { decodeIndex, type StoreJob, type StoreReply } from "./store-worker.ts";
import { encodeWrites, type StoreWrite } from "./store-writes.ts";

const THREADS = 2;

type JobBody =
  | Omit<Extract<StoreJob, { kind: "write" }>, "id">
  | Omit<Extract<StoreJob, { kind: "unpack" }>, "id" | "tmp">;

interface Pending {
  readonly id: number;
  readonly body: JobBody;
  readonly resolve: (index: string | undefined) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  /** Which of the THREADS this is (names its temporary folder). */
  readonly number: number;
  job?: Pending;
}

class StoreThreads {
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 0;

  /** Runs writes in order on one thread; `data` holds their bytes one after another (it is transferred). */
  async write(writes: readonly StoreWrite[], data: Uint8Array<ArrayBuffer>): Promise<void> {
    await this.#run({ kind: "write", writes: encodeWrites(writes), data: ownBuffer(data) });
  }

  /**
   * Checks, unpacks and stores a tarball under the store's `root` (its v1
   * folder), then writes its index, all on one thread; resolves to the index.
   */
  async unpack(
    root: string,
    tarball: Uint8Array,
    expected: ExpectedTarball,
    umask: number,
  ): Promise<FileIndex> {
    // A copy: the caller's bytes may be shared (a fetch that several callers wait on).
    const own = new Uint8Array(tarball).buffer;
    const index = await this.#run({ kind: "unpack", root, tarball: own, expected, umask });
    return decodeIndex(index as string);
  }

  #run(body: JobBody): Promise<string | undefined> {
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
      // Each thread creates its temporary files in a folder of its own: created in one shared
      // folder, every create and unlink of both threads waits on that folder's lock.
      const message = (
        job.body.kind === "unpack"
          ? { id: job.id, ...job.body, tmp: join(job.body.root, "tmp", String(slot.number)) }
          : { id: job.id, ...job.body }
      ) as StoreJob;
      try {
        slot.worker.postMessage(message, [
          message.kind === "write" ? message.data : message.tarball,
        ]);
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
    let number = 0;
    while (this.#slots.some((s) => s.number === number)) number++;
    const slot: Slot = { worker, number };
    worker.on("message", (reply: StoreReply) => {
      const job = slot.job;
      slot.job = undefined;
      worker.unref();
      if (job?.id === reply.id) {
        if ("error" in reply) job.reject(fromThread(reply.error));
        else job.resolve(reply.index);
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

/** Only a buffer of exactly these bytes is sent: a view would send (and detach) all of its buffer, and Node's pooled buffers cannot be transferred. */
function ownBuffer(data: Uint8Array<ArrayBuffer>): ArrayBuffer {
  return data.byteOffset === 0 &&
    data.byteLength === data.buffer.byteLength &&
    !Buffer.isBuffer(data)
    ? data.buffer
    : new Uint8Array(data).buffer;
}

/** An error from a thread as the main thread would have thrown it: the installer's own by code, else the system's. */
function fromThread(error: Extract<StoreReply, { error: unknown }>["error"]): Error {
  if (error.coded) return new InstallError(error.code as InstallErrorCode, error.message);
  return Object.assign(new Error(error.message), { code: error.code, path: error.path });
}

/** The process's store threads, shared by every store handle. */
export const storeThreads = new StoreThreads();
