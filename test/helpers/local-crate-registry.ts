/**
 * A cargo `local-registry` source on disk: `index/` in the layout of cargo's
 * registry index (one file per crate, one JSON line per version) and the
 * `.crate` files beside it as <name>-<version>.crate. It lets the corpus be
 * checked by the real cargo without any server, and the same directory,
 * given a config.json, is a sparse registry for any static file server.
 * Its index lines carry only what cargo needs to resolve; they are not the
 * registry's.
 */
import { createHash } from "node:crypto";
import { appendFile, copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { CrateDependency } from "./crate-manifest.ts";
import type { PackagedCrate } from "./crate-packages.ts";

/** cargo's index path of a crate: 1/a, 2/ab, 3/a/abc, ab/cd/abcd… */
function indexPath(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length <= 2) return `${lower.length}/${lower}`;
  if (lower.length === 3) return `3/${lower[0]}/${lower}`;
  return `${lower.slice(0, 2)}/${lower.slice(2, 4)}/${lower}`;
}

function dependencyLine(dep: CrateDependency) {
  const table = dep.table;
  return {
    name: dep.key,
    req: String(table.version ?? "*"),
    features: (table.features ?? []) as string[],
    optional: table.optional === true,
    default_features: table["default-features"] !== false && table.default_features !== false,
    target: dep.target ?? null,
    kind: dep.kind,
    package: dep.crate === dep.key ? null : dep.crate,
  };
}

export async function createLocalRegistry(dir: string): Promise<string> {
  await mkdir(join(dir, "index"), { recursive: true });
  return dir;
}

/** Adds a packaged crate: its `.crate` file and its line in the crate's index file. */
export async function addToLocalRegistry(dir: string, packaged: PackagedCrate): Promise<void> {
  const { crate, file } = packaged;
  const bytes = await readFile(file);
  const line = {
    name: crate.name,
    vers: crate.version,
    deps: crate.dependencies.map(dependencyLine),
    cksum: createHash("sha256").update(bytes).digest("hex"),
    features: crate.featureTable,
    yanked: false,
    links: crate.links ?? null,
  };
  await copyFile(file, join(dir, `${crate.name}-${crate.version}.crate`));
  const path = join(dir, "index", indexPath(crate.name));
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, `${JSON.stringify(line)}\n`);
}

/**
 * Makes the local registry at `dir` a sparse registry too, once served at
 * `url`: the index at `${url}index/`, downloads from the crate files beside it.
 */
export async function makeSparseConfig(dir: string, url: string): Promise<string> {
  const config = { dl: `${url}{crate}-{version}.crate` };
  await writeFile(join(dir, "index", "config.json"), JSON.stringify(config));
  return `${url}index/`;
}
