/**
 * npm's tarball hashes: `dist.integrity` (SHA-512, base64) and
 * `dist.shasum` (SHA-1, hex). A published artifact carries both; an
 * upstream's claim has at least one (old versions on the public npm
 * registry have only the SHA-1).
 */
import {
  ARTIFACT_HASHES,
  type Artifact,
  EntryError,
  type ImportedVersion,
  type VersionEntry,
} from "../../registry/entries.ts";
import { isObject } from "../../util/is-object.ts";

/** What an upstream advertised for a version's tarball. */
export interface UpstreamIntegrity {
  readonly sha512?: string;
  readonly sha1?: string;
}

const NPM_HASHES = ["sha1", "sha512"] as const;

function bad(message: string): EntryError {
  return new EntryError("bad-field", message);
}

/** The hashes a client checks the tarball against (npm's `dist.integrity` and `dist.shasum`). */
export function integrityOf(entry: VersionEntry): UpstreamIntegrity {
  if (entry.artifact) return { sha512: entry.artifact.sha512, sha1: entry.artifact.sha1 };
  return (entry as ImportedVersion).integrity;
}

/** An artifact names both of npm's hashes (the envelope checked their spelling). */
export function checkArtifactHashes(artifact: Artifact): void {
  for (const hash of NPM_HASHES)
    if (typeof artifact[hash] !== "string") throw bad(`entry field artifact needs ${hash}`);
}

/** At least one of sha512 and sha1, and nothing else. */
export function checkIntegrity(value: unknown): void {
  if (!isObject(value)) throw bad("entry field integrity must be an object");
  const keys = Object.keys(value);
  if (keys.length === 0 || keys.some((k) => k !== "sha512" && k !== "sha1"))
    throw bad("entry field integrity must have sha512, sha1 or both, and nothing else");
  for (const hash of NPM_HASHES) {
    const claimed = value[hash];
    if (
      Object.hasOwn(value, hash) &&
      (typeof claimed !== "string" || !ARTIFACT_HASHES[hash].test(claimed))
    )
      throw bad(`entry field integrity.${hash} is malformed`);
  }
}

/** Whether bound bytes' hashes are each one the upstream claimed. */
export function artifactMatches(
  integrity: Readonly<Record<string, string>>,
  artifact: Artifact,
): boolean {
  const { sha512, sha1 } = integrity;
  return !(
    (sha512 !== undefined && sha512 !== artifact.sha512) ||
    (sha1 !== undefined && sha1 !== artifact.sha1)
  );
}
