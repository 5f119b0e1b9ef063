/**
 * The check every reader of a tarball makes before using it: the bytes must
 * have the size and all the digests its publish entry records (the SHA-256
 * that names the blob, npm's SHA-512 integrity and SHA-1 shasum).
 */
import { createHash } from "node:crypto";
import type { PublishEntry } from "./entries.ts";

export class ArtifactMismatchError extends Error {
  override name = "ArtifactMismatchError";
}

export function checkArtifact(entry: PublishEntry, data: Uint8Array): void {
  const { artifact } = entry;
  const what = `the tarball of ${entry.name}@${entry.version}`;
  if (data.length !== artifact.size)
    throw new ArtifactMismatchError(`${what} has ${data.length} bytes, want ${artifact.size}`);
  if (createHash("sha256").update(data).digest("hex") !== artifact.sha256)
    throw new ArtifactMismatchError(`${what} does not match its sha256`);
  if (createHash("sha512").update(data).digest("base64") !== artifact.sha512)
    throw new ArtifactMismatchError(`${what} does not match its sha512 integrity`);
  if (createHash("sha1").update(data).digest("hex") !== artifact.sha1)
    throw new ArtifactMismatchError(`${what} does not match its sha1 shasum`);
}
