/**
 * The isolated (pnpm-style) layout of a planned tree, as a plan of folders
 * and symlinks (no I/O). Each package version gets one real folder,
 * `node_modules/.cairn/<name>@<version>/node_modules/<name>` (a scope's `/`
 * written `+`), and beside it, in the same `node_modules`, a symlink for
 * each of its dependencies to that dependency's own folder; so a package
 * sees exactly what it declares, and Node's resolution from its real path
 * finds them. The project's direct dependencies (and each workspace's) are
 * symlinks in its own `node_modules`.
 *
 * A package's dependencies are the ones npm's hoisted plan resolves for it
 * (Node's lookup from its location there), so both layouts run the same
 * versions. When one version resolves differently in two places (a peer
 * dependency met by different versions), the second gets its own folder,
 * `<name>@<version>_<n>`, as pnpm gives each peer context its own.
 *
 * Bins go where the dependencies are linked, as pnpm puts them: each
 * `node_modules` that links dependencies gets a `.bin` with theirs (the
 * project's own for its direct dependencies, and each package's folder
 * for its own, where its scripts find them on PATH).
 */
import { posix } from "node:path";
import { normalizeBin } from "./bin-links.ts";
import { compareText } from "./place-dep.ts";
import type { PlacedPackage, ProjectTree } from "./tree.ts";

export interface IsolatedLink {
  /** The symlink, relative to the project. */
  readonly path: string;
  /** Its text: the target relative to the symlink's folder. */
  readonly link: string;
  /** The target, relative to the project. */
  readonly target: string;
}

export interface IsolatedLayout {
  /** Each package's real folder, by its location in the hoisted plan. */
  readonly folders: ReadonlyMap<string, string>;
  readonly links: readonly IsolatedLink[];
}

const STORE = "node_modules/.cairn";

/** Where `name` is found from `location` by Node's lookup in the hoisted plan. */
function lookup(tree: ProjectTree, location: string, name: string): PlacedPackage | undefined {
  for (let base = location; ; ) {
    const found = tree.packages.get(`${base ? `${base}/` : ""}node_modules/${name}`);
    if (found || !base) return found;
    const up = base.lastIndexOf("/node_modules/");
    base = up < 0 ? "" : base.slice(0, up);
  }
}

function dependencyNames(manifest: Readonly<Record<string, unknown>>, top: boolean): string[] {
  const fields = ["dependencies", "optionalDependencies", "peerDependencies"];
  if (top) fields.push("devDependencies");
  const names = new Set<string>();
  for (const field of fields) {
    const value = manifest[field];
    if (value && typeof value === "object") for (const n of Object.keys(value)) names.add(n);
  }
  return [...names].sort(compareText);
}

/** The package a location holds, through a workspace link to the workspace's own entry. */
function real(tree: ProjectTree, p: PlacedPackage): PlacedPackage {
  return (p.link !== undefined && tree.packages.get(p.link)) || p;
}

/**
 * Which placed copies are the same package in the same context: the same
 * name and version whose dependencies are, in turn, the same (refined until
 * stable, so cycles and deep differences count).
 */
function sameResolution(
  tree: ProjectTree,
  installed: readonly PlacedPackage[],
  resolutions: ReadonlyMap<string, readonly [string, string][]>,
): Map<string, number> {
  const intern = (labels: Map<string, string>) => {
    const ids = new Map<string, number>();
    const classes = new Map<string, number>();
    for (const [location, label] of labels) {
      const id = ids.get(label) ?? ids.size;
      ids.set(label, id);
      classes.set(location, id);
    }
    return { classes, count: ids.size };
  };
  let current = intern(
    new Map(installed.map((p) => [p.location, `${real(tree, p).name}@${p.version}`])),
  );
  for (;;) {
    const labels = new Map<string, string>();
    for (const p of installed) {
      const deps = (resolutions.get(p.location) ?? []).map(
        ([name, location]) => `${name}=${current.classes.get(location) ?? location}`,
      );
      labels.set(p.location, `${current.classes.get(p.location)} ${deps.join(" ")}`);
    }
    const next = intern(labels);
    if (next.count === current.count) return next.classes;
    current = next;
  }
}

export function isolatedLayout(
  tree: ProjectTree,
  skipped: ReadonlyMap<string, unknown> = new Map(),
): IsolatedLayout {
  const folders = new Map<string, string>();
  const byClass = new Map<number, string>();
  const used = new Map<string, number>();
  const installed = [...tree.packages.values()].filter(
    (p) => !skipped.has(p.location) && p.link === undefined,
  );
  /** Each dependency name -> the location it resolves to, from `p`'s place. */
  const resolutionOf = (p: PlacedPackage, top: boolean) => {
    const found: [string, string][] = [];
    for (const name of dependencyNames(p.manifest, top)) {
      const dep = lookup(tree, p.location, name);
      if (dep && !skipped.has(dep.location)) found.push([name, real(tree, dep).location]);
    }
    return found;
  };
  const resolutions = new Map<string, [string, string][]>();
  for (const p of installed) {
    resolutions.set(p.location, resolutionOf(p, !p.location.includes("node_modules/")));
  }
  const classes = sameResolution(tree, installed, resolutions);
  for (const p of installed) {
    if (!p.location.includes("node_modules/")) {
      folders.set(p.location, p.location);
      continue;
    }
    const id = `${p.name.replace("/", "+")}@${p.version}`;
    const key = classes.get(p.location) as number;
    let folder = byClass.get(key);
    if (!folder) {
      const n = used.get(id) ?? 0;
      used.set(id, n + 1);
      folder = `${STORE}/${n === 0 ? id : `${id}_${n}`}/node_modules/${p.name}`;
      byClass.set(key, folder);
    }
    folders.set(p.location, folder);
  }
  const links: IsolatedLink[] = [];
  const linked = new Set<string>();
  const link = (path: string, target: string) => {
    if (linked.has(path)) return;
    linked.add(path);
    links.push({ path, target, link: posix.relative(posix.dirname(path), target) });
  };
  const nodeModulesOf = (folder: string) =>
    folder.startsWith(`${STORE}/`)
      ? folder.slice(0, folder.lastIndexOf("node_modules/") + "node_modules".length)
      : folder === ""
        ? "node_modules"
        : `${folder}/node_modules`;
  const linkDependencies = (folder: string, deps: readonly [string, string][]) => {
    for (const [name, location] of deps) {
      const target = folders.get(location);
      if (target !== undefined) link(`${nodeModulesOf(folder)}/${name}`, target);
    }
  };
  const rootDeps = dependencyNames(tree.root.manifest, true).flatMap((name): [string, string][] => {
    const dep = tree.packages.get(`node_modules/${name}`);
    return dep && !skipped.has(dep.location) ? [[name, real(tree, dep).location]] : [];
  });
  linkDependencies("", rootDeps);
  for (const p of tree.packages.values()) {
    if (p.link !== undefined) link(p.location, p.link);
  }
  for (const p of installed) {
    const folder = folders.get(p.location) as string;
    linkDependencies(folder, resolutions.get(p.location) ?? []);
  }
  return { folders, links };
}

/** A `.bin` link of the isolated layout. */
export interface IsolatedBin {
  /** The link, relative to the project: `node_modules/.bin/tsc`. */
  readonly path: string;
  readonly link: string;
  /** The file it runs, relative to the project. */
  readonly target: string;
}

/**
 * The bins of every dependency linked in the layout, in the `.bin` of the
 * `node_modules` that links it; when two claim one name there, the first
 * dependency by name wins. A workspace's links bring no bins (as hoisted).
 */
export function isolatedBinLinks(tree: ProjectTree, layout: IsolatedLayout): IsolatedBin[] {
  const byFolder = new Map<string, PlacedPackage>();
  for (const p of tree.packages.values()) {
    const folder = layout.folders.get(p.location);
    if (p.link === undefined && folder?.startsWith(`${STORE}/`)) byFolder.set(folder, p);
  }
  const bins: IsolatedBin[] = [];
  const claimed = new Set<string>();
  for (const l of [...layout.links].sort((a, b) => compareText(a.path, b.path))) {
    const p = byFolder.get(l.target);
    if (!p) continue;
    const cut = l.path.lastIndexOf("node_modules/") + "node_modules/".length;
    const dir = `${l.path.slice(0, cut)}.bin`;
    for (const [name, file] of normalizeBin({ name: p.name, ...p.manifest })) {
      const path = `${dir}/${name}`;
      if (claimed.has(path)) continue;
      claimed.add(path);
      const target = `${l.target}/${file}`;
      bins.push({ path, target, link: posix.relative(dir, target) });
    }
  }
  return bins;
}
