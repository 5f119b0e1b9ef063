/**
 * `cairn install`: plan the tree (from the lockfile when it agrees with
 * package.json, else as npm would), check every package against the log,
 * fetch what the store lacks through the verifying reader, link each
 * package out of the store into node_modules, link bins, run the scripts
 * the project trusts, and write the lockfile. Nothing is linked that was
 * not checked: a tarball is verified against the log entry's hashes by the
 * reader, against the lockfile's integrity here, and unpacked by the store
 * only after its own integrity check.
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
import { dirname, join } from "node:path";
import pLimit from "p-limit";
import semver from "semver";
import { fitsPlatform, hostPlatform, pickVersion } from "../client/resolve.ts";
import { binLinks } from "./bin-links.ts";
import type { FileIndex } from "./file-index.ts";
import { type OmitKind, type PlannedTree, planTree } from "./ideal-tree.ts";
import { InstallError } from "./install-error.ts";
import { isolatedLayout } from "./isolated.ts";
import { linkPackage } from "./link.ts";
import { lockfileDisagreement, withoutUnreachable } from "./lock-sync.ts";
import { readLockfile, writeLockfile } from "./lockfile.ts";
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
  const { projectDir } = options;
  const progress = options.onProgress ?? (() => {});
  await editPackageJson(options);
  const project = await readProject(projectDir);
  const lockText = await readFile(join(projectDir, LOCKFILE), "utf8").catch(() => undefined);
  progress({ phase: "resolving", done: 0, total: 0, bytes: 0 });
  const planned = await treeOf(project, lockText, options);
  const tree = planned.tree;
  const installed = [...tree.packages.values()].filter(
    (p) => fromRegistry(p) && !planned.skipped.has(p.location),
  );
  // Every registry package is checked against the log, those other platforms install too, so
  // the lockfile carries the log's hashes for all of them.
  const inRegistry = [...tree.packages.values()].filter(fromRegistry);
  const { checked, fetched, indexes } = await checkAndFetch(
    inRegistry,
    planned.skipped,
    options,
    progress,
  );
  const logged = new Map([...checked].filter(([location]) => !planned.skipped.has(location)));
  // node_modules is about to change: until this install ends well, nothing says it is up to date.
  await rm(join(projectDir, STAMP_PATH), { force: true });
  const linking = await linkTree(tree, planned.skipped, logged, indexes, options, progress);
  let scripts: ScriptsReport = { ran: [], skipped: [] };
  if (!options.ignoreScripts) {
    progress({ phase: "scripts", done: 0, total: 0, bytes: 0 });
    scripts = await runInstallScripts(
      projectDir,
      tree,
      trustedDependencies(project.root.manifest),
      { root: true, stdio: options.scriptOutput ?? "inherit" },
    );
  }
  const withHashes = withLoggedHashes(tree, checked);
  const lockfile = writeLockfile(withHashes);
  if (lockfile !== lockText) await writeFile(join(projectDir, LOCKFILE), lockfile);
  await writeFile(
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
    await makeStamp(projectDir, inputs, options.stampOptions, linking.topFolders),
  );
  return {
    packages: installed.length,
    fetched: fetched.count,
    fetchedBytes: fetched.bytes,
    linked: linking.linked,
    removed: linking.removed,
    fromLockfile: planned.fromLockfile,
    scripts,
    warnings: planned.warnings,
  };
}

/** `cairn install <pkg>` and `cairn uninstall <pkg>`: package.json changed first, as npm does. */
async function editPackageJson(options: InstallOptions): Promise<void> {
  if (!options.add?.length && !options.remove?.length) return;
  if (options.frozen)
    throw new InstallError("out-of-sync", "a frozen install (cairn ci) never changes package.json");
  const path = join(options.projectDir, "package.json");
  let text = await readFile(path, "utf8").catch(() => {
    throw new InstallError("no-project", `no package.json in ${options.projectDir}`);
  });
  for (const name of options.remove ?? []) text = removeDependency(text, name);
  for (const { name, spec } of options.add ?? []) {
    const pkg = await options.source.get(name);
    if (!pkg) throw new InstallError("unresolvable", `${name}: no such package in the registry`);
    const picked = pickVersion(() => pkg, name, spec);
    if ("reason" in picked)
      throw new InstallError("unresolvable", `${name}@${spec}: ${picked.reason}`);
    // npm saves what was asked for when it is a range, else ^ the version it picked.
    const saved =
      spec !== "" && spec !== "latest" && !options.saveExact && /[\^~<>=*x| ]/.test(spec)
        ? spec
        : savedSpec(picked.version, { exact: options.saveExact === true });
    text = addDependency(text, name, saved, options.saveDev ? "dev" : "prod");
  }
  await writeFile(path, text);
}

interface Planned {
  readonly tree: ProjectTree;
  readonly skipped: ReadonlyMap<string, unknown>;
  readonly fromLockfile: boolean;
  readonly warnings: readonly string[];
}

/** The lockfile's tree when it agrees with package.json; else a fresh plan (refused for `ci`). */
async function treeOf(
  project: Project,
  lockText: string | undefined,
  options: InstallOptions,
): Promise<Planned> {
  if (lockText !== undefined) {
    const { tree } = readLockfile(lockText);
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

interface CheckedPackage {
  readonly placed: PlacedPackage;
  readonly logged: Awaited<ReturnType<RegistrySource["version"]>> & object;
}

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
  readonly fetched: { count: number; bytes: number };
  /** The store's index of each package to install, by integrity. */
  readonly indexes: Map<string, FileIndex>;
}

/**
 * Checks every registry package against the log, and fetches, verifies and
 * stores each tarball the store lacks as soon as its entry is known, so
 * tarballs download while other packages' documents are still arriving.
 * A tarball is stored only once its own package passed the check; linking
 * waits for all of them.
 */
async function checkAndFetch(
  packages: readonly PlacedPackage[],
  skipped: ReadonlyMap<string, unknown>,
  options: InstallOptions,
  progress: (p: InstallProgress) => void,
): Promise<Fetched> {
  const { store, source } = options;
  source.prefetch([...new Set(packages.map((p) => p.name))]);
  const checks = packages.map((placed) => checkAgainstLog(placed, source));
  const indexes = new Map<string, Promise<FileIndex>>();
  const fetched = { count: 0, bytes: 0 };
  const limit = pLimit(FETCHES);
  const total = new Set(
    packages.filter((p) => !skipped.has(p.location)).map((p) => `${p.name}@${p.version}`),
  ).size;
  let done = 0;
  const fetch = async ({ placed, logged }: CheckedPackage, integrity: string) => {
    const tarball = await source.tarball(logged.entry);
    const index = await store.addTarball(tarball, {
      integrity,
      ...(logged.entry.artifact ? { sha256: logged.entry.artifact.sha256 } : {}),
      name: placed.name,
      version: placed.version,
    });
    fetched.count++;
    fetched.bytes += tarball.length;
    return index;
  };
  const stored = async (checked: CheckedPackage): Promise<FileIndex> => {
    const { placed, logged } = checked;
    // Only a package this machine installs needs one: another platform's is never fetched.
    if (logged.integrity === undefined)
      throw new InstallError(
        "bad-integrity",
        `${placed.name}@${placed.version} has no SHA-512 integrity in the log`,
      );
    const integrity = logged.integrity;
    let index = indexes.get(integrity);
    if (!index) {
      index = store
        .getIndex(integrity)
        .then((held) => held ?? limit(() => fetch(checked, integrity)))
        .then((held) => {
          progress({ phase: "fetching", done: ++done, total, bytes: fetched.bytes });
          return held;
        });
      indexes.set(integrity, index);
    }
    return index;
  };
  const [checked] = await Promise.all([
    Promise.all(checks),
    Promise.all(
      packages.map((p, i) => (skipped.has(p.location) ? undefined : checks[i].then(stored))),
    ),
  ]);
  const settled = new Map<string, FileIndex>();
  for (const [integrity, index] of indexes) settled.set(integrity, await index);
  return {
    checked: new Map(checked.map((c) => [c.placed.location, c])),
    fetched,
    indexes: settled,
  };
}

interface Linking {
  readonly linked: number;
  readonly removed: number;
  /** Folders directly in node_modules the install wrote, for the stamp. */
  readonly topFolders: readonly string[];
}

/** Links every package out of the store in the chosen layout, then the bins. */
async function linkTree(
  tree: ProjectTree,
  skipped: ReadonlyMap<string, unknown>,
  packages: ReadonlyMap<string, CheckedPackage>,
  indexes: ReadonlyMap<string, FileIndex>,
  options: InstallOptions,
  progress: (p: InstallProgress) => void,
): Promise<Linking> {
  const { projectDir, store, source } = options;
  const previous = await readFile(join(projectDir, HIDDEN_LOCKFILE), "utf8")
    .then((text) => readLockfile(text).tree.packages)
    .catch(() => new Map<string, PlacedPackage>());
  // Where each package goes: its location (hoisted), or its own folder under .cairn (isolated).
  const isolated = options.layout === "isolated" ? isolatedLayout(tree, skipped) : undefined;
  const folderOf = (location: string) => isolated?.folders.get(location) ?? location;
  const wanted = new Map<string, CheckedPackage>();
  for (const [location, p] of packages) wanted.set(folderOf(location), p);
  const { stale, keep } = await staleFolders(projectDir, previous, wanted, isolated);
  const removed = [...stale].filter((f) => !wanted.has(f)).length;
  await Promise.all(
    [...stale].map((f) => rm(join(projectDir, f), { recursive: true, force: true })),
  );
  const kept = await Promise.all(
    [...wanted.keys()].map(
      async (folder) =>
        keep(folder) &&
        ![...stale].some((s) => folder.startsWith(`${s}/`)) &&
        (await stat(join(projectDir, folder, "package.json")).then(
          () => true,
          () => false,
        )),
    ),
  );
  const toLink = [...wanted].filter((_, i) => !kept[i]);
  const limit = pLimit(LINKS);
  let done = 0;
  await Promise.all(
    toLink.map(([folder, { placed, logged }]) =>
      limit(async () => {
        const index =
          indexes.get(logged.integrity as string) ??
          (await store.getIndex(logged.integrity as string));
        if (!index)
          throw new InstallError(
            "store-damaged",
            `${placed.name}@${placed.version} left the store`,
          );
        await linkPackage(store, index, join(projectDir, folder), {
          refetch: () => source.tarball(logged.entry),
        });
        progress({ phase: "linking", done: ++done, total: toLink.length, bytes: 0 });
      }),
    ),
  );
  const links = isolated
    ? isolated.links.map((l) => ({ path: l.path, link: l.link }))
    : [...tree.packages.values()]
        .filter((p) => p.link !== undefined && !skipped.has(p.location))
        .map((p) => ({ path: p.location, link: relativeLink(p.location, p.link as string) }));
  const executables: string[] = [];
  for (const bin of binLinks(tree, skipped)) {
    // Isolated: only the project's own .bin, for its direct dependencies (as pnpm links them).
    if (isolated && bin.dir !== "node_modules/.bin") continue;
    const target = folderOf(bin.from) + bin.target.slice(bin.from.length);
    links.push({
      path: `${bin.dir}/${bin.name}`,
      link: isolated ? relativeLink(`${bin.dir}/${bin.name}`, target) : bin.link,
    });
    executables.push(target);
  }
  await Promise.all(
    links.map((l) => limit(() => replaceSymlink(join(projectDir, l.path), l.link))),
  );
  // npm makes every bin target executable; a store file is shared, so one that is not gets a copy.
  await Promise.all(executables.map((t) => limit(() => makeExecutable(join(projectDir, t)))));
  const topFolders = new Set<string>();
  for (const folder of wanted.keys())
    topFolders.add(
      folder
        .split("/")
        .slice(0, folder.startsWith("node_modules/@") ? 3 : 2)
        .join("/"),
    );
  return { linked: toLink.length, removed, topFolders: [...topFolders] };
}

/** A package fetched from the registry: not a link, not bundled in another, not a workspace's own folder. */
function fromRegistry(p: PlacedPackage): boolean {
  return p.link === undefined && !p.inBundle && p.location.includes("node_modules/");
}

/**
 * What the last install left that this one must remove, and whether a
 * wanted folder may stay as it is (if it is still there). Hoisted: the
 * hidden lockfile says what the last install put where; a folder holding
 * another version goes. Isolated: folders are named by name and version,
 * so one that exists holds the right one; what no longer belongs under
 * node_modules/.cairn goes, and so do the last hoisted install's folders.
 */
async function staleFolders(
  projectDir: string,
  previous: ReadonlyMap<string, PlacedPackage>,
  wanted: ReadonlyMap<string, CheckedPackage>,
  isolated: ReturnType<typeof isolatedLayout> | undefined,
): Promise<{ stale: Set<string>; keep: (folder: string) => boolean }> {
  const stale = new Set<string>();
  const cairnDir = join(projectDir, ISOLATED_ROOT);
  const entries = await readdir(cairnDir).catch(() => [] as string[]);
  if (!isolated) {
    // From an isolated layout to a hoisted one: nothing of it stays.
    if (entries.length > 0) {
      stale.add(ISOLATED_ROOT);
      for (const location of previous.keys()) stale.add(location);
      return { stale, keep: () => false };
    }
    for (const [folder, p] of previous)
      if (p.link === undefined && !sameVersion(wanted.get(folder)?.placed, p)) stale.add(folder);
    return { stale, keep: (folder) => previous.has(folder) && !stale.has(folder) };
  }
  const linked = new Set(isolated.links.map((l) => l.path));
  for (const location of previous.keys())
    if (!linked.has(location) && !location.startsWith(`${ISOLATED_ROOT}/`)) stale.add(location);
  for (const entry of entries) {
    const folder = `${ISOLATED_ROOT}/${entry}`;
    if (![...wanted.keys()].some((w) => w.startsWith(`${folder}/`))) stale.add(folder);
  }
  return { stale, keep: () => true };
}

function sameVersion(a: PlacedPackage | undefined, b: PlacedPackage): boolean {
  return (
    a !== undefined && a.name === b.name && a.version === b.version && a.integrity === b.integrity
  );
}

function relativeLink(from: string, to: string): string {
  const up = from.split("/").length - 1;
  return `${"../".repeat(up)}${to}`;
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
