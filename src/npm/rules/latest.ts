/** npm's `latest` tag when a version is withdrawn. */
import semver from "semver";
import type { VersionDocument } from "../../registry/package-document.ts";
import { isWithdrawn } from "../../registry/takedown.ts";

/** npm's rule when `latest` loses its version: the highest live release, else prerelease. */
export function repointLatest(
  tags: Record<string, string>,
  versions: Readonly<Record<string, VersionDocument>>,
): void {
  if (tags.latest !== undefined) return;
  const live = Object.keys(versions).filter((v) => !isWithdrawn(versions[v]));
  const releases = live.filter((v) => semver.prerelease(v) === null);
  const pick = semver.rsort(releases.length > 0 ? releases : live)[0];
  if (pick !== undefined) tags.latest = pick;
}
