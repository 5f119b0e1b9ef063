/**
 * The `.bin` links npm 7+ makes for a planned tree (npm's bin-links and
 * npm-normalize-package-bin): every installed package but the project and
 * its workspaces links each of its `bin` entries into the `.bin` folder of
 * the node_modules it sits in. A string `bin` is named after the package
 * (without its scope); a name keeps only its last path segment; a target is
 * normalised inside the package and cannot leave it. `directories.bin` makes
 * no links. When two packages claim one `.bin` name, the first in npm's
 * order wins (shallower first, then by path, npm's English collation): at
 * the top, `node_modules/jest` beats `node_modules/jest-cli` for `jest`.
 */
import { posix } from "node:path";
import { compareText } from "./place-dep.ts";
import type { PlacedPackage, ProjectTree } from "./tree.ts";

export interface BinLink {
  /** The `.bin` folder, relative to the project: `node_modules/.bin`, `node_modules/a/node_modules/.bin`. */
  readonly dir: string;
  /** The command's name: the file in `dir`. */
  readonly name: string;
  /** The file it runs, relative to the project: `node_modules/jest/bin/jest.js`. */
  readonly target: string;
  /** The symlink's text, relative to `dir`: `../jest/bin/jest.js`. */
  readonly link: string;
  /** The location of the package that provides it. */
  readonly from: string;
}

/** npm-normalize-package-bin: command name -> path inside the package. */
export function normalizeBin(manifest: Readonly<Record<string, unknown>>): Map<string, string> {
  const bins = new Map<string, string>();
  let bin = manifest.bin;
  if (typeof bin === "string") {
    if (typeof manifest.name !== "string") return bins;
    bin = { [manifest.name]: bin };
  }
  if (bin === null || typeof bin !== "object") return bins;
  for (const [key, value] of Object.entries(bin)) {
    const name = posix.join("/", posix.basename(key.replace(/\\|:/g, "/"))).slice(1);
    if (typeof value !== "string" || !name) continue;
    const target = posix.join("/", value.replace(/\\/g, "/")).slice(1);
    if (target) bins.set(name, target);
  }
  return bins;
}

/** The links to make for `tree`, leaving out the packages `skipped` names (not installed here). */
export function binLinks(
  tree: ProjectTree,
  skipped: ReadonlyMap<string, unknown> = new Map(),
): BinLink[] {
  const installed = [...tree.packages.values()].filter(
    (p) => !skipped.has(p.location) && p.location.includes("node_modules/"),
  );
  installed.sort((a, b) => depth(a) - depth(b) || compareText(a.location, b.location));
  const links: BinLink[] = [];
  const claimed = new Set<string>();
  for (const p of installed) {
    const cut = p.location.lastIndexOf("node_modules/") + "node_modules/".length;
    const dir = `${p.location.slice(0, cut)}.bin`;
    for (const [name, file] of normalizeBin(manifestOf(tree, p))) {
      const key = `${dir}/${name}`;
      if (claimed.has(key)) continue;
      claimed.add(key);
      const target = `${p.location}/${file}`;
      links.push({ dir, name, target, link: posix.relative(dir, target), from: p.location });
    }
  }
  return links;
}

function depth(p: PlacedPackage): number {
  return p.location.split("node_modules/").length - 1;
}

/** A link's bins are its workspace's, found at the workspace's own entry. */
function manifestOf(tree: ProjectTree, p: PlacedPackage): Readonly<Record<string, unknown>> {
  const target = p.link !== undefined ? tree.packages.get(p.link) : undefined;
  return { name: p.name, ...(target ?? p).manifest };
}
