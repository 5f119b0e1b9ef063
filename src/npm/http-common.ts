/**
 * What the npm API's read and write sides share: the HTTP error type, the
 * one mapping from domain error codes to statuses, the error handler and
 * gzip body hook (registered once per app), and how package names appear in
 * URL paths.
 */
import { createGunzip } from "node:zlib";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AuthError } from "../origin/auth.ts";
import { RegistryError } from "../origin/registry.ts";
import { EntryError } from "../registry/entries.ts";
import type { PackageDocument } from "../registry/package-document.ts";
import { type PackageView, viewOfDocument } from "./packument.ts";
import { PublishError } from "./publish.ts";

export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** One place where domain error codes become HTTP statuses. */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof PublishError) {
    if (err.code === "too-large") return 413;
    const content = ["integrity-mismatch", "bad-tarball", "manifest-mismatch"];
    return content.includes(err.code) ? 422 : 400;
  }
  if (err instanceof EntryError) return 400;
  if (err instanceof RegistryError)
    return { forbidden: 403, conflict: 409, "not-found": 404, invalid: 400 }[err.code];
  if (err instanceof AuthError)
    return err.code === "bad-credentials" ? 401 : err.code === "user-exists" ? 409 : 400;
  return 500;
}

const registered = new WeakSet<FastifyInstance>();

/**
 * The error handler and the gzip body hook. Both API sides call this; it
 * registers only once per app, since a second hook would run on every request.
 */
export function registerNpmCommon(app: FastifyInstance): void {
  if (registered.has(app)) return;
  registered.add(app);

  // npm gzips some request bodies (audits); Fastify counts the bodyLimit on the inflated stream.
  app.addHook("preParsing", async (req, _reply, payload) => {
    if (req.headers["content-encoding"] !== "gzip") return payload;
    delete req.headers["content-encoding"];
    delete req.headers["content-length"];
    return payload.pipe(createGunzip());
  });

  app.setErrorHandler((err, _req, reply) => {
    // Fastify's own errors (body too large, bad JSON) carry their status.
    const status =
      statusOf(err) === 500 && (err as { statusCode?: number }).statusCode
        ? (err as { statusCode: number }).statusCode
        : statusOf(err);
    // An HttpError's message is meant for the client whatever its status; another failure's is not.
    const meant = err instanceof HttpError || status < 500;
    if (!meant) app.log.error(err);
    reply.code(status).send({ error: meant ? (err as Error).message : "internal error" });
  });
}

/** The package name from a URL path segment: `left-pad`, `@scope%2fname` or `@scope/name`. */
export function packageName(raw: string): string {
  return decodeURIComponent(raw);
}

export function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

/**
 * Where a package's routes hang, with how to read its name there. Unscoped:
 * /name, /name/-/file.tgz. Scoped: /@scope%2fname, /@scope/name, /@scope/name/-/file.tgz.
 */
export const PACKAGE_PREFIXES: readonly (readonly [string, (req: FastifyRequest) => string])[] = [
  ["/:name", (req) => packageName((req.params as { name: string }).name)],
  [
    "/@:scope/:name",
    (req) => {
      const { scope, name } = req.params as { scope: string; name: string };
      return `@${scope}/${name}`;
    },
  ],
];

/** A live package as the packument builders and the update parser see it; 404 otherwise. */
export function livePackageView(name: string, doc: PackageDocument | undefined): PackageView {
  if (!doc || doc.unpublished !== undefined) throw new HttpError(404, `package ${name} not found`);
  return viewOfDocument(doc);
}
