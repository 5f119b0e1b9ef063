/**
 * npm's rules as the registry core applies them (src/registry/ecosystem.ts):
 * names are their own keys, versions are canonical semver (npm cannot
 * install another), artifacts carry npm's SHA-1 and SHA-512, resolutions
 * have npm's manifest shapes, and `latest` follows a withdrawn version.
 */
import semver from "semver";
import type { Ecosystem, PackageEntryKind } from "../../registry/ecosystem.ts";
import { EntryError, type PackageEntry } from "../../registry/entries.ts";
import { registryDependencies } from "./dependencies.ts";
import { artifactMatches, checkArtifactHashes, checkIntegrity } from "./integrity.ts";
import { repointLatest } from "./latest.ts";
import { checkResolution } from "./resolution.ts";

const KINDS: ReadonlySet<PackageEntryKind> = new Set([
  "publish",
  "import",
  "artifact",
  "unpublish",
  "dist-tag",
  "deprecate",
  "owner",
  "takedown",
  "restore",
  // The origin's registry signatures (dist.signatures); no cargo client checks any.
  "signature",
]);

function checkVersion(version: string | null | undefined): void {
  if (version === null || version === undefined) return;
  if (semver.valid(version) !== version)
    throw new EntryError(
      "bad-field",
      `entry field version ${JSON.stringify(version.slice(0, 64))} is not a canonical semver version`,
    );
}

export const npm: Ecosystem = {
  id: "npm",
  keyName: (name) => name,
  kinds: KINDS,
  checkEntry(entry: PackageEntry, check) {
    if ("version" in entry) checkVersion(entry.version);
    switch (entry.kind) {
      case "publish":
        checkArtifactHashes(entry.artifact);
        if (check === "append") checkResolution(entry.resolution);
        break;
      case "import":
        checkIntegrity(entry.integrity);
        if (check === "append") checkResolution(entry.resolution);
        break;
      case "artifact":
        checkArtifactHashes(entry.artifact);
        break;
    }
  },
  current: (doc) => doc.distTags.latest,
  afterVersionRemoved: repointLatest,
  artifactMatches,
  *dependencyNames(resolution) {
    for (const root of registryDependencies(resolution as Record<string, unknown>)) yield root.name;
  },
};
