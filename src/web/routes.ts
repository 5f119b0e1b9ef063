/**
 * Mounts the web interface on a server's Fastify app: the pages under
 * /-/web/ (paths.ts), the home page at `/` for a browser, and a browser's
 * visit to a package's npm path (`/<name>`) sent on to its page. npm
 * clients never see any of it: a request that does not prefer HTML
 * (accept.ts) gets exactly what it got before.
 */
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { prefersHtml } from "./accept.ts";
import { assetByFile } from "./assets.ts";
import { WebError } from "./errors.ts";
import { html, renderDocument, type VNode } from "./html.ts";
import { Layout, type SiteInfo } from "./layout.ts";
import type { PageContext, PageHandler, WebResult } from "./page.ts";
import { changesPage } from "./pages/changes.ts";
import { diffPage } from "./pages/diff.ts";
import { filesPage, rawPage } from "./pages/files.ts";
import { homePage } from "./pages/home.ts";
import { logPage } from "./pages/log.ts";
import { manifestPage, manifestRawPage } from "./pages/manifest.ts";
import { mirrorsPage } from "./pages/mirrors.ts";
import { packagePage } from "./pages/package.ts";
import { entryPage, versionProofPage } from "./pages/proof.ts";
import { searchPage, searchSuggestions } from "./pages/search.ts";
import { type PackageView, parsePackagePath, paths, WEB_PREFIX } from "./paths.ts";
import type { WebSource } from "./source.ts";

export interface WebOptions {
  /** The HTTP status of an error (src/npm/error-status.ts: one table for every server). */
  readonly statusOf: (err: unknown) => number;
}

/** Pages never run a script of another origin, an inline script, or a plugin; readmes' images may come from https. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https: data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** A raw file is shown as text at most: never run, never framed, never a page of this origin. */
const RAW_POLICY = "default-src 'none'; sandbox";

/** Below this an HTML page is sent as it is. */
const COMPRESS_FROM = 1024;

const PACKAGE_VIEWS: {
  readonly [V in PackageView["view"]]?: PageHandler<Extract<PackageView, { view: V }>>;
} = {
  proof: versionProofPage,
  files: filesPage,
  raw: rawPage,
  manifest: manifestPage,
  "manifest-raw": manifestRawPage,
  diff: diffPage,
  overview: packagePage,
};

function dispatchPackage(ctx: PageContext, view: PackageView): Promise<WebResult> {
  const handler = PACKAGE_VIEWS[view.view] as PageHandler<PackageView> | undefined;
  if (!handler) throw new WebError("not-found", "no such page");
  return handler(ctx, view);
}

/** A browser's visit to an npm package path: `/<name>`, `/@scope/<name>`, `/@scope%2f<name>`. */
const NPM_PACKAGE_PATH = /^\/(?:@[^/%]+(?:\/|%2f)[^/]+|[^@/-][^/]*)$/i;

function query(req: FastifyRequest): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (typeof last === "string") out[key] = last;
  }
  return out;
}

function baseOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

function compressed(req: FastifyRequest, reply: FastifyReply, body: Buffer): Buffer {
  reply.header("vary", "accept-encoding");
  if (body.length < COMPRESS_FROM) return body;
  const accepted = String(req.headers["accept-encoding"] ?? "");
  if (/\bbr\b/.test(accepted)) {
    reply.header("content-encoding", "br");
    // Quality 4: most of brotli's gain at a few milliseconds a page.
    return brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } });
  }
  if (/\bgzip\b/.test(accepted)) {
    reply.header("content-encoding", "gzip");
    return gzipSync(body, { level: 6 });
  }
  return body;
}

function send(
  req: FastifyRequest,
  reply: FastifyReply,
  site: SiteInfo,
  result: WebResult,
): FastifyReply {
  switch (result.kind) {
    case "page": {
      const document = renderDocument(
        Layout({
          site,
          title: result.title,
          description: result.description,
          query: result.query,
          scripts: result.scripts,
          children: result.body,
        }),
      );
      return reply
        .code(result.status ?? 200)
        .type("text/html; charset=utf-8")
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("cache-control", "no-cache")
        .send(compressed(req, reply, Buffer.from(document)));
    }
    case "raw": {
      const { body } = result;
      return reply
        .type(result.type)
        .header("content-security-policy", RAW_POLICY)
        .header("x-content-type-options", "nosniff")
        .header(
          "content-disposition",
          `inline; filename*=UTF-8''${encodeURIComponent(result.filename)}`,
        )
        .header(
          "cache-control",
          result.immutable ? "public, max-age=31536000, immutable" : "no-cache",
        )
        .send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    }
    case "json":
      return reply.header("cache-control", "no-cache").send(result.body);
    case "redirect":
      return reply.redirect(result.location, 302);
  }
}

export function registerWeb(app: FastifyInstance, source: WebSource, options: WebOptions): void {
  const site: SiteInfo = {
    role: source.role,
    logName: source.verifierKey.slice(0, source.verifierKey.indexOf("+")),
  };
  const context = (req: FastifyRequest): PageContext => ({
    source,
    site,
    base: baseOf(req),
    query: query(req),
  });

  // A browser at a package's npm URL goes to its page; npm's own requests pass untouched.
  app.addHook("onRequest", async (req, reply) => {
    if (req.method !== "GET" || !prefersHtml(req.headers.accept)) return;
    const path = req.url.split("?", 1)[0];
    if (!NPM_PACKAGE_PATH.test(path)) return;
    let name: string;
    try {
      name = decodeURIComponent(path.slice(1));
    } catch {
      return;
    }
    // Never cached: the same URL answers npm with JSON.
    return reply
      .header("vary", "accept")
      .header("cache-control", "no-store")
      .redirect(paths.package(name), 302);
  });

  app.get("/", async (req, reply) => {
    if (!prefersHtml(req.headers.accept))
      return reply.code(404).send({ error: "not found: GET /", code: "not-found" });
    reply.header("vary", "accept");
    return send(req, reply, site, await homePage(context(req)));
  });

  app.register(
    async (scope) => {
      // The server's own time for a page, rendering and compression included (browsers' tools show it; bench/web.ts reads it).
      scope.addHook("onSend", async (_req, reply, payload) => {
        reply.header("server-timing", `app;dur=${reply.elapsedTime.toFixed(2)}`);
        return payload;
      });
      scope.setErrorHandler(async (err, req, reply) => {
        const status = options.statusOf(err);
        const message =
          err instanceof WebError || status < 500
            ? (err as Error).message
            : "this server could not build the page";
        // A page refused on purpose (501: a sparse proxy cannot search) is not a failure of this server.
        if (status >= 500 && !(err instanceof WebError)) req.log.error({ err }, "web page failed");
        if (req.url.split("?", 1)[0].endsWith(".json"))
          return reply.code(status).send({ error: message, code: (err as WebError).code });
        return send(req, reply, site, {
          kind: "page",
          status,
          title: status === 404 ? "Not found" : "Error",
          body: errorBody(status, message),
        });
      });

      scope.get("/assets/:file", async (req, reply) => {
        const asset = assetByFile((req.params as { file: string }).file);
        if (!asset) throw new WebError("not-found", "no such asset");
        const accepted = String(req.headers["accept-encoding"] ?? "");
        reply
          .type(asset.type)
          .header("cache-control", "public, max-age=31536000, immutable")
          .header("x-content-type-options", "nosniff")
          .header("vary", "accept-encoding");
        if (/\bbr\b/.test(accepted))
          return reply.header("content-encoding", "br").send(asset.brotli);
        if (/\bgzip\b/.test(accepted))
          return reply.header("content-encoding", "gzip").send(asset.gzip);
        return reply.send(asset.body);
      });

      scope.get("/entry/:index", async (req, reply) =>
        send(
          req,
          reply,
          site,
          await entryPage(context(req), (req.params as { index: string }).index),
        ),
      );
      scope.get("/log", async (req, reply) => send(req, reply, site, await logPage(context(req))));
      scope.get("/mirrors", async (req, reply) =>
        send(req, reply, site, await mirrorsPage(context(req))),
      );
      scope.get("/changes/:from/:to", async (req, reply) => {
        const params = req.params as { from: string; to: string };
        return send(req, reply, site, await changesPage(context(req), params));
      });
      scope.get("/search", async (req, reply) =>
        send(req, reply, site, await searchPage(context(req))),
      );
      scope.get("/search.json", async (req, reply) =>
        send(req, reply, site, await searchSuggestions(context(req))),
      );

      scope.get("/package/*", async (req, reply) => {
        const rest = (req.params as { "*": string })["*"];
        return send(req, reply, site, await dispatchPackage(context(req), parsePackagePath(rest)));
      });
    },
    { prefix: WEB_PREFIX },
  );
}

function errorBody(status: number, message: string): VNode {
  return html`<section class="error">
    <h1>${status === 404 ? "Not found" : `Error ${status}`}</h1>
    <p>${message}</p>
    <p><a href=${paths.home()}>Search the registry</a></p>
  </section>`;
}
