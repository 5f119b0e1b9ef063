/**
 * The hoisted node_modules tree npm 7+ (arborist's buildIdealTree) plans for
 * a fresh install: no lockfile, no node_modules. Packages are taken from a
 * queue ordered by depth, then path (npm's English collation); each one's
 * missing or unsatisfied dependencies are picked (npm-pick-manifest's rules,
 * in client/resolve.ts), gathered with their peers in a "virtual root", and
 * placed as high as they can go (place-dep.ts). A version already placed is
 * reused only where Node's module resolution finds it from the dependent;
 * otherwise a copy is nested, so the versions picked depend on the shape.
 * Then the lockfile flags are computed (dep-flags.ts). This follows npm
 * 11.19's arborist (its own tests compare plans with what that npm writes).
 *
 * The plan, like npm 11's lockfile, holds every platform's optional
 * packages, and optional packages that need one that failed to load; npm
 * marks those "inert" and does not install them, and `skipped` says which
 * and why (os/cpu/libc, engines.node, a failed load, or `omit`). Bundled
 * dependencies are not planned: they ship inside their parent's tarball
 * (npm's lockfile lists them only after it has unpacked that tarball, so the
 * installer adds them from the unpacked files).
 */
import semver from "semver";
import {
  fitsPlatform,
  hostPlatform,
  type Platform,
  type ResolvablePackage,
  type ResolvableVersion,
  specTarget,
  VersionPicker,
} from "../client/resolve.ts";
import { type Edge, TreeNode } from "./arbor.ts";
import { calcDepFlags, optionalSet } from "./dep-flags.ts";
import { compareText, type PeerConflict, PlaceDep } from "./place-dep.ts";
import type { PlacedPackage, ProjectRoot, ProjectTree } from "./tree.ts";

/** Where versions come from: a local index (synchronous) or sparse verified reads (asynchronous). */
export interface PackageSource {
  get(name: string): Promise<ResolvablePackage | undefined> | ResolvablePackage | undefined;
  /** A hint that these packages will be asked for soon, so a network source can start fetching. */
  prefetch?(names: readonly string[]): void;
}

export interface WorkspaceInput {
  /** Its folder relative to the project, with forward slashes (`packages/a`). */
  readonly folder: string;
  /** Its package.json. */
  readonly manifest: Readonly<Record<string, unknown>>;
}

/** What `--omit` can leave out. */
export type OmitKind = "dev" | "optional" | "peer";

export interface PlanOptions {
  /** Which optional packages fit; default this machine's. */
  readonly platform?: Platform;
  /** The Node.js version optional packages' `engines.node` must accept; default this process's. */
  readonly nodeVersion?: string;
  /** Packages npm would not install here (`--omit`, `--production` = dev); they stay in the plan. */
  readonly omit?: readonly OmitKind[];
  /** `--legacy-peer-deps`: peer dependencies are neither installed nor checked. */
  readonly legacyPeerDeps?: boolean;
  /** The project's workspaces, already found from its `workspaces` globs (see workspaces.ts). */
  readonly workspaces?: readonly WorkspaceInput[];
  /**
   * The tree a lockfile holds, to plan from rather than from nothing
   * (npm's buildIdealTree over a virtual tree): its packages stay where
   * they are while they satisfy what depends on them; only missing or
   * unsatisfied dependencies are resolved afresh, and what nothing needs
   * any more is pruned.
   */
  readonly lockedTree?: ProjectTree;
  /**
   * Told of each registry package as the walk places it, before the plan
   * is done (a placement is rarely undone), so its tarball can be fetched
   * while planning goes on.
   */
  readonly onPlaced?: (
    name: string,
    version: string,
    manifest: Readonly<Record<string, unknown>>,
  ) => void;
}

export type PlanProblemCode =
  /** A peer dependency conflict npm stops on (without --force or --legacy-peer-deps). */
  | "ERESOLVE"
  /** No version satisfies the spec. */
  | "ETARGET"
  /** No such package. */
  | "E404"
  /** Not a registry spec (git, a path, a URL). */
  | "EUNSUPPORTEDPROTOCOL"
  /** A required package does not fit this platform. */
  | "EBADPLATFORM";

export interface PlanProblem {
  readonly code: PlanProblemCode;
  /** The dependent's location ("" for the project). */
  readonly from: string;
  readonly name: string;
  readonly spec: string;
  readonly reason: string;
  /** Tolerated, as npm tolerates it: under an optional edge, or a peer conflict it only warns about. */
  readonly optional: boolean;
}

/** Why a planned package is not installed: it does not fit this machine (os/cpu/libc, or engines.node), it or something it needs failed to load, or `omit` leaves it out. */
export type SkipReason = "platform" | "engine" | "failed" | "omit";

export interface PlannedTree extends ProjectTree {
  readonly problems: readonly PlanProblem[];
  /** Locations planned (and locked) but not installed on this machine, and why. */
  readonly skipped: ReadonlyMap<string, SkipReason>;
}

/** The fields of a manifest npm's lockfile repeats, and installing needs. */
const LOCKED_FIELDS = [
  "dependencies",
  "optionalDependencies",
  "devDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "bundleDependencies",
  "bin",
  "engines",
  "os",
  "cpu",
  "libc",
  "license",
  "funding",
  "hasInstallScript",
  "deprecated",
] as const;

/** The dependencies loaded ahead of the walk: those it will place (never optional peers). */
const LOADED_AHEAD = ["dependencies", "optionalDependencies", "peerDependencies"] as const;

type Loaded =
  | { manifest: Record<string, unknown>; artifact: ResolvableVersion["artifact"] }
  | { code: PlanProblemCode; reason: string };

class IdealTreeBuilder {
  readonly #source: PackageSource;
  readonly #options: PlanOptions;
  readonly root: TreeNode;
  readonly #queue: { node: TreeNode; depth: number; location: string }[] = [];
  readonly #queued = new Set<TreeNode>();
  readonly #seen = new Set<TreeNode>();
  readonly #virtualRoots = new Map<TreeNode, TreeNode>();
  readonly #links = new Set<TreeNode>();
  readonly #workspaces = new Map<string, TreeNode>();
  readonly #packages = new Map<string, Promise<VersionPicker | undefined>>();
  readonly #loaded = new Map<string, Promise<Loaded>>();
  readonly #asked = new Set<string>();
  /** Placed packages that failed to load, with the problem. */
  readonly failures = new Map<TreeNode, PlanProblem>();
  readonly problems: PlanProblem[] = [];
  readonly #conflicts = new Set<string>();

  constructor(manifest: Record<string, unknown>, source: PackageSource, options: PlanOptions) {
    this.#source = source;
    this.#options = options;
    const legacy = options.legacyPeerDeps;
    const workspaces = (options.workspaces ?? []).map((w) => {
      const name = typeof w.manifest.name === "string" ? w.manifest.name : w.folder;
      return { name, ...w };
    });
    this.root = TreeNode.project(
      manifest,
      workspaces.map((w) => [w.name, w.folder]),
      legacy,
    );
    for (const w of workspaces) {
      const node = new TreeNode({
        name: w.name,
        manifest: w.manifest,
        folder: w.folder,
        top: true,
        legacyPeerDeps: legacy,
      });
      this.root.addFsChild(node);
      this.#workspaces.set(w.name, node);
    }
    if (options.lockedTree) this.#loadLocked(options.lockedTree);
  }

  /**
   * Places the lockfile's registry packages at their locations, parents
   * first. Links are left to the workspace edges that make them; bundled
   * packages to their parents' tarballs; a package whose parent is not in
   * the tree is dropped.
   */
  #loadLocked(tree: ProjectTree): void {
    const byLocation = new Map<string, TreeNode>([["", this.root]]);
    for (const w of this.#workspaces.values()) byLocation.set(w.location, w);
    const locked = [...tree.packages.values()]
      .filter((p) => p.link === undefined && !p.inBundle && p.location.includes("node_modules/"))
      .sort((a, b) => a.location.length - b.location.length);
    for (const p of locked) {
      const cut = p.location.lastIndexOf("/node_modules/");
      const parent = byLocation.get(cut < 0 ? "" : p.location.slice(0, cut));
      if (!parent) continue;
      const { integrity, sha256, logIndex } = p;
      const node = new TreeNode({
        name: p.location.slice(p.location.lastIndexOf("node_modules/") + "node_modules/".length),
        manifest: { ...p.manifest, name: p.name, version: p.version },
        artifact: {
          ...(integrity !== undefined ? { integrity } : {}),
          ...(sha256 !== undefined ? { sha256 } : {}),
          ...(logIndex !== undefined ? { logIndex } : {}),
        },
        legacyPeerDeps: this.#options.legacyPeerDeps,
      });
      node.setParent(parent);
      byLocation.set(p.location, node);
    }
  }

  /**
   * arborist's start from a virtual tree: besides the project, every
   * package reachable from it with an unsatisfied dependency is looked at.
   */
  #queueInvalid(): void {
    const seen = new Set<TreeNode>([this.root]);
    const walk = [this.root];
    for (let node = walk.pop(); node; node = walk.pop()) {
      let invalid = false;
      for (const edge of node.edgesOut.values()) {
        const to = edge.to;
        if (!edge.valid) invalid = true;
        if (to && !seen.has(to)) {
          seen.add(to);
          walk.push(to);
        }
      }
      if (invalid) this.#push(node);
    }
  }

  /** npm's idealTreePrune: once flags are known, what nothing reaches goes. */
  pruneExtraneous(): void {
    for (const node of [...this.root.inventory]) if (node.extraneous && node.parent) node.remove();
  }

  async build(): Promise<void> {
    this.#push(this.root);
    if (this.#options.lockedTree) this.#queueInvalid();
    for (;;) {
      for (let node = this.#pop(); node; node = this.#pop()) {
        if (this.#seen.has(node) || node.root !== this.root) continue;
        this.#seen.add(node);
        await this.#step(node);
      }
      // Workspaces are visited once everything the project needs is placed, as arborist's resolveLinks does.
      for (const link of [...this.#links]) {
        this.#links.delete(link);
        const target = link.linkTarget;
        if (link.root === this.root && target && !this.#seen.has(target)) this.#push(target);
      }
      if (this.#queue.length === 0) return;
    }
  }

  /** arborist's DepsQueue: shallower first, then by path; kept sorted as nodes arrive (a node's place never changes its path). */
  #push(node: TreeNode): void {
    if (this.#queued.has(node)) return;
    this.#queued.add(node);
    const entry = { node, depth: node.depth, location: node.location };
    const queue = this.#queue;
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = queue[mid];
      const order = entry.depth - other.depth || compareText(entry.location, other.location);
      if (order < 0) hi = mid;
      else lo = mid + 1;
    }
    queue.splice(lo, 0, entry);
  }

  #pop(): TreeNode | undefined {
    const node = this.#queue.shift()?.node;
    if (node) this.#queued.delete(node);
    return node;
  }

  /** The edges of `node` that need a placement: missing (but for optional peers) or unsatisfied; never bundled ones. */
  #problemEdges(node: TreeNode): Edge[] {
    const bundled = new Set<string>();
    if (!node.isProjectRoot && !node.isWorkspace) {
      const names = node.manifest.bundleDependencies ?? node.manifest.bundledDependencies;
      const list = names === true ? Object.keys(node.manifest.dependencies ?? {}) : names;
      if (Array.isArray(list)) for (const n of list) if (typeof n === "string") bundled.add(n);
    }
    const problems: Edge[] = [];
    for (const edge of node.edgesOut.values()) {
      if (bundled.has(edge.name)) continue;
      const to = edge.to;
      if (to && this.failures.has(to)) continue;
      if (!to) {
        if (edge.type !== "peerOptional") problems.push(edge);
      } else if (!edge.valid) problems.push(edge);
    }
    return problems;
  }

  async #step(node: TreeNode): Promise<void> {
    const edges = this.#problemEdges(node);
    this.#prefetch(edges);
    const tasks: { edge: Edge; dep: TreeNode }[] = [];
    for (const edge of edges) {
      if (edge.peerConflicted) continue;
      const virtualRoot = this.#virtualRoot(node, true);
      const vrEdge = virtualRoot.edgesOut.get(edge.name);
      const vrDep = vrEdge?.valid ? vrEdge.to : undefined;
      let dep = vrDep?.satisfies(edge) === true ? vrDep : undefined;
      // An optional peer that resolves wrongly takes a fitting copy already in the tree, if any.
      if (!dep && edge.type === "peerOptional") {
        dep = findHoistable(edge.from.resolveParent ?? edge.from, edge);
      }
      dep ??= await this.#nodeFromEdge(
        edge,
        edge.peer ? virtualRoot : undefined,
        undefined,
        new Set([edge.from]),
      );
      tasks.push({ edge, dep });
    }
    tasks.sort((a, b) => compareText(a.edge.name, b.edge.name));
    const onConflict = (c: PeerConflict) => this.#conflict(c);
    for (const { edge, dep } of tasks) {
      const placement = new PlaceDep({ edge, dep, preferDedupe: false, onConflict });
      // treeverse's depth walk over the placement and the peers it placed.
      const stack = [placement];
      for (let pd = stack.pop(); pd; pd = stack.pop()) {
        this.#visitPlacement(pd);
        stack.push(...pd.children);
      }
    }
    for (const edge of node.edgesOut.values()) {
      const to = edge.to;
      if (to?.linkTarget) this.#links.add(to);
    }
  }

  #visitPlacement(pd: PlaceDep): void {
    const { placed, edge } = pd;
    if (!placed || !pd.canPlace) return;
    if (placed.error) this.failures.set(placed, this.#failure(edge, placed.error));
    else if (!placed.linkTarget)
      this.#options.onPlaced?.(placed.packageName, placed.version, placed.manifest);
    // A new copy can leave someone who resolved elsewhere unsatisfied: look at them again
    // (npm install saves, so npm 11 looks again even at packages it has seen).
    for (const edgeIn of placed.edgesIn) {
      if (edgeIn === edge || edgeIn.valid || edgeIn.peerConflicted) continue;
      this.#seen.delete(edgeIn.from);
      this.#push(edgeIn.from);
    }
    this.#push(placed);
    for (const dep of pd.needEvaluation) {
      this.#seen.delete(dep);
      this.#push(dep);
    }
    this.#prefetch(this.#problemEdges(placed));
  }

  #failure(edge: Edge, error: string): PlanProblem {
    const [code, reason] = splitError(error);
    const { name, spec } = edge;
    return { code, from: edge.from.location, name, spec, reason, optional: false };
  }

  #conflict(c: PeerConflict): void {
    // npm stops at the first; going on as --force would, the same conflict is met again when placing.
    const key = `${c.fatal} ${c.from} ${c.name} ${c.spec}`;
    if (this.#conflicts.has(key)) return;
    this.#conflicts.add(key);
    const reason = c.fatal
      ? `${c.name}@${c.spec} conflicts with the peer dependencies placed for it`
      : `peer ${c.name}@${c.spec} is overridden by a version that does not satisfy it`;
    this.problems.push({ code: "ERESOLVE", ...c, reason, optional: !c.fatal });
  }

  #prefetch(edges: readonly Edge[]): void {
    const prefetch = this.#source.prefetch;
    if (!prefetch) return;
    const names: string[] = [];
    for (const edge of edges) {
      const target = specTarget(edge.name, edge.spec);
      if ("name" in target && !this.#asked.has(target.name)) {
        this.#asked.add(target.name);
        names.push(target.name);
      }
    }
    if (names.length > 0) prefetch.call(this.#source, names);
  }

  /** A stand-in for `node` that gathers one dependency and its peer set before they are placed. */
  #virtualRoot(node: TreeNode, reuse = false): TreeNode {
    const known = this.#virtualRoots.get(node);
    if (reuse && known) return known;
    const vr = new TreeNode({
      name: node.name,
      manifest: node.manifest,
      top: node.isTop,
      legacyPeerDeps: this.#options.legacyPeerDeps,
    });
    vr.sourceReference = node;
    this.#virtualRoots.set(node, vr);
    return vr;
  }

  async #nodeFromEdge(
    edge: Edge,
    parentOrNone: TreeNode | undefined,
    secondEdge: Edge | undefined,
    required: Set<TreeNode>,
  ): Promise<TreeNode> {
    const parent = parentOrNone ?? this.#virtualRoot(edge.from);
    const first = await this.#nodeFromSpec(edge.name, edge.spec, parent, edge);
    const second =
      secondEdge && !secondEdge.valid
        ? await this.#nodeFromSpec(edge.name, secondEdge.spec, parent, secondEdge)
        : undefined;
    const node = second && edge.valid ? second : first;
    node.setParent(parent);
    const needs = (e: Edge) => required.has(e.from) && e.type !== "peerOptional";
    if (needs(edge) || (secondEdge && needs(secondEdge))) required.add(node);
    return this.#loadPeerSet(node, required);
  }

  async #nodeFromSpec(name: string, spec: string, parent: TreeNode, edge: Edge) {
    const workspace = edge.type === "workspace" ? this.#workspaces.get(name) : undefined;
    if (workspace) {
      const link = new TreeNode({ name, manifest: {}, linkTarget: workspace });
      link.setParent(parent);
      this.#links.add(link);
      return link;
    }
    const loaded = await this.#load(name, spec);
    const legacyPeerDeps = this.#options.legacyPeerDeps;
    const node =
      "manifest" in loaded
        ? new TreeNode({
            name,
            manifest: loaded.manifest,
            artifact: loaded.artifact,
            legacyPeerDeps,
          })
        : new TreeNode({ name, manifest: {}, error: `${loaded.code} ${loaded.reason}` });
    node.setParent(parent);
    return node;
  }

  /** The dependency's peers, gathered beside it in its virtual root (npm's peer set). */
  async #loadPeerSet(node: TreeNode, required: Set<TreeNode>): Promise<TreeNode> {
    const parent = node.parent as TreeNode;
    const peerEdges = [...node.edgesOut.values()]
      .filter((e) => e.peer && !(e.valid && e.to))
      .sort((a, b) => compareText(a.name, b.name));
    for (const edge of peerEdges) {
      // A peer loaded meanwhile can have taken this node's own place.
      if (!node.parent) break;
      if (edge.valid && edge.to) continue;
      const parentEdge = parent.edgesOut.get(edge.name);
      const source = parent.sourceReference;
      const isMine = source !== undefined && (source.isProjectRoot || source.isWorkspace);
      const current = edge.to;
      if (!current) {
        if (!parentEdge) {
          await this.#nodeFromEdge(edge, parent, undefined, required);
          continue;
        }
        const dep = await this.#nodeFromEdge(parentEdge, parent, edge, required);
        if (edge.valid) continue;
        edge.peerConflicted = true;
        if (isMine && required.has(dep)) this.#peerSetConflict(edge);
        continue;
      }
      const dep = await this.#nodeFromEdge(edge, undefined, undefined, required);
      if (dep.canReplace(current)) {
        await this.#nodeFromEdge(edge, parent, undefined, required);
        continue;
      }
      if (isMine && required.has(edge.from)) this.#peerSetConflict(edge);
    }
    return node;
  }

  #peerSetConflict(edge: Edge): void {
    this.#conflict({ from: edge.from.location, name: edge.name, spec: edge.spec, fatal: true });
  }

  #load(name: string, spec: string): Promise<Loaded> {
    const key = `${name}@${spec}`;
    let loaded = this.#loaded.get(key);
    if (!loaded) {
      loaded = this.#fetch(name, spec);
      this.#loaded.set(key, loaded);
    }
    return loaded;
  }

  async #fetch(name: string, spec: string): Promise<Loaded> {
    const target = specTarget(name, spec);
    if ("reason" in target) return { code: "EUNSUPPORTEDPROTOCOL", reason: target.reason };
    const picker = await this.#picker(target.name);
    if (!picker) return { code: "E404", reason: `no package named ${target.name}` };
    const picked = picker.pick(name, spec);
    if (typeof picked === "string") return { code: "ETARGET", reason: picked };
    const manifest = manifestOf(target.name, picked);
    this.#loadAhead(manifest);
    return { manifest, artifact: picked.artifact };
  }

  /**
   * Picks the versions a picked version depends on now, and theirs in turn,
   * instead of when the walk (shallower first) reaches them: the walk then
   * finds their documents read. Only for a source that fetches; a failure
   * is left for the walk, which meets it only if it needs that package.
   */
  #loadAhead(manifest: Readonly<Record<string, unknown>>): void {
    if (!this.#source.prefetch) return;
    const optionalPeers = manifest.peerDependenciesMeta as Record<string, { optional?: unknown }>;
    for (const field of LOADED_AHEAD) {
      const deps = manifest[field];
      if (typeof deps !== "object" || deps === null) continue;
      for (const [name, spec] of Object.entries(deps)) {
        if (typeof spec !== "string") continue;
        if (field === "peerDependencies" && optionalPeers?.[name]?.optional === true) continue;
        if (field === "peerDependencies" && this.#options.legacyPeerDeps) continue;
        this.#load(name, spec).catch(() => undefined);
      }
    }
  }

  #picker(name: string): Promise<VersionPicker | undefined> {
    let found = this.#packages.get(name);
    if (!found) {
      found = Promise.resolve(this.#source.get(name)).then((p) => p && new VersionPicker(p));
      this.#packages.set(name, found);
    }
    return found;
  }
}

/** npm 11's findHoistableNode: the first copy, breadth-first under `root`, that satisfies `edge`. */
function findHoistable(root: TreeNode, edge: Edge): TreeNode | undefined {
  const queue = [...root.children.values()];
  for (let node = queue.shift(); node; node = queue.shift()) {
    if (node.name === edge.name && node.satisfies(edge)) return node;
    queue.push(...node.children.values());
  }
  return undefined;
}

function splitError(error: string): [PlanProblemCode, string] {
  const space = error.indexOf(" ");
  return [error.slice(0, space) as PlanProblemCode, error.slice(space + 1)];
}

function manifestOf(name: string, picked: ResolvableVersion): Record<string, unknown> {
  const manifest: Record<string, unknown> = { ...picked.resolution, name, version: picked.version };
  if (picked.deprecated) manifest.deprecated = picked.deprecated;
  return manifest;
}

/**
 * Plans `project`'s tree (its package.json) as npm would for a fresh
 * install. Never throws for a dependency problem: each is in `problems`, and
 * the caller refuses the plan where npm would stop (any that is not
 * `optional`).
 */
export async function planTree(
  project: Readonly<Record<string, unknown>>,
  source: PackageSource,
  options: PlanOptions = {},
): Promise<PlannedTree> {
  const builder = new IdealTreeBuilder({ ...project }, source, options);
  await builder.build();
  const { root } = builder;
  calcDepFlags(root);
  if (options.lockedTree) builder.pruneExtraneous();
  const problems = [...builder.problems];
  const skipped = new Map<string, SkipReason>();
  const makeInert = (node: TreeNode, reason: SkipReason) => {
    for (const n of optionalSet(node)) {
      n.inert = true;
      if (!skipped.has(n.location)) skipped.set(n.location, reason);
    }
  };
  // npm 11's pruneFailedOptional: what failed under an optional edge stays in the plan, inert,
  // with what needed it and what only they needed; a failure anywhere else stops npm.
  for (const [node, problem] of builder.failures) {
    if (node.root !== root) continue;
    problems.push({ ...problem, optional: node.optional });
    if (node.optional) makeInert(node, "failed");
  }
  // npm 11's checkEngineAndPlatform, as it runs for the ideal tree.
  const omit = new Set(options.omit ?? []);
  const platform = options.platform ?? hostPlatform();
  const nodeVersion = options.nodeVersion ?? process.version;
  for (const node of root.inventory) {
    if (node === root || node.linkTarget) continue;
    if (!node.optional && !omitted(node, omit) && !fitsPlatform(node.manifest, platform)) {
      problems.push(badPlatform(node, platform));
    }
    if (node.optional && !node.inert) {
      if (!fitsPlatform(node.manifest, platform)) makeInert(node, "platform");
      else if (!fitsEngine(node.manifest, nodeVersion)) makeInert(node, "engine");
    }
  }
  const packages = new Map<string, PlacedPackage>();
  for (const node of [...root.inventory].sort((a, b) => compareText(a.location, b.location))) {
    // A package that failed to load has no version, and npm leaves it out of the lockfile.
    if (node === root || (node.inert && node.error)) {
      skipped.delete(node.location);
      continue;
    }
    packages.set(node.location, placedOf(node));
    if (!skipped.has(node.location) && omitted(node, omit)) skipped.set(node.location, "omit");
  }
  const rootOf: ProjectRoot = {
    name: typeof project.name === "string" ? project.name : undefined,
    version: typeof project.version === "string" ? project.version : undefined,
    manifest: project,
  };
  return { root: rootOf, packages, problems, skipped };
}

/** npm's shouldOmit: flagged only through what is omitted (devOptional needs both dev and optional omitted). */
function omitted(node: TreeNode, omit: ReadonlySet<OmitKind>): boolean {
  if (omit.size === 0) return false;
  return (
    (node.peer && omit.has("peer")) ||
    (node.dev && omit.has("dev")) ||
    (node.optional && omit.has("optional")) ||
    (node.devOptional && omit.has("optional") && omit.has("dev"))
  );
}

/** npm-install-checks' checkEngine for Node (prereleases included). */
function fitsEngine(manifest: Readonly<Record<string, unknown>>, nodeVersion: string): boolean {
  const engines = manifest.engines as { node?: unknown } | undefined;
  const wanted = engines?.node;
  if (typeof wanted !== "string") return true;
  return semver.satisfies(nodeVersion, wanted, { includePrerelease: true });
}

function badPlatform(node: TreeNode, platform: Platform): PlanProblem {
  return {
    code: "EBADPLATFORM",
    from: node.location,
    name: node.packageName,
    spec: node.version,
    reason:
      `${node.packageName}@${node.version} does not fit ${platform.os} ${platform.cpu} ${platform.libc ?? ""}`.trim(),
    optional: false,
  };
}

function placedOf(node: TreeNode): PlacedPackage {
  // As npm's lockfile says it: an extraneous package carries no other flag.
  const flags = node.extraneous
    ? { extraneous: true }
    : {
        ...(node.dev ? { dev: true } : {}),
        ...(node.optional ? { optional: true } : {}),
        ...(node.devOptional && !node.dev && !node.optional ? { devOptional: true } : {}),
        ...(node.peer ? { peer: true } : {}),
      };
  const target = node.linkTarget;
  if (target) {
    const name = target.packageName;
    return {
      location: node.location,
      name,
      version: target.version,
      link: target.location,
      manifest: {},
      ...flags,
    };
  }
  const manifest: Record<string, unknown> = {};
  for (const field of LOCKED_FIELDS) {
    if (field === "devDependencies" && !node.isWorkspace) continue;
    if (node.manifest[field] !== undefined) manifest[field] = node.manifest[field];
  }
  return {
    location: node.location,
    name: node.packageName,
    version: node.version,
    ...node.artifact,
    manifest,
    ...flags,
  };
}
