/**
 * `cairn install`: plan the tree (from the lockfile when it agrees with
 * package.json, else as npm would), check every package against the log,
 * fetch what the store lacks through the verifying reader, link each
 * package out of the store into node_modules, link bins, run the scripts
 * the project trusts, and write the lockfile. Nothing is linked that was
 * not checked: a tarball is verified against the log entry's hashes by the
 * reader, against the lockfile's integrity here, and unpacked by the store
 * only after its own integrity check. While a plan is made, each package
 * it places has its tarball fetched already (checked against its log entry
 * as any). Linking starts once every package has passed its log check,
 * each package as soon as it is stored, so it overlaps the downloads still
 * under way.
 */

import {
  chmod,
  copyFile,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import pLimit from "p-limit";
import semver from "semver";
import { fitsPlatform, hostPlatform, pickVersion } from "../client/resolve.ts";
import type { VersionEntry } from "../registry/entries.ts";
import { binLinks } from "./bin-links.ts";
import { type AddedByFiles, addByFiles } from "./file-fetch.ts";
import { type OmitKind, type PlannedTree, planTree } from "./ideal-tree.ts";
import { InstallError } from "./install-error.ts";
import { isolatedBinLinks, isolatedLayout } from "./isolated.ts";
import { linkPackage } from "./link.ts";
import { lockfileDisagreement, withoutUnreachable } from "./lock-sync.ts";
import { readLockfile, writeLockfile } from "./lockfile.ts";
import { Pacer } from "./pacer.ts";
import type { FileIndex } from "./package-files.ts";
import { addDependency, removeDependency, savedSpec } from "./package-json-edit.ts";
import { type Project, readProject } from "./project.ts";
import type { RegistrySource } from "./registry-source.ts";
import { runInstallScripts, type ScriptsReport, trustedDependencies } from "./scripts.ts";
import type { PackageStore } from "./store.ts";
import type { PlacedPackage, ProjectTree } from "./tree.ts";
import { makeStamp, STAMP_PATH, writeStamp } from "./up-to-date.ts";

export type Layout = "hoisted" | "isolated";

export interface InstallOptions {
  readonly projectDir: string;
  readonly store: PackageStore;
  readonly source: RegistrySource;
  /** `cairn ci`: install the lockfile exactly; fail if there is none or it disagrees with package.json. */
  readonly frozen?: boolean;
  readonly omit?: readonly OmitKind[];
  readonly layout?: Layout;
  readonly ignoreScripts?: boolean;
  /** Packages to add to package.json first (`cairn install <name>[@range]`). */
  readonly add?: readonly { readonly name: string; readonly spec: string }[];
  readonly saveDev?: boolean;
  readonly saveExact?: boolean;
  /** Packages to remove from package.json first (`cairn uninstall`). */
  readonly remove?: readonly string[];
  /** The options string the install stamp records (see up-to-date.ts). */
  readonly stampOptions: string;
  readonly onProgress?: (progress: InstallProgress) => void;
  /** Where script output goes: the terminal, or captured. */
  readonly scriptOutput?: "inherit" | "pipe";
  /**
   * Told of each tarball fetched, once it is verified and stored (to keep
   * it for LAN peers); awaited, so it must not throw.
   */
  readonly onTarball?: (entry: VersionEntry, tarball: Uint8Array) => Promise<void>;
}

export interface InstallProgress {
  readonly phase: "resolving" | "fetching" | "linking" | "scripts";
  readonly done: number;
  readonly total: number;
  readonly bytes: number;
}

export interface InstallReport {
  /** Packages in the installed tree (links and bundled ones not counted). */
  readonly packages: number;
  /** Tarballs fetched (and their bytes): the rest were in the store. */
  readonly fetched: number;
  readonly fetchedBytes: number;
  /** Packages linked into node_modules this time (the rest were in place already). */
  readonly linked: number;
  /** Packages removed from node_modules. */
  readonly removed: number;
  /** Whether the tree came from the lockfile (else it was planned). */
  readonly fromLockfile: boolean;
  readonly scripts: ScriptsReport;
  /** Dependency problems npm tolerates (optional ones), for the summary. */
  readonly warnings: readonly string[];
}

const FETCHES = 16;
const LINKS = 8;
const LOCKFILE = "package-lock.json";
const HIDDEN_LOCKFILE = join("node_modules", ".package-lock.json");
/** Where the isolated layout keeps each package's own folder (isolated.ts names them). */
const ISOLATED_ROOT = "node_modules/.cairn";

export async function install(options: InstallOptions): Promise<InstallReport> {
  const edit = await editPackageJson(options);
  try {
    return await installProject(options, edit !== undefined);
  } catch (err) {
    // npm saves package.json only once the install has succeeded: put the old one back.
    if (edit) await replaceFileAtomically(edit.path, edit.before);
    throw err;
  }
}

async function installProject(options: InstallOptions, edited: boolean): Promise<InstallReport> {
  const { projectDir } = options;
  const progress = options.onProgress ?? (() => {});
  const project = await readProject(projectDir);
  const lockText = await readFile(join(projectDir, LOCKFILE), "utf8").catch(() => undefined);
  progress({ phase: "resolving", done: 0, total: 0, bytes: 0 });
  const locked = lockText === undefined ? undefined : readLockfile(lockText).tree;
  // Read now, while the log checks wait on the network; linked only once they pass.
  const held = locked && heldIndexes(options.store, locked);
  // Awaited where it is used; a failure meanwhile is reported there, not unhandled.
  held?.catch(() => undefined);
  const tarballs = new Tarballs(options, progress, held);
  try {
    return await placeProject(project, lockText, locked, options, edited, tarballs);
  } finally {
    // The fetches queued behind a failure, or ahead for packages the plan dropped, never start;
    // those under way end before the install does, so nothing writes to the store after it.
    await tarballs.cancel();
  }
}

async function placeProject(
  project: Project,
  lockText: string | undefined,
  locked: ProjectTree | undefined,
  options: InstallOptions,
  edited: boolean,
  tarballs: Tarballs,
): Promise<InstallReport> {
  const { projectDir } = options;
  const progress = options.onProgress ?? (() => {});
  const planned = await treeOf(project, locked, options, tarballs);
  const tree = planned.tree;
  // Every registry package is checked against the log, those other platforms install too, so
  // the lockfile carries the log's hashes for all of them.
  const inRegistry = [...tree.packages.values()].filter(fromRegistry);
  const { checked, fetched, indexes, storedNow, stored } = await checkAndFetch(
    inRegistry,
    planned.skipped,
    options,
    tarballs,
  );
  const logged = new Map([...checked].filter(([location]) => !planned.skipped.has(location)));
  // node_modules is about to change: until this install ends well, neither the stamp nor the
  // hidden lockfile may speak for it (the next install then re-checks every folder).
  const previous = await readPreviousInstall(projectDir);
  await mkdir(join(projectDir, "node_modules"), { recursive: true });
  await rm(join(projectDir, STAMP_PATH), { force: true });
  await rm(join(projectDir, HIDDEN_LOCKFILE), { force: true });
  const linking = await linkTree(
    tree,
    planned.skipped,
    logged,
    { indexes, storedNow },
    previous,
    options,
    progress,
  );
  // A package left in place from the last install did not wait for its tarball: wait here.
  await stored;
  let scripts: ScriptsReport = { ran: [], skipped: [] };
  if (!options.ignoreScripts) {
    progress({ phase: "scripts", done: 0, total: 0, bytes: 0 });
    scripts = await runInstallScripts(
      projectDir,
      linking.placed,
      trustedDependencies(project.root.manifest),
      // As npm: the project's own scripts on a plain install, not when adding or removing.
      { root: !edited, stdio: options.scriptOutput ?? "inherit" },
    );
  }
  const withHashes = withLoggedHashes(tree, checked);
  const lockfile = writeLockfile(withHashes);
  if (lockfile !== lockText) await replaceFileAtomically(join(projectDir, LOCKFILE), lockfile);
  await replaceFileAtomically(
    join(projectDir, HIDDEN_LOCKFILE),
    writeLockfile(installedOnly(withHashes, planned.skipped), { hidden: true }),
  );
  const inputs = [
    "package.json",
    LOCKFILE,
    ...project.workspaces.map((w) => `${w.location}/package.json`),
  ];
  await writeStamp(
    projectDir,
    await makeStamp(projectDir, inputs, options.stampOptions, linking.topFolders, project.searched),
  );
  return {
    packages: logged.size,
    fetched: fetched.count,
    fetchedBytes: fetched.bytes,
    linked: linking.linked,
    removed: linking.removed,
    fromLockfile: planned.fromLockfile,
    scripts,
    warnings: planned.warnings,
  };
}

/** Writes `text` to `path` through a temporary file and a rename: a crash leaves the old file or the new. */
async function replaceFileAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.cairn-${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/**
 * `cairn install <pkg>` and `cairn uninstall <pkg>`: package.json changed
 * first (the install plans from it); returns what to restore if the
 * install then fails.
 */
async function editPackageJson(
  options: InstallOptions,
): Promise<{ path: string; before: string } | undefined> {
  if (!options.add?.length && !options.remove?.length) return undefined;
  if (options.frozen)
    throw new InstallError("out-of-sync", "a frozen install (cairn ci) never changes package.json");
  const path = join(options.projectDir, "package.json");
  const before = await readFile(path, "utf8").catch(() => {
    throw new InstallError("no-project", `no package.json in ${options.projectDir}`);
  });
  let text = before;
  for (const name of options.remove ?? []) text = removeDependency(text, name);
  for (const { name, spec } of options.add ?? []) {
    const pkg = await options.source.get(name);
    if (!pkg) throw new InstallError("unresolvable", `${name}: no such package in the registry`);
    const picked = pickVersion(() => pkg, name, spec);
    if ("reason" in picked)
      throw new InstallError("unresolvable", `${name}@${spec}: ${picked.reason}`);
    text = addDependency(
      text,
      name,
      specToSave(spec, picked.version, options),
      options.saveDev ? "dev" : "prod",
    );
  }
  await replaceFileAtomically(path, text);
  return { path, before };
}

/**
 * What npm saves for `name@spec` once it picked `version`: `^version` (or
 * the version, with save-exact) unless the user's range is narrower than
 * that, in which case the range as given (arborist's rule).
 */
function specToSave(spec: string, version: string, options: InstallOptions): string {
  const prefixed = savedSpec(version, { exact: options.saveExact === true });
  const range = semver.validRange(spec);
  // A tag or an exact version is not a range: npm saves the prefixed version for those.
  if (options.saveExact || range === null || semver.valid(spec) !== null || spec.trim() === "*")
    return prefixed;
  return semver.subset(prefixed, spec, { loose: true }) ? prefixed : spec;
}

interface Planned {
  readonly tree: ProjectTree;
  readonly skipped: ReadonlyMap<string, unknown>;
  readonly fromLockfile: boolean;
  readonly warnings: readonly string[];
}

/**
 * The lockfile's tree when it agrees with package.json; else a plan from
 * it (what still fits stays) or, without one, from nothing; `ci` refuses both.
 */
async function treeOf(
  project: Project,
  locked: ProjectTree | undefined,
  options: InstallOptions,
  tarballs: Tarballs,
): Promise<Planned> {
  if (locked !== undefined) {
    const tree = locked;
    // A link may only point at one of the project's workspaces: anything else would install a
    // folder of the project under a registry package's name, past every check against the log.
    const workspaces = new Set(project.workspaces.map((w) => w.location));
    for (const p of tree.packages.values())
      if (
        (p.link !== undefined && !workspaces.has(p.link)) ||
        (!fromRegistry(p) && p.link === undefined && !p.inBundle && !workspaces.has(p.location))
      )
        throw new InstallError(
          "unsafe-path",
          `package-lock.json: ${p.location} is not a registry package or one of the project's workspaces`,
        );
    const unavailable = await unavailableOptionals(project, tree, options.source);
    const tags = await taggedDependencies(project, options.source);
    const disagreement = lockfileDisagreement(project, tree, {
      unavailable: (name, spec) => unavailable.has(`${name}@${spec}`),
      distTag: (name, tag) => tags.get(name)?.[tag],
    });
    if (disagreement === undefined) {
      const kept = withoutUnreachable(project, tree);
      const skipped = await skippedHere(kept, options);
      return { tree: kept, skipped, fromLockfile: true, warnings: [] };
    }
    if (options.frozen)
      throw new InstallError(
        "out-of-sync",
        `package.json and package-lock.json are not in sync (${disagreement}): run cairn install`,
      );
  } else if (options.frozen) {
    throw new InstallError("out-of-sync", "cairn ci needs a package-lock.json: run cairn install");
  }
  const plan: PlannedTree = await planTree(project.root.manifest, options.source, {
    ...(options.omit ? { omit: options.omit } : {}),
    workspaces: project.workspaces.map((w) => ({ folder: w.location, manifest: w.manifest })),
    ...(locked ? { lockedTree: locked } : {}),
    onPlaced: fetchAhead(tarballs, options),
  });
  const fatal = plan.problems.filter((p) => !p.optional);
  if (fatal.length > 0) {
    const first = fatal[0];
    throw new InstallError(
      "unresolvable",
      `${first.code} ${first.name}@${first.spec}${first.from ? ` (from ${first.from})` : ""}: ${first.reason}` +
        (fatal.length > 1 ? ` (and ${fatal.length - 1} more)` : ""),
    );
  }
  // An optional dependency the registry lacks (another platform's binary, often) is dropped
  // silently, as npm drops it; other tolerated problems are worth a line.
  const absent = plan.problems.filter((p) => p.code === "E404");
  const warnings = plan.problems
    .filter((p) => p.code !== "E404")
    .map((p) => `${p.name}@${p.spec}: ${p.reason}`);
  if (absent.length > 0)
    warnings.push(`${absent.length} optional dependencies are not in the registry: left out`);
  return { tree: plan, skipped: plan.skipped, fromLockfile: false, warnings };
}

/**
 * While planning, the tarball of each package placed that this machine
 * will install: one that fits it (another platform's optional package is
 * planned, never fetched). With `--omit` nothing is fetched ahead: what is
 * omitted is only known once the plan is.
 */
function fetchAhead(
  tarballs: Tarballs,
  options: InstallOptions,
):
  | ((name: string, version: string, manifest: Readonly<Record<string, unknown>>) => void)
  | undefined {
  if ((options.omit ?? []).length > 0) return undefined;
  const platform = hostPlatform();
  return (name, version, manifest) => {
    if (fitsPlatform(manifest, platform)) tarballs.ahead(name, version);
  };
}

/** The dist-tags of the packages the project asks for by tag (`"x": "latest"`), as the registry has them now. */
async function taggedDependencies(
  project: Project,
  source: RegistrySource,
): Promise<Map<string, Readonly<Record<string, string>>>> {
  const names = new Set<string>();
  for (const { manifest } of [project.root, ...project.workspaces])
    for (const field of [
      "dependencies",
      "devDependencies",
      "optionalDependencies",
      "peerDependencies",
    ]) {
      const deps = manifest[field];
      if (typeof deps !== "object" || deps === null) continue;
      for (const [name, spec] of Object.entries(deps))
        if (typeof spec === "string" && TAG.test(spec) && semver.validRange(spec) === null)
          names.add(name);
    }
  source.prefetch([...names]);
  const tags = new Map<string, Readonly<Record<string, string>>>();
  for (const name of names) {
    const pkg = await source.get(name);
    if (pkg) tags.set(name, pkg.distTags);
  }
  return tags;
}

/** A dist-tag, as npm-package-arg tells one from a range. */
const TAG = /^[A-Za-z][\w.-]*$/;

/**
 * Optional dependencies the lockfile leaves out and the registry cannot
 * give (`name@spec`): npm re-resolves them, fails and drops them, so they
 * are no reason to refuse the lockfile.
 */
async function unavailableOptionals(
  project: Project,
  tree: ProjectTree,
  source: RegistrySource,
): Promise<Set<string>> {
  const names = new Set([...tree.packages.values()].map((p) => p.name));
  const wanted = new Map<string, [string, string]>();
  const manifests = [project.root.manifest, ...project.workspaces.map((w) => w.manifest)];
  for (const p of tree.packages.values()) manifests.push(p.manifest);
  for (const manifest of manifests) {
    const optional = manifest.optionalDependencies;
    if (typeof optional !== "object" || optional === null) continue;
    for (const [name, spec] of Object.entries(optional))
      if (typeof spec === "string" && !names.has(name)) wanted.set(`${name}@${spec}`, [name, spec]);
  }
  source.prefetch([...new Set([...wanted.values()].map(([name]) => name))]);
  const unavailable = new Set<string>();
  for (const [key, [name, spec]] of wanted) {
    const pkg = await source.get(name);
    if (!pkg || "reason" in pickVersion(() => pkg, name, spec)) unavailable.add(key);
  }
  return unavailable;
}

/** A locked tree's packages this machine does not install: other platforms', and omitted ones. */
async function skippedHere(
  tree: ProjectTree,
  options: InstallOptions,
): Promise<ReadonlyMap<string, unknown>> {
  const omit = new Set(options.omit ?? []);
  const platform = hostPlatform();
  const skipped = new Map<string, string>();
  for (const p of tree.packages.values()) {
    if (
      (omit.has("dev") && p.dev) ||
      (omit.has("optional") && p.optional) ||
      (omit.has("dev") && omit.has("optional") && p.devOptional) ||
      (omit.has("peer") && p.peer)
    )
      skipped.set(p.location, "omit");
    else if (p.optional && !fitsPlatform(p.manifest, platform)) skipped.set(p.location, "platform");
  }
  // What sits under a skipped package goes with it.
  for (const location of tree.packages.keys())
    for (const s of skipped.keys()) if (location.startsWith(`${s}/`)) skipped.set(location, "omit");
  return skipped;
}

/**
 * The store's index of each registry package in a locked tree, by
 * integrity (undefined: the store has none), read between turns of the
 * event loop so that requests under way go on meanwhile.
 */
async function heldIndexes(
  store: PackageStore,
  tree: ProjectTree,
): Promise<Map<string, FileIndex | undefined>> {
  const held = new Map<string, FileIndex | undefined>();
  const pacer = new Pacer();
  for (const p of tree.packages.values()) {
    if (p.integrity === undefined || held.has(p.integrity) || !fromRegistry(p)) continue;
    // One the store cannot read by this integrity (a lockfile's sha1, say) is left to the
    // read by the log's integrity after the check, which reports it as before.
    const index = await store.getIndex(p.integrity).catch(() => null);
    if (index !== null) held.set(p.integrity, index);
    await pacer.pace();
  }
  return held;
}

interface CheckedPackage {
  readonly placed: PlacedPackage;
  readonly logged: Logged;
}

type Logged = Awaited<ReturnType<RegistrySource["version"]>> & object;

/** What fetching a version needs to name it. */
type Named = Pick<PlacedPackage, "name" | "version">;

/** A package's log entry; a version the log lacks, or whose integrity differs from the tree's, is refused. */
async function checkAgainstLog(
  placed: PlacedPackage,
  source: RegistrySource,
): Promise<CheckedPackage> {
  const logged = await source.version(placed.name, placed.version);
  if (!logged)
    throw new InstallError(
      "unresolvable",
      `${placed.name}@${placed.version} (${placed.location}) is not in the registry's log`,
    );
  if (placed.integrity !== undefined && logged.integrity !== placed.integrity)
    throw new InstallError(
      "integrity-mismatch",
      `${placed.name}@${placed.version}: the lockfile's integrity ${placed.integrity} is not the one the log binds (${logged.integrity ?? "none"})`,
    );
  return { placed, logged };
}

interface Fetched {
  /** Every registry package, checked against the log, by location. */
  readonly checked: Map<string, CheckedPackage>;
  /** Counts so far; final once `stored` has settled. */
  readonly fetched: { count: number; bytes: number };
  /** The store's index of each package to install, by integrity, once it is stored. */
  readonly indexes: ReadonlyMap<string, Promise<FileIndex>>;
  /** The integrities of the packages this install stored (the rest the store held already). */
  readonly storedNow: ReadonlySet<string>;
  /** Settles when every package is stored; rejects with the first failure. */
  readonly stored: Promise<void>;
}

/**
 * Fetches, verifies and stores each tarball the store lacks, once per
 * integrity: for the packages the checks name, and ahead of them for those
 * a plan places while it is still planning. The store only ever holds bytes
 * that match their log entry (the reader checks them); what the install
 * links waits for every package's own check, as before.
 */
class Tarballs {
  readonly indexes = new Map<string, Promise<FileIndex>>();
  readonly fetched = { count: 0, bytes: 0 };
  /** Integrities stored by this install (fetched now, so linking needs no second check of them). */
  readonly storedNow = new Set<string>();
  // Cleared on the first failure: what waits behind it rejects, so nothing waits on it forever.
  readonly #limit = pLimit({ concurrency: FETCHES, rejectOnClear: true });
  /** Fetches started ahead of the plan (a failure of one is retried when the package is claimed). */
  readonly #ahead = new WeakSet<Promise<FileIndex>>();
  /** Every store of a tarball begun, to wait for at the end. */
  readonly #started = new Set<Promise<FileIndex>>();
  /** The first fetch that failed for a package the install needs. */
  #failure: InstallError | undefined;
  readonly #options: InstallOptions;
  readonly #progress: (p: InstallProgress) => void;
  readonly #held: Promise<ReadonlyMap<string, FileIndex | undefined>> | undefined;
  #done = 0;
  /** Packages to install, for the progress line; known once the tree is. */
  total = 0;

  constructor(
    options: InstallOptions,
    progress: (p: InstallProgress) => void,
    held?: Promise<ReadonlyMap<string, FileIndex | undefined>>,
  ) {
    this.#options = options;
    this.#progress = progress;
    this.#held = held;
  }

  /**
   * A version the plan placed: its entry read and its tarball stored now.
   * Only ever a head start: a failure here is left for the package's own
   * check and fetch (a placement can still be undone, so it may not be needed).
   */
  ahead(name: string, version: string): void {
    const { source } = this.#options;
    source
      .version(name, version)
      .then((logged) => {
        if (logged?.integrity === undefined || this.indexes.has(logged.integrity)) return;
        this.#stored({ name, version }, logged, logged.integrity, true);
      })
      .catch(() => undefined);
  }

  /** The store's index of a checked package, fetched if the store lacks it. */
  stored({ placed, logged }: CheckedPackage): Promise<FileIndex> {
    // Only a package this machine installs needs one: another platform's is never fetched.
    if (logged.integrity === undefined)
      throw new InstallError(
        "bad-integrity",
        `${placed.name}@${placed.version} has no SHA-512 integrity in the log`,
      );
    const integrity = logged.integrity;
    const known = this.indexes.get(integrity);
    if (known === undefined) return this.#stored(placed, logged, integrity);
    if (!this.#ahead.has(known)) return known;
    // Claimed: a failure ahead is tried again by the package's own fetch, which reports it.
    const own = known.catch(() => this.#stored(placed, logged, integrity));
    this.indexes.set(integrity, own);
    return own;
  }

  /** Drops every fetch not yet started, and waits for those under way. */
  async cancel(): Promise<void> {
    this.#limit.clearQueue();
    await Promise.allSettled(this.#started);
  }

  #stored(named: Named, logged: Logged, integrity: string, ahead = false): Promise<FileIndex> {
    const { store } = this.#options;
    const inStore = async () => {
      const read = await this.#held;
      return read?.has(integrity) ? read.get(integrity) : store.getIndex(integrity);
    };
    const index = inStore()
      .then(
        (found) =>
          found ??
          this.#limit(() => this.#fetch(named, logged, integrity, ahead)).then(
            (added) => {
              this.storedNow.add(integrity);
              return added;
            },
            // One cleared from the queue by the first failure reports that failure.
            (err: unknown) => {
              throw this.#failure ?? err;
            },
          ),
      )
      .then((held) => {
        this.#progress({
          phase: "fetching",
          done: ++this.#done,
          total: this.total,
          bytes: this.fetched.bytes,
        });
        return held;
      });
    this.indexes.set(integrity, index);
    this.#started.add(index);
    if (ahead) {
      this.#ahead.add(index);
      // Nothing may ever wait on it: a failure is retried, and reported, when a package claims it.
      index.catch(() => undefined);
    }
    return index;
  }

  async #fetch(named: Named, logged: Logged, integrity: string, ahead: boolean) {
    const { store, source } = this.#options;
    // An upgrade from the version the origin made deltas from: the files it lacks, not the
    // tarball (which a first install, or one skipping versions, fetches: one compressed request).
    const previous = logged.entry.files && (await source.previous(named.name, named.version));
    const base = previous && (await store.findIndex(named.name, previous));
    if (base) {
      const added = await addVersionByFiles(
        { placed: named, logged },
        integrity,
        this.#options,
        base,
      );
      if (added) {
        this.fetched.count++;
        this.fetched.bytes += added.bytes;
        return added.index;
      }
    }
    const tarball = await source.tarball(logged.entry).catch((err: unknown) => {
      const failure = new InstallError(
        "fetch-failed",
        `${named.name}@${named.version}: no source gave a tarball that matches the log (${(err as Error).message})`,
        { cause: err },
      );
      // The first failure ends the install: nothing queued behind it starts.
      if (!ahead) {
        this.#failure ??= failure;
        this.#limit.clearQueue();
      }
      throw failure;
    });
    const index = await store.addTarball(tarball, {
      integrity,
      ...(logged.entry.artifact ? { sha256: logged.entry.artifact.sha256 } : {}),
      name: named.name,
      version: named.version,
    });
    this.fetched.count++;
    this.fetched.bytes += tarball.length;
    await this.#options.onTarball?.(logged.entry, tarball);
    return index;
  }
}

/**
 * Checks every registry package against the log, and fetches, verifies and
 * stores each tarball the store lacks as soon as its entry is known (if
 * `tarballs` has not started it already), so tarballs download while other
 * packages' documents are still arriving. A tarball is stored only once its
 * log entry is read; resolves once every package has passed its check; the
 * tarballs may still be arriving, so linking (which waits for all the
 * checks) overlaps them.
 */
async function checkAndFetch(
  packages: readonly PlacedPackage[],
  skipped: ReadonlyMap<string, unknown>,
  options: InstallOptions,
  tarballs: Tarballs,
): Promise<Fetched> {
  const { source } = options;
  source.prefetch([...new Set(packages.map((p) => p.name))]);
  const checks = packages.map((placed) => checkAgainstLog(placed, source));
  tarballs.total = new Set(
    packages.filter((p) => !skipped.has(p.location)).map((p) => `${p.name}@${p.version}`),
  ).size;
  const all = Promise.all(
    packages.map((p, i) =>
      skipped.has(p.location) ? undefined : checks[i].then((c) => tarballs.stored(c)),
    ),
  ).then(() => undefined);
  // The caller waits on it after linking; a failure meanwhile is its to report, not unhandled.
  all.catch(() => undefined);
  const checked = await Promise.all(checks);
  return {
    checked: new Map(checked.map((c) => [c.placed.location, c])),
    fetched: tarballs.fetched,
    indexes: tarballs.indexes,
    storedNow: tarballs.storedNow,
    stored: all,
  };
}

/**
 * Adds a version to the store by the files it lacks (an upgrade, a repair),
 * when the log names its file index and the reader can fetch files.
 * Undefined when the tarball is the better way, or this way failed: the
 * tarball, checked against the log, is then fetched as for any package.
 */
async function addVersionByFiles(
  { placed, logged }: { readonly placed: Named; readonly logged: Logged },
  integrity: string,
  { store, source }: InstallOptions,
  base?: FileIndex,
): Promise<AddedByFiles | undefined> {
  const { files, artifact } = logged.entry;
  if (!files || !artifact || !source.files) return undefined;
  return addByFiles(store, source.files, {
    name: placed.name,
    version: placed.version,
    integrity,
    sha256: artifact.sha256,
    files,
    tarballSize: artifact.size,
    ...(base ? { base } : {}),
  }).catch(() => undefined);
}

interface Linking {
  readonly linked: number;
  readonly removed: number;
  /** Folders directly in node_modules the install wrote, for the stamp. */
  readonly topFolders: readonly string[];
  /** The packages linked this time, each at the folder it was linked to (for their scripts). */
  readonly placed: ProjectTree;
}

/** What the last install left in node_modules, by its hidden lockfile; undefined when there is none. */
async function readPreviousInstall(
  projectDir: string,
): Promise<ReadonlyMap<string, PlacedPackage> | undefined> {
  try {
    return readLockfile(await readFile(join(projectDir, HIDDEN_LOCKFILE), "utf8")).tree.packages;
  } catch {
    return undefined;
  }
}

/** Links every package out of the store in the chosen layout, then the links and bins. */
async function linkTree(
  tree: ProjectTree,
  skipped: ReadonlyMap<string, unknown>,
  packages: ReadonlyMap<string, CheckedPackage>,
  { indexes, storedNow }: Pick<Fetched, "indexes" | "storedNow">,
  previous: ReadonlyMap<string, PlacedPackage> | undefined,
  options: InstallOptions,
  progress: (p: InstallProgress) => void,
): Promise<Linking> {
  const { projectDir, store, source } = options;
  const limit = pLimit(LINKS);
  // Where each package goes: its location (hoisted), or its own folder under .cairn (isolated).
  const isolated = options.layout === "isolated" ? isolatedLayout(tree, skipped) : undefined;
  const folderOf = (location: string) => isolated?.folders.get(location) ?? location;
  const wanted = new Map<string, CheckedPackage>();
  for (const [location, p] of packages) wanted.set(folderOf(location), p);
  const links = isolated
    ? isolated.links.map((l) => ({ path: l.path, link: l.link }))
    : [...tree.packages.values()]
        .filter((p) => p.link !== undefined && !skipped.has(p.location))
        .map((p) => ({ path: p.location, link: relativeLink(p.location, p.link as string) }));
  // An empty node_modules (the common fresh install) has no folder to clear before each link.
  const empty =
    (await readdir(join(projectDir, "node_modules")).catch(() => [] as string[])).length === 0;
  const stale = await staleFolders(projectDir, previous, wanted, links, isolated);
  await Promise.all(
    [...stale].map((f) => limit(() => rm(join(projectDir, f), { recursive: true, force: true }))),
  );
  const underStale = (folder: string) => {
    for (let at = folder; ; ) {
      if (stale.has(at)) return true;
      const cut = at.lastIndexOf("/node_modules/");
      if (cut < 0) return false;
      at = at.slice(0, cut);
    }
  };
  const kept = await Promise.all(
    [...wanted.keys()].map(
      async (folder) =>
        (isolated !== undefined || previous?.has(folder) === true) &&
        !underStale(folder) &&
        (await stat(join(projectDir, folder, "package.json")).then(
          () => true,
          () => false,
        )),
    ),
  );
  const toLink = [...wanted].filter((_, i) => !kept[i]);
  let done = 0;
  // A package nested in another is linked after it: the outer one's folder is emptied first.
  const tasks = new Map<string, Promise<void>>();
  const outer = (folder: string) => {
    for (let at = folder, cut = at.lastIndexOf("/node_modules/"); cut >= 0; ) {
      at = at.slice(0, cut);
      const task = tasks.get(at);
      if (task) return task;
      cut = at.lastIndexOf("/node_modules/");
    }
    return undefined;
  };
  const depth = (folder: string) => folder.split("/node_modules/").length;
  for (const [folder, { placed, logged }] of [...toLink].sort(([a], [b]) => depth(a) - depth(b))) {
    const before = outer(folder);
    tasks.set(
      folder,
      (async () => {
        // Waited for outside the limit, so a package still downloading holds no linking slot.
        const index = await (indexes.get(logged.integrity as string) ??
          store.getIndex(logged.integrity as string));
        if (!index)
          throw new InstallError(
            "store-damaged",
            `${placed.name}@${placed.version} left the store`,
          );
        await before;
        await limit(async () => {
          // What was there (an unknown install's files) goes first: the folder holds this package only.
          if (!empty) await rm(join(projectDir, folder), { recursive: true, force: true });
          await linkPackage(store, index, join(projectDir, folder), {
            justStored: storedNow.has(logged.integrity as string),
            repairFiles: async () =>
              (await addVersionByFiles({ placed, logged }, index.tarball.integrity, options)) !==
              undefined,
            refetch: () => source.tarball(logged.entry),
          });
          progress({ phase: "linking", done: ++done, total: toLink.length, bytes: 0 });
        });
      })(),
    );
  }
  await Promise.all(tasks.values());
  const bins = isolated
    ? isolatedBinLinks(tree, isolated)
    : binLinks(tree, skipped).map((bin) => ({
        path: `${bin.dir}/${bin.name}`,
        link: bin.link,
        target: bin.target,
      }));
  await pruneBins(projectDir, bins);
  await Promise.all(
    [...links, ...bins].map((l) => limit(() => replaceSymlink(join(projectDir, l.path), l.link))),
  );
  // npm makes every bin target executable; a store file is shared, so one that is not gets a copy.
  await Promise.all(bins.map((b) => limit(() => makeExecutable(join(projectDir, b.target)))));
  const topFolders = new Set<string>();
  for (const folder of wanted.keys())
    topFolders.add(
      folder
        .split("/")
        .slice(0, folder.startsWith("node_modules/@") ? 3 : 2)
        .join("/"),
    );
  const placed = new Map<string, PlacedPackage>();
  for (const [folder, { placed: p }] of toLink) placed.set(folder, { ...p, location: folder });
  return {
    linked: toLink.length,
    removed: [...stale].filter((f) => !wanted.has(f)).length,
    topFolders: [...topFolders],
    placed: { root: tree.root, packages: placed },
  };
}

/** Removes the commands of .bin folders the new install does not link (an uninstalled package's). */
async function pruneBins(projectDir: string, bins: readonly { path: string }[]): Promise<void> {
  const wanted = new Set(bins.map((b) => b.path));
  const dirs = new Set(["node_modules/.bin", ...bins.map((b) => dirname(b.path))]);
  for (const dir of dirs) {
    const names = await readdir(join(projectDir, dir)).catch(() => [] as string[]);
    for (const name of names)
      if (!wanted.has(`${dir}/${name}`)) await rm(join(projectDir, dir, name), { force: true });
  }
}

/** A package fetched from the registry: not a link, not bundled in another, not a workspace's own folder. */
function fromRegistry(p: PlacedPackage): boolean {
  return p.link === undefined && !p.inBundle && p.location.includes("node_modules/");
}

/**
 * What the last install left that this one must remove. Hoisted: the
 * hidden lockfile says what the last install put where; a folder holding
 * another version goes, and so does a link that now points elsewhere or is
 * no longer wanted. Without a hidden lockfile, nothing there is known:
 * every package folder that is not wanted goes. Isolated: folders are
 * named by name and version, so one that exists holds the right one; what
 * no longer belongs under node_modules/.cairn goes, and so do the last
 * hoisted install's folders.
 */
async function staleFolders(
  projectDir: string,
  previous: ReadonlyMap<string, PlacedPackage> | undefined,
  wanted: ReadonlyMap<string, CheckedPackage>,
  links: readonly { path: string; link: string }[],
  isolated: ReturnType<typeof isolatedLayout> | undefined,
): Promise<Set<string>> {
  const stale = new Set<string>();
  const isolatedEntries = await readdir(join(projectDir, ISOLATED_ROOT)).catch(
    () => [] as string[],
  );
  const linkTargets = new Map(links.map((l) => [l.path, l.link]));
  if (previous === undefined) {
    for (const folder of await packageFolders(projectDir))
      if (!wanted.has(folder) && !linkTargets.has(folder)) stale.add(folder);
  } else {
    for (const [location, p] of previous) {
      const keepsLink =
        p.link !== undefined && linkTargets.get(location) === relativeLink(location, p.link);
      const keepsFolder = p.link === undefined && sameVersion(wanted.get(location)?.placed, p);
      if (!keepsLink && !keepsFolder && !(isolated && linkTargets.has(location)))
        stale.add(location);
    }
  }
  if (!isolated) {
    // From an isolated layout to a hoisted one: nothing of it stays.
    if (isolatedEntries.length > 0) stale.add(ISOLATED_ROOT);
    return stale;
  }
  for (const entry of isolatedEntries) {
    const folder = `${ISOLATED_ROOT}/${entry}`;
    if (![...wanted.keys()].some((w) => w.startsWith(`${folder}/`))) stale.add(folder);
  }
  return stale;
}

/** The package folders directly in node_modules (and in its scopes): what an unknown install left. */
async function packageFolders(projectDir: string): Promise<string[]> {
  const folders: string[] = [];
  const top = await readdir(join(projectDir, "node_modules")).catch(() => [] as string[]);
  for (const name of top) {
    if (name.startsWith(".")) continue;
    if (!name.startsWith("@")) {
      folders.push(`node_modules/${name}`);
      continue;
    }
    for (const scoped of await readdir(join(projectDir, "node_modules", name)).catch(
      () => [] as string[],
    ))
      folders.push(`node_modules/${name}/${scoped}`);
  }
  return folders;
}

function sameVersion(a: PlacedPackage | undefined, b: PlacedPackage): boolean {
  return (
    a !== undefined && a.name === b.name && a.version === b.version && a.integrity === b.integrity
  );
}

/** A symlink's text at `from` that points at `to` (both relative to the project). */
function relativeLink(from: string, to: string): string {
  return posix.relative(posix.dirname(from), to);
}

async function makeExecutable(path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (!info || (info.mode & 0o111) === 0o111) return;
  const copy = `${path}.cairn-exec`;
  await copyFile(path, copy);
  await chmod(copy, 0o755);
  await rename(copy, path);
}

async function replaceSymlink(path: string, target: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { recursive: true, force: true });
  await symlink(target, path);
}

/** The tree with each package's SHA-256 and log index as the log binds them, for the lockfile. */
function withLoggedHashes(
  tree: ProjectTree,
  logged: ReadonlyMap<string, CheckedPackage>,
): ProjectTree {
  const packages = new Map<string, PlacedPackage>();
  for (const [location, p] of tree.packages) {
    const l = logged.get(location)?.logged;
    const sha256 = l?.entry.artifact?.sha256;
    packages.set(
      location,
      l
        ? {
            ...p,
            ...(l.integrity ? { integrity: l.integrity } : {}),
            ...(sha256 ? { sha256 } : {}),
            logIndex: l.index,
          }
        : p,
    );
  }
  return { root: tree.root, packages };
}

function installedOnly(tree: ProjectTree, skipped: ReadonlyMap<string, unknown>): ProjectTree {
  return {
    root: tree.root,
    packages: new Map([...tree.packages].filter(([location]) => !skipped.has(location))),
  };
}

export { STAMP_PATH };
