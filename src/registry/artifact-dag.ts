/**
 * A tarball's UnixFS DAG as its entry records it: `artifact.unixfs`, the
 * root CID of a tarball over one chunk (src/registry/entries.ts). Whoever
 * holds the bytes makes the DAG again; the copy that wrote the entry
 * records its root, and every other copy refuses a root that differs.
 * The DAG's node blocks are derived data, stored beside the tarball as
 * blobs named by their SHA-256, so any static tree serves them.
 */
import { setImmediate } from "node:timers/promises";
import type { BlobStore } from "../store/blobs.ts";
import type { BlockIndex, UnixfsRoot } from "../store/block-index.ts";
import { CHUNK_SIZE } from "../store/cid.ts";
import { type UnixfsDag, unixfsOf } from "../store/unixfs.ts";
import { BlobError } from "./blob-check.ts";
import { type Artifact, blobsNamedBy, type Entry } from "./entries.ts";
import type { RegistryState } from "./state.ts";

/** Whether a tarball of this size has a UnixFS root of its own (one over a chunk does). */
export function hasUnixfsRoot(size: number): boolean {
  return size > CHUNK_SIZE;
}

/**
 * The DAG of a tarball over one chunk; undefined for a smaller one (its
 * CID is its raw CID). Hashed a chunk per turn of the event loop, so a
 * server making the DAG of a 100 MiB tarball goes on answering meanwhile.
 */
export async function tarballDag(bytes: Uint8Array): Promise<UnixfsDag | undefined> {
  return hasUnixfsRoot(bytes.length) ? unixfsOf(chunksOf(bytes)) : undefined;
}

async function* chunksOf(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += CHUNK_SIZE) {
    if (at > 0) await setImmediate();
    yield bytes.subarray(at, at + CHUNK_SIZE);
  }
}

/** The artifact with the DAG's root recorded (as it was for a tarball of one chunk). */
export function withUnixfsRoot<A extends Artifact>(artifact: A, dag: UnixfsDag | undefined): A {
  return dag ? { ...artifact, unixfs: dag.root } : artifact;
}

/**
 * Refuses the DAG of a tarball (made from bytes checked against
 * `artifact`) if the entry records another root. An older entry with no
 * root recorded accepts any.
 */
export function checkUnixfs(artifact: Artifact, dag: UnixfsDag | undefined): void {
  if (artifact.unixfs !== undefined && artifact.unixfs !== dag?.root)
    throw new BlobError(
      "unixfs-mismatch",
      `tarball ${artifact.sha256} has UnixFS root ${dag?.root ?? "(none: one chunk)"}, not the recorded ${artifact.unixfs}`,
    );
}

/**
 * Stores the DAG's node blocks. Derived from the tarball, so not synced: a
 * crash may lose them, and the next copy of the tarball makes them again.
 */
export async function storeUnixfsNodes(
  dag: UnixfsDag | undefined,
  blobs: BlobStore,
): Promise<void> {
  if (dag && dag.nodes.length > 0)
    await blobs.putMany(
      dag.nodes.map((node) => node.bytes),
      { derived: true },
    );
}

/** The large blob and root a tarball's artifact records, for a block index; none for a smaller one. */
export function unixfsRootOf(artifact: Artifact): UnixfsRoot | undefined {
  const { sha256, size, unixfs } = artifact;
  return unixfs === undefined ? undefined : { sha256, size, root: unixfs };
}

/** The roots an entry records (a publish or artifact entry of a tarball over 1 MiB), to add to a block index. */
export function unixfsRootsNamedBy(entry: Entry | { readonly kind: "void" }): UnixfsRoot[] {
  return blobsNamedBy(entry).flatMap(({ artifact }) => {
    const root = artifact && unixfsRootOf(artifact);
    return root ? [root] : [];
  });
}

/**
 * Teaches a block index every root the state records (at a server's start,
 * after a mirror's sync): roots already known cost nothing, and one whose
 * nodes the copy has not derived yet is tried again next time.
 */
export function addRecordedRoots(index: BlockIndex, state: RegistryState): Promise<number> {
  return index.addAll(state.unixfsArtifacts().flatMap((a) => unixfsRootOf(a) ?? []));
}

/**
 * Teaches a block index the roots of entries as they become durable, one
 * batch after another; `idle` resolves once every batch so far is learnt.
 */
export class RootIndexer {
  readonly #index: BlockIndex;
  readonly #onError: (err: unknown) => void;
  #queue: Promise<void> = Promise.resolve();

  constructor(index: BlockIndex, onError: (err: unknown) => void) {
    this.#index = index;
    this.#onError = onError;
  }

  enqueue(entries: readonly Entry[]): void {
    const roots = entries.flatMap(unixfsRootsNamedBy);
    if (roots.length === 0) return;
    this.#queue = this.#queue.then(() => this.#index.addAll(roots)).then(() => {}, this.#onError);
  }

  idle(): Promise<void> {
    return this.#queue;
  }
}
