/**
 * The upgrades the upgrade benchmarks measure: for each corpus package, the
 * version the corpus app installed and the stable version just before it,
 * as the registry `npm config get registry` names lists them now. The
 * tarballs come from the shared corpus where it has them, else from that
 * registry once (checked against their packument's sha512 integrity) and
 * kept in bench/.work/upgrade-cache, so later runs are offline.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import { localSharedPath } from "../test/helpers/shared.ts";
import { WORK_DIR } from "./common.ts";

/** A mix: small utilities, mid-size libraries, packages of many files, big bundled files. */
export const DEFAULT_PACKAGES = [
  "ms",
  "debug",
  "semver",
  "express",
  "ajv",
  "axios",
  "fastify",
  "@babel/parser",
  "lodash",
  "date-fns",
  "@types/node",
  "caniuse-lite",
  "prettier",
  "typescript",
];

const CACHE_DIR = join(WORK_DIR, "upgrade-cache");

export function registryUrl(): string {
  const url = execFileSync("npm", ["config", "get", "registry"], { encoding: "utf8" }).trim();
  return url.endsWith("/") ? url : `${url}/`;
}

export interface Packument {
  readonly versions: Record<string, { dist: { tarball: string; integrity?: string } }>;
}

async function cachedOrFetched(file: string, fetchIt: () => Promise<Buffer>): Promise<Buffer> {
  if (existsSync(file)) return readFile(file);
  const bytes = await fetchIt();
  await mkdir(join(file, ".."), { recursive: true });
  // Through a rename, so a run stopped mid-write leaves no half file that later runs would trust.
  await writeFile(`${file}.tmp`, bytes);
  await rename(`${file}.tmp`, file);
  return bytes;
}

async function httpGet(url: string, accept: string): Promise<Buffer> {
  const response = await fetch(url, { headers: { accept } });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

function cacheName(name: string): string {
  return name.replace(/^@/, "").replace("/", "-");
}

export async function packument(registry: string, name: string): Promise<Packument> {
  const file = join(CACHE_DIR, "packuments", `${cacheName(name)}.json`);
  const bytes = await cachedOrFetched(file, () =>
    httpGet(`${registry}${name.replace("/", "%2f")}`, "application/vnd.npm.install-v1+json"),
  );
  return JSON.parse(bytes.toString("utf8")) as Packument;
}

function checkIntegrity(tgz: Buffer, integrity: string | undefined, what: string): void {
  if (!integrity?.startsWith("sha512-")) throw new Error(`${what}: no sha512 integrity`);
  const actual = `sha512-${createHash("sha512").update(tgz).digest("base64")}`;
  if (actual !== integrity) throw new Error(`${what}: integrity mismatch`);
}

export async function tarball(doc: Packument, name: string, version: string): Promise<Buffer> {
  const corpus = localSharedPath("corpus", "npm", `${cacheName(name)}-${version}.tgz`);
  const dist = doc.versions[version].dist;
  const tgz = corpus
    ? await readFile(corpus)
    : await cachedOrFetched(join(CACHE_DIR, "tarballs", `${cacheName(name)}-${version}.tgz`), () =>
        httpGet(dist.tarball, "application/octet-stream"),
      );
  checkIntegrity(tgz, dist.integrity, `${name}@${version}`);
  return tgz;
}

/** The newest version of `name` in the corpus: the one an app installed. */
export function corpusVersion(corpusDir: string, names: readonly string[], name: string): string {
  const prefix = `${cacheName(name)}-`;
  const versions = names
    .filter((f) => f.startsWith(prefix) && f.endsWith(".tgz"))
    .map((f) => f.slice(prefix.length, -4))
    .filter((v) => semver.valid(v) !== null);
  if (versions.length === 0) throw new Error(`${name} is not in the corpus at ${corpusDir}`);
  return versions.sort(semver.rcompare)[0];
}

/**
 * The pair to measure: the installed version and the stable version before
 * it (semver order), or the one after it when there is none before; and up
 * to `history` stable versions before the pair's older one, to train on.
 */
export function pickVersions(
  doc: Packument,
  installed: string,
  history: number,
): { from: string; to: string; earlier: string[] } {
  const stable = Object.keys(doc.versions)
    .filter((v) => semver.valid(v) !== null && semver.prerelease(v) === null)
    .sort(semver.compare);
  const at = stable.indexOf(installed);
  if (at < 0) throw new Error(`${installed} is not a stable version of the packument`);
  const [from, to] = at > 0 ? [stable[at - 1], installed] : [installed, stable[at + 1]];
  if (to === undefined) throw new Error(`no version before or after ${installed}`);
  const fromAt = stable.indexOf(from);
  return { from, to, earlier: stable.slice(Math.max(0, fromAt - history), fromAt) };
}
