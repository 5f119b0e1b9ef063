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
 * The attachment is decoded a slice at a time, each slice hashed and handed
 * to the tarball inspector as it is decoded, so a large package costs the
 * event loop a few milliseconds at a time and a bad one stops at the first
 * cap it crosses.
 */
import { createHash } from "node:crypto";
import semver from "semver";
import validateName from "validate-npm-package-name";
import { CodedError } from "../util/coded-error.ts";
import { disagreements, tarballFields, withTarballFields } from "./manifest.ts";
import {
  DEFAULT_TARBALL_LIMITS,
  inspectTarball,
  TarballError,
  type TarballLimits,
  type TarballSummary,
} from "./tarball.ts";

export type PublishErrorCode =
  | "bad-request"
  | "invalid-name"
  | "invalid-version"
  | "too-large"
  | "bad-tarball"
  | "manifest-mismatch"
  | "integrity-mismatch";

export class PublishError extends CodedError<PublishErrorCode> {
  override name = "PublishError";
}

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
): Promise<ParsedPublish> {
  checkPackageName(urlName);
  if (!isObject(body)) throw bad("publish body must be a JSON object");
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
  if ((data.length / 4) * 3 > limits.maxCompressedBytes + 2) throw tooLarge(limits);

  const decoded = new DecodedAttachment(data);
  let summary: TarballSummary;
  try {
    summary = await inspectTarball(decoded.slices(), limits);
  } catch (err) {
    if (!(err instanceof TarballError)) throw err;
    const code = err.code === "too-large" ? "too-large" : "bad-tarball";
    throw new PublishError(code, (err as Error).message, { cause: err });
  }
  const tarball = decoded.finish();
  if (attachment.length !== undefined && attachment.length !== tarball.length) {
    throw bad(
      `attachment length ${String(attachment.length)} does not match its ${tarball.length} bytes`,
    );
  }
  const inner = summary.manifest;
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
  return {
    name: urlName,
    version,
    tag,
    manifest: manifestOf(manifest, summary),
    tarball,
    integrity,
    shasum,
    sha256,
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

/** Base64 text per slice: a multiple of 4, so each slice decodes alone. */
const SLICE_CHARS = 1024 * 1024;

/**
 * Whether `slice` (a multiple of 4 characters) is canonical standard base64
 * that decoded to `decoded` bytes, padded only if it is the `last` slice.
 * Node's decoder skips characters outside both alphabets and stops at `=`,
 * so any such character leaves fewer bytes than the length promises; the
 * URL-safe alphabet it also reads is looked for; the last quantum must
 * re-encode to itself (no stray bits under the padding). Cheaper than
 * re-encoding the whole text.
 */
function isCanonicalBase64(slice: string, decoded: number, last: boolean): boolean {
  const padding = last && slice.endsWith("==") ? 2 : last && slice.endsWith("=") ? 1 : 0;
  if (decoded !== (slice.length / 4) * 3 - padding) return false;
  if (slice.includes("-") || slice.includes("_")) return false;
  const quantum = slice.slice(-4);
  return !last || Buffer.from(quantum, "base64").toString("base64") === quantum;
}

/**
 * An attachment's strict base64 (RFC 4648 section 4: padded, no whitespace,
 * unused bits zero), decoded and hashed a slice at a time.
 */
class DecodedAttachment {
  readonly #text: string;
  readonly #parts: Buffer[] = [];
  readonly #sha512 = createHash("sha512");
  readonly #sha1 = createHash("sha1");
  readonly #sha256 = createHash("sha256");
  #done = 0;
  bytes = 0;

  constructor(text: string) {
    this.#text = text;
  }

  *slices(): Generator<Buffer> {
    const text = this.#text;
    if (text.length % 4 !== 0) throw bad("attachment data is not valid base64");
    for (let at = 0; at < text.length; at += SLICE_CHARS) {
      const slice = text.slice(at, at + SLICE_CHARS);
      const last = at + SLICE_CHARS >= text.length;
      const bytes = Buffer.from(slice, "base64");
      if (!isCanonicalBase64(slice, bytes.length, last))
        throw bad("attachment data is not valid base64");
      this.#sha512.update(bytes);
      this.#sha1.update(bytes);
      this.#sha256.update(bytes);
      this.#parts.push(bytes);
      this.bytes += bytes.length;
      this.#done = at + slice.length;
      yield bytes;
    }
  }

  /** The whole tarball; the inspector must have read every slice. */
  finish(): Buffer {
    if (this.#done !== this.#text.length) throw new Error("the attachment was not read to its end");
    return Buffer.concat(this.#parts);
  }

  digests() {
    return {
      integrity: `sha512-${this.#sha512.digest("base64")}`,
      shasum: this.#sha1.digest("hex"),
      sha256: this.#sha256.digest("hex"),
    };
  }
}
