/**
 * Whether a lockfile still fits its project, for `cairn ci`: the rule
 * `npm ci` applies. npm builds its ideal tree from the lockfile; it keeps
 * every locked package whose dependency edges hold and re-resolves the
 * rest, then refuses ("can only install packages when your package.json
 * and package-lock.json … are in sync") if the result holds a package the
 * lockfile lacks or a different version at the same location. An edge
 * needs re-resolving when (arborist's build-ideal-tree and edge.js):
 * - nothing answers it, unless it is an optional peer (a missing plain
 *   optional dependency is re-resolved, so it counts);
 * - what answers it does not satisfy its range (or its
 *   acceptDependencies range), an optional peer excepted, which npm ci
 *   trusts the lockfile for; npm then keeps a package farther up the
 *   tree that does satisfy it (and prunes the near one), so only an edge
 *   nothing on its path satisfies counts;
 * - it is a peer dependency installed below the package itself (not at
 *   the project or a workspace: "PEER LOCAL").
 * Edges are followed from the project and each workspace through the
 * packages they reach, skipping those a parent bundles. A dependency
 * removed from package.json does not fail `npm ci` (the package is pruned),
 * and neither does one removed from a workspace, so neither fails here.
 *
 * A dist-tag spec (`"x": "latest"`) is satisfied by the version the tag
 * names now, which the caller looks up (npm ci re-resolves it and fails
 * if the tag moved); without a lookup it is taken as satisfied.
 * Not modelled: `overrides`, which change edges: a project with them is only checked
 * at its own and its workspaces' edges.
 */
import { parseSpec } from "../client/resolve.ts";
import { InstallError } from "./install-error.ts";
import { isObject } from "./json-input.ts";
import type { Importer, Project } from "./project.ts";
import type { PlacedPackage, ProjectTree } from "./tree.ts";

interface Edge {
  readonly name: string;
  readonly spec: string;
  readonly type: "peer" | "peerOptional" | "prod" | "optional" | "dev";
  readonly accept?: string;
}

const specs = (v: unknown): [string, string][] =>
  isObject(v)
    ? Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string")
    : [];

/** arborist's Node#loadDeps: later kinds replace earlier ones for the same name. */
function edgesOf(manifest: Readonly<Record<string, unknown>>, isTop: boolean): Edge[] {
  const accept = new Map(specs(manifest.acceptDependencies));
  const meta = isObject(manifest.peerDependenciesMeta) ? manifest.peerDependenciesMeta : {};
  const edges = new Map<string, Edge>();
  const add = (deps: unknown, type: (name: string) => Edge["type"]) => {
    for (const [name, spec] of specs(deps))
      edges.set(name, { name, spec, type: type(name), accept: accept.get(name) });
  };
  add(manifest.peerDependencies, (n) =>
    isObject(meta[n]) && meta[n].optional === true ? "peerOptional" : "peer",
  );
  add(manifest.dependencies, () => "prod");
  add(manifest.optionalDependencies, () => "optional");
  if (isTop) add(manifest.devDependencies, () => "dev");
  return [...edges.values()];
}

/**
 * The packages named `name` that a package at `from` could get, nearest
 * first: Node's resolution, up through node_modules folders (a workspace's
 * folder falls back to the project's, its fsParent).
 */
function candidates(tree: ProjectTree, from: string, name: string): PlacedPackage[] {
  const found: PlacedPackage[] = [];
  let at = from;
  for (;;) {
    const p = tree.packages.get(at === "" ? `node_modules/${name}` : `${at}/node_modules/${name}`);
    if (p) found.push(p);
    if (at === "") return found;
    const cut = at.lastIndexOf("/node_modules/");
    at = cut < 0 ? "" : at.slice(0, cut);
  }
}

export interface CheckOptions {
  /** The version a package's dist-tag names now (from the index), or undefined when unknown. */
  readonly distTag?: (name: string, tag: string) => string | undefined;
  /**
   * Whether the registry has no version of an optional dependency. npm ci
   * refuses a lockfile that leaves out an optional dependency even then
   * (its ideal tree keeps the failed node); `cairn ci` accepts it, since
   * `cairn install` against that registry can write no other lockfile.
   */
  readonly unavailable?: (name: string, spec: string) => boolean;
}

/** Whether `version` satisfies `spec`, for pruning: a spec that names no range (a tag, git) counts as met. */
function fitsSpec(version: string, spec: string, name: string): boolean {
  try {
    return satisfies(version, spec, name, {});
  } catch {
    return true;
  }
}

/** arborist's depValid for a registry spec, or why the spec cannot be installed from a registry. */
function satisfies(version: string, spec: string, name: string, options: CheckOptions): boolean {
  const parsed = parsedSpec(name, spec);
  if (typeof parsed === "string")
    throw new InstallError("unsupported-source", `${name}@${spec}: ${parsed}`);
  if ("tag" in parsed) {
    const tagged = options.distTag?.(parsed.name, parsed.tag);
    return tagged === undefined || tagged === version;
  }
  return parsed.any || parsed.range.test(version);
}

/** Parsed specs by name and spec: a tree repeats a few hundred of them thousands of times. */
const parsedSpecs = new Map<string, ReturnType<typeof parseSpec>>();
const MAX_PARSED_SPECS = 10_000;

function parsedSpec(name: string, spec: string): ReturnType<typeof parseSpec> {
  const key = `${name}\0${spec}`;
  let parsed = parsedSpecs.get(key);
  if (parsed === undefined) {
    if (parsedSpecs.size >= MAX_PARSED_SPECS) parsedSpecs.clear();
    parsed = parseSpec(name, spec);
    parsedSpecs.set(key, parsed);
  }
  return parsed;
}

function bundled(p: PlacedPackage): (name: string) => boolean {
  const bd = p.manifest.bundleDependencies;
  if (bd === true) return () => true;
  const names = new Set(Array.isArray(bd) ? bd : []);
  return (name) => names.has(name);
}

/** The first way the lockfile and the project disagree, as `npm ci` words it, or undefined when they agree. */
export function lockfileDisagreement(
  project: Project,
  tree: ProjectTree,
  options: CheckOptions = {},
): string | undefined {
  for (const ws of project.workspaces) {
    const link = tree.packages.get(`node_modules/${ws.name}`);
    if (link?.link !== ws.location || !tree.packages.has(ws.location))
      return `Missing: workspace ${ws.name} (${ws.location}) from lock file`;
  }
  const nested = project.root.manifest.overrides === undefined;
  const importers: Importer[] = [project.root, ...project.workspaces];
  const queue: {
    location: string;
    manifest: Readonly<Record<string, unknown>>;
    isTop: boolean;
    skip: (n: string) => boolean;
  }[] = importers.map((i) => ({
    location: i.location,
    manifest: i.manifest,
    isTop: true,
    skip: () => false,
  }));
  const seen = new Set<string>(importers.map((i) => i.location));
  for (const node of queue) {
    for (const edge of edgesOf(node.manifest, node.isTop)) {
      if (node.skip(edge.name)) continue;
      const reachable = candidates(tree, node.location, edge.name);
      const nearest = reachable[0];
      if (!nearest) {
        if (edge.type === "peerOptional") continue;
        if (edge.type === "optional" && options.unavailable?.(edge.name, edge.spec)) continue;
        return `Missing: ${edge.name}@${edge.spec} from lock file`;
      }
      const peerLocal =
        (edge.type === "peer" || edge.type === "peerOptional") &&
        !node.isTop &&
        nearest.location === `${node.location}/node_modules/${edge.name}`;
      if (peerLocal)
        return `Invalid: ${edge.name} is a peer of ${node.location} installed below it`;
      const fits = (p: PlacedPackage) => {
        const target = p.link === undefined ? p : tree.packages.get(p.link);
        if (!target) return false;
        return (
          satisfies(target.version, edge.spec, edge.name, options) ||
          (edge.accept !== undefined && satisfies(target.version, edge.accept, edge.name, options))
        );
      };
      if (edge.type === "peerOptional" && !fits(nearest)) continue;
      // npm re-resolves an edge its nearest package fails; one farther up that fits is kept and the near one pruned.
      const used = reachable.find(fits);
      if (!used) {
        const target = nearest.link === undefined ? nearest : tree.packages.get(nearest.link);
        return target
          ? `Invalid: lock file's ${target.name}@${target.version} does not satisfy ${edge.name}@${edge.spec}`
          : `Missing: ${edge.name}@${edge.spec} from lock file`;
      }
      if (nested && used.link === undefined && !seen.has(used.location)) {
        seen.add(used.location);
        queue.push({
          location: used.location,
          manifest: used.manifest,
          isTop: false,
          skip: bundled(used),
        });
      }
    }
  }
  return undefined;
}

/**
 * The lockfile's tree without the packages nothing reaches any more (a
 * dependency removed from package.json, and what only it needed): npm
 * prunes them on install, and so does Cairn. Edges are followed as Node
 * resolves them, from the project and each workspace.
 */
export function withoutUnreachable(project: Project, tree: ProjectTree): ProjectTree {
  const reached = new Set<string>();
  const queue: { location: string; manifest: Readonly<Record<string, unknown>>; isTop: boolean }[] =
    [project.root, ...project.workspaces].map((i) => ({
      location: i.location,
      manifest: i.manifest,
      isTop: true,
    }));
  for (const ws of project.workspaces) reached.add(ws.location);
  const reach = (p: PlacedPackage) => {
    if (reached.has(p.location)) return;
    reached.add(p.location);
    const target = p.link === undefined ? p : tree.packages.get(p.link);
    if (p.link !== undefined && target) reached.add(target.location);
    if (p.link === undefined)
      queue.push({ location: p.location, manifest: p.manifest, isTop: false });
  };
  for (const node of queue) {
    for (const edge of edgesOf(node.manifest, node.isTop)) {
      // The package Node finds first that fits, as the sync check accepts it; else the nearest.
      const found = candidates(tree, node.location, edge.name);
      const fitting = found.find((p) => {
        const target = p.link === undefined ? p : tree.packages.get(p.link);
        return target !== undefined && fitsSpec(target.version, edge.spec, edge.name);
      });
      const used = fitting ?? found[0];
      if (used) reach(used);
    }
  }
  // Packages bundled inside a reached one come with it.
  for (const p of tree.packages.values())
    if (p.inBundle && [...reached].some((r) => p.location.startsWith(`${r}/`)))
      reached.add(p.location);
  return {
    root: tree.root,
    packages: new Map([...tree.packages].filter(([location]) => reached.has(location))),
  };
}

/** Throws `out-of-sync`, naming the first disagreement, unless the lockfile fits the project. */
export function assertLockfileMatches(
  project: Project,
  tree: ProjectTree,
  options: CheckOptions = {},
): void {
  const disagreement = lockfileDisagreement(project, tree, options);
  if (disagreement !== undefined)
    throw new InstallError(
      "out-of-sync",
      `package.json and package-lock.json are not in sync (npm ci would refuse them too): ${disagreement}`,
    );
}
