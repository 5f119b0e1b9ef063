/**
 * cargo's sparse index, read side, over any source of crate documents: the
 * origin's state, a mirror's verified copy, a verifying proxy's reads. The
 * sparse registry URL is `sparse+<base>/cargo/index/`:
 *
 * - `config.json`: `dl` and `api`, never `auth-required` (no read from
 *   Cairn needs a token: reads are what mirrors copy). `dl` is on the host
 *   the client used, so a mirror's or proxy's clients download from it and
 *   not from the origin; `api` is the origin's
 *   (publishes, yanks and owners go to the origin whoever serves the index).
 * - an index file at each crate's path (`1/a`, `2/ab`, `3/a/abc`,
 *   `se/rd/serde`), the bytes `indexFile` derives from the document, with
 *   `ETag` (the quoted SHA-256 of the bytes) and `Last-Modified` (the
 *   document's last change) and 304s for `If-None-Match` and
 *   `If-Modified-Since`. Only the lowercase path of the published spelling
 *   serves: cargo probes the other `-`/`_` spellings of a missing crate, and
 *   those answer 404 from the crate's revision alone (no such crate) or the
 *   index file kept for that revision.
 *
 * The `cargo/index/` prefix keeps the index out of npm's paths: npm's
 * routes are `/<name>`, `/<name>/-/<file>` and `/@scope/<name>`, and an
 * index path has at least two segments under a fixed first one, so no npm
 * package's URL can ever be a crate's index path (or the reverse).
 *
 * Downloads: by default `dl` is the static tree's blob path
 * (`/-/cairn/blob/sha256/{sha256-checksum}`), immutable and served by any
 * copy of the tree. A server without a tree of its own (the proxy, a
 * mirror before its first sync) hands in `downloads` and serves `.crate`
 * files by crate and version, checked against the crate's document.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import { TREE_PATH } from "../log/urls.ts";
import type { PackageDocument } from "../registry/package-document.ts";
import type { RegistryState } from "../registry/state.ts";
import { blockedByHeaders, TakedownError } from "../registry/takedown.ts";
import { sha256Hex } from "../util/sha256.ts";
import { cargoErrorBody } from "./api-error.ts";
import { CARGO } from "./rules/ecosystem.ts";
import { indexFile } from "./rules/index-file.ts";
import { crateOfIndexPath } from "./rules/index-path.ts";
import { checkCrateName, keyName } from "./rules/name.ts";

/** Where the index hangs; the sparse URL is `sparse+<base>` followed by this. */
export const CARGO_INDEX_PREFIX = "/cargo/index/";
/** Where `.crate` files are served when the server hands in `downloads`. */
export const CARGO_DOWNLOAD_PREFIX = "/cargo/crates/";

/** What the index is read from: crate documents by key name. */
export interface CrateIndexSource {
  /** The crate's document by its key name (`serde_json`); undefined if the registry has no such crate. */
  document(keyName: string): Promise<PackageDocument | undefined>;
  /**
   * A token that changes whenever the crate's document does, undefined if
   * there is no such crate: an index file is built once per revision.
   */
  revision(keyName: string): Promise<string | undefined>;
  /** Called before each read, so a proxy can bring its view up to date first. */
  beforeRead?(): Promise<void>;
}

/** The index's reads from a derived state that holds the whole registry (the origin's, a mirror's copy). */
export function cargoStateReads(state: () => RegistryState): Omit<CrateIndexSource, "beforeRead"> {
  return {
    document: async (key) => state().table(CARGO).document(key),
    revision: async (key) => {
      const pkg = state().table(CARGO).getPackage(key);
      return pkg && String(pkg.updated);
    },
  };
}

/** `.crate` bytes for a server that serves them itself. */
export interface CrateDownloads {
  /** One version's `.crate`, checked against the document's SHA-256 before it is returned (throw if unavailable or wrong). */
  crate(doc: PackageDocument, version: string): Promise<Uint8Array>;
  /** Whether `dl` points at the static tree for now all the same (a mirror, once its own copy is held). */
  fromTree?(): boolean;
}

export interface CargoReadOptions {
  /** The web API's base URL, without a trailing slash; the host the client used when absent (the origin). */
  readonly api?: string;
  /** Serve `.crate` files here, by crate and version, instead of pointing `dl` at the static tree. */
  readonly downloads?: CrateDownloads;
}

function isCrateName(name: string): boolean {
  try {
    checkCrateName(name);
    return true;
  } catch {
    return false;
  }
}

/** The scheme and host the request came to, so links point back at this server. */
function baseOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

/** cargo's answer for a crate it may not have: 404 with crates.io's error shape. */
function notFound(reply: FastifyReply, detail: string) {
  return reply.code(404).type("application/json").send(cargoErrorBody(detail));
}

/** An index file's bytes with the validators a client caches it by. */
interface IndexFileAnswer {
  readonly bytes: Uint8Array;
  /** Quoted lowercase hex SHA-256 of the bytes. */
  readonly etag: string;
  /** The document's last change, as an HTTP date. */
  readonly lastModified: string;
}

/**
 * The index file cargo gets at the path of `name` (lowercase, from
 * crateOfIndexPath), or undefined when the crate is unknown, its published
 * spelling lowercases to another name (`serde-json` is not served at
 * `se/rd/serde_json`), or no version is left to list.
 */
function indexFileAnswer(
  name: string,
  doc: PackageDocument | undefined,
): IndexFileAnswer | undefined {
  if (!doc || doc.name.toLowerCase() !== name) return undefined;
  const bytes = indexFile(doc);
  if (!bytes) return undefined;
  return {
    bytes,
    etag: `"${sha256Hex(bytes)}"`,
    lastModified: new Date(doc.modified).toUTCString(),
  };
}

/**
 * Whether the client's copy is current: `If-None-Match` decides when sent
 * (RFC 9110 §13.1.3), else `If-Modified-Since` at the date's one-second grain.
 */
function notModified(
  headers: FastifyRequest["headers"],
  answer: Pick<IndexFileAnswer, "etag" | "lastModified">,
): boolean {
  const match = headers["if-none-match"];
  if (typeof match === "string")
    return match.split(",").some((tag) => {
      const t = tag.trim();
      return t === "*" || t === answer.etag || t === `W/${answer.etag}`;
    });
  const since = headers["if-modified-since"];
  if (typeof since !== "string") return false;
  const sinceMs = Date.parse(since);
  return !Number.isNaN(sinceMs) && Date.parse(answer.lastModified) <= sinceMs;
}

/** Bytes of index files kept per server: building one reads the whole document. */
const MAX_CACHED_INDEX_BYTES = 64 * 1024 * 1024;

/** A crate's index file as last built, with the revision it was built at. */
interface KeptIndexFile {
  readonly revision: string;
  /** The published spelling, lowercased: the one path it is served at. */
  readonly name: string;
  readonly answer: IndexFileAnswer | undefined;
}

export function registerCargoReadApi(
  app: FastifyInstance,
  source: CrateIndexSource,
  options: CargoReadOptions = {},
): void {
  const { downloads } = options;
  const kept = new LRUCache<string, KeptIndexFile>({
    maxSize: MAX_CACHED_INDEX_BYTES,
    sizeCalculation: (file) => (file.answer?.bytes.length ?? 0) + 128,
  });

  /** The index file at `name`'s path, from the kept copy while the crate's revision holds. */
  const indexFileOf = async (name: string): Promise<IndexFileAnswer | undefined> => {
    const key = keyName(name);
    const revision = await source.revision(key);
    // No such crate: the probes for other spellings end here.
    if (revision === undefined) return undefined;
    let file = kept.get(key);
    if (file?.revision !== revision) {
      const doc = await source.document(key);
      if (!doc) return undefined;
      file = {
        revision,
        name: doc.name.toLowerCase(),
        answer: indexFileAnswer(doc.name.toLowerCase(), doc),
      };
      kept.set(key, file);
    }
    return file.name === name ? file.answer : undefined;
  };

  app.get(`${CARGO_INDEX_PREFIX}config.json`, async (req, reply) => {
    const base = baseOf(req);
    const dl =
      downloads && !downloads.fromTree?.()
        ? `${base}${CARGO_DOWNLOAD_PREFIX}{crate}/{version}/download`
        : `${base}/${TREE_PATH}blob/sha256/{sha256-checksum}`;
    // cargo never sends validators for config.json and keeps no cached copy to revalidate.
    return reply.header("cache-control", "no-cache").send({
      dl,
      api: options.api ?? base,
    });
  });

  app.get(`${CARGO_INDEX_PREFIX}*`, async (req, reply) => {
    const path = (req.params as { "*": string })["*"];
    let name: string;
    try {
      name = crateOfIndexPath(path);
    } catch {
      return notFound(reply, `${path} is not a crate's index path`);
    }
    await source.beforeRead?.();
    const answer = await indexFileOf(name);
    if (!answer) return notFound(reply, `crate \`${name}\` does not exist`);
    reply
      .header("etag", answer.etag)
      .header("last-modified", answer.lastModified)
      // Revalidate every time: a yank changes the file, and cargo sends the ETag back anyway.
      .header("cache-control", "no-cache");
    if (notModified(req.headers, answer)) return reply.code(304).send();
    return reply
      .type("text/plain; charset=utf-8")
      .send(Buffer.from(answer.bytes.buffer, answer.bytes.byteOffset, answer.bytes.byteLength));
  });

  if (!downloads) return;
  app.get(`${CARGO_DOWNLOAD_PREFIX}:crate/:version/download`, async (req, reply) => {
    const params = req.params as { crate: string; version: string };
    if (!isCrateName(params.crate)) return notFound(reply, "not a crate name");
    await source.beforeRead?.();
    const doc = await source.document(keyName(params.crate));
    // A yanked version still downloads (a lockfile may pin it); one taken down does not.
    const version =
      doc && Object.hasOwn(doc.versions, params.version) ? doc.versions[params.version] : undefined;
    const mark = doc?.takenDown ?? version?.takenDown;
    if (doc && mark) {
      // RFC 7725, as the npm routes answer it; cargo prints the detail.
      const refusal = new TakedownError(doc.name, params.version, mark);
      return reply
        .code(451)
        .headers(blockedByHeaders(baseOf(req)))
        .type("application/json")
        .send({ ...cargoErrorBody(refusal.message), ...refusal.details });
    }
    if (!doc || doc.unpublished !== undefined || !version || version.unpublished !== undefined)
      return notFound(reply, `no crate ${params.crate}@${params.version}`);
    // Checked in full before the first byte goes out: a bad .crate becomes an error, not a download.
    const bytes = await downloads.crate(doc, params.version);
    return reply
      .type("application/octet-stream")
      .header("cache-control", "public, max-age=31536000, immutable")
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
