/**
 * The body of an npm publish (`PUT /<name>`), as npm, pnpm and yarn send it:
 *
 *   { "_id": "left-pad", "name": "left-pad",
 *     "dist-tags": { "latest": "1.3.0" },
 *     "versions": { "1.3.0": { ...package.json, "dist": { "integrity", "shasum", "tarball" } } },
 *     "_attachments": { "left-pad-1.3.0.tgz": { "content_type": "application/octet-stream",
 *                                             "data": "<base64>", "length": 1234 } } }
 *
 * Everything is checked before anything is written: the name (npm's rules
 * for new packages), the version (strict semver), one version, one tag, one
 * attachment, the tarball (see tarball.ts), the tarball's own package.json
 * against the declared name, version and install-relevant fields (see
 * manifest.ts), and the declared integrity and shasum against the bytes.
 *
 * The attachment is decoded a slice at a time (attachment.ts), each slice
 * hashed and handed to the tarball inspector, so a large package costs the
 * event loop a few milliseconds at a time and a bad one stops at the first
 * cap it crosses. Over HTTP it is decoded as the body arrives
 * (publish-body.ts) and comes here as `streamed`.
 */
import semver from "semver";
import validateName from "validate-npm-package-name";
import type { VersionFiles } from "../origin/registry.ts";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../registry/canonical-json.ts";
import { DEFAULT_TARBALL_LIMITS, type TarballLimits } from "../registry/tarball-limits.ts";
import { AttachmentDecoder } from "./attachment.ts";
import { disagreements, tarballFields, withTarballFields } from "./manifest.ts";
import { PublishError } from "./publish-error.ts";
import { inspectTarball, TarballError, type TarballSummary } from "./tarball.ts";
import { packageOfTarball } from "./unpack.ts";
import { versionFilesOf } from "./version-files.ts";

export { PublishError, type PublishErrorCode } from "./publish-error.ts";

export interface ParsedPublish {
  readonly name: string;
  readonly version: string;
  readonly tag: string;
  /**
   * The version's manifest: as the client sent it, `dist` removed (the
   * registry writes its own), with every install-relevant field (TARBALL_FIELDS)
   * taken from the tarball's package.json instead.
   */
  readonly manifest: Record<string, unknown>;
  readonly tarball: Uint8Array;
  readonly integrity: string;
  readonly shasum: string;
  /** The tarball's sha256, hex: computed as it was decoded, so the blob store need not hash it again. */
  readonly sha256: string;
  /** The file index and files npm would install from the tarball. */
  readonly files: VersionFiles;
}

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function bad(message: string): PublishError {
  return new PublishError("bad-request", message);
}

/** npm's name rules; `legacy` accepts names npm once allowed (capitals, long names), for imports. */
export function checkPackageName(name: string, legacy = false): void {
  const result = validateName(name);
  if (!(legacy ? result.validForOldPackages : result.validForNewPackages)) {
    const reasons = [...(result.errors ?? []), ...(result.warnings ?? [])].join("; ");
    throw new PublishError(
      "invalid-name",
      `invalid package name ${JSON.stringify(name)}: ${reasons}`,
    );
  }
}

export function checkVersion(version: unknown): string {
  if (typeof version !== "string" || version.length > 256 || semver.valid(version) !== version) {
    throw new PublishError(
      "invalid-version",
      `invalid version ${JSON.stringify(version)}: not a canonical semver version`,
    );
  }
  return version;
}

/** The file name npm gives an attachment: the unscoped name, a dash, the version. */
export function tarballFileName(name: string, version: string): string {
  return `${name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name}-${version}.tgz`;
}

function onlyKey(o: Obj, what: string): string {
  const keys = Object.keys(o);
  if (keys.length !== 1) throw bad(`a publish must carry exactly one ${what}, got ${keys.length}`);
  return keys[0];
}

export async function parsePublish(
  urlName: string,
  body: unknown,
  limits: TarballLimits = DEFAULT_TARBALL_LIMITS,
  /** Attachments decoded as the body arrived (publish-body.ts), by name; their data in `body` is "". */
  streamed?: ReadonlyMap<string, AttachmentDecoder>,
): Promise<ParsedPublish> {
  checkPackageName(urlName);
  if (!isObject(body)) throw bad("publish body must be a JSON object");
  // Before any message quotes a field of it: String() and JSON.stringify recurse.
  if (nestsDeeperThan(body, MAX_JSON_DEPTH))
    throw bad(`publish body nests deeper than ${MAX_JSON_DEPTH} arrays and objects`);
  if (body.name !== urlName)
    throw bad(`body names ${JSON.stringify(body.name)}, the URL ${JSON.stringify(urlName)}`);
  if (!isObject(body.versions) || !isObject(body._attachments) || !isObject(body["dist-tags"])) {
    throw bad("publish body needs versions, dist-tags and _attachments");
  }
  const version = checkVersion(onlyKey(body.versions, "version"));
  const tag = onlyKey(body["dist-tags"], "dist-tag");
  if (body["dist-tags"][tag] !== version)
    throw bad(`dist-tag ${tag} must point at the published version ${version}`);
  if (semver.validRange(tag) !== null)
    throw bad(`dist-tag ${JSON.stringify(tag)} looks like a version range`);
  const manifest = body.versions[version];
  if (!isObject(manifest)) throw bad(`versions[${version}] must be an object`);
  if (manifest.name !== urlName || manifest.version !== version) {
    throw bad("the version's manifest names another package or version");
  }
  const attachmentName = onlyKey(body._attachments, "attachment");
  const attachment = body._attachments[attachmentName];
  if (!isObject(attachment) || typeof attachment.data !== "string")
    throw bad("attachment needs base64 data");
  if (
    attachmentName !== tarballFileName(urlName, version) &&
    attachmentName !== `${urlName}-${version}.tgz`
  ) {
    throw bad(`attachment ${JSON.stringify(attachmentName)} does not match ${urlName}@${version}`);
  }
  const { data } = attachment;
  let decoded = streamed?.get(attachmentName);
  let slices: Iterable<Buffer>;
  if (decoded !== undefined && data === "") {
    slices = decoded.parts;
  } else {
    if ((data.length / 4) * 3 > limits.maxCompressedBytes + 2) throw tooLarge(limits);
    decoded = new AttachmentDecoder();
    slices = decoded.decodeText(data);
  }
  let summary: TarballSummary;
  try {
    summary = await inspectTarball(slices, limits, { keepFiles: true });
  } catch (err) {
    if (!(err instanceof TarballError)) throw err;
    const code = err.code === "too-large" ? "too-large" : "bad-tarball";
    throw new PublishError(code, (err as Error).message, { cause: err });
  }
  const tarball = decoded.tarball();
  if (attachment.length !== undefined && attachment.length !== tarball.length) {
    throw bad(
      `attachment length ${String(attachment.length)} does not match its ${tarball.length} bytes`,
    );
  }
  const inner = summary.manifest;
  if (nestsDeeperThan(inner, MAX_JSON_DEPTH))
    throw new PublishError("bad-tarball", "the tarball's package.json nests too deep");
  if (inner.name !== urlName || inner.version !== version) {
    throw new PublishError(
      "bad-tarball",
      `the tarball's package.json is ${String(inner.name)}@${String(inner.version)}, not ${urlName}@${version}`,
    );
  }

  const { integrity, shasum, sha256 } = decoded.digests();
  const dist = isObject(manifest.dist) ? manifest.dist : {};
  if (dist.integrity !== undefined && dist.integrity !== integrity) {
    throw new PublishError(
      "integrity-mismatch",
      `declared integrity ${String(dist.integrity)} does not match the tarball (${integrity})`,
    );
  }
  if (dist.shasum !== undefined && dist.shasum !== shasum) {
    throw new PublishError(
      "integrity-mismatch",
      `declared shasum ${String(dist.shasum)} does not match the tarball (${shasum})`,
    );
  }
  const tarballRef = { integrity, sha256, size: tarball.length };
  const files = versionFilesOf(packageOfTarball(summary, tarballRef, { name: urlName, version }));
  return {
    name: urlName,
    version,
    tag,
    manifest: manifestOf(manifest, summary),
    tarball,
    integrity,
    shasum,
    sha256,
    files,
  };
}

/** Room in a publish body beside its base64 tarball: the manifest, its readme. */
const MANIFEST_ROOM = 16 * 1024 * 1024;

/** The largest publish body that can carry a tarball within the limits (base64: 4 bytes per 3). */
export function publishBodyLimit(limits: TarballLimits): number {
  return Math.ceil(limits.maxCompressedBytes / 3) * 4 + MANIFEST_ROOM;
}

export function tooLarge(limits: TarballLimits): PublishError {
  return new PublishError(
    "too-large",
    `the tarball is over this registry's limit of ${limits.maxCompressedBytes} bytes`,
  );
}

/**
 * The manifest the log keeps: the declared one, refused if its
 * install-relevant fields disagree with the tarball's package.json, and
 * with those fields taken from the tarball, so that the manifest, the
 * entry and the bytes say the same whatever normalisation a client applied.
 */
function manifestOf(declared: Obj, tarball: TarballSummary): Obj {
  const fromTarball = tarballFields(tarball);
  const wrong = disagreements(declared, fromTarball, tarball);
  if (wrong.length > 0) {
    throw new PublishError(
      "manifest-mismatch",
      `the published manifest disagrees with the tarball's package.json in ${wrong.join(", ")}`,
    );
  }
  const { dist: _dist, ...withoutDist } = declared;
  return withTarballFields(withoutDist, fromTarball);
}
