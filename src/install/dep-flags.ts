/**
 * The dev / optional / devOptional / peer flags npm's lockfile records, as
 * arborist's calcDepFlags computes them: every package starts flagged, and a
 * depth-first walk from the project clears a flag on whatever an edge reaches
 * from a package that lacks it through an edge that lacks it (a prod edge
 * clears everything; a dev edge leaves `dev`; an optional edge leaves
 * `optional`; a peer edge leaves `peer`). A folder that holds an unflagged
 * package is unflagged too, since it must exist for its child to.
 */
import { type Edge, gatherDepSet, type TreeNode } from "./arbor.ts";

type Flag = "dev" | "optional" | "devOptional" | "peer" | "extraneous";

export function calcDepFlags(root: TreeNode): void {
  root.dev = root.optional = root.devOptional = root.peer = false;
  // treeverse's depth walk, as arborist runs it: a stack, so a node's last edge is followed first.
  const seen = new Set<TreeNode>();
  const stack = [root];
  for (let node = stack.pop(); node; node = stack.pop()) {
    if (seen.has(node)) continue;
    seen.add(node);
    for (const edge of step(node).edgesOut.values()) {
      const to = edge.to;
      if (to) stack.push(to);
    }
  }
}

function step(node: TreeNode): TreeNode {
  node.extraneous = false;
  for (const flag of ["extraneous", "dev", "peer", "devOptional", "optional"] as const) {
    resetParents(node, flag);
  }
  const target = node.linkTarget;
  if (target) {
    target.dev = node.dev;
    target.optional = node.optional;
    target.devOptional = node.devOptional;
    target.peer = node.peer;
    return step(target);
  }
  for (const { peer, optional, dev, to } of node.edgesOut.values()) {
    if (!to) continue;
    to.extraneous = false;
    const unsetDevOpt = !node.devOptional && !node.dev && !node.optional && !dev && !optional;
    const unsetDev = unsetDevOpt || (!node.dev && !dev);
    const unsetOpt = unsetDevOpt || (!node.optional && !optional);
    if (!node.peer && !peer) unsetFlag(to, "peer");
    if (unsetDevOpt) unsetFlag(to, "devOptional");
    if (unsetDev) unsetFlag(to, "dev");
    if (unsetOpt) unsetFlag(to, "optional");
  }
  return node;
}

function resetParents(node: TreeNode, flag: Flag): void {
  if (node[flag]) return;
  for (let p = node.resolveParent; p?.[flag]; p = p.resolveParent) p[flag] = false;
}

/** Clears `flag` on `node` and on what it reaches by prod edges (and peer edges, but for `peer` itself). */
function unsetFlag(node: TreeNode, flag: Flag): void {
  if (!node[flag]) return;
  const follows = (edge: Edge) => edge.type === "prod" || (flag !== "peer" && edge.type === "peer");
  const seen = new Set<TreeNode>();
  const stack = [node];
  for (let n = stack.pop(); n; n = stack.pop()) {
    if (seen.has(n)) continue;
    seen.add(n);
    n.extraneous = false;
    n[flag] = false;
    const t = n.linkTarget ?? n;
    if (t !== n) t.extraneous = t[flag] = false;
    for (const edge of t.edgesOut.values()) {
      const to = edge.to;
      if (to?.[flag] && follows(edge)) stack.push(to);
    }
  }
}

/** arborist's optionalSet: an optional package, what needs it through required edges, and what only they need. */
export function optionalSet(node: TreeNode): Set<TreeNode> {
  if (!node.optional) return new Set();
  const set = new Set([node]);
  for (const n of set) {
    for (const edge of n.edgesIn) if (!edge.optional) set.add(edge.from);
  }
  return gatherDepSet(set, (edge) => !edge.optional);
}
