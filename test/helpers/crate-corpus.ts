/**
 * The crate corpus: real crates (serde, serde_json, regex, clap and what
 * they need) from the sources Debian's librust-*-dev packages install, one
 * package per crate, listed in test/fixtures/cargo-app/apt-packages.txt
 * (which .ci/run installs). The application beside that list uses them all.
 *
 * The sources are not publishable as they are (see crate-manifest.ts), so
 * each crate is copied into a work directory, its manifest rewritten to
 * depend only on the corpus, and Debian's own files removed. The crates come
 * back in publish order: every crate after the crates it depends on.
 */
import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { manifestSummary, type RewrittenManifest, rewriteManifest } from "./crate-manifest.ts";
import { fixturePath } from "./shared.ts";

export const CARGO_APP_DIR = fixturePath("cargo-app");
const APT_PACKAGES_FILE = join(CARGO_APP_DIR, "apt-packages.txt");

/** Where Debian's librust-*-dev packages put crate sources, as <crate>-<version>/. */
export const DEBIAN_CRATE_SOURCES = "/usr/share/cargo/registry";

/**
 * Files Debian adds to a crate's directory: its checksum stub and the crate's
 * VCS info (cargo writes its own when packaging), Debian's patches, and a
 * toolchain file (quote's) that would make rustup fetch a component.
 */
const DEBIAN_ARTIFACTS = [
  ".cargo-checksum.json",
  ".cargo_vcs_info.json",
  "debian",
  "rust-toolchain",
  "rust-toolchain.toml",
];

export interface CorpusCrate extends RewrittenManifest {
  /** The prepared copy, ready for `cargo package` or `cargo publish`. */
  readonly dir: string;
  /** Corpus crates this one depends on (normal and build, optional or not, any target). */
  readonly needs: readonly string[];
}

/** The corpus's sources are not installed: `packages` names the Debian packages to install. */
export class CrateSourcesMissing extends Error {
  readonly packages: readonly string[];
  constructor(packages: readonly string[], allPackages: readonly string[]) {
    super(
      `crate sources missing for the Debian packages ${packages.join(", ")}; install the corpus ` +
        `with: apt-get install -y --no-install-recommends ${allPackages.join(" ")}`,
    );
    this.name = "CrateSourcesMissing";
    this.packages = packages;
  }
}

/** A fresh copy of the application that uses every corpus crate, to build in `dir`. */
export async function copyCargoApp(dir: string): Promise<string> {
  await cp(CARGO_APP_DIR, dir, { recursive: true });
  return dir;
}

/** The Debian packages of the corpus, one per crate. */
export async function corpusAptPackages(): Promise<string[]> {
  const text = await readFile(APT_PACKAGES_FILE, "utf8");
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/**
 * Debian names the package of crate `foo_bar` librust-foo-bar-dev, so a
 * package is matched to a directory by the crate name with `_` read as `-`.
 */
function packageKey(pkg: string): string {
  return pkg.replace(/^librust-/, "").replace(/-dev$/, "");
}

/** The source directory of each corpus crate, or CrateSourcesMissing naming the packages absent. */
export async function locateCrateSources(sourcesDir = DEBIAN_CRATE_SOURCES): Promise<string[]> {
  const packages = await corpusAptPackages();
  const entries = await readdir(sourcesDir).catch(() => [] as string[]);
  const byKey = new Map<string, string[]>();
  for (const entry of entries) {
    const match = /^(.+)-(\d+\.\d+\.\d+.*)$/.exec(entry);
    if (!match) continue;
    const key = match[1].replaceAll("_", "-").toLowerCase();
    byKey.set(key, [...(byKey.get(key) ?? []), join(sourcesDir, entry)]);
  }
  const missing = packages.filter((pkg) => !byKey.has(packageKey(pkg)));
  if (missing.length > 0) throw new CrateSourcesMissing(missing, packages);
  return packages.map((pkg) => {
    const dirs = byKey.get(packageKey(pkg)) ?? [];
    if (dirs.length > 1) throw new Error(`more than one version installed for ${pkg}: ${dirs}`);
    return dirs[0];
  });
}

/**
 * Copies every corpus crate into `workDir` and rewrites it to be publishable
 * against a registry holding only the corpus; returns them in publish order.
 */
export async function prepareCrateCorpus(
  workDir: string,
  sourcesDir = DEBIAN_CRATE_SOURCES,
): Promise<CorpusCrate[]> {
  const sources = await locateCrateSources(sourcesDir);
  const manifests = new Map<string, { source: string; text: string }>();
  for (const source of sources) {
    const text = await readFile(join(source, "Cargo.toml"), "utf8");
    manifests.set(manifestSummary(text, () => false).name, { source, text });
  }
  const inCorpus = (crate: string) => manifests.has(crate);
  const needs = new Map(
    [...manifests].map(([name, { text }]) => [name, manifestSummary(text, inCorpus).needs]),
  );

  const prepared = new Map<string, CorpusCrate>();
  const featuresOf = (crate: string) => {
    const done = prepared.get(crate);
    if (!done) throw new Error(`${crate} is not prepared before a crate that needs it`);
    return done.features;
  };
  for (const name of publishOrder(needs)) {
    const { source, text } = manifests.get(name) as { source: string; text: string };
    const manifest = rewriteManifest(text, inCorpus, featuresOf);
    const dir = join(workDir, `${manifest.name}-${manifest.version}`);
    await cp(source, dir, { recursive: true });
    for (const artifact of DEBIAN_ARTIFACTS)
      await rm(join(dir, artifact), { recursive: true, force: true });
    await writeFile(join(dir, "Cargo.toml"), manifest.text);
    prepared.set(name, { ...manifest, dir, needs: needs.get(name) ?? [] });
  }
  return [...prepared.values()];
}

/** Depth-first topological order, names sorted so the order is the same every run. */
function publishOrder(needs: ReadonlyMap<string, readonly string[]>): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting")
      throw new Error(`dependency cycle in the crate corpus: ${[...path, name].join(" -> ")}`);
    state.set(name, "visiting");
    for (const dep of needs.get(name) ?? []) visit(dep, [...path, name]);
    state.set(name, "done");
    order.push(name);
  };
  for (const name of [...needs.keys()].sort()) visit(name, []);
  return order;
}
