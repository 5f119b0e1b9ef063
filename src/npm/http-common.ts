/**
 * What the npm API's read and write sides share: the HTTP error type, the
 * one table from domain error codes to statuses, the error handler, the
 * JSON and gzip body handling (registered once per app), and how package
 * names appear in URL paths.
 */
import { createGunzip } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { PackageDocument } from "../registry/package-document.ts";
import { blockedByHeaders, TakedownError } from "../registry/takedown.ts";
import { CodedError } from "../util/coded-error.ts";
import { errorResponse } from "./error-status.ts";
import { parseJsonBody } from "./json-body.ts";
import { type PackageView, viewOfDocument } from "./packument.ts";

export type HttpErrorCode =
  | "bad-request"
  | "invalid-json"
  | "invalid-tag"
  | "unauthorized"
  | "forbidden"
  | "signup-closed"
  | "not-found"
  | "stale-revision"
  | "no-advisory-source"
  | "not-implemented";

/** A refusal decided by the HTTP layer itself; its status comes from the table in error-status.ts. */
export class HttpError extends CodedError<HttpErrorCode> {
  override name = "HttpError";
}

const registered = new WeakSet<FastifyInstance>();

/**
 * The error handler and the body parsers. Both API sides call this; it
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

  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = errorResponse(err, req.id);
    // A 5xx is the server's failure: always logged, with the request id the client was shown.
    if (status >= 500) req.log.error({ err, code: body.code, status }, "request failed");
    else req.log.debug({ code: body.code, status }, body.error);
    if (status === UNAVAILABLE_FOR_LEGAL_REASONS) blockedBy(req, reply);
    reply.code(status).header("x-request-id", req.id).send(body);
  });
}

const UNAVAILABLE_FOR_LEGAL_REASONS = 451;

/** RFC 7725's headers on a 451 (blockedByHeaders), naming this server as the client reached it. */
function blockedBy(req: FastifyRequest, reply: FastifyReply): void {
  reply.headers(blockedByHeaders(baseUrl(req)));
}

/**
 * The package name from a URL path segment: `left-pad`, or `@scope/name`
 * that arrived as `@scope%2fname`. The router has already percent-decoded
 * it once; decoding again would make `%252f` a slash.
 */
export function packageName(raw: string): string {
  return raw;
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
  // A whole package taken down answers 451 with the reason, not a bare 404.
  if (doc?.takenDown !== undefined) throw new TakedownError(doc.name, undefined, doc.takenDown);
  if (!doc || doc.unpublished !== undefined)
    throw new HttpError("not-found", `package ${name} not found`);
  return viewOfDocument(doc);
}
