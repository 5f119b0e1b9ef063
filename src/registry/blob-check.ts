/**
 * Checks that blob bytes are the ones a log entry names, before anyone
 * serves them: a manifest by its size and SHA-256, a tarball also by the
 * SHA-512 that clients check as `integrity`. Bytes read back from a disk or
 * fetched from another server are suspect until they pass.
 */
import { createHash } from "node:crypto";
import { CodedError } from "../util/coded-error.ts";
import { sha256Hex } from "../util/sha256.ts";
import type { Artifact, BlobRef, VersionEntry } from "./entries.ts";

/**
 * `unfetched`: an imported version whose tarball the origin has not fetched from its uplink yet.
 * `unixfs-mismatch`: a tarball whose UnixFS root is not the one its entry records.
 */
export type BlobErrorCode = "missing" | "mismatch" | "unfetched" | "unixfs-mismatch";

export class BlobError extends CodedError<BlobErrorCode> {
  override name = "BlobError";
}

export function verifyBlob(ref: BlobRef, bytes: Uint8Array): void {
  if (bytes.length !== ref.size) {
    throw new BlobError(
      "mismatch",
      `blob ${ref.sha256} has ${bytes.length} bytes, not ${ref.size}`,
    );
  }
  if (sha256Hex(bytes) !== ref.sha256) {
    throw new BlobError("mismatch", `blob bytes do not hash to ${ref.sha256}`);
  }
}

/**
 * The artifact's other hashes, for bytes whose SHA-256 is already checked
 * (from a BlobStore, or from a fetch checked by verifyBlob): npm's SHA-512
 * integrity, which npm's rules require of every npm artifact. An ecosystem
 * whose artifacts name only their SHA-256 (cargo) has nothing more to check.
 */
export function verifyIntegrity(artifact: Artifact, bytes: Uint8Array): void {
  if (artifact.sha512 === undefined) return;
  if (createHash("sha512").update(bytes).digest("base64") !== artifact.sha512) {
    throw new BlobError("mismatch", `tarball ${artifact.sha256} does not match its sha512`);
  }
}

export function verifyTarball(artifact: Artifact, bytes: Uint8Array): void {
  verifyBlob(artifact, bytes);
  verifyIntegrity(artifact, bytes);
}

/** The artifact a version's tarball must match; an imported one may not have its bytes yet. */
export function boundArtifact(entry: VersionEntry): Artifact {
  if (entry.artifact) return entry.artifact;
  throw new BlobError(
    "unfetched",
    `the tarball of ${entry.name}@${entry.version} has not been fetched from its uplink yet`,
  );
}
