/**
 * npm's projection of a version for the origin's neutral publish: the
 * manifest's resolution, search and sharing fields, npm's SHA-512 and SHA-1
 * beside the SHA-256, and the manifest stored as canonical JSON.
 */
import {
  type PublishRequest,
  type Registry,
  RegistryError,
  type VersionFiles,
} from "../origin/registry.ts";
import { CanonicalJsonError, canonicalJsonBytes } from "../registry/canonical-json.ts";
import { resolutionOf, searchFields, shareField } from "./rules/projection.ts";
import { checkResolution } from "./rules/resolution.ts";

/** An npm version to publish, as a publish body or an import decodes it. */
export interface NpmPublish {
  readonly actor: string;
  readonly name: string;
  readonly version: string;
  /** The dist-tag to point at this version, if any. */
  readonly tag?: string;
  readonly manifest: Record<string, unknown>;
  readonly tarball: Uint8Array;
  readonly integrity: string;
  readonly shasum: string;
  /** The tarball's sha256 (hex) if the caller hashed it already, as a publish body is decoded. */
  readonly sha256?: string;
  /** The version's file index and files; without them the entry names no `files`. */
  readonly files?: VersionFiles;
}

/** The manifest as it is stored: canonical JSON, refused (not thrown past) when it cannot be. */
function manifestBlobBytes(manifest: Record<string, unknown>): Uint8Array {
  try {
    return canonicalJsonBytes(manifest);
  } catch (err) {
    if (!(err instanceof CanonicalJsonError)) throw err;
    throw new RegistryError("invalid", `the manifest cannot be stored: ${err.message}`, {
      cause: err,
    });
  }
}

export function npmPublishRequest(req: NpmPublish): PublishRequest {
  const resolution = resolutionOf(req.manifest);
  checkResolution(resolution);
  return {
    actor: req.actor,
    ecosystem: "npm",
    name: req.name,
    version: req.version,
    ...(req.tag ? { tag: req.tag } : {}),
    artifact: req.tarball,
    ...(req.sha256 !== undefined ? { sha256: req.sha256 } : {}),
    artifactHashes: { sha512: req.integrity.slice("sha512-".length), sha1: req.shasum },
    metadata: manifestBlobBytes(req.manifest),
    resolution,
    ...searchFields(req.manifest),
    ...shareField(req.manifest),
    ...(req.files ? { files: req.files } : {}),
  };
}

/** Publishes an npm version through the origin's neutral publish. */
export async function publishNpm(
  registry: Registry,
  req: NpmPublish,
): ReturnType<Registry["publish"]> {
  return registry.publish(npmPublishRequest(req));
}
