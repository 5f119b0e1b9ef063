/**
 * What an install put in node_modules, to compare two installs file by
 * file: the same package manager against two registries must give the
 * same bytes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { ClientResult } from "./npm-client.ts";

/** What the package managers write about an install rather than the install itself. */
const METADATA = new Set([
  "node_modules/.package-lock.json",
  "node_modules/.modules.yaml",
  "node_modules/.pnpm/lock.yaml",
  "node_modules/.yarn-state.yml",
  "node_modules/.cairn-install.json",
]);

/** Every file and symlink under `root`/node_modules: its path, then the SHA-256 of its bytes or its link target. */
export async function installedTree(root: string): Promise<Map<string, string>> {
  const tree = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(root, rel))) {
      const path = `${rel}/${name}`;
      if (METADATA.has(path) || /^node_modules\/\.pnpm-workspace-state/.test(path)) continue;
      const stat = await lstat(join(root, path));
      if (stat.isSymbolicLink()) tree.set(path, `-> ${await readlink(join(root, path))}`);
      else if (stat.isDirectory()) await walk(path);
      else {
        const bytes = await readFile(join(root, path));
        // Bin shims are written by the package manager, and pnpm's name the project's own folder.
        const own = /\/\.bin\/[^/]+$/.test(path)
          ? bytes.toString("utf8").replaceAll(root, "<project>")
          : bytes;
        tree.set(path, createHash("sha256").update(own).digest("hex"));
      }
    }
  };
  await walk("node_modules");
  return tree;
}

/** Asserts that two installs hold the same files with the same bytes; returns how many files. */
export async function assertSameTree(direct: string, proxied: string): Promise<number> {
  const [a, b] = await Promise.all([installedTree(direct), installedTree(proxied)]);
  const differences: string[] = [];
  for (const [path, hash] of a) {
    if (!b.has(path)) differences.push(`only from the origin: ${path}`);
    else if (b.get(path) !== hash) differences.push(`different bytes: ${path}`);
  }
  for (const path of b.keys()) if (!a.has(path)) differences.push(`only via the proxy: ${path}`);
  assert.deepEqual(differences.slice(0, 20), [], `${differences.length} difference(s)`);
  return a.size;
}

/** A lockfile with the registry's address taken out (npm's `resolved` URLs name it). */
export async function lockfileText(dir: string, file: string, registry: string): Promise<string> {
  return (await readFile(join(dir, file), "utf8")).replaceAll(
    registry.replace(/\/$/, ""),
    "<registry>",
  );
}

export function succeeded(result: ClientResult, what: string): void {
  assert.equal(result.code, 0, `${what}:\n${result.stdout}\n${result.stderr}`);
}
