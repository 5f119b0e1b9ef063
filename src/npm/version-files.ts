/**
 * A version's files as the log publishes them: its file index
 * (file-index.ts) as a blob named by the entry's `files`, and every file
 * the index lists as a blob of its raw bytes, `blob/sha256/<sha256>`. The
 * origin computes them from the tarball at publish; a mirror (or a
 * monitor) recomputes them from the tarball it copied and refuses an
 * index that differs by one byte.
 */
import type { VersionFiles } from "../origin/registry.ts";
import type { Artifact, BlobRef, Entry } from "../registry/entries.ts";
import { fileIndexBytes } from "./file-index.ts";
import { PackageFilesError } from "./package-files-error.ts";
import { type UnpackedPackage, unpackTarball } from "./unpack.ts";

export function versionFilesOf(unpacked: UnpackedPackage): VersionFiles {
  return { index: fileIndexBytes(unpacked.index), contents: unpacked.files.map((f) => f.data) };
}

/** A version's files from its tarball (bytes checked against `artifact` already, and again here). */
export async function versionFilesOfTarball(
  tarball: Uint8Array,
  version: { readonly name: string; readonly version: string; readonly artifact: Artifact },
): Promise<VersionFiles> {
  const unpacked = await unpackTarball(
    Buffer.from(tarball.buffer, tarball.byteOffset, tarball.length),
    {
      integrity: `sha512-${version.artifact.sha512}`,
      sha256: version.artifact.sha256,
      name: version.name,
      version: version.version,
    },
  );
  return versionFilesOf(unpacked);
}

/** What an entry binds: the version, its tarball and the index the origin published for it. */
export interface FilesClaim {
  readonly name: string;
  readonly version: string;
  readonly artifact: Artifact;
  readonly files: BlobRef;
}

/** The claim an entry makes about a version's files, if it names an index. */
export function filesClaimOf(entry: Entry | { readonly kind: "void" }): FilesClaim | undefined {
  if ((entry.kind !== "publish" && entry.kind !== "artifact") || !entry.files) return undefined;
  const { name, version, artifact, files } = entry;
  return { name, version, artifact, files };
}

/**
 * Unpacks a version's tarball (bytes checked against the entry already)
 * and checks that the index it gives is, byte for byte, the one the entry
 * names (`index`, checked against `files` already); returns the files.
 */
export async function recomputeVersionFiles(
  claim: FilesClaim,
  tarball: Uint8Array,
  index: Uint8Array,
): Promise<VersionFiles> {
  const files = await versionFilesOfTarball(tarball, claim);
  if (!Buffer.from(files.index).equals(Buffer.from(index)))
    throw new PackageFilesError(
      "index-mismatch",
      `the file index ${claim.files.sha256} of ${claim.name}@${claim.version} is not the one its tarball gives`,
    );
  return files;
}

/**
 * A monitor's check of one entry (`cairn verify`): the index it names
 * recomputed from its tarball, when the copy served both whole (a blob it
 * did not serve is a problem reported already).
 */
export async function checkFilesClaim(
  entry: Entry,
  blob: (sha256: string) => Uint8Array | undefined,
): Promise<void> {
  const claim = filesClaimOf(entry);
  const tarball = claim && blob(claim.artifact.sha256);
  const index = claim && blob(claim.files.sha256);
  if (claim && tarball && index) await recomputeVersionFiles(claim, tarball, index);
}
