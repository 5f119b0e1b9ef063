/**
 * Adding a version to the store by the files it lacks, not its tarball:
 * an upgrade or a repair. The log names each version's file index (its
 * `files` blob); the store already holds most of those files from the
 * previous version, so only the rest cross the wire, each as a per-file
 * delta against the file at the same path there (the origin makes deltas
 * from each version's previous one), or else as the file's own blob. Everything is checked where it lands: the index
 * against the log's hash and the version it must describe, every file
 * against its hash in the index (a delta that rebuilds wrong bytes is a
 * wrong answer, and that file's blob is fetched instead).
 */
import { readFileSync } from "node:fs";
import pLimit from "p-limit";
import type { BlobRef } from "../registry/entries.ts";
import { sha256Hex } from "../util/sha256.ts";
import { InstallError } from "./install-error.ts";
import {
  type FileIndex,
  fileIndexBytes,
  type IndexedFile,
  parseFileIndex,
  sha512Integrity,
} from "./package-files.ts";
import type { PackageStore } from "./store.ts";

/** Where file indexes, files and deltas come from, each checked against the hash asked for. */
export interface FileSource {
  blob(ref: BlobRef): Promise<Uint8Array>;
  /** The target's bytes rebuilt from a delta against `base`, with the delta's own size. */
  blobFromDelta(
    base: { readonly sha256: string; readonly bytes: Uint8Array },
    target: BlobRef,
  ): Promise<{ readonly data: Uint8Array; readonly deltaBytes: number }>;
}

export interface WantedVersion {
  readonly name: string;
  readonly version: string;
  /** `sha512-…`: the tarball the index must describe, and the store's key for it. */
  readonly integrity: string;
  readonly sha256?: string;
  /** The index blob, as the log names it. */
  readonly files: BlobRef;
  /** The tarball's size: past twice that in files without a delta, the tarball is the cheaper fetch. */
  readonly tarballSize: number;
  /**
   * The store's index of the version the origin makes deltas from (the
   * previous one with files); without it (a repair), files come whole.
   */
  readonly base?: FileIndex;
}

export interface AddedByFiles {
  readonly index: FileIndex;
  /** Bytes fetched: the index, the deltas and the blobs (before any transfer encoding). */
  readonly bytes: number;
  readonly files: number;
  readonly deltas: number;
}

/** Files fetched at once for one version. */
const FILE_FETCHES = 16;
/** How many times the tarball's size the files without a delta may take before the tarball is fetched instead. */
const BLOB_BUDGET = 2;

/**
 * Adds `want` to the store from its file index and the files the store
 * lacks. Undefined when the files to fetch whole would cost more than the
 * tarball: the caller fetches that instead.
 */
export async function addByFiles(
  store: PackageStore,
  source: FileSource,
  want: WantedVersion,
): Promise<AddedByFiles | undefined> {
  const base = want.base;
  const fetched = await fetchIndex(source, base, want.files);
  const index = describedIndex(fetched.data, want);
  const missing = await store.missingFiles(index);
  const plans = deltaPlans(index, base, missing);
  const whole = plans.filter((p) => p.base === undefined).reduce((n, p) => n + p.file.size, 0);
  if (whole > BLOB_BUDGET * want.tarballSize) return undefined;
  let bytes = fetched.bytes;
  let deltas = 0;
  const limit = pLimit(FILE_FETCHES);
  const contents = await Promise.all(
    plans.map(({ file, base }) =>
      limit(async () => {
        const ref = { sha256: file.sha256, size: file.size };
        if (base) {
          const rebuilt = await fromDelta(store, source, base, ref);
          if (rebuilt) {
            bytes += rebuilt.deltaBytes;
            deltas++;
            return rebuilt.data;
          }
        }
        const data = await source.blob(ref);
        bytes += data.length;
        return data;
      }),
    ),
  );
  const still = await store.addFiles(index, contents);
  if (still.length > 0)
    throw new InstallError(
      "store-damaged",
      `${want.name}@${want.version}: ${still.length} file(s) still missing after fetching them (first: ${still[0].sha256})`,
    );
  return { index, bytes, files: missing.length, deltas };
}

/**
 * The new version's index: as a delta from the base version's (the origin
 * makes one per version, and the store holds the base's exact bytes), else whole.
 */
async function fetchIndex(
  source: FileSource,
  base: FileIndex | undefined,
  ref: BlobRef,
): Promise<{ data: Uint8Array; bytes: number }> {
  if (base) {
    const bytes = fileIndexBytes(base);
    const rebuilt = await source
      .blobFromDelta({ sha256: sha256Hex(bytes), bytes }, ref)
      .catch(() => undefined);
    if (rebuilt) return { data: rebuilt.data, bytes: rebuilt.deltaBytes };
  }
  const data = await source.blob(ref);
  return { data, bytes: data.length };
}

/** The index in `bytes`, refused unless it describes exactly the version and tarball the log binds. */
function describedIndex(bytes: Uint8Array, want: WantedVersion): FileIndex {
  const index = parseFileIndex(Buffer.from(bytes).toString("utf8"));
  const { tarball } = index;
  if (
    index.name !== want.name ||
    index.version !== want.version ||
    tarball.integrity !== sha512Integrity(want.integrity) ||
    (want.sha256 !== undefined && tarball.sha256 !== want.sha256) ||
    tarball.size !== want.tarballSize
  ) {
    throw new InstallError(
      "integrity-mismatch",
      `the file index the log names for ${want.name}@${want.version} describes ${index.name}@${index.version} (tarball ${tarball.integrity})`,
    );
  }
  return index;
}

/**
 * Each missing file with its delta base: the file at one of its paths in
 * the base version, when that path held other bytes there.
 */
function deltaPlans(
  index: FileIndex,
  base: FileIndex | undefined,
  missing: readonly IndexedFile[],
): { file: IndexedFile; base?: IndexedFile }[] {
  const bases = new Map<string, IndexedFile>();
  if (base) {
    for (const [path, f] of index.files) {
      const old = base.files.get(path);
      if (old && old.sha256 !== f.sha256 && !bases.has(f.sha256)) bases.set(f.sha256, old);
    }
  }
  return missing.map((file) => {
    const from = bases.get(file.sha256);
    return from ? { file, base: from } : { file };
  });
}

/** The target rebuilt from its delta; undefined when no source has one or the base is gone or damaged. */
async function fromDelta(
  store: PackageStore,
  source: FileSource,
  base: IndexedFile,
  target: BlobRef,
): Promise<{ data: Uint8Array; deltaBytes: number } | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(store.filePath(base));
  } catch {
    return undefined;
  }
  // A damaged base would rebuild wrong bytes from an honest delta, and the source would take the blame.
  if (sha256Hex(bytes) !== base.sha256) return undefined;
  return source.blobFromDelta({ sha256: base.sha256, bytes }, target).catch(() => undefined);
}
