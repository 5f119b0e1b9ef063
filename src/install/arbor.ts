/**
 * The tree model npm's arborist plans with, reduced to what a fresh
 * install needs: nodes placed in `node_modules` folders (a child by its
 * folder name), and edges that find their target as Node's module
 * resolution does, from the dependent up through its parents. An edge's
 * target and every node's incoming edges are derived from the tree's shape,
 * so a placement or a removal never leaves a stale link behind; they are
 * computed again after each change of the tree they belong to.
 */
import semver from "semver";
import type { ResolvableVersion } from "../client/resolve.ts";

export type EdgeType = "prod" | "dev" | "optional" | "peer" | "peerOptional" | "workspace";

/** How an edge's spec accepts a version: npm-package-arg's registry types, as dep-valid tests them. */
type Accepts = (version: string) => boolean;

const ANY: Accepts = () => true;

function acceptsOf(rawSpec: string): Accepts {
  let spec = rawSpec.trim();
  if (spec.startsWith("npm:")) {
    const at = spec.indexOf("@", 5);
    spec = at < 0 ? "" : spec.slice(at + 1);
  }
  if (spec === "" || spec === "*") return ANY;
  let range: semver.Range;
  try {
    range = new semver.Range(spec, { loose: true });
  } catch {
    // A dist-tag: dep-valid accepts any registry version for it.
    return ANY;
  }
  return (version) => {
    const parsed = parsedVersion(version);
    return parsed !== null && range.test(parsed);
  };
}

const versionsMemo = new Map<string, semver.SemVer | null>();
function parsedVersion(version: string): semver.SemVer | null {
  let parsed = versionsMemo.get(version);
  if (parsed === undefined) {
    parsed = semver.parse(version, { loose: true });
    versionsMemo.set(version, parsed);
  }
  return parsed;
}

const acceptsMemo = new Map<string, Accepts>();
function accepts(spec: string): Accepts {
  let found = acceptsMemo.get(spec);
  if (!found) {
    found = acceptsOf(spec);
    acceptsMemo.set(spec, found);
  }
  return found;
}

export class Edge {
  readonly from: TreeNode;
  readonly name: string;
  readonly spec: string;
  readonly type: EdgeType;
  /** Set when npm gives up on satisfying this peer edge (its ERESOLVE warning). */
  peerConflicted = false;
  readonly #accepts: Accepts;

  constructor(from: TreeNode, name: string, spec: string, type: EdgeType) {
    this.from = from;
    this.name = name;
    this.spec = spec;
    this.type = type;
    this.#accepts = type === "workspace" ? ANY : accepts(spec);
  }

  get peer(): boolean {
    return this.type === "peer" || this.type === "peerOptional";
  }

  get optional(): boolean {
    return this.type === "optional" || this.type === "peerOptional";
  }

  get dev(): boolean {
    return this.type === "dev";
  }

  get to(): TreeNode | undefined {
    return this.from.resolve(this.name);
  }

  satisfiedBy(node: TreeNode): boolean {
    if (node.name !== this.name) return false;
    if (this.type === "workspace") return node.linkTarget !== undefined;
    return this.#accepts(node.version);
  }

  /** arborist's edge error: MISSING, PEER LOCAL, INVALID, or null when the edge is fine. */
  get error(): string | null {
    const to = this.to;
    if (!to) return this.optional ? null : "MISSING";
    if (this.peer && to.parent === this.from && !this.from.isTop) return "PEER LOCAL";
    return this.satisfiedBy(to) ? null : "INVALID";
  }

  get valid(): boolean {
    return this.error === null;
  }
}

type Manifest = Readonly<Record<string, unknown>>;
type Artifact = NonNullable<ResolvableVersion["artifact"]>;

function specs(value: unknown): [string, string][] {
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).filter((e): e is [string, string] => typeof e[1] === "string");
}

/** Indexes of one tree (the project's, or a virtual root's), kept as nodes join and leave it. */
class TreeState {
  /** Bumped on every change of the tree's shape. */
  generation = 0;
  inventoryAt = -1;
  inventory: TreeNode[] = [];
  /** Every edge of the tree's nodes, by the name it asks for: the only edges that can reach a node of that name. */
  readonly edgesByName = new Map<string, Set<Edge>>();
  /** Every node of the tree by its folder name, in the order they joined it. */
  readonly nodesByName = new Map<string, Set<TreeNode>>();

  add(node: TreeNode): void {
    for (const edge of node.edgesOut.values()) bucket(this.edgesByName, edge.name).add(edge);
    bucket(this.nodesByName, node.name).add(node);
  }

  delete(node: TreeNode): void {
    for (const edge of node.edgesOut.values()) this.edgesByName.get(edge.name)?.delete(edge);
    this.nodesByName.get(node.name)?.delete(node);
  }
}

function bucket<T>(map: Map<string, Set<T>>, key: string): Set<T> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

export interface NodeInit {
  /** The folder name (an alias's own name). */
  readonly name: string;
  readonly manifest: Manifest;
  /** Why no version could be loaded; the node then has no edges. */
  readonly error?: string;
  /** Its tarball's hashes and log index, when the source gave them. */
  readonly artifact?: Artifact;
  /** A workspace link's target, or the package a cycle links back to. */
  readonly linkTarget?: TreeNode;
  /** A workspace's folder, relative to the project. */
  readonly folder?: string;
  /** Whether devDependencies count (the project and its workspaces). */
  readonly top?: boolean;
  readonly legacyPeerDeps?: boolean;
  /** Edges are added by the caller (the project, whose workspace edges come first). */
  readonly deferEdges?: boolean;
}

export class TreeNode {
  readonly name: string;
  readonly manifest: Manifest;
  readonly error: string | undefined;
  readonly artifact: Artifact | undefined;
  /** `--legacy-peer-deps`: its peer dependencies are not edges. */
  readonly legacyPeerDeps: boolean;
  readonly linkTarget: TreeNode | undefined;
  readonly folder: string | undefined;
  readonly children = new Map<string, TreeNode>();
  readonly edgesOut = new Map<string, Edge>();
  /** For a workspace: the project, whose folder holds it. */
  fsParent: TreeNode | undefined;
  /** For a virtual root: the node whose dependencies it gathers. */
  sourceReference: TreeNode | undefined;
  readonly fsChildren = new Set<TreeNode>();
  #parent: TreeNode | undefined;
  #state = new TreeState();
  dev = true;
  optional = true;
  devOptional = true;
  peer = true;
  extraneous = true;
  /** Planned but not installed: an optional package that failed or does not fit (npm's `inert`). */
  inert = false;

  constructor(init: NodeInit) {
    this.name = init.name;
    this.manifest = init.manifest;
    this.error = init.error;
    this.artifact = init.artifact;
    this.legacyPeerDeps = init.legacyPeerDeps === true;
    this.linkTarget = init.linkTarget;
    this.folder = init.folder;
    if (!init.error && !init.linkTarget && !init.deferEdges)
      this.#loadEdges(init.top === true, init.legacyPeerDeps);
    this.#state.add(this);
  }

  /** arborist's order: peers, then dependencies, optionalDependencies, devDependencies; a later kind replaces an earlier one and moves to the end. */
  #loadEdges(top: boolean, legacyPeerDeps = false): void {
    const m = this.manifest;
    const add = (fields: [string, string][], type: EdgeType) => {
      for (const [name, spec] of fields) {
        if (this.edgesOut.get(name)?.type === "workspace") continue;
        this.edgesOut.delete(name);
        this.edgesOut.set(name, new Edge(this, name, spec, type));
      }
    };
    if (!legacyPeerDeps) {
      const meta = (m.peerDependenciesMeta ?? {}) as Record<string, { optional?: unknown }>;
      const peers = specs(m.peerDependencies);
      add(
        peers.filter(([n]) => meta[n]?.optional !== true),
        "peer",
      );
      add(
        peers.filter(([n]) => meta[n]?.optional === true),
        "peerOptional",
      );
    }
    add(specs(m.dependencies), "prod");
    add(specs(m.optionalDependencies), "optional");
    if (top) add(specs(m.devDependencies), "dev");
  }

  /** Adds the workspace edges before the others, as arborist does for the project. */
  static project(manifest: Manifest, workspaces: readonly [string, string][], legacy?: boolean) {
    const name = String(manifest.name ?? "");
    const node = new TreeNode({ name, manifest, deferEdges: true, legacyPeerDeps: legacy });
    for (const [name, folder] of workspaces) {
      node.edgesOut.set(name, new Edge(node, name, `file:${folder}`, "workspace"));
    }
    node.#loadEdges(true, legacy);
    node.#state.add(node);
    return node;
  }

  get packageName(): string {
    const target = this.linkTarget;
    if (target) return target.packageName;
    return typeof this.manifest.name === "string" ? this.manifest.name : this.name;
  }

  get version(): string {
    const target = this.linkTarget;
    if (target) return target.version;
    return typeof this.manifest.version === "string" ? this.manifest.version : "";
  }

  get parent(): TreeNode | undefined {
    return this.#parent;
  }

  get resolveParent(): TreeNode | undefined {
    return this.#parent ?? this.fsParent;
  }

  get root(): TreeNode {
    let node: TreeNode = this;
    for (let up = node.resolveParent; up; up = up.resolveParent) node = up;
    return node;
  }

  get isTop(): boolean {
    return this.#parent === undefined;
  }

  get isProjectRoot(): boolean {
    return this.resolveParent === undefined;
  }

  get isWorkspace(): boolean {
    return this.folder !== undefined;
  }

  get depth(): number {
    return this.#parent ? this.#parent.depth + 1 : 0;
  }

  /** Its path in the project: `node_modules/a/node_modules/b`, a workspace's folder, "" for the project. */
  get location(): string {
    if (this.folder !== undefined) return this.folder;
    const parent = this.#parent;
    if (!parent) return "";
    const base = parent.location;
    return `${base ? `${base}/` : ""}node_modules/${this.name}`;
  }

  *ancestry(): Generator<TreeNode> {
    for (let node: TreeNode | undefined = this; node; node = node.resolveParent) yield node;
  }

  isDescendantOf(other: TreeNode): boolean {
    for (const node of this.ancestry()) if (node === other) return true;
    return false;
  }

  /** Node's module resolution: this folder's node_modules, then each parent's. */
  resolve(name: string): TreeNode | undefined {
    for (let node: TreeNode | undefined = this; node; node = node.resolveParent) {
      const found = node.children.get(name);
      if (found) return found;
    }
    return undefined;
  }

  /** Moves this node (and what it holds) under `parent`, in place of a child by the same name; undefined removes it from its tree. */
  setParent(parent: TreeNode | undefined): void {
    const before = this.root.#state;
    const old = this.#parent;
    if (old?.children.get(this.name) === this) old.children.delete(this.name);
    this.#parent = parent;
    if (parent) {
      const clobbered = parent.children.get(this.name);
      if (clobbered && clobbered !== this) {
        clobbered.#parent = undefined;
        clobbered.#moveTree(parent.root.#state, clobbered.#state);
      }
      parent.children.set(this.name, this);
    }
    this.#moveTree(before, this.root.#state);
  }

  /** Adds a workspace: a top of its own whose folder lies in this project's. */
  addFsChild(child: TreeNode): void {
    const before = child.root.#state;
    child.fsParent = this;
    this.fsChildren.add(child);
    child.#moveTree(before, this.root.#state);
  }

  /** Takes `old`'s place, and its children with it. */
  replace(old: TreeNode): void {
    const parent = old.parent;
    for (const kid of [...old.children.values()]) kid.setParent(this);
    this.setParent(parent);
  }

  /** Removes this node from its tree (arborist's `node.root = null`). */
  remove(): void {
    const fsParent = this.fsParent;
    if (this.#parent) this.setParent(undefined);
    else if (fsParent) {
      const before = fsParent.root.#state;
      fsParent.fsChildren.delete(this);
      this.fsParent = undefined;
      this.#moveTree(before, this.#state);
    }
  }

  /** Re-indexes this node and what it holds after they moved from one tree to another (or within one). */
  #moveTree(from: TreeState, to: TreeState): void {
    from.generation++;
    to.generation++;
    if (from === to) return;
    const walk = (node: TreeNode) => {
      from.delete(node);
      to.add(node);
      for (const kid of node.children.values()) walk(kid);
      for (const kid of node.fsChildren) walk(kid);
    };
    walk(this);
  }

  /** Every node of this node's tree, the tree's root first, then depth-first by insertion. */
  get inventory(): readonly TreeNode[] {
    const state = this.root.#state;
    if (state.inventoryAt !== state.generation) {
      const all: TreeNode[] = [];
      const walk = (node: TreeNode) => {
        all.push(node);
        for (const kid of node.children.values()) walk(kid);
        for (const kid of node.fsChildren) walk(kid);
      };
      walk(this.root);
      state.inventory = all;
      state.inventoryAt = state.generation;
    }
    return state.inventory;
  }

  /** The nodes of this node's tree in folders named `name`, in the order they joined it. */
  named(name: string): TreeNode[] {
    return [...(this.root.#state.nodesByName.get(name) ?? [])];
  }

  get edgesIn(): ReadonlySet<Edge> {
    const candidates = this.root.#state.edgesByName.get(this.name);
    if (!candidates) return NO_EDGES;
    const found = new Set<Edge>();
    for (const edge of candidates) if (edge.to === this) found.add(edge);
    return found;
  }

  satisfies(edge: Edge): boolean {
    return this.name === edge.name && edge.satisfiedBy(this);
  }

  /** The same package: the same name, and the same registry package and version (or the same link). */
  matches(other: TreeNode): boolean {
    if (other === this) return true;
    if (other.name !== this.name) return false;
    if (this.linkTarget || other.linkTarget) return this.linkTarget === other.linkTarget;
    return this.packageName === other.packageName && this.version === other.version;
  }

  /** Whether `node` can take this node's place for everything that depends on it. */
  canReplaceWith(node: TreeNode, ignorePeers: Iterable<string> = []): boolean {
    if (node.name !== this.name || node.packageName !== this.packageName) return false;
    const ignored = new Set(ignorePeers);
    const depSet = gatherDepSet([this], (e) => e.to !== this && e.valid);
    for (const edge of this.edgesIn) {
      if (
        !this.isTop &&
        edge.from.parent === this.parent &&
        edge.peer &&
        ignored.has(edge.from.name)
      )
        continue;
      if (!depSet.has(edge.from) && !edge.satisfiedBy(node)) return false;
    }
    return true;
  }

  canReplace(node: TreeNode, ignorePeers?: Iterable<string>): boolean {
    return node.canReplaceWith(this, ignorePeers);
  }

  /** Whether this copy can go because the one its grandparent finds serves everyone as well. */
  canDedupe(preferDedupe: boolean): boolean {
    const grand = this.resolveParent?.resolveParent;
    if (!grand) return false;
    if (this.edgesIn.size === 0) return true;
    const other = grand.resolve(this.name);
    if (!other) return false;
    if (other.matches(this)) return true;
    if (!other.canReplace(this)) return false;
    return preferDedupe || semver.gte(other.version, this.version, { loose: true });
  }
}

const NO_EDGES: ReadonlySet<Edge> = new Set();

/**
 * arborist's gatherDepSet: the nodes of `set` and what they reach through
 * `filter`ed edges, less any that something outside the set also needs.
 */
export function gatherDepSet(
  set: Iterable<TreeNode>,
  filter: (edge: Edge) => boolean,
): Set<TreeNode> {
  const deps = new Set(set);
  for (const node of deps) {
    for (const edge of node.edgesOut.values()) {
      const to = edge.to;
      if (to && filter(edge)) deps.add(to);
    }
  }
  for (let changed = true; changed && deps.size > 0; ) {
    changed = false;
    for (const dep of deps) {
      for (const edge of dep.edgesIn) {
        if (!deps.has(edge.from) && filter(edge)) {
          changed = true;
          deps.delete(dep);
          break;
        }
      }
    }
  }
  return deps;
}

/** Where a dependency named `name` may go at the deepest, starting from `start`: not below a node that has it as a peer. */
export function deepestNestingTarget(start: TreeNode, name: string): TreeNode {
  for (const target of start.ancestry()) {
    if (target.isProjectRoot || !target.resolveParent) return target;
    const edge = target.edgesOut.get(name);
    if (!edge?.peer) return target;
  }
  return start;
}

/** For each edge that enters the peer set `node` belongs to from outside it, that peer set. */
export function peerEntrySets(node: TreeNode): Map<Edge, Set<TreeNode>> {
  const union = new Set([node]);
  for (const n of union) {
    for (const edge of n.edgesOut.values()) {
      const to = edge.to;
      if (to && edge.peer && edge.valid) union.add(to);
    }
    for (const edge of n.edgesIn) if (edge.valid && edge.peer) union.add(edge.from);
  }
  const entrySets = new Map<Edge, Set<TreeNode>>();
  for (const peer of union) {
    for (const edge of peer.edgesIn) {
      if (!edge.valid || (edge.peer && !edge.from.isTop)) continue;
      const sub = new Set([peer]);
      for (const p of sub) {
        for (const e of p.edgesOut.values()) {
          const to = e.to;
          if (to && e.valid && e.peer) sub.add(to);
        }
      }
      if (sub.has(node)) entrySets.set(edge, sub);
    }
  }
  return entrySets;
}
