/**
 * The entry checker as it was before the envelope/payload split (issue 17,
 * S2), frozen: the oracle test/registry/decoder-fuzz.test.ts holds the
 * split checker to, so that the set of npm entries accepted neither shrinks
 * nor grows. Do not edit; it goes once the split has shipped.
 */
import semver from "semver";
import { checkResolution } from "../../src/npm/rules/resolution.ts";
import { EntryError } from "../../src/registry/entry-error.ts";
import { checkLoggedResolution } from "../../src/registry/logged-resolution.ts";
import {
  isSketchShape,
  MAX_SKETCH_DEPTH,
  MAX_SKETCH_WIDTH,
} from "../../src/registry/popularity.ts";
import { isShardCount, MAX_SHARDS } from "../../src/registry/snapshot.ts";
import {
  type BlockAddress,
  CHUNK_SIZE,
  cidOf,
  DAG_PB_CODEC,
  parseCid,
} from "../../src/store/cid.ts";

type EntryKind = string;
type Entry = unknown;
const ENTRY_FORMAT_VERSION = 1;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX40 = /^[0-9a-f]{40}$/;
const BASE64_SHA512 = /^[A-Za-z0-9+/]{86}==$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const PACKAGE_BASE = ["v", "kind", "ecosystem", "name", "time", "actor"];
const REGISTRY_BASE = ["v", "kind", "time", "size"];
const FIELDS: Record<EntryKind, { base: string[]; required: string[]; optional: string[] }> = {
  publish: {
    base: PACKAGE_BASE,
    required: ["version", "artifact", "manifest", "resolution"],
    optional: ["tag", "files", "description", "keywords", "share"],
  },
  import: {
    base: PACKAGE_BASE,
    required: ["version", "uplink", "integrity", "manifest", "resolution"],
    optional: ["published", "description", "keywords", "share"],
  },
  artifact: { base: PACKAGE_BASE, required: ["version", "artifact"], optional: ["files"] },
  unpublish: { base: PACKAGE_BASE, required: [], optional: ["version"] },
  "dist-tag": { base: PACKAGE_BASE, required: ["tag", "version"], optional: [] },
  deprecate: { base: PACKAGE_BASE, required: ["version", "message"], optional: [] },
  owner: { base: PACKAGE_BASE, required: ["user", "action"], optional: [] },
  snapshot: {
    base: REGISTRY_BASE,
    required: ["root", "shards", "packages"],
    optional: ["database", "popularity"],
  },
  database: { base: REGISTRY_BASE, required: ["blob", "rawSize", "schema"], optional: [] },
  popularity: {
    base: REGISTRY_BASE,
    required: ["window", "sketch", "depth", "width", "total", "threshold"],
    optional: [],
  },
};

/** Search metadata in an entry is bounded, so a publish cannot bloat the log. */
const MAX_DESCRIPTION_LENGTH = 1024;
const MAX_KEYWORDS = 32;
const MAX_KEYWORD_LENGTH = 64;
/** npm's longest package name; user names follow the same rule. */
const MAX_NAME_LENGTH = 214;
const MAX_VERSION_LENGTH = 256;
const MAX_TAG_LENGTH = 128;
/** A deprecation message, in a deprecate entry or a manifest's `deprecated`. */
const MAX_MESSAGE_LENGTH = 1024;

/** An uplink's configured name ("npm", "corp-mirror"). */
const MAX_UPLINK_NAME_LENGTH = 64;

/** Every string field's cap (other than the search fields, and the hashes, whose patterns fix them). */
const MAX_LENGTH: Record<string, number> = {
  name: MAX_NAME_LENGTH,
  actor: MAX_NAME_LENGTH,
  user: MAX_NAME_LENGTH,
  version: MAX_VERSION_LENGTH,
  tag: MAX_TAG_LENGTH,
  message: MAX_MESSAGE_LENGTH,
  uplink: MAX_UPLINK_NAME_LENGTH,
};

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function bad(message: string): EntryError {
  return new EntryError("bad-field", message);
}

/**
 * How strictly an entry is checked. `append`: the exact schema of its
 * kind, every string and resolution field capped, as nothing else may be
 * appended. `read`: what any version of Cairn could have appended and is
 * safe to apply (the same shapes for every field a fold reads, resolution
 * values as opaque JSON at most MAX_LOGGED_RESOLUTION_DEPTH deep, lengths
 * bounded by the entry size), so a log written before a cap existed
 * replays exactly as it did.
 */
export type EntryCheck = "append" | "read";

/** A non-empty, well-formed string, within its field's cap when appending (`empty` allows ""). */
function str(o: Obj, key: string, check: EntryCheck, pattern?: RegExp, empty = false): string {
  const value = o[key];
  if (
    typeof value !== "string" ||
    (value.length === 0 && !empty) ||
    (check === "append" && value.length > (MAX_LENGTH[key] ?? 128)) ||
    !value.isWellFormed() ||
    (pattern && !pattern.test(value))
  ) {
    throw bad(`entry field ${key} is missing or malformed`);
  }
  return value;
}

/** A version: canonical semver, as every publish has been checked to be (npm cannot install another). */
function version(o: Obj, check: EntryCheck): string {
  const value = str(o, "version", check);
  if (value.length > MAX_VERSION_LENGTH || semver.valid(value) !== value)
    throw bad(`entry field version ${shown(value)} is not a canonical semver version`);
  return value;
}

function count(o: Obj, key: string, min = 0): number {
  const value = o[key];
  if (!Number.isSafeInteger(value) || (value as number) < min)
    throw bad(`entry field ${key} must be an integer of at least ${min}`);
  return value as number;
}

function checkBlobRef(value: unknown, what: string, artifact: boolean): void {
  if (!isObject(value)) throw bad(`entry field ${what} must be an object`);
  const keys = artifact ? ["sha1", "sha256", "sha512", "size"] : ["sha256", "size"];
  const unixfs = artifact && Object.hasOwn(value, "unixfs");
  if (
    Object.keys(value)
      .filter((key) => !unixfs || key !== "unixfs")
      .sort()
      .join() !== keys.join()
  ) {
    throw bad(`entry field ${what} must have exactly ${keys.join(", ")} (and maybe unixfs)`);
  }
  str(value, "sha256", "read", HEX64);
  if (!Number.isSafeInteger(value.size) || (value.size as number) < 0) {
    throw bad(`entry field ${what}.size must be a non-negative integer`);
  }
  if (artifact) {
    str(value, "sha512", "read", BASE64_SHA512);
    str(value, "sha1", "read", HEX40);
  }
  if (unixfs) checkUnixfsField(value, what);
}

/** A dag-pb CIDv1 in its one canonical spelling (base32), on a tarball over one chunk. */
function checkUnixfsField(value: Obj, what: string): void {
  const cid = value.unixfs;
  let address: BlockAddress | undefined;
  try {
    address = typeof cid === "string" ? parseCid(cid) : undefined;
  } catch {
    address = undefined;
  }
  if (address?.codec !== DAG_PB_CODEC || cidOf(address.sha256, DAG_PB_CODEC) !== cid)
    throw bad(`entry field ${what}.unixfs must be a dag-pb CIDv1 in base32`);
  if ((value.size as number) <= CHUNK_SIZE)
    throw bad(`entry field ${what}.unixfs is only for a tarball over ${CHUNK_SIZE} bytes`);
}

/** At least one of sha512 and sha1, and nothing else. */
function checkIntegrity(value: unknown): void {
  if (!isObject(value)) throw bad("entry field integrity must be an object");
  const keys = Object.keys(value);
  if (keys.length === 0 || keys.some((k) => k !== "sha512" && k !== "sha1"))
    throw bad("entry field integrity must have sha512, sha1 or both, and nothing else");
  if (Object.hasOwn(value, "sha512")) str(value, "sha512", "read", BASE64_SHA512);
  if (Object.hasOwn(value, "sha1")) str(value, "sha1", "read", HEX40);
}

function checkSearchFields(value: Obj): void {
  if (Object.hasOwn(value, "description")) {
    const d = value.description;
    if (typeof d !== "string" || d.length > MAX_DESCRIPTION_LENGTH || !d.isWellFormed())
      throw bad(
        `entry field description must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters`,
      );
  }
  if (Object.hasOwn(value, "keywords")) {
    const k = value.keywords;
    if (
      !Array.isArray(k) ||
      k.length > MAX_KEYWORDS ||
      k.some(
        (w) =>
          typeof w !== "string" ||
          w.length === 0 ||
          w.length > MAX_KEYWORD_LENGTH ||
          !w.isWellFormed(),
      )
    )
      throw bad(
        `entry field keywords must list at most ${MAX_KEYWORDS} words of 1 to ${MAX_KEYWORD_LENGTH} characters`,
      );
  }
}

/** `share` is absent or false: true is the default and never written. */
function checkShare(value: Obj): void {
  if (Object.hasOwn(value, "share") && value.share !== false)
    throw bad("entry field share may only be false (absent means shareable)");
}

/** A popularity window: `{from, to}`, two times with from not after to. */
function checkWindow(value: unknown, check: EntryCheck): void {
  if (!isObject(value) || Object.keys(value).sort().join() !== "from,to")
    throw bad("entry field window must have exactly from and to");
  const from = str(value, "from", check, ISO_TIME);
  const to = str(value, "to", check, ISO_TIME);
  if (from > to) throw bad("a popularity window must not end before it starts");
}

/** Checks that `value` is a well-formed entry (see EntryCheck); returns it typed. */
export function oldCheckEntry(value: unknown, check: EntryCheck = "read"): Entry {
  if (!isObject(value)) throw bad("entry must be a JSON object");
  if (value.v !== ENTRY_FORMAT_VERSION) throw bad(`unsupported entry version ${shown(value.v)}`);
  const kind = value.kind as EntryKind;
  const fields = typeof kind === "string" && Object.hasOwn(FIELDS, kind) ? FIELDS[kind] : undefined;
  if (!fields) throw bad(`unknown entry kind ${shown(value.kind)}`);
  str(value, "time", check, ISO_TIME);
  if (fields.base === PACKAGE_BASE) {
    if (value.ecosystem !== "npm") throw bad(`unknown ecosystem ${shown(value.ecosystem)}`);
    str(value, "name", check);
    str(value, "actor", check);
  } else {
    count(value, "size");
  }
  const allowed = new Set([...fields.base, ...fields.required, ...fields.optional]);
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) throw bad(`unexpected field ${shown(key)} in a ${kind} entry`);
  }
  for (const key of fields.required) {
    if (!Object.hasOwn(value, key)) throw bad(`a ${kind} entry needs ${key}`);
  }
  switch (kind) {
    case "publish":
      version(value, check);
      if (Object.hasOwn(value, "tag")) str(value, "tag", check);
      checkBlobRef(value.artifact, "artifact", true);
      checkBlobRef(value.manifest, "manifest", false);
      if (Object.hasOwn(value, "files")) checkBlobRef(value.files, "files", false);
      if (check === "append") checkResolution(value.resolution);
      else checkLoggedResolution(value.resolution);
      checkSearchFields(value);
      checkShare(value);
      break;
    case "import":
      version(value, check);
      str(value, "uplink", check);
      if (Object.hasOwn(value, "published")) str(value, "published", check, ISO_TIME);
      checkIntegrity(value.integrity);
      checkBlobRef(value.manifest, "manifest", false);
      if (check === "append") checkResolution(value.resolution);
      else checkLoggedResolution(value.resolution);
      checkSearchFields(value);
      checkShare(value);
      break;
    case "artifact":
      version(value, check);
      checkBlobRef(value.artifact, "artifact", true);
      if (Object.hasOwn(value, "files")) checkBlobRef(value.files, "files", false);
      break;
    case "unpublish":
      if (Object.hasOwn(value, "version")) version(value, check);
      break;
    case "dist-tag":
      str(value, "tag", check);
      if (value.version !== null) version(value, check);
      break;
    case "deprecate":
      version(value, check);
      str(value, "message", check, undefined, true);
      break;
    case "owner":
      str(value, "user", check);
      if (value.action !== "add" && value.action !== "rm")
        throw bad("owner action must be add or rm");
      break;
    case "snapshot":
      checkBlobRef(value.root, "root", false);
      if (!isShardCount(count(value, "shards", 1)))
        throw bad(`a snapshot's shard count must be a power of two up to ${MAX_SHARDS}`);
      count(value, "packages");
      if (Object.hasOwn(value, "database")) count(value, "database");
      if (Object.hasOwn(value, "popularity")) count(value, "popularity");
      break;
    case "database":
      checkBlobRef(value.blob, "blob", false);
      count(value, "rawSize");
      count(value, "schema", 1);
      break;
    case "popularity":
      checkWindow(value.window, check);
      checkBlobRef(value.sketch, "sketch", false);
      if (!isSketchShape(count(value, "depth", 1), count(value, "width", 1)))
        throw bad(
          `a sketch may have at most ${MAX_SKETCH_DEPTH} rows of at most ${MAX_SKETCH_WIDTH} counters`,
        );
      count(value, "total");
      count(value, "threshold", 1);
      break;
  }
  return value as unknown as Entry;
}

/** A value quoted for an error message, cut short. */
function shown(value: unknown): string {
  // Never String() an array or object: that recurses over values of any depth.
  const text =
    typeof value === "object" && value !== null
      ? Array.isArray(value)
        ? "an array"
        : "an object"
      : String(value);
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}
