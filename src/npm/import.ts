/**
 * Bulk import: publishes package tarballs straight into the registry (no
 * HTTP), as one configured user, to seed it. Each tarball is checked as a
 * publish would be; versions already present are skipped, and a failure
 * is reported per file without stopping the rest. `latest` follows the
 * highest release imported, whatever the order of the files.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import { type Registry, RegistryError } from "../origin/registry.ts";
import { DEFAULT_TARBALL_LIMITS } from "../registry/tarball-limits.ts";
import { tarballFields, withTarballFields } from "./manifest.ts";
import { checkPackageName, checkVersion } from "./publish.ts";
import { type NpmPublish, publishNpm } from "./publish-request.ts";
import { inspectTarball } from "./tarball.ts";
import { packageOfTarball } from "./unpack.ts";
import { versionFilesOf } from "./version-files.ts";

export interface ImportResult {
  readonly published: number;
  readonly skipped: number;
  readonly failed: { file: string; error: string }[];
}

/** Every .tgz under the given files and directories, sorted. */
export async function findTarballs(paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) {
    if ((await stat(path)).isDirectory()) {
      const entries = await readdir(path, { recursive: true });
      for (const e of entries) if (e.endsWith(".tgz")) found.push(join(path, e));
    } else {
      found.push(path);
    }
  }
  return found.sort();
}

export async function importTarballs(
  registry: Registry,
  actor: string,
  files: readonly string[],
  onProgress: (done: number) => void = () => {},
  concurrency = 64,
): Promise<ImportResult> {
  let published = 0;
  let skipped = 0;
  let done = 0;
  const failed: { file: string; error: string }[] = [];
  const queue = [...files];
  // Versions of one package go one at a time, so that `latest` is decided on settled state.
  const perName = new Map<string, Promise<unknown>>();
  const serialized = <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const next = (perName.get(name) ?? Promise.resolve()).then(run, run);
    perName.set(
      name,
      next.catch(() => {}),
    );
    return next;
  };
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      try {
        if (await importOne(registry, actor, file, serialized)) published++;
        else skipped++;
      } catch (err) {
        failed.push({ file, error: (err as Error).message });
      }
      onProgress(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return { published, skipped, failed };
}

/** Publishes one tarball; false if that version is already there. */
async function importOne(
  registry: Registry,
  actor: string,
  file: string,
  serialized: <T>(name: string, run: () => Promise<T>) => Promise<T>,
): Promise<boolean> {
  const tarball = await readFile(file);
  const summary = await inspectTarball(tarball, DEFAULT_TARBALL_LIMITS, { keepFiles: true });
  const manifest = withTarballFields(summary.manifest, tarballFields(summary));
  const name = String(manifest.name);
  checkPackageName(name, true);
  const version = checkVersion(manifest.version);
  const hashes = {
    integrity: `sha512-${createHash("sha512").update(tarball).digest("base64")}`,
    shasum: createHash("sha1").update(tarball).digest("hex"),
    sha256: createHash("sha256").update(tarball).digest("hex"),
  };
  const tarballRef = { integrity: hashes.integrity, sha256: hashes.sha256, size: tarball.length };
  const files = versionFilesOf(packageOfTarball(summary, tarballRef, { name, version }));
  const req = { actor, name, version, manifest, tarball, ...hashes, files };
  return serialized(name, () => publishVersion(registry, req));
}

async function publishVersion(registry: Registry, req: Omit<NpmPublish, "tag">): Promise<boolean> {
  const { name, version } = req;
  if (registry.state.table("npm").hasVersion(name, version)) return false;
  const latest = registry.state.table("npm").distTags(name).latest;
  const isRelease = semver.prerelease(version) === null;
  const tag =
    latest === undefined || (isRelease && semver.gt(version, latest)) ? "latest" : undefined;
  try {
    await publishNpm(registry, { ...req, tag });
    return true;
  } catch (err) {
    // Two files of the same version racing: the other one won.
    if (
      err instanceof RegistryError &&
      err.code === "conflict" &&
      registry.state.table("npm").hasVersion(name, version)
    )
      return false;
    throw err;
  }
}
