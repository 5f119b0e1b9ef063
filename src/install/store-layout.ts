/**
 * Where the store keeps what (store.ts describes the layout), as functions
 * of the store's `v1` folder, shared by the store and its worker threads;
 * and the writes that put a package's files and then its index in place.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { InstallError } from "./install-error.ts";
import {
  EXEC_MODE,
  type FileIndex,
  fileIndexBytes,
  type IndexedFile,
  integrityKey,
  isValidName,
  isValidVersion,
} from "./package-files.ts";
import type { StoreWrite } from "./store-writes.ts";

/** Where a file with these bytes and mode is kept. */
/**
 * Where a file with these bytes and mode is kept under `root` (a joined,
 * normalized path). By concatenation, not `join`: an install asks for
 * 16,000 paths twice each, and a SHA-256 of 64 hex digits needs no
 * normalizing.
 */
export function storeFilePath(root: string, file: Pick<IndexedFile, "sha256" | "mode">): string {
  const { sha256 } = file;
  return `${root}/files/${sha256.slice(0, 2)}/${sha256.slice(2)}${file.mode === EXEC_MODE ? "-exec" : ""}`;
}

export function storeIndexPath(root: string, integrity: string): string {
  const key = integrityKey(integrity);
  return join(root, "index", key.slice(0, 2), `${key.slice(2)}.json`);
}

export function storeNamePath(root: string, name: string, version: string): string {
  if (!isValidName(name) || !isValidVersion(version))
    throw new InstallError("bad-index", `${name}@${version} is not a valid name and version`);
  return join(root, "names", ...name.split("/"), version);
}

/** A store file's mode: read-only, executable or not. */
export function storeMode(file: Pick<IndexedFile, "mode">): number {
  return file.mode === EXEC_MODE ? 0o555 : 0o444;
}

/**
 * Fresh temporary names in `folder` (made if absent), unique to this call:
 * another process or thread picks its own prefix.
 */
export function tmpNames(folder: string): () => string {
  mkdirSync(folder, { recursive: true });
  const prefix = `${randomBytes(6).toString("hex")}-`;
  let count = 0;
  return () => join(folder, `${prefix}${(count++).toString(36)}`);
}

/**
 * The writes that put `files` in the store and then, when given, the index
 * and the name's record (last: an index present means all its files were
 * stored), with the bytes of each in the same order.
 */
export function storeWrites(
  root: string,
  tmpPath: () => string,
  files: readonly (readonly [IndexedFile, Uint8Array])[],
  index: FileIndex | undefined,
  umask: number,
): { writes: StoreWrite[]; chunks: Uint8Array[] } {
  const writes: StoreWrite[] = [];
  const chunks: Uint8Array[] = [];
  for (const [file, data] of files) {
    const mode = storeMode(file);
    writes.push({
      kind: "file",
      target: storeFilePath(root, file),
      tmp: tmpPath(),
      sha256: file.sha256,
      size: data.length,
      mode,
      // The mode is given at creation; only bits the umask took off need an fchmod after.
      chmod: (mode & ~umask) !== mode,
    });
    chunks.push(data);
  }
  if (index) {
    const replace = (target: string, data: Uint8Array) => {
      writes.push({ kind: "replace", target, tmp: tmpPath(), size: data.length });
      chunks.push(data);
    };
    replace(storeIndexPath(root, index.tarball.integrity), fileIndexBytes(index));
    replace(storeNamePath(root, index.name, index.version), Buffer.from(index.tarball.integrity));
  }
  return { writes, chunks };
}
