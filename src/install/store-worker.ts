/** A worker thread of store-threads.ts: writes the store's files off the main thread. */
import { parentPort } from "node:worker_threads";
import { decodeWrites, runWritesSync } from "./store-writes.ts";

/** Writes (encodeWrites) run in order; their bytes one after another in `data`. */
export interface StoreJob {
  readonly id: number;
  readonly writes: string;
  readonly data: ArrayBuffer;
}

export type StoreReply =
  | { readonly id: number }
  | { readonly id: number; readonly error: { message: string; code?: string; path?: string } };

parentPort?.on("message", (job: StoreJob) => {
  let reply: StoreReply;
  try {
    runWritesSync(decodeWrites(job.writes), new Uint8Array(job.data));
    reply = { id: job.id };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    reply = { id: job.id, error: { message: e.message, code: e.code, path: e.path } };
  }
  parentPort?.postMessage(reply);
});
