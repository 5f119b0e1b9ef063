/**
 * The corpus as a registry for resolution tests: each tarball's package.json
 * is a version's resolution data, and `latest` is the highest version present
 * (as the local upstream registry serves it).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import type { ResolvablePackage } from "../../src/client/resolve.ts";
import { inspectTarball } from "../../src/npm/tarball.ts";
import { corpusTarballs } from "./corpus.ts";

type Manifest = Record<string, unknown>;

/** A package whose `latest` is its highest stable version unless `distTags` says otherwise. */
export function registryPackage(
  name: string,
  versions: Record<string, Manifest>,
  distTags: Record<string, string> = {},
): ResolvablePackage {
  const latest = semver.maxSatisfying(Object.keys(versions), "*");
  return {
    name,
    distTags: { ...(latest ? { latest } : {}), ...distTags },
    versions: Object.entries(versions).map(([version, { deprecated, ...resolution }]) => ({
      version,
      resolution,
      deprecated: typeof deprecated === "string" ? deprecated : null,
    })),
  };
}

let loaded: Promise<Map<string, ResolvablePackage>> | undefined;

/** Every corpus package by name, read once per process. */
export function corpusPackages(): Promise<Map<string, ResolvablePackage>> {
  loaded ??= readCorpus();
  return loaded;
}

async function readCorpus(): Promise<Map<string, ResolvablePackage>> {
  const manifests = new Map<string, Manifest[]>();
  const dir = await corpusTarballs();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".tgz"))) {
    const { manifest } = await inspectTarball(await readFile(join(dir, file)));
    const name = String(manifest.name);
    manifests.set(name, [...(manifests.get(name) ?? []), manifest]);
  }
  return new Map(
    [...manifests].map(([name, list]) => [
      name,
      registryPackage(name, Object.fromEntries(list.map((m) => [String(m.version), m]))),
    ]),
  );
}
