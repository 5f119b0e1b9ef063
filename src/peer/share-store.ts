/**
 * The tarballs a sharing machine holds for its LAN: the install store
 * keeps unpacked files, not tarballs, and a clean install on another
 * machine fetches tarballs, so a peer must hold them to be of use.
 *
 * Layout (under `$CAIRN_HOME/share`, or a proxy's blob cache):
 *
 *   blob/sha256/<hex>   each verified tarball, and for one over 1 MiB the
 *                       node blocks of its UnixFS DAG (src/registry/artifact-dag.ts),
 *                       so a block index serves its leaves from the tarball
 *   held.jsonl          one line per tarball kept: {"name","version","sha256","size"[,"unixfs"]}
 *
 * Only bytes already checked against the log are kept (the installer's or
 * the proxy's verified tarball), and a line is appended only once its blob
 * is in place, so a crash leaves at most a blob no line names. Lines are
 * appended whole (O_APPEND), so concurrent installs and a running peer
 * may write and read the record at once; a torn or hostile line is skipped.
 * Disk cost: one more copy of every tarball fetched while sharing (the
 * install store holds the same bytes unpacked), plus about 0.01 % for the
 * node blocks of the large ones.
 */
import { appendFile, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { checkUnixfs, tarballDag } from "../registry/artifact-dag.ts";
import type { Artifact } from "../registry/entries.ts";
import { BlobStore } from "../store/blobs.ts";
import type { UnixfsRoot } from "../store/block-index.ts";
import { sha256Hex } from "../util/sha256.ts";

/** A tarball the share store holds, and which version it is. */
export interface HeldTarball {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  /** The UnixFS root its entry records (a tarball over 1 MiB). */
  readonly unixfs?: string;
}

const RECORD = "held.jsonl";
const HEX64 = /^[0-9a-f]{64}$/;
/** A name and version as the log could hold them; anything longer is not one. */
const MAX_FIELD = 256;

function parseLine(line: string): HeldTarball | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const text = (x: unknown) => typeof x === "string" && x.length > 0 && x.length <= MAX_FIELD;
  if (!text(v.name) || !text(v.version) || typeof v.sha256 !== "string" || !HEX64.test(v.sha256))
    return undefined;
  if (typeof v.size !== "number" || !Number.isSafeInteger(v.size) || v.size < 0) return undefined;
  if (v.unixfs !== undefined && !text(v.unixfs)) return undefined;
  return {
    name: v.name as string,
    version: v.version as string,
    sha256: v.sha256,
    size: v.size,
    ...(v.unixfs !== undefined ? { unixfs: v.unixfs as string } : {}),
  };
}

export class ShareStore {
  readonly blobs: BlobStore;
  readonly #dir: string;
  readonly #record: string;
  /** What the record held when first asked, and what this handle kept since. */
  #known: Promise<Set<string>> | undefined;

  private constructor(dir: string, blobs: BlobStore) {
    this.#dir = dir;
    this.blobs = blobs;
    this.#record = join(dir, RECORD);
  }

  /** The share store at `dir`; `blobs` when its tarballs live in another blob store laid out at `dir` (a proxy's cache). */
  static async open(dir: string, blobs?: BlobStore): Promise<ShareStore> {
    return new ShareStore(dir, blobs ?? (await BlobStore.open(dir, { durable: false })));
  }

  /** The folder the record is in: it changes whenever a tarball is kept. */
  get dir(): string {
    return this.#dir;
  }

  /** Where a held blob's bytes are on disk. */
  pathOf(sha256: string): string {
    return join(this.#dir, BlobStore.treePath(sha256));
  }

  /**
   * Keeps a tarball the caller checked against `artifact` (the log's
   * hashes), with its UnixFS node blocks when it has a root; a tarball
   * whose DAG is not the recorded one is not kept. True if it was kept
   * now, false if it was held already.
   */
  async keep(
    name: string,
    version: string,
    artifact: Artifact,
    bytes: Uint8Array,
  ): Promise<boolean> {
    const key = `${name}@${version}:${artifact.sha256}`;
    this.#known ??= this.held().then(
      (all) => new Set(all.map((h) => `${h.name}@${h.version}:${h.sha256}`)),
    );
    const known = await this.#known;
    // Kept already (by this handle, or recorded before it opened): the record stays one line a version.
    if (known.has(key)) return false;
    if (bytes.length !== artifact.size || sha256Hex(bytes) !== artifact.sha256)
      throw new Error(`${name}@${version}: the tarball is not the one the log names`);
    const dag = await tarballDag(bytes);
    checkUnixfs(artifact, dag);
    await this.blobs.putMany([bytes, ...(dag?.nodes.map((n) => n.bytes) ?? [])], {
      derived: true,
    });
    const held: HeldTarball = {
      name,
      version,
      sha256: artifact.sha256,
      size: artifact.size,
      ...(dag ? { unixfs: dag.root } : {}),
    };
    await appendFile(this.#record, `${JSON.stringify(held)}\n`);
    known.add(key);
    return true;
  }

  /** Every tarball the record names, once per version (the last line wins), in no set order. */
  async held(): Promise<HeldTarball[]> {
    const text = await readFile(this.#record, "utf8").catch(() => "");
    const byVersion = new Map<string, HeldTarball>();
    for (const line of text.split("\n")) {
      const held = line === "" ? undefined : parseLine(line);
      if (held) byVersion.set(`${held.name}@${held.version}`, held);
    }
    return [...byVersion.values()];
  }

  /** Changes whenever a tarball is kept: the record's size. */
  async generation(): Promise<number> {
    return (await stat(this.#record).catch(() => undefined))?.size ?? 0;
  }
}

/** The large blob and root a held tarball names, for a block index. */
export function rootOfHeld(held: HeldTarball): UnixfsRoot | undefined {
  const { sha256, size, unixfs } = held;
  return unixfs === undefined ? undefined : { sha256, size, root: unixfs };
}
