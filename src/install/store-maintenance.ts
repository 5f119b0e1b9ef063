/**
 * Whole-store checks and clean-up: `verifyStore` re-hashes every file some
 * index names; `pruneStore` removes the indexes not kept and every file no
 * kept index names.
 *
 * Prune may run beside an install: a file or index whose inode changed
 * after the prune began (ctime: set by the kernel on creation and on every
 * new link, never by a caller) is left for the next prune, so a package
 * being added or linked meanwhile keeps its files. "Began" is the ctime of
 * a marker file the prune creates, so both sides of the comparison come
 * from the file system's own (coarse) clock.
 */
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pLimit from "p-limit";
import { InstallError } from "./install-error.ts";
import { EXEC_MODE, type FileIndex, integrityKey, parseFileIndex } from "./package-files.ts";
import { type DamagedFile, hashFile, type PackageStore } from "./store.ts";

export interface DamagedStoreFile extends DamagedFile {
  /** Where it is (or was) in the store. */
  readonly path: string;
  /** Every package whose index names it. */
  readonly packages: readonly PackageRef[];
}

export interface PackageRef {
  readonly name: string;
  readonly version: string;
  readonly integrity: string;
}

export interface VerifyReport {
  /** Distinct store files checked. */
  readonly checked: number;
  readonly damaged: readonly DamagedStoreFile[];
  /** Index files that do not parse: unusable, so their packages are fetched again. */
  readonly badIndexes: readonly string[];
}

export interface PruneReport {
  readonly removedIndexes: number;
  readonly removedFiles: number;
  readonly freedBytes: number;
}

/** Leftover temporary files older than this are from writers that died. */
const STALE_TMP_MS = 60 * 60 * 1000;

interface ListedIndex {
  readonly path: string;
  readonly index?: FileIndex;
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

async function listIndexes(store: PackageStore): Promise<ListedIndex[]> {
  const paths = (await listFiles(join(store.root, "index"))).filter((p) => p.endsWith(".json"));
  const limit = pLimit(32);
  return Promise.all(
    paths.map((path) =>
      limit(async () => {
        try {
          const index = parseFileIndex(await readFile(path, "utf8"));
          // An index must sit at its own tarball's path: a misplaced one would link the wrong package.
          return store.indexPath(index.tarball.integrity) === path ? { path, index } : { path };
        } catch (err) {
          if (err instanceof InstallError) return { path };
          throw err;
        }
      }),
    ),
  );
}

/** Every sound index the store holds (each at its own tarball's path), in no set order. */
export async function storedIndexes(store: PackageStore): Promise<FileIndex[]> {
  return (await listIndexes(store)).flatMap((listed) => (listed.index ? [listed.index] : []));
}

/**
 * Re-hashes every store file some index names. With `removeDamaged`, each
 * damaged file, every index naming one and every unparsable index are
 * removed, so the next install fetches those packages again.
 */
export async function verifyStore(
  store: PackageStore,
  options: { removeDamaged?: boolean } = {},
): Promise<VerifyReport> {
  const listed = await listIndexes(store);
  const files = new Map<string, { sha256: string; executable: boolean; packages: PackageRef[] }>();
  for (const { index } of listed) {
    if (!index) continue;
    for (const f of index.files.values()) {
      const path = store.filePath(f);
      const entry = files.get(path) ?? {
        sha256: f.sha256,
        executable: f.mode === EXEC_MODE,
        packages: [],
      };
      const { name, version, tarball } = index;
      if (!entry.packages.some((p) => p.integrity === tarball.integrity))
        entry.packages.push({ name, version, integrity: tarball.integrity });
      files.set(path, entry);
    }
  }
  const limit = pLimit(8);
  const checked = await Promise.all(
    [...files].map(([path, f]) =>
      limit(async (): Promise<DamagedStoreFile | undefined> => {
        try {
          if ((await hashFile(path)) === f.sha256) return undefined;
          return { ...f, path, problem: "mismatch" };
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
          return { ...f, path, problem: "missing" };
        }
      }),
    ),
  );
  const damaged = checked.filter((d) => d !== undefined);
  const badIndexes = listed.filter((l) => !l.index).map((l) => l.path);
  if (options.removeDamaged) {
    const broken = new Set(damaged.flatMap((d) => d.packages.map((p) => p.integrity)));
    await Promise.all([
      ...[...broken].map((integrity) => rm(store.indexPath(integrity), { force: true })),
      ...badIndexes.map((path) => rm(path, { force: true })),
      ...damaged.map((d) => rm(d.path, { force: true })),
    ]);
  }
  return { checked: files.size, damaged, badIndexes };
}

/**
 * Removes every index whose integrity is not in `keep` (and every index
 * that does not parse), then every store file no kept index names, the
 * name pointers left without an index, and stale temporary files.
 */
export async function pruneStore(
  store: PackageStore,
  keep: Iterable<string>,
): Promise<PruneReport> {
  const started = await startMarker(store);
  const keepKeys = new Set([...keep].map(integrityKey));
  const changedSinceStart = async (path: string) => {
    try {
      return (await stat(path)).ctimeMs > started;
    } catch {
      return true;
    }
  };
  const listed = await listIndexes(store);
  const kept = new Set<string>();
  let removedIndexes = 0;
  for (const { path, index } of listed) {
    const keepIt = index !== undefined && keepKeys.has(integrityKey(index.tarball.integrity));
    if (keepIt || (await changedSinceStart(path))) {
      if (index) for (const f of index.files.values()) kept.add(store.filePath(f));
      continue;
    }
    await rm(path, { force: true });
    removedIndexes++;
  }
  let removedFiles = 0;
  let freedBytes = 0;
  const limit = pLimit(32);
  await Promise.all(
    (await listFiles(join(store.root, "files"))).map((path) =>
      limit(async () => {
        if (kept.has(path)) return;
        const st = await stat(path).catch(() => undefined);
        if (!st || st.ctimeMs > started) return;
        await rm(path, { force: true });
        removedFiles++;
        freedBytes += st.size;
      }),
    ),
  );
  await removeDanglingNames(store);
  await removeStaleTmp(store, started - STALE_TMP_MS);
  return { removedIndexes, removedFiles, freedBytes };
}

/**
 * The packages some project still links: those with a store file that has
 * another hard link than its own name. What `cairn store prune` keeps, as
 * pnpm's does; a project that got copies (another device) does not count,
 * and needs nothing from the store until it installs again.
 */
export async function linkedPackages(store: PackageStore): Promise<PackageRef[]> {
  const limit = pLimit(32);
  const linked = await Promise.all(
    (await listIndexes(store)).map(async ({ index }) => {
      if (!index) return undefined;
      const counts = await Promise.all(
        [...index.files.values()].map((f) =>
          limit(async () => (await stat(store.filePath(f)).catch(() => undefined))?.nlink ?? 0),
        ),
      );
      const { name, version, tarball } = index;
      return counts.some((n) => n > 1)
        ? { name, version, integrity: tarball.integrity }
        : undefined;
    }),
  );
  return linked.filter((p) => p !== undefined);
}

/** The file system's time now: the ctime of a fresh file. */
async function startMarker(store: PackageStore): Promise<number> {
  const marker = store.tmpPath();
  await writeFile(marker, "", { flag: "wx" });
  try {
    return (await stat(marker)).ctimeMs;
  } finally {
    await rm(marker, { force: true });
  }
}

async function removeDanglingNames(store: PackageStore): Promise<void> {
  for (const path of await listFiles(join(store.root, "names"))) {
    const integrity = await readFile(path, "utf8").catch(() => "");
    let held = false;
    try {
      held = (await stat(store.indexPath(integrity)).catch(() => undefined)) !== undefined;
    } catch (err) {
      if (!(err instanceof InstallError)) throw err;
    }
    if (!held) await rm(path, { force: true });
  }
}

async function removeStaleTmp(store: PackageStore, before: number): Promise<void> {
  for (const path of await listFiles(join(store.root, "tmp"))) {
    const st = await stat(path).catch(() => undefined);
    if (st && st.ctimeMs < before) await rm(path, { force: true });
  }
}
