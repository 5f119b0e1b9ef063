/** Runs scrypt on this worker's own thread, so it never takes libuv's pool from file reads. */
import { scryptSync } from "node:crypto";
import { parentPort } from "node:worker_threads";

interface Job {
  readonly id: number;
  readonly password: string;
  readonly salt: Uint8Array;
  readonly keylen: number;
  readonly options: { N: number; r: number; p: number; maxmem: number };
}

parentPort?.on("message", (job: Job) => {
  try {
    const hash = scryptSync(job.password, job.salt, job.keylen, job.options);
    parentPort?.postMessage({ id: job.id, hash });
  } catch (err) {
    parentPort?.postMessage({ id: job.id, error: (err as Error).message });
  }
});
