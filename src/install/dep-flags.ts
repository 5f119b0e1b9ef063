/**
 * The dev / optional / devOptional / peer / extraneous flags npm's lockfile
 * records, as npm 11's calcDepFlags computes them: every package starts
 * with all flags set; walking out from the project, a flag is cleared on an
 * edge's target when the dependent lacks it and the edge is not of that
 * kind (a dev edge keeps `dev`, an optional edge keeps `optional`, a peer
 * edge keeps `peer`), and a target that changed is walked again, until
 * nothing changes. `devOptional` (reached only through edges each of which
 * is dev or optional) is cleared last wherever `dev` or `optional` remains.
 * Only an optional peer edge leaves its target extraneous.
 */
import { type Edge, gatherDepSet, type TreeNode } from "./arbor.ts";

export function calcDepFlags(root: TreeNode): void {
  root.extraneous = root.dev = root.optional = root.devOptional = root.peer = false;
  const seen = new Set<TreeNode>();
  const queue = [root];
  for (let node = queue.pop(); node; node = queue.pop()) {
    seen.add(node);
    if (!node.extraneous) {
      for (let up = node.resolveParent; up?.extraneous; up = up.resolveParent) {
        up.extraneous = false;
      }
    }
    const target = node.linkTarget;
    if (target) {
      let changed = false;
      for (const flag of ["dev", "optional", "devOptional", "peer", "extraneous"] as const) {
        if (target[flag] && !node[flag]) {
          target[flag] = false;
          changed = true;
        }
      }
      if (changed || !seen.has(target)) queue.push(target);
      continue;
    }
    for (const edge of node.edgesOut.values()) {
      const to = edge.to;
      if (to && clearFlags(node, edge, to)) queue.push(to);
    }
  }
  seen.delete(root);
  for (const node of seen) {
    if (node.devOptional && (node.dev || node.optional)) node.devOptional = false;
  }
}

/** Clears on `to` what `from` and the edge do not carry; whether anything changed. */
function clearFlags(from: TreeNode, edge: Edge, to: TreeNode): boolean {
  const { peer, optional, dev } = edge;
  let changed = false;
  if (to.extraneous && !from.extraneous && !(peer && optional)) {
    to.extraneous = false;
    changed = true;
  }
  if (to.dev && !from.dev && !dev) {
    to.dev = false;
    changed = true;
  }
  if (to.optional && !from.optional && !optional) {
    to.optional = false;
    changed = true;
  }
  if (to.devOptional && !from.devOptional && !from.dev && !from.optional && !dev && !optional) {
    to.devOptional = false;
    changed = true;
  }
  if (to.peer && !from.peer && !peer) {
    to.peer = false;
    changed = true;
  }
  return changed;
}

/**
 * npm 11's optionalSet: a package that cannot be installed, what needs it
 * through required edges, and what only they need (nothing that a package
 * still installed depends on).
 */
export function optionalSet(node: TreeNode): Set<TreeNode> {
  const set = new Set([node]);
  for (const n of set) {
    for (const edge of n.edgesIn) if (!edge.optional) set.add(edge.from);
  }
  return gatherDepSet(set, (edge) => !set.has(edge.to as TreeNode) && !edge.from.inert);
}
