/**
 * Puts a package from the store into a project: its folders created and
 * each file hard-linked from the store, or copied where a link cannot be
 * made (another device: EXDEV; a file system or policy that refuses links:
 * EPERM; an inode at its link limit: EMLINK), as a reflink where the file
 * system can (FICLONE) and a plain copy elsewhere. A copy is the project's
 * own, so it gets npm's writable modes (0644, 0755); a link shares the
 * store's read-only inode.
 *
 * Before linking, the package's store files are checked (PackageStore's
 * checkFiles: stat, and a re-hash of any file written since it was
 * stored; not when the caller has just stored the package), so a file
 * damaged through another project's link is never linked again: it is
 * re-fetched through `refetch` and repaired, or the link fails with
 * `store-damaged`.
 *
 * The target folder is expected to hold this package or nothing: a file
 * already there is replaced (by rename) unless it is the store's own inode;
 * files the index does not name are left alone.
 */
import { randomBytes } from "node:crypto";
import { constants, linkSync, mkdirSync } from "node:fs";
import { chmod, copyFile, link, rename, rm, stat } from "node:fs/promises";
import { InstallError } from "./install-error.ts";
import { Pacer } from "./pacer.ts";
import type { FileIndex, IndexedFile } from "./package-files.ts";
import type { PackageStore } from "./store.ts";

export interface LinkOptions {
  /**
   * The caller stored the package (addTarball, addFiles) moments ago, so
   * its files were just written or checked: checking them again would only
   * re-stat them. Never for a package the store held before.
   */
  readonly justStored?: boolean;
  /** Fetches only the package's missing or damaged files into the store; false when it could not. */
  readonly repairFiles?: () => Promise<boolean>;
  /** The package's tarball, fetched again (and verified by the store) to repair damaged store files. */
  readonly refetch?: () => Promise<Uint8Array | AsyncIterable<Uint8Array>>;
}

export interface LinkResult {
  /** Files hard-linked from the store. */
  readonly linked: number;
  /** Files copied (or reflinked) because a link could not be made. */
  readonly copied: number;
  /** Whether damaged store files were re-fetched first. */
  readonly repaired: boolean;
}

/** Errors after which a hard link will not work for this target: copy instead. */
const NO_LINK = new Set(["EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP"]);

export async function linkPackage(
  store: PackageStore,
  index: FileIndex,
  targetDir: string,
  options: LinkOptions = {},
): Promise<LinkResult> {
  try {
    return await linkChecked(store, index, targetDir, options);
  } catch (err) {
    // Stored by this install but gone since (a `cairn store prune` meanwhile): checked and repaired.
    if (!options.justStored || !isMissing(err)) throw err;
    return linkChecked(store, index, targetDir, { ...options, justStored: false });
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

async function linkChecked(
  store: PackageStore,
  index: FileIndex,
  targetDir: string,
  options: LinkOptions,
): Promise<LinkResult> {
  const repaired = await ensureSound(store, index, options);
  makeFolders(targetDir, index.files.keys());
  const pacer = new Pacer();
  // Once a link fails for the whole target (another device), the rest go straight to copies.
  const state = { copyOnly: false };
  let copied = 0;
  for (const [path, file] of index.files) {
    const source = store.filePath(file);
    // An index's paths are plain relative paths (no empty, `.` or `..` parts): nothing to normalize.
    const target = `${targetDir}/${path}`;
    if (!state.copyOnly && tryLink(source, target)) {
      if (pacer.due()) await pacer.turn();
      continue;
    }
    if ((await placeFile(source, target, file, state)) === "copied") copied++;
  }
  return { linked: index.files.size - copied, copied, repaired };
}

/**
 * Makes `targetDir` and every folder the index's paths need, each parent
 * before its children, so each is one `mkdir` (a recursive one costs a
 * failed call and a retry whenever its parent is not there yet).
 */
function makeFolders(targetDir: string, paths: Iterable<string>): void {
  mkdirSync(targetDir, { recursive: true });
  const folders = new Set<string>();
  for (const path of paths)
    for (let at = path.indexOf("/"); at >= 0; at = path.indexOf("/", at + 1))
      folders.add(path.slice(0, at));
  // Sorted, a folder comes after its parent (a prefix sorts first).
  for (const folder of [...folders].sort()) {
    try {
      mkdirSync(`${targetDir}/${folder}`);
    } catch (err) {
      // Already there: a package in a non-empty folder, or a bundled dependency's folder.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

/** Checks the package's store files; repairs damage from a re-fetched tarball, or throws. */
async function ensureSound(
  store: PackageStore,
  index: FileIndex,
  options: LinkOptions,
): Promise<boolean> {
  if (options.justStored) return false;
  const damaged = await store.checkFiles(index);
  if (damaged.length === 0) return false;
  const what = `${index.name}@${index.version}`;
  if (options.repairFiles && (await options.repairFiles())) {
    if ((await store.checkFiles(index)).length === 0) return true;
  }
  if (!options.refetch) {
    throw new InstallError(
      "store-damaged",
      `${damaged.length} store file(s) of ${what} are missing or damaged (first: ${damaged[0].sha256})`,
    );
  }
  const { integrity, sha256 } = index.tarball;
  await store.addTarball(await options.refetch(), {
    integrity,
    sha256,
    name: index.name,
    version: index.version,
  });
  const still = await store.checkFiles(index);
  if (still.length > 0)
    throw new InstallError("store-damaged", `${what}: store files still damaged after a re-fetch`);
  return true;
}

/** The common case, synchronously: a new link. Anything else is for placeFile to sort out. */
function tryLink(source: string, target: string): boolean {
  try {
    linkSync(source, target);
    return true;
  } catch {
    return false;
  }
}

/** Puts one file at `target` by link or copy, replacing what is there unless it is the store's inode. */
async function placeFile(
  source: string,
  target: string,
  file: IndexedFile,
  state: { copyOnly: boolean },
): Promise<"linked" | "copied"> {
  if (!state.copyOnly) {
    try {
      await link(source, target);
      return "linked";
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      if (code === "EEXIST") {
        if (await sameInode(source, target)) return "linked";
        return replaceByLink(source, target, file, state);
      }
      if (!NO_LINK.has(code)) throw err;
      if (code !== "EMLINK") state.copyOnly = true;
    }
  }
  await copyInto(source, target, file);
  return "copied";
}

async function sameInode(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a), stat(b)]);
  return x.ino === y.ino && x.dev === y.dev;
}

function siblingTmp(target: string): string {
  return `${target}.cairn-${randomBytes(6).toString("hex")}`;
}

/** Replaces what is at `target` (an older file, an edited copy) with a link, atomically. */
async function replaceByLink(
  source: string,
  target: string,
  file: IndexedFile,
  state: { copyOnly: boolean },
): Promise<"linked" | "copied"> {
  const tmp = siblingTmp(target);
  try {
    await link(source, tmp);
    await rename(tmp, target);
    return "linked";
  } catch (err) {
    await rm(tmp, { force: true });
    if (!NO_LINK.has((err as NodeJS.ErrnoException).code ?? "")) throw err;
    state.copyOnly = true;
    await copyInto(source, target, file);
    return "copied";
  }
}

/** A copy (reflinked where the file system can) with npm's writable mode, renamed over the target. */
async function copyInto(source: string, target: string, file: IndexedFile): Promise<void> {
  const tmp = siblingTmp(target);
  try {
    await copyFile(source, tmp, constants.COPYFILE_FICLONE);
    await chmod(tmp, file.mode);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
