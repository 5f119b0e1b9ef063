/**
 * The read side of the npm API, over any source of registry state and
 * blobs: the origin, a mirror, a verifying proxy. It serves ping,
 * packuments (full and abbreviated, with ETag/304), tarballs, dist-tags,
 * search and audits. Handlers translate HTTP to calls on a PackageReader;
 * nothing here writes.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { PackageReader } from "../registry/package-reader.ts";
import { TakedownError } from "../registry/takedown.ts";
import {
  AUDIT_PATHS,
  type AuditAnswer,
  type AuditRequest,
  MAX_AUDIT_BYTES,
} from "../upstream/audit.ts";
import {
  baseUrl,
  HttpError,
  livePackageView,
  PACKAGE_PREFIXES,
  packageName,
  registerNpmCommon,
} from "./http-common.ts";
import { abbreviatedPackument, fullPackument } from "./packument.ts";
import { type CachedDocument, PackumentCache } from "./packument-cache.ts";

export { registerReadOnlyRefusals } from "./read-only.ts";

/** npm's search answers at most 250 results a page; paging stops where ranking stops meaning much. */
const MAX_SEARCH_SIZE = 250;
const MAX_SEARCH_FROM = 10_000;

/** A paging parameter: its default when absent or not a number, else clamped into [min, max]. */
function queryInt(raw: unknown, fallback: number, min: number, max: number): number {
  if (typeof raw !== "string" || !/^-?\d{1,64}$/.test(raw)) return fallback;
  return Math.min(max, Math.max(min, Number(raw)));
}

const ABBREVIATED = "application/vnd.npm.install-v1+json";

/** Set on a packument served while its uplink cannot be reached: which uplink, how, since when. */
export const STALE_HEADER = "cairn-stale";

export interface ReadApiOptions {
  /** Where npm audit's requests go; without it the audit is refused as not possible here. */
  readonly audit?: (request: AuditRequest) => Promise<AuditAnswer>;
  /** Called for each tarball served whole (the origin counts downloads for its popularity sketch). */
  readonly onTarball?: (name: string, version: string) => void;
}

export function registerNpmReadApi(
  app: FastifyInstance,
  reader: PackageReader,
  options: ReadApiOptions = {},
): void {
  registerNpmCommon(app);

  const cache = new PackumentCache();

  const buildPackument = async (
    name: string,
    abbreviated: boolean,
    base: string,
  ): Promise<CachedDocument> => {
    const view = livePackageView(name, await reader.document(name));
    const body = abbreviated
      ? abbreviatedPackument(view, base)
      : await fullPackument(
          view,
          base,
          async (entry) => {
            const bytes = await reader.manifest(entry);
            return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
          },
          (user) => reader.ownerEmail?.(user),
        );
    const json = JSON.stringify(body);
    const etag = `"${createHash("sha256").update(json).digest("base64url").slice(0, 27)}"`;
    return { json, etag, lastModified: new Date(view.pkg.modified).toUTCString() };
  };

  const packument = async (req: FastifyRequest, reply: FastifyReply, name: string) => {
    await reader.beforeRead?.();
    const abbreviated = (req.headers.accept ?? "").includes(ABBREVIATED);
    const base = baseUrl(req);
    const variant = `${abbreviated ? "a" : "f"} ${base}`;
    const revision = await reader.revision(name);
    if (revision === undefined) throw new HttpError("not-found", `package ${name} not found`);
    let doc = cache.get(name, revision, variant);
    if (!doc) {
      doc = await buildPackument(name, abbreviated, base);
      cache.set(name, revision, variant, doc);
    }
    const stale = reader.staleness?.(name);
    // Served from the log while the upstream is away: say so rather than fail.
    if (stale !== undefined) reply.header(STALE_HEADER, stale);
    reply.header("etag", doc.etag).header("cache-control", "public, max-age=300");
    reply.header("last-modified", doc.lastModified);
    if (req.headers["if-none-match"] === doc.etag) return reply.code(304).send();
    return reply.type(abbreviated ? ABBREVIATED : "application/json").send(doc.json);
  };

  const tarball = async (reply: FastifyReply, name: string, file: string) => {
    await reader.beforeRead?.();
    // The file is `<unscoped name>-<version>.tgz`: look up that one version.
    const prefix = `${name.slice(name.lastIndexOf("/") + 1)}-`;
    const version =
      file.startsWith(prefix) && file.endsWith(".tgz") ? file.slice(prefix.length, -4) : "";
    const row = await reader.version(name, version);
    if (row?.takenDown) throw new TakedownError(name, version, row.takenDown);
    if (!row || row.unpublished !== null)
      throw new HttpError("not-found", `${name}: no tarball ${file}`);
    // Checked in full before the first byte goes out: a bad tarball becomes an error, not a download.
    const bytes = await reader.tarball(row.entry);
    options.onTarball?.(name, version);
    return reply
      .type("application/octet-stream")
      .header("cache-control", "public, max-age=31536000, immutable")
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  };

  app.get("/-/ping", async () => ({}));

  // npm's registry keys: `npm audit signatures` checks dist.signatures against them.
  app.get("/-/npm/v1/keys", async (_req, reply) => {
    await reader.beforeRead?.();
    const keys = await reader.registryKeys();
    // A 404 tells npm this registry signs nothing, so it skips rather than fails its packages.
    if (keys === undefined) throw new HttpError("not-found", "this registry has no signing keys");
    reply.header("cache-control", "public, max-age=300");
    return { keys: keys.keys };
  });

  app.get("/-/package/:name/dist-tags", async (req) => {
    await reader.beforeRead?.();
    const name = packageName((req.params as { name: string }).name);
    return livePackageView(name, await reader.document(name)).distTags;
  });

  // Search, in the shape of npm's /-/v1/search.
  app.get("/-/v1/search", async (req) => {
    if (!reader.search)
      throw new HttpError(
        "not-implemented",
        "search needs the whole registry, and this server reads it package by package",
      );
    await reader.beforeRead?.();
    const q = req.query as Record<string, unknown>;
    const text = q.text ?? "";
    if (typeof text !== "string") throw new HttpError("bad-request", "give search text once");
    const size = queryInt(q.size, 20, 1, MAX_SEARCH_SIZE);
    const from = queryInt(q.from, 0, 0, MAX_SEARCH_FROM);
    const { total, hits } = reader.search.search(text, from, size);
    const top = hits[0]?.score || 1;
    return {
      objects: hits.map((hit) => ({
        package: {
          name: hit.name,
          scope: hit.name.startsWith("@") ? hit.name.slice(1, hit.name.indexOf("/")) : "unscoped",
          version: hit.version,
          description: hit.description,
          keywords: hit.keywords,
          date: hit.date,
          links: { npm: `${baseUrl(req)}/${hit.name}` },
          publisher: { username: hit.publisher },
          maintainers: hit.maintainers.map((username) => ({ username })),
        },
        score: { final: hit.score / top, detail: { quality: 1, popularity: 1, maintenance: 1 } },
        searchScore: hit.score,
      })),
      total,
      time: new Date().toUTCString(),
    };
  });

  const { audit } = options;
  if (audit) {
    // The body goes on as it came (npm gzips it), so these routes take raw bytes.
    app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(
        "*",
        { parseAs: "buffer", bodyLimit: MAX_AUDIT_BYTES },
        (_r, body, done) => done(null, body),
      );
      for (const path of AUDIT_PATHS) {
        scope.post(`/${path}`, async (req, reply) => {
          const header = (name: string) => {
            const value = req.headers[name];
            return typeof value === "string" ? value : undefined;
          };
          const answer = await audit({
            path,
            body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
            contentType: header("content-type"),
            contentEncoding: header("content-encoding"),
          });
          return reply
            .code(answer.status)
            .type(answer.contentType ?? "application/json")
            .send(answer.body);
        });
      }
    });
  } else {
    // No advisory database is configured. An empty report would read as a clean audit, so
    // refuse: npm then says "audit endpoint returned an error" and prints this body.
    const noAdvisories = async () => {
      throw new HttpError(
        "no-advisory-source",
        "this registry has no source of security advisories: the audit could not be done",
      );
    };
    for (const path of AUDIT_PATHS) app.post(`/${path}`, noAdvisories);
  }

  for (const [prefix, nameOf] of PACKAGE_PREFIXES) {
    app.get(prefix, (req, reply) => packument(req, reply, nameOf(req)));
    app.get(`${prefix}/-/:file`, (req, reply) =>
      tarball(reply, nameOf(req), (req.params as { file: string }).file),
    );
  }
}
