/**
 * The direction of dependency between the top-level folders of src/ (and
 * the sub-folder layers, such as npm/rules), as the README's Layout section
 * states it: a module may import its own layer and the layers listed for
 * it, nothing else. Every quoted relative
 * `.ts` specifier counts (imports, `import type`, re-exports, dynamic
 * imports), so a new cycle fails here rather than in review.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import { test } from "node:test";

const SRC = join(import.meta.dirname, "..", "src");

/**
 * Folders of src/ that are layers of their own, apart from their parent:
 * an ecosystem's pure rules, which the registry core is handed and never imports.
 */
const SUBLAYERS = ["npm/rules", "cargo/rules"];

/** Each layer and the layers it may import, lowest layer first. */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  log: ["util"],
  store: ["log", "util"],
  registry: ["store", "log", "util"],
  "npm/rules": ["registry", "util"],
  "cargo/rules": ["registry", "util"],
  ecosystems: ["npm/rules", "cargo/rules", "registry", "util"],
  client: ["ecosystems", "npm/rules", "registry", "store", "log", "util"],
  gc: ["registry", "store", "log", "util"],
  origin: ["gc", "ecosystems", "registry", "store", "log", "util"],
  witness: ["log", "util"],
  upstream: ["origin", "ecosystems", "npm/rules", "registry", "store", "log", "util"],
  gateway: ["ecosystems", "registry", "store", "log", "util"],
  web: ["client", "ecosystems", "npm/rules", "registry", "store", "log", "util"],
  cargo: [
    "web",
    "gateway",
    "upstream",
    "origin",
    "client",
    "ecosystems",
    "cargo/rules",
    "registry",
    "store",
    "log",
    "util",
  ],
  // The origin server (src/npm/origin-server.ts) mounts cargo's routes beside npm's.
  npm: [
    "cargo",
    "cargo/rules",
    "web",
    "gateway",
    "upstream",
    "origin",
    "gc",
    "client",
    "ecosystems",
    "npm/rules",
    "registry",
    "store",
    "log",
    "util",
  ],
  mirror: [
    "cargo",
    "cargo/rules",
    "web",
    "gateway",
    "npm",
    "upstream",
    "gc",
    "client",
    "ecosystems",
    "npm/rules",
    "registry",
    "store",
    "log",
    "util",
  ],
  proxy: [
    "cargo",
    "cargo/rules",
    "web",
    "gateway",
    "npm",
    "upstream",
    "client",
    "ecosystems",
    "npm/rules",
    "registry",
    "store",
    "log",
    "util",
  ],
  install: ["npm", "client", "ecosystems", "npm/rules", "registry", "store", "log", "util"],
  peer: [
    "gateway",
    "install",
    "npm",
    "client",
    "ecosystems",
    "npm/rules",
    "registry",
    "store",
    "log",
    "util",
  ],
  cli: [
    "witness",
    "cargo",
    "web",
    "peer",
    "install",
    "gateway",
    "proxy",
    "mirror",
    "npm",
    "cargo",
    "upstream",
    "origin",
    "gc",
    "client",
    "ecosystems",
    "npm/rules",
    "cargo/rules",
    "registry",
    "store",
    "log",
    "util",
  ],
};

/** Modules that may hold SQL: the derived state's, the origin's own user database, the witness's store. */
const SQL_OWNERS = (file: string) =>
  file.startsWith(`registry${sep}`) ||
  file === join("origin", "auth.ts") ||
  file === join("witness", "store.ts");

interface SourceFile {
  /** Relative to src/. */
  readonly path: string;
  readonly text: string;
}

async function sources(): Promise<SourceFile[]> {
  const names = await readdir(SRC, { recursive: true });
  const files = names.filter((n) => n.endsWith(".ts")).sort();
  return Promise.all(
    files.map(async (path) => ({ path, text: await readFile(join(SRC, path), "utf8") })),
  );
}

/** The layer a module (relative to src/) belongs to: its sub-folder layer, else its top folder. */
function folderOf(path: string): string {
  const parts = path.split(sep);
  const sub = `${parts[0]}/${parts[1]}`;
  return parts.length > 2 && SUBLAYERS.includes(sub) ? sub : parts[0];
}

/** The src/ folders a module imports from, with the specifier that does it. */
function imports(file: SourceFile): { folder: string; specifier: string }[] {
  const found = file.text.matchAll(/["'](\.\.?\/[^"'\s]+\.ts)["']/g);
  return [...found].map(([, specifier]) => {
    const target = relative(SRC, join(SRC, dirname(file.path), specifier));
    return { folder: folderOf(target), specifier };
  });
}

test("every folder of src/ has its place in the layering", async () => {
  const top = (await readdir(SRC, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  const subs: string[] = [];
  for (const sub of SUBLAYERS)
    if (
      (await readdir(join(SRC, dirname(sub))).catch(() => [] as string[])).includes(basename(sub))
    )
      subs.push(sub);
  assert.deepEqual([...top, ...subs].sort(), Object.keys(ALLOWED).sort());
  assert.deepEqual(
    (await readdir(SRC)).filter((n) => n.endsWith(".ts")),
    [],
    "modules live in a folder",
  );
});

test("the registry core imports no ecosystem's rules", () => {
  for (const layer of ["registry", "store", "log", "util"])
    assert.deepEqual(
      ALLOWED[layer].filter((l) => SUBLAYERS.includes(l) || l === "ecosystems"),
      [],
      layer,
    );
});

test("the allowed dependencies have no cycle", () => {
  const placed = new Set<string>();
  // Kahn's algorithm: a folder is placed once everything it may import is.
  for (let progress = true; progress; ) {
    progress = false;
    for (const [folder, deps] of Object.entries(ALLOWED))
      if (!placed.has(folder) && deps.every((d) => placed.has(d))) {
        placed.add(folder);
        progress = true;
      }
  }
  assert.deepEqual([...placed].sort(), Object.keys(ALLOWED).sort());
});

test("every import between folders goes in an allowed direction", async () => {
  const wrong: string[] = [];
  for (const file of await sources()) {
    const from = folderOf(file.path);
    for (const { folder, specifier } of imports(file))
      if (folder !== from && !ALLOWED[from]?.includes(folder))
        wrong.push(`${file.path} imports ${specifier} (${from} -> ${folder})`);
  }
  assert.deepEqual(wrong, []);
});

test("SQL stays behind the state module", async () => {
  const wrong: string[] = [];
  for (const file of await sources()) {
    if (SQL_OWNERS(file.path)) continue;
    if (/["']node:sqlite["']/.test(file.text)) wrong.push(`${file.path} imports node:sqlite`);
    if (/\.db\b|\.sql\(/.test(file.text)) wrong.push(`${file.path} reaches into a database`);
  }
  assert.deepEqual(wrong, []);
});
