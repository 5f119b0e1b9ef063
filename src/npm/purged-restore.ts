/**
 * The bytes a restore of a purged version offers, as the moderators' API
 * and `cairn restore --tarball` gather them: the tarball, the manifest
 * when given, and for an npm version whose entry names a file index, the
 * index and files remade from the tarball. Registry.takedown checks each
 * against the entry before anything is appended.
 */
import type { RestoredBytes } from "../origin/registry.ts";
import type { RegistryState } from "../registry/state.ts";
import { sha256Hex } from "../util/sha256.ts";
import { versionFilesOfTarball } from "./version-files.ts";

export async function restoredBytesOf(
  state: RegistryState,
  request: { readonly ecosystem: string; readonly name: string; readonly version?: string },
  tarball: Uint8Array,
  manifest: Uint8Array | undefined,
): Promise<RestoredBytes> {
  const { ecosystem, name, version } = request;
  const doc =
    version === undefined ? undefined : state.table(ecosystem).document(name)?.versions[version];
  const artifact = doc?.artifact;
  // A tarball that is not the entry's is left for the registry to refuse, with its code.
  const files =
    ecosystem === "npm" &&
    version &&
    doc?.files &&
    artifact &&
    sha256Hex(tarball) === artifact.sha256
      ? await versionFilesOfTarball(tarball, { name, version, artifact })
      : undefined;
  return { tarball, ...(manifest ? { manifest } : {}), ...(files ? { files } : {}) };
}
