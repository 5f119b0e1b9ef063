/**
 * The "nothing changed" check, made before the rest of the command is even
 * loaded: an install leaves a stamp in node_modules naming the SHA-256 of
 * every file it read its plan from (package.json, the lockfile, each
 * workspace's package.json), the options it ran with, and the top-level
 * folders it wrote. When those files hash the same, the options match,
 * every folder is still there and no folder the workspace globs searched
 * has changed (a new workspace folder changes its parent's mtime), the
 * install has nothing to do. A folder edited by hand is not looked into
 * (as pnpm and bun do not); `cairn install --force` re-links everything,
 * and `cairn store verify` checks the store itself. Only node: built-ins here: this module is the whole of
 * a no-op install's start-up.
 */

// Built-ins taken as they are: importing one as an ES module builds a facade that reads every
// export (node:fs's streams among them), which is a good part of a no-op's start-up. node:crypto
// (its streams and ciphers) is loaded only when a file has to be hashed.
const { readFileSync, statSync, writeFileSync } = process.getBuiltinModule("node:fs");
const { join } = process.getBuiltinModule("node:path");

/** Where the stamp lives, relative to the project. */
export const STAMP_PATH = join("node_modules", ".cairn-install.json");

export interface InstallStamp {
  readonly v: 1;
  /** Each input file, relative to the project, and the hex SHA-256 of its bytes when installed. */
  readonly inputs: Readonly<Record<string, string>>;
  /** The options that shape the tree (layout, omissions, platform), as one string. */
  readonly options: string;
  /** Folders the install wrote, relative to the project; each must still exist. */
  readonly folders: readonly string[];
  /** Folders whose listings decided the workspaces, with their mtimes: a new workspace changes one. */
  readonly searched: Readonly<Record<string, number>>;
  /** Each input's stat just before it was hashed (absent in older stamps: those are hashed). */
  readonly seen?: Readonly<Record<string, Seen>>;
}

/**
 * What `stat` said of an input: size, mtime, ctime and inode. Any write
 * sets the ctime to the clock's time (no call sets it back), so the same
 * four values mean the same bytes, unless the write came within the file
 * system's timestamp granularity of the stat (RACY_MS): git's index makes
 * the same bet, with the same exception.
 */
export type Seen = readonly [size: number, mtimeMs: number, ctimeMs: number, ino: number];

/**
 * An input changed less than this before its stamp was written is hashed
 * whatever its stat says: FAT keeps times to 2 s, so a later write could
 * leave every value as it was.
 */
const RACY_MS = 2000;

/** What shapes an installed tree, beyond the files the stamp hashes. */
export interface InstallShape {
  /** `cairn ci` (the lockfile as it is) or `cairn install`. */
  readonly frozen: boolean;
  readonly omit: readonly string[];
  readonly layout: string;
  readonly ignoreScripts: boolean;
}

/** The shape as the stamp records it: one string. */
export function shapeKey(shape: InstallShape): string {
  const omit = [...new Set(shape.omit)].sort().join(",");
  // The platform decides which optional packages are installed: a node_modules shared with
  // another system (a container, a mounted folder) is not up to date for this one.
  const platform = `${process.platform}-${process.arch}`;
  return `${shape.frozen ? "ci" : "install"} omit=${omit} layout=${shape.layout}${shape.ignoreScripts ? " ignore-scripts" : ""} ${platform}`;
}

/** Options that take a value and do not change the tree (where bytes come from, how long to wait). */
const SOURCE_OPTIONS = new Set(["--origin", "--key", "--store", "--index", "--timeout"]);
const SOURCE_FLAGS = new Set(["--no-mirror-list", "--sparse"]);

/**
 * The shape an install command line asks for, read as commander would
 * read it, or undefined when it asks for more than a no-op can give
 * (packages to add, or an option this reading does not know).
 */
export function shapeOfArgs(command: string, args: readonly string[]): InstallShape | undefined {
  const omit: string[] = [];
  let layout = "hoisted";
  let ignoreScripts = false;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = () => inline ?? args[++i];
    const values = () => {
      const list = inline !== undefined ? [inline] : [];
      while (i + 1 < args.length && !args[i + 1].startsWith("-")) list.push(args[++i]);
      return list;
    };
    if (SOURCE_OPTIONS.has(flag)) value();
    else if (flag === "--mirror") values();
    else if (SOURCE_FLAGS.has(flag)) continue;
    else if (flag === "--omit") omit.push(...values());
    else if (flag === "--production") omit.push("dev");
    else if (flag === "--layout") layout = value() ?? "";
    else if (flag === "--ignore-scripts") ignoreScripts = true;
    else return undefined;
  }
  return { frozen: command === "ci", omit, layout, ignoreScripts };
}

/** Synchronously: the no-op check reads a few small files and stats a few hundred folders, where promises cost more than the calls. */
function sha256File(path: string): string | undefined {
  try {
    const { createHash } = process.getBuiltinModule("node:crypto");
    return createHash("sha256").update(readFileSync(path)).digest("hex");
  } catch {
    return undefined;
  }
}

function seenOf(path: string): Seen | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  return st && [st.size, st.mtimeMs, st.ctimeMs, st.ino];
}

/**
 * Whether an input still has the bytes the stamp hashed: by its stat when
 * that is as the stamp saw it, well before the stamp was written
 * (`stampMtime`, by the same file system's clock); else by hashing it.
 */
function sameBytes(
  path: string,
  hash: string,
  seen: Seen | undefined,
  stampMtime: number,
): boolean {
  const now = seenOf(path);
  if (
    Array.isArray(seen) &&
    now?.every((value, i) => value === seen[i]) &&
    now[2] < stampMtime - RACY_MS
  )
    return true;
  return now !== undefined && sha256File(path) === hash;
}

function mtimeOf(path: string): number | undefined {
  return statSync(path, { throwIfNoEntry: false })?.mtimeMs;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The stamp for inputs read now: hashes them as they are on disk. */
export async function makeStamp(
  projectDir: string,
  inputs: readonly string[],
  options: string,
  folders: readonly string[],
  searched: readonly string[] = [],
): Promise<InstallStamp> {
  const hashes: Record<string, string> = {};
  const seen: Record<string, Seen> = {};
  for (const input of inputs) {
    const path = join(projectDir, input);
    // Before the read: a write after it changes the ctime from what is recorded here.
    const before = seenOf(path);
    const hash = sha256File(path);
    if (!hash) continue;
    hashes[input] = hash;
    if (before) seen[input] = before;
  }
  const mtimes: Record<string, number> = {};
  for (const folder of searched) {
    const mtime = mtimeOf(join(projectDir, folder));
    if (mtime !== undefined) mtimes[folder] = mtime;
  }
  return { v: 1, inputs: hashes, options, folders: [...folders].sort(), searched: mtimes, seen };
}

export async function writeStamp(projectDir: string, stamp: InstallStamp): Promise<void> {
  writeFileSync(join(projectDir, STAMP_PATH), `${JSON.stringify(stamp)}\n`);
}

/** True when the last install's stamp still describes the project exactly. */
export async function upToDate(projectDir: string, options: string): Promise<boolean> {
  let stamp: InstallStamp;
  let stampMtime: number;
  try {
    const path = join(projectDir, STAMP_PATH);
    stampMtime = statSync(path).mtimeMs;
    stamp = JSON.parse(readFileSync(path, "utf8")) as InstallStamp;
  } catch {
    return false;
  }
  if (stamp?.v !== 1 || stamp.options !== options || typeof stamp.inputs !== "object") return false;
  if (!Array.isArray(stamp.folders) || typeof stamp.searched !== "object") return false;
  const seen = typeof stamp.seen === "object" && stamp.seen !== null ? stamp.seen : {};
  // A lockfile that appeared or a workspace that was added is a change too: package.json says which.
  if (!Object.hasOwn(stamp.inputs, "package.json")) return false;
  return (
    Object.entries(stamp.inputs).every(([input, hash]) =>
      sameBytes(
        join(projectDir, input),
        hash,
        Object.hasOwn(seen, input) ? seen[input] : undefined,
        stampMtime,
      ),
    ) &&
    // A lockfile the stamp does not name must still be absent.
    (Object.hasOwn(stamp.inputs, "package-lock.json") ||
      seenOf(join(projectDir, "package-lock.json")) === undefined) &&
    stamp.folders.every((folder) => isDirectory(join(projectDir, String(folder)))) &&
    Object.entries(stamp.searched).every(
      ([folder, mtime]) => mtimeOf(join(projectDir, folder)) === mtime,
    )
  );
}
