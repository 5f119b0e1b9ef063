/**
 * A worker thread of store-threads.ts: unpacks tarballs into the store, or
 * runs writes the main thread planned, off the main thread.
 */
import { parentPort } from "node:worker_threads";
import { InstallError } from "./install-error.ts";
import type { FileIndex, FileMode, IndexedFile } from "./package-files.ts";
import { type ExpectedTarball, unpackTarball } from "./package-files.ts";
import { storeWrites, tmpNames } from "./store-layout.ts";
import { decodeWrites, runWriteSync, runWritesSync } from "./store-writes.ts";

export type StoreJob =
  /** Writes (encodeWrites) run in order; their bytes one after another in `data`. */
  | {
      readonly id: number;
      readonly kind: "write";
      readonly writes: string;
      readonly data: ArrayBuffer;
    }
  /** A tarball checked, unpacked and stored under `root` (the store's v1 folder), then its index. */
  | {
      readonly id: number;
      readonly kind: "unpack";
      readonly root: string;
      /** This thread's own folder for temporary files, under the store's tmp folder. */
      readonly tmp: string;
      readonly tarball: ArrayBuffer;
      readonly expected: ExpectedTarball;
      readonly umask: number;
    };

export type StoreReply =
  | { readonly id: number; readonly index?: string }
  | {
      readonly id: number;
      readonly error: { message: string; code?: string; path?: string; coded: boolean };
    };

/**
 * An index as one string for the trip back, as cloning thousands of small
 * objects is slow: NUL-separated name, version, the tarball's integrity,
 * sha256 and size, then path, sha256, mode and size of each file. The main
 * thread takes it as this thread made it, without re-checking.
 */
export function encodeIndex(index: FileIndex): string {
  const { name, version, tarball } = index;
  const fields: (string | number)[] = [
    name,
    version,
    tarball.integrity,
    tarball.sha256,
    tarball.size,
  ];
  for (const [path, f] of index.files) fields.push(path, f.sha256, f.mode, f.size);
  return fields.join("\0");
}

export function decodeIndex(text: string): FileIndex {
  const f = text.split("\0");
  const files = new Map<string, IndexedFile>();
  for (let i = 5; i < f.length; i += 4)
    files.set(f[i], {
      sha256: f[i + 1],
      mode: Number(f[i + 2]) as FileMode,
      size: Number(f[i + 3]),
    });
  return {
    name: f[0],
    version: f[1],
    tarball: { integrity: f[2], sha256: f[3], size: Number(f[4]) },
    files,
  };
}

let tmpPath: (() => string) | undefined;
let tmpFolder: string | undefined;

async function run(job: StoreJob): Promise<StoreReply> {
  if (job.kind === "write") {
    runWritesSync(decodeWrites(job.writes), new Uint8Array(job.data));
    return { id: job.id };
  }
  if (tmpFolder !== job.tmp) {
    tmpFolder = job.tmp;
    tmpPath = tmpNames(job.tmp);
  }
  // Inflated on this thread: it has nothing else to do meanwhile.
  const { index, files } = await unpackTarball(Buffer.from(job.tarball), job.expected, {
    inline: true,
  });
  const { writes, chunks } = storeWrites(
    job.root,
    tmpPath as () => string,
    files.map((f) => [f.entry, f.data]),
    index,
    job.umask,
  );
  for (let i = 0; i < writes.length; i++) runWriteSync(writes[i], chunks[i]);
  return { id: job.id, index: encodeIndex(index) };
}

parentPort?.on("message", (job: StoreJob) => {
  run(job).then(
    (reply) => parentPort?.postMessage(reply),
    (err: NodeJS.ErrnoException) =>
      parentPort?.postMessage({
        id: job.id,
        error: {
          message: err.message,
          code: err.code,
          path: err.path,
          coded: err instanceof InstallError,
        },
      } satisfies StoreReply),
  );
});
