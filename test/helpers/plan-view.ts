/**
 * The part of npm's lockfile `packages` section a tree plan must reproduce,
 * one line per location: the package and version (or the link), then the
 * flags npm records (dev, optional, devOptional, peer, extraneous).
 */
import type { ProjectTree } from "../../src/install/tree.ts";

export interface LockEntry {
  name?: string;
  version?: string;
  link?: boolean;
  resolved?: string;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  extraneous?: boolean;
}

const FLAGS = ["dev", "optional", "devOptional", "peer", "extraneous"] as const;

export function lockView(packages: Record<string, LockEntry>): Record<string, string> {
  const view: Record<string, string> = {};
  for (const [location, e] of Object.entries(packages)) {
    if (location === "") continue;
    // npm writes `name` only where the folder's name is not the package's.
    const cut = location.lastIndexOf("node_modules/");
    const name =
      e.name ??
      (cut < 0 ? location.slice(location.lastIndexOf("/") + 1) : location.slice(cut + 13));
    const what = e.link ? `link ${e.resolved}` : `${name}@${e.version}`;
    view[location] = [what, ...FLAGS.filter((f) => e[f])].join(" ");
  }
  return view;
}

export function planView(plan: ProjectTree): Record<string, string> {
  const view: Record<string, string> = {};
  for (const [location, p] of plan.packages) {
    const what = p.link !== undefined ? `link ${p.link}` : `${p.name}@${p.version}`;
    view[location] = [what, ...FLAGS.filter((f) => p[f])].join(" ");
  }
  return view;
}
