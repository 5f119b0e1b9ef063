/**
 * The corpus: 433 real tarballs, the dependency closure of an application
 * whose package.json and lockfile are fixtures in the repository. The
 * lockfile is the manifest (name, version and integrity of each tarball);
 * the tarballs themselves are copied from the shared data when it is there,
 * else fetched once from the npm registry of npm's own configuration with
 * `npm pack`, and kept in a cache outside git. Each is checked against its
 * integrity before it enters the cache.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fixturePath, localSharedPath, PROJECT_ROOT } from "./shared.ts";

export const CORPUS_APP_PACKAGE_JSON = fixturePath("corpus", "app-package.json");
export const CORPUS_APP_LOCKFILE = fixturePath("corpus", "app-package-lock.json");

export interface CorpusTarball {
  readonly name: string;
  readonly version: string;
  readonly integrity: string;
  /** Its file name, as `npm pack` names it. */
  readonly file: string;
}

interface LockfilePackage {
  name?: string;
  version: string;
  integrity: string;
}

/** Every tarball of the corpus, once each, from the app's lockfile. */
export async function corpusManifest(): Promise<CorpusTarball[]> {
  const lock = JSON.parse(await readFile(CORPUS_APP_LOCKFILE, "utf8")) as {
    packages: Record<string, LockfilePackage>;
  };
  const byFile = new Map<string, CorpusTarball>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "") continue;
    // An alias (string-width-cjs) names its real package in `name`.
    const name = entry.name ?? path.slice(path.lastIndexOf("node_modules/") + 13);
    const file = `${name.replace(/^@/, "").replace("/", "-")}-${entry.version}.tgz`;
    byFile.set(file, { name, version: entry.version, integrity: entry.integrity, file });
  }
  return [...byFile.values()].sort((a, b) => (a.file < b.file ? -1 : 1));
}

/** Where fetched tarballs are kept (CAIRN_CORPUS_CACHE overrides). */
export function corpusCacheDir(): string {
  return (
    process.env.CAIRN_CORPUS_CACHE ?? join(PROJECT_ROOT, "node_modules", ".cache", "cairn-corpus")
  );
}

let ready: Promise<string> | undefined;

/** The directory holding every corpus tarball, filled first if it is not complete. */
export function corpusTarballs(): Promise<string> {
  ready ??= fillCache();
  return ready;
}

/** The path of one corpus tarball, by file name. */
export async function corpusTarball(file: string): Promise<string> {
  return join(await corpusTarballs(), file);
}

async function fillCache(): Promise<string> {
  const dir = corpusCacheDir();
  await mkdir(dir, { recursive: true });
  const present = new Set(await readdir(dir));
  const missing = (await corpusManifest()).filter((t) => !present.has(t.file));
  if (missing.length === 0) return dir;
  // Staged beside the cache (one file system), so each tarball enters it by an atomic rename
  // and test processes filling it at the same time never see a partial file.
  const staging = await mkdtemp(join(dirname(dir), ".cairn-corpus-"));
  try {
    const shared = localSharedPath("corpus", "npm");
    const have = new Set(shared ? await readdir(shared) : []);
    const toFetch: CorpusTarball[] = [];
    for (const t of missing) {
      if (shared && have.has(t.file)) await copyFile(join(shared, t.file), join(staging, t.file));
      else toFetch.push(t);
    }
    if (toFetch.length > 0) await npmPack(toFetch, staging);
    for (const t of missing) {
      const bytes = await readFile(join(staging, t.file));
      if (!matchesIntegrity(bytes, t.integrity))
        throw new Error(`${t.name}@${t.version}: the tarball does not match ${t.integrity}`);
      await rename(join(staging, t.file), join(dir, t.file));
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return dir;
}

/** Downloads tarballs with npm itself: its registry, cache, proxy and TLS settings apply. */
function npmPack(tarballs: readonly CorpusTarball[], into: string): Promise<void> {
  const specs = tarballs.map((t) => `${t.name}@${t.version}`);
  return new Promise((resolve, reject) => {
    execFile(
      "npm",
      ["pack", ...specs, "--pack-destination", into, "--ignore-scripts", "--silent"],
      { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024 },
      (err, _stdout, stderr) =>
        err
          ? reject(new Error(`npm pack of ${specs.length} corpus tarballs failed: ${stderr}`))
          : resolve(),
    );
  });
}

/** Whether `bytes` match one of the hashes of a Subresource Integrity string. */
function matchesIntegrity(bytes: Uint8Array, integrity: string): boolean {
  return integrity.split(/\s+/).some((sri) => {
    const m = /^(sha256|sha384|sha512)-(.+)$/.exec(sri);
    return m !== null && createHash(m[1]).update(bytes).digest("base64") === m[2];
  });
}
