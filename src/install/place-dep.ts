/**
 * Where one dependency goes, as arborist's PlaceDep and CanPlaceDep decide:
 * walk up from the deepest folder the dependency may sit in (not below a
 * package that has it as a peer) and take the highest folder where it can
 * be placed, checking each one: OK (nothing there), KEEP (what is there
 * already serves), REPLACE (what is there can be swapped for this version
 * without breaking anyone who uses it), CONFLICT (stop: it must go lower).
 * A dependency's peers are checked and placed along with it, beside it.
 */
import semver from "semver";
import { deepestNestingTarget, type Edge, gatherDepSet, peerEntrySets, TreeNode } from "./arbor.ts";

export type Placement = "OK" | "KEEP" | "REPLACE" | "CONFLICT";

interface CanPlaceOptions {
  readonly dep: TreeNode;
  readonly target: TreeNode;
  readonly edge: Edge;
  readonly preferDedupe: boolean;
  readonly parent?: CanPlaceDep;
  readonly peerPath?: readonly TreeNode[];
}

export class CanPlaceDep {
  readonly dep: TreeNode;
  readonly target: TreeNode;
  readonly edge: Edge;
  readonly parent: CanPlaceDep | undefined;
  readonly peerPath: readonly TreeNode[];
  readonly preferDedupe: boolean;
  readonly name: string;
  readonly current: TreeNode | undefined;
  readonly targetEdge: Edge | undefined;
  readonly edgeOverride: boolean;
  readonly children: CanPlaceDep[] = [];
  canPlace: Placement;
  canPlaceSelf: Placement | undefined;
  #peers: Placement | undefined;

  constructor(options: CanPlaceOptions) {
    this.dep = options.dep;
    this.target = options.target;
    this.edge = options.edge;
    this.parent = options.parent;
    this.peerPath = options.peerPath ?? [];
    this.preferDedupe = options.preferDedupe || this.edge.peer;
    this.name = this.edge.name;
    this.current = this.target.children.get(this.name);
    this.targetEdge = this.target.edgesOut.get(this.name);
    this.edgeOverride = !this.dep.satisfies(this.edge);
    this.canPlace = this.#check();
    this.canPlaceSelf ??= this.canPlace;
  }

  #check(): Placement {
    const { target, targetEdge, current, dep } = this;
    if (dep.error) return current ? "REPLACE" : "OK";
    // A peer of the target must be placed beside the target, never inside it.
    if (targetEdge?.peer && !target.isTop) return "CONFLICT";
    // The target depends on this name itself, and this version would not do for it.
    if (!current && targetEdge && !dep.satisfies(targetEdge) && targetEdge !== this.edge)
      return "CONFLICT";
    return current ? this.#checkCurrent(current) : this.#checkNoCurrent();
  }

  #checkCurrent(current: TreeNode): Placement {
    const { preferDedupe, target, edge, dep } = this;
    if (dep.matches(current) && (current.satisfies(edge) || this.edgeOverride)) return "KEEP";
    const tryReplace =
      current.version !== "" &&
      dep.version !== "" &&
      semver.gte(dep.version, current.version, { loose: true });
    if (tryReplace && dep.canReplace(current)) {
      const peers = this.#canPlacePeers("REPLACE");
      if (peers !== "CONFLICT") return peers;
    }
    if (current.satisfies(edge)) return "KEEP";
    if (preferDedupe && !tryReplace && dep.canReplace(current)) {
      const peers = this.#canPlacePeers("REPLACE");
      if (peers !== "CONFLICT") return peers;
    }
    if (target !== this.deepestNestingTarget) return "CONFLICT";
    // The dependent's own folder: what is there is its own, and can be replaced.
    if (!edge.peer && target === edge.from) return this.#canPlacePeers("REPLACE");
    if (!this.parent && !edge.peer) return "CONFLICT";
    return this.#checkPeerSetReplace(current);
  }

  /** A peer at the deepest folder it may sit in: replace the current one if its own peer set can do without it. */
  #checkPeerSetReplace(current: TreeNode): Placement {
    const { dep, target } = this;
    const depParent = dep.parent as TreeNode;
    let canReplace = true;
    for (const [entryEdge, currentPeers] of peerEntrySets(current)) {
      if (entryEdge === this.edge || entryEdge === this.peerEntryEdge) continue;
      const entryNode = entryEdge.to as TreeNode;
      const entryRep = depParent.children.get(entryNode.name);
      if (entryRep?.canReplace(entryNode, depParent.children.keys())) continue;
      let canClobber = !entryRep;
      if (!entryRep) {
        const walk = new Set([entryNode]);
        outer: for (const currentPeer of walk) {
          for (const e of currentPeer.edgesOut.values()) {
            if (!e.peer || !e.valid) continue;
            const rep = depParent.children.get(e.name);
            if (!rep) {
              const to = e.to;
              if (to) walk.add(to);
              continue;
            }
            if (!rep.satisfies(e)) {
              canClobber = false;
              break outer;
            }
          }
        }
      }
      if (canClobber) continue;
      for (const currentPeer of currentPeers) {
        const deepest = deepestNestingTarget(entryEdge.from, currentPeer.name);
        if (deepest === target || target.isDescendantOf(deepest)) {
          canReplace = false;
          break;
        }
      }
    }
    return canReplace ? this.#canPlacePeers("REPLACE") : "CONFLICT";
  }

  #checkNoCurrent(): Placement {
    const { target, dep, name } = this;
    // Placing here would hide the copy higher up from the target's own descendants that use it.
    const higher = target !== this.peerEntryEdge.from ? target.resolve(name) : undefined;
    if (higher) {
      for (const edge of higher.edgesIn) {
        if (edge.from.isDescendantOf(target) && edge.valid && !dep.satisfies(edge))
          return "CONFLICT";
      }
    }
    return this.#canPlacePeers("OK");
  }

  get deepestNestingTarget(): TreeNode {
    const start = this.parent ? this.parent.deepestNestingTarget : this.edge.from;
    return deepestNestingTarget(start, this.name);
  }

  get peerEntryEdge(): Edge {
    let top: CanPlaceDep = this;
    while (top.parent) top = top.parent;
    return top.edge;
  }

  #canPlacePeers(state: Placement): Placement {
    this.canPlaceSelf = state;
    if (this.#peers) return this.#peers;
    const peerPath = [...this.peerPath, this.dep];
    let sawConflict = false;
    for (const peerEdge of this.dep.edgesOut.values()) {
      const peer = peerEdge.to;
      if (!peerEdge.peer || !peer || peerPath.includes(peer)) continue;
      const check = new CanPlaceDep({
        dep: peer,
        target: deepestNestingTarget(this.target, peer.name),
        parent: this,
        edge: peerEdge,
        peerPath,
        preferDedupe: true,
      });
      this.children.push(check);
      if (check.canPlace === "CONFLICT") sawConflict = true;
    }
    this.#peers = sawConflict ? "CONFLICT" : state;
    return this.#peers;
  }
}

/** A conflict npm reports: ERESOLVE (it stops unless forced) or a peer it overrides with a warning. */
export interface PeerConflict {
  readonly from: string;
  readonly name: string;
  readonly spec: string;
  readonly fatal: boolean;
}

export interface PlaceOptions {
  readonly dep: TreeNode;
  readonly edge: Edge;
  readonly preferDedupe: boolean;
  readonly parent?: PlaceDep;
  readonly onConflict: (conflict: PeerConflict) => void;
}

export class PlaceDep {
  readonly dep: TreeNode;
  readonly edge: Edge;
  readonly parent: PlaceDep | undefined;
  readonly preferDedupe: boolean;
  readonly children: PlaceDep[] = [];
  /** Nodes whose dependencies must be looked at again (their peer set was pruned). */
  readonly needEvaluation = new Set<TreeNode>();
  readonly name: string;
  readonly #onConflict: (conflict: PeerConflict) => void;
  canPlace: CanPlaceDep | undefined;
  canPlaceSelf: CanPlaceDep | undefined;
  placed: TreeNode | undefined;

  constructor(options: PlaceOptions) {
    this.dep = options.dep;
    this.edge = options.edge;
    this.parent = options.parent;
    this.preferDedupe = options.preferDedupe;
    this.#onConflict = options.onConflict;
    this.name = this.edge.name;
    if (this.edge.to && !this.edge.error) return;
    this.#place();
  }

  get top(): PlaceDep {
    return this.parent ? this.parent.top : this;
  }

  #place(): void {
    for (const target of this.#startNode().ancestry()) {
      // Never inside a package that has this name as a peer.
      if (!target.isTop && target.edgesOut.get(this.name)?.peer) continue;
      const check = new CanPlaceDep({
        dep: this.dep,
        edge: this.edge,
        parent: this.parent?.canPlace,
        target,
        preferDedupe: this.preferDedupe,
      });
      if (check.canPlaceSelf !== "CONFLICT") this.canPlaceSelf = check;
      if (check.canPlace === "CONFLICT") break;
      this.canPlace = check;
      if (this.dep.error) break;
    }
    if (!this.canPlace) {
      // npm stops with ERESOLVE when the conflict is the project's own; the plan goes on as --force would.
      if (this.#isMine) this.#conflict(this.top.edge, true);
      if (!this.canPlaceSelf) {
        this.#conflict(this.edge, false);
        return;
      }
      this.canPlace = this.canPlaceSelf;
    }
    const { target } = this.canPlace;
    const placement =
      this.canPlace.canPlace === "CONFLICT" ? this.canPlace.canPlaceSelf : this.canPlace.canPlace;
    if (placement === "KEEP") {
      if (this.edge.peer && !this.edge.valid) this.#conflict(this.edge, false);
      this.#pruneDedupable(target);
      return;
    }
    // A package that needs a copy of one of its own ancestors gets a link to it.
    for (let p: TreeNode | undefined = target; p; p = p.resolveParent) {
      if (p.matches(this.dep) && !p.isTop) {
        this.placed = new TreeNode({ name: this.name, manifest: {}, linkTarget: p });
        this.placed.setParent(target);
        return;
      }
    }
    const virtualRoot = this.dep.parent as TreeNode;
    const placed = new TreeNode({
      name: this.dep.name,
      manifest: this.dep.manifest,
      error: this.dep.error,
      artifact: this.dep.artifact,
      legacyPeerDeps: this.dep.legacyPeerDeps,

      linkTarget: this.dep.linkTarget,
    });
    this.placed = placed;
    const oldDep = target.children.get(this.name);
    if (oldDep) this.#replaceOldDep(oldDep, placed);
    else placed.setParent(target);
    if (this.edge.peer && !placed.satisfies(this.edge)) this.#conflict(this.edge, false);
    const before = this.edge.to;
    if (this.edge.valid && before && before !== placed) this.#pruneDedupable(before, false);
    const sameName = placed.named(this.name);
    for (const node of sameName) {
      if (node.isDescendantOf(target) && !node.isTop) {
        this.#pruneDedupable(node, false);
        if (node.root === target.root) {
          for (const kid of [...node.children.values()]) this.#pruneDedupable(kid, false);
        }
      }
    }
    for (const peerEdge of placed.edgesOut.values()) {
      if (peerEdge.valid || !peerEdge.peer || peerEdge.peerConflicted) continue;
      const peer = virtualRoot.children.get(peerEdge.name);
      if (!peer?.satisfies(peerEdge)) continue;
      this.children.push(
        new PlaceDep({
          dep: peer,
          edge: peerEdge,
          parent: this,
          preferDedupe: this.preferDedupe,
          onConflict: this.#onConflict,
        }),
      );
    }
  }

  #replaceOldDep(oldDep: TreeNode, placed: TreeNode): void {
    const target = oldDep.parent as TreeNode;
    const oldDeps: TreeNode[] = [];
    for (const [name, edge] of oldDep.edgesOut) {
      const to = edge.to;
      if (!placed.edgesOut.has(name) && to) oldDeps.push(...gatherDepSet([to], (e) => e.to !== to));
    }
    // Peer sets that needed the old version and can be nested elsewhere are pruned and looked at again.
    const prunePeerSets: TreeNode[] = [];
    for (const edge of oldDep.edgesIn) {
      if (
        placed.satisfies(edge) ||
        !edge.peer ||
        edge.from.parent !== target ||
        edge.peerConflicted
      )
        continue;
      for (const entryEdge of peerEntrySets(edge.from).keys()) {
        const entryNode = entryEdge.to as TreeNode;
        const entryFrom = entryEdge.from;
        if (entryNode !== target && !(entryFrom.isProjectRoot || entryFrom.isWorkspace)) {
          prunePeerSets.push(
            ...gatherDepSet([entryNode], (e) => e.to !== entryNode && !e.peerConflicted),
          );
        } else {
          this.#conflict(edge, false);
        }
      }
    }
    placed.replace(oldDep);
    this.#pruneForReplacement(placed, oldDeps);
    for (const dep of prunePeerSets) {
      for (const edge of dep.edgesIn) this.needEvaluation.add(edge.from);
      dep.remove();
    }
  }

  /** What the replaced version used and the new one does not, and what now resolves wrongly, goes. */
  #pruneForReplacement(node: TreeNode, oldDeps: readonly TreeNode[]): void {
    const invalid = new Set<TreeNode>();
    for (const e of node.edgesOut.values()) {
      const to = e.to;
      if (to && !e.valid) invalid.add(to);
    }
    for (const dep of oldDeps) {
      for (const d of gatherDepSet([dep], (e) => e.to !== dep && e.valid)) invalid.add(d);
    }
    const doomed = gatherDepSet(
      invalid,
      (edge) => edge.from !== node && edge.to !== node && edge.valid,
    );
    for (const dep of doomed) dep.remove();
  }

  #pruneDedupable(node: TreeNode, descend = true): void {
    if (node.canDedupe(this.preferDedupe)) {
      for (const dep of gatherDepSet([node], (e) => e.to !== node && e.valid)) dep.remove();
      return;
    }
    if (!descend) return;
    const byLocation = (a: TreeNode, b: TreeNode) => compareText(a.location, b.location);
    for (const child of [...node.children.values()].sort(byLocation)) this.#pruneDedupable(child);
    for (const top of [...node.fsChildren].sort(byLocation)) {
      for (const child of [...top.children.values()].sort(byLocation)) this.#pruneDedupable(child);
    }
  }

  /** The project (or a workspace) asked for this, directly or through a peer set it entered. */
  get #isMine(): boolean {
    const { edge } = this.top;
    const node = edge.from;
    if (node.isWorkspace || node.isProjectRoot) return true;
    if (!edge.peer) return false;
    let hasPeerEdges = false;
    for (const e of node.edgesIn) {
      if (e.peer) {
        hasPeerEdges = true;
        continue;
      }
      if (e.from.isWorkspace || e.from.isProjectRoot) return true;
    }
    if (hasPeerEdges) {
      for (const e of peerEntrySets(node).keys()) {
        if (e.from.isWorkspace || e.from.isProjectRoot) return true;
      }
    }
    return false;
  }

  #conflict(edge: Edge, fatal: boolean): void {
    if (!fatal) edge.peerConflicted = true;
    const from = edge.from.location;
    this.#onConflict({ from, name: edge.name, spec: edge.spec, fatal });
  }

  #startNode(): TreeNode {
    const from = this.parent ? this.parent.#startNode() : this.edge.from;
    return deepestNestingTarget(from, this.name);
  }
}

/** npm orders names and paths with an English collation (@isaacs/string-locale-compare). */
export const compareText = new Intl.Collator("en").compare;
