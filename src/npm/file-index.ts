/**
 * A package version's file index: every file the package installs, by its
 * path inside the package folder, with the SHA-256, mode and size of its
 * bytes, and the tarball it was unpacked from. The installer's store keeps
 * one per version and links packages from it; the origin publishes the same
 * bytes per version (the blob a log entry's `files` names, version-files.ts),
 * so that anyone can check them and a client can fetch only the files it
 * lacks. A file's IPFS address is the raw CID of its SHA-256 when it is at
 * most 2 MiB; larger files have none (src/registry/entries.ts says why).
 *
 * Format: RFC 8785 canonical JSON (sorted keys, no whitespace), so equal
 * indexes are equal bytes and the index's SHA-256 names it. `v` is 1.
 * Paths are as npm installs the package: the tarball's top folder stripped,
 * links left out, `.gitignore` renamed `.npmignore` (unless one is there),
 * modes normalised to 420 (0644) or 493 (0755: any execute bit in the
 * tarball, or a file the manifest's `bin` names). Worked example, a
 * package of `package/package.json` (`{"name":"is-x","version":"1.0.0"}`)
 * and `package/index.js` (`module.exports = 1;` and a newline), whose
 * tarball is 177 bytes; the index is one line, wrapped here:
 *
 *   {"files":{"index.js":{"mode":420,"sha256":"6e66e366f0aefb84ad8110afcd9b2245
 *   702c643c831edf8316ff048fec739d2e","size":20},"package.json":{"mode":420,
 *   "sha256":"f4036b9374448649aa335a35a6636f85f843323f3ec5da8e10d3207da54b3991",
 *   "size":33}},"name":"is-x","tarball":{"integrity":"sha512-OVWVX8WUbLkx0LEif7r
 *   PjPwFjjSQTwdsmlCo8oQwnWStPFmx3dQ6mhnqLGcJnnnpCQbuEDIq/STd7/NWvrhKew==",
 *   "sha256":"1264ab866793e0b2d937dcf1e34d61cc403ac9c75bfc702a37996e9526439014",
 *   "size":177},"v":1,"version":"1.0.0"}
 */
import { CanonicalJsonError } from "../registry/canonical-json.ts";
import { PackageFilesError } from "./package-files-error.ts";

export const FILE_MODE = 0o644;
export const EXEC_MODE = 0o755;
export type FileMode = typeof FILE_MODE | typeof EXEC_MODE;

export interface IndexedFile {
  readonly sha256: string;
  readonly mode: FileMode;
  readonly size: number;
}

export interface TarballRef {
  /** `sha512-<base64>`, as npm's lockfile and packuments write it. */
  readonly integrity: string;
  readonly sha256: string;
  readonly size: number;
}

export interface FileIndex {
  readonly name: string;
  readonly version: string;
  readonly tarball: TarballRef;
  /** By path inside the package (`lib/a.js`), in sorted order. A Map: a path may be `__proto__`. */
  readonly files: ReadonlyMap<string, IndexedFile>;
}

/** The most files one index may list: the origin's cap on a tarball's entries. */
export const MAX_INDEXED_FILES = 100_000;
const HEX64 = /^[0-9a-f]{64}$/;
const SHA512_SRI = /^sha512-([A-Za-z0-9+/]{86}==)$/;
/** npm names, including the capitals of names published before they were refused. */
const NAME = /^(?:@[A-Za-z0-9~-][A-Za-z0-9._~-]*\/)?[A-Za-z0-9~-][A-Za-z0-9._~-]*$/;
const VERSION = /^[0-9A-Za-z+-][0-9A-Za-z.+-]*$/;

/**
 * The store's key for a tarball: the hex of its SHA-512, from an SRI string
 * (which may list other hashes too; the sha512 one is used).
 */
export function integrityKey(integrity: string): string {
  for (const token of integrity.trim().split(/\s+/)) {
    const m = SHA512_SRI.exec(token);
    const digest = m ? Buffer.from(m[1], "base64") : undefined;
    // Only the canonical base64: other spellings of the same digest would be other keys' text.
    if (m && digest?.toString("base64") === m[1]) return digest.toString("hex");
  }
  throw new PackageFilesError("bad-integrity", `${JSON.stringify(integrity)} has no sha512 hash`);
}

/** The one `sha512-<base64>` form of an integrity, as the index records it. */
export function sha512Integrity(integrity: string): string {
  return `sha512-${Buffer.from(integrityKey(integrity), "hex").toString("base64")}`;
}

/** Whether `integrity` is exactly one sha512 SRI hash, in canonical base64. */
function isOneSha512(integrity: string): boolean {
  const m = SHA512_SRI.exec(integrity);
  return m !== null && Buffer.from(m[1], "base64").toString("base64") === m[1];
}

export function isValidName(name: string): boolean {
  return name.length <= 214 && NAME.test(name);
}

export function isValidVersion(version: string): boolean {
  return version.length <= 256 && VERSION.test(version);
}

/** A part of a path that is empty, `.` or `..`. */
const UNSAFE_PART = /(?:^|\/)\.{0,2}(?:\/|$)/;

/** Whether `path` is a plain relative path inside a package: no empty, `.` or `..` parts. */
export function isSafeRelativePath(path: string): boolean {
  if (path.length === 0 || path.length > 4096 || path.includes("\0")) return false;
  return !UNSAFE_PART.test(path);
}

/** A string as RFC 8785 writes it (ECMAScript's JSON.stringify), refusing what is not Unicode. */
function jsonString(value: string): string {
  if (!value.isWellFormed())
    throw new CanonicalJsonError("not-unicode", "string is not valid Unicode");
  return JSON.stringify(value);
}

/** A number as RFC 8785 writes it. */
function jsonNumber(value: number): string {
  if (!Number.isFinite(value)) throw new CanonicalJsonError("not-finite", "numbers must be finite");
  return JSON.stringify(value);
}

/**
 * The index's canonical JSON (RFC 8785), written field by field: the keys
 * of every object are fixed, so only the paths need sorting (by UTF-16
 * code units, as `sort()` does). The same text as canonicalJson gives (a
 * test checks this on random indexes), in a fraction of its time: an
 * install parses hundreds of indexes, each checked to be its own
 * canonical form.
 */
export function formatFileIndex(index: FileIndex): string {
  const files: string[] = [];
  for (const path of [...index.files.keys()].sort()) {
    const f = index.files.get(path) as IndexedFile;
    files.push(
      `${jsonString(path)}:{"mode":${jsonNumber(f.mode)},"sha256":${jsonString(f.sha256)},"size":${jsonNumber(f.size)}}`,
    );
  }
  const { integrity, sha256, size } = index.tarball;
  return (
    `{"files":{${files.join(",")}},"name":${jsonString(index.name)},` +
    `"tarball":{"integrity":${jsonString(integrity)},"sha256":${jsonString(sha256)},"size":${jsonNumber(size)}},` +
    `"v":1,"version":${jsonString(index.version)}}`
  );
}

const encoder = new TextEncoder();

export function fileIndexBytes(index: FileIndex): Uint8Array {
  return encoder.encode(formatFileIndex(index));
}

function bad(why: string): PackageFilesError {
  return new PackageFilesError("bad-index", `file index ${why}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `keys` in sorted order. */
function exactKeys(value: Record<string, unknown>, keys: readonly string[], what: string): void {
  const have = Object.keys(value).sort();
  if (have.length !== keys.length || have.some((k, i) => k !== keys[i]))
    throw bad(`${what} has keys ${have.join(",")}, not ${keys.join(",")}`);
}

function isSize(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Parses an index strictly: every field checked, every path safe, no path
 * both a file and a folder, and the text its own canonical form.
 */
export function parseFileIndex(text: string): FileIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PackageFilesError("bad-index", "file index is not JSON", { cause: err });
  }
  if (!isRecord(json)) throw bad("is not an object");
  exactKeys(json, ["files", "name", "tarball", "v", "version"], "the index");
  if (json.v !== 1) throw bad(`has version ${JSON.stringify(json.v)}, not 1`);
  const { name, version, tarball, files } = json;
  if (typeof name !== "string" || !isValidName(name)) throw bad("has an invalid name");
  if (typeof version !== "string" || !isValidVersion(version)) throw bad("has an invalid version");
  if (!isRecord(tarball)) throw bad("has no tarball");
  exactKeys(tarball, ["integrity", "sha256", "size"], "the tarball");
  const { integrity, sha256, size } = tarball;
  if (typeof integrity !== "string" || !isOneSha512(integrity))
    throw bad("has an invalid tarball integrity");
  if (typeof sha256 !== "string" || !HEX64.test(sha256)) throw bad("has an invalid tarball sha256");
  if (!isSize(size)) throw bad("has an invalid tarball size");
  if (!isRecord(files)) throw bad("has no files");
  const entries = Object.entries(files);
  if (entries.length > MAX_INDEXED_FILES) throw bad(`lists over ${MAX_INDEXED_FILES} files`);
  const parsed = new Map<string, IndexedFile>();
  for (const [path, file] of entries) {
    // Not Unicode: canonical JSON cannot write it, so no index names it.
    if (!isSafeRelativePath(path) || !path.isWellFormed())
      throw bad(`names the unsafe path ${JSON.stringify(path)}`);
    if (!isRecord(file)) throw bad(`entry ${JSON.stringify(path)} is not an object`);
    exactKeys(file, ["mode", "sha256", "size"], `entry ${JSON.stringify(path)}`);
    if (typeof file.sha256 !== "string" || !HEX64.test(file.sha256))
      throw bad(`entry ${JSON.stringify(path)} has an invalid sha256`);
    if (file.mode !== FILE_MODE && file.mode !== EXEC_MODE)
      throw bad(`entry ${JSON.stringify(path)} has mode ${JSON.stringify(file.mode)}`);
    if (!isSize(file.size)) throw bad(`entry ${JSON.stringify(path)} has an invalid size`);
    parsed.set(path, { sha256: file.sha256, mode: file.mode, size: file.size });
  }
  const conflict = folderConflict(parsed.keys());
  if (conflict !== undefined) throw bad(`names ${JSON.stringify(conflict)} as a file and a folder`);
  const index: FileIndex = {
    name,
    version,
    tarball: { integrity, sha256, size },
    files: parsed,
  };
  if (formatFileIndex(index) !== text) throw bad("is not in canonical form");
  return index;
}

/** A path that is a file and also a folder of another path, or undefined. */
export function folderConflict(paths: Iterable<string>): string | undefined {
  const all = new Set(paths);
  for (const path of all) {
    for (let at = path.indexOf("/"); at >= 0; at = path.indexOf("/", at + 1)) {
      const folder = path.slice(0, at);
      if (all.has(folder)) return folder;
    }
  }
  return undefined;
}
