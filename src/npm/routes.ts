/**
 * The npm registry API over the origin's Registry, as npm, pnpm and yarn
 * use it: ping, adduser/login, whoami, publish, packuments (full and
 * abbreviated, with ETag/304) and tarballs. Handlers only translate HTTP to
 * calls on the registry and map error codes to statuses in one place.
 */
import { createHash } from "node:crypto";
import { createGunzip } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AuthError, type AuthStore } from "../origin/auth.ts";
import { type Registry, RegistryError } from "../origin/registry.ts";
import { EntryError } from "../registry/entries.ts";
import { abbreviatedPackument, fullPackument, type PackageView } from "./packument.ts";
import { type CachedDocument, PackumentCache } from "./packument-cache.ts";
import { PublishError, parsePublish } from "./publish.ts";
import { packageChanges } from "./update.ts";

export interface NpmApiOptions {
  readonly registry: Registry;
  readonly auth: AuthStore;
  /** Anyone may create an account with `npm adduser`. */
  readonly openSignup: boolean;
}

const ABBREVIATED = "application/vnd.npm.install-v1+json";

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** One place where domain error codes become HTTP statuses. */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof PublishError)
    return err.code === "integrity-mismatch" || err.code === "bad-tarball" ? 422 : 400;
  if (err instanceof EntryError) return 400;
  if (err instanceof RegistryError)
    return { forbidden: 403, conflict: 409, "not-found": 404, invalid: 400 }[err.code];
  if (err instanceof AuthError)
    return err.code === "bad-credentials" ? 401 : err.code === "user-exists" ? 409 : 400;
  return 500;
}

/** The package name from a URL path segment: `left-pad`, `@scope%2fname` or `@scope/name`. */
function packageName(raw: string): string {
  return decodeURIComponent(raw);
}

function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

export function registerNpmApi(app: FastifyInstance, options: NpmApiOptions): void {
  const { registry, auth } = options;

  const user = (req: FastifyRequest): string => {
    const header = req.headers.authorization ?? "";
    const token = /^Bearer (\S+)$/i.exec(header)?.[1];
    const info = token ? auth.lookupToken(token) : undefined;
    if (!info) throw new HttpError(401, "authentication required: log in with npm login");
    if (info.readonly && req.method !== "GET") throw new HttpError(403, "this token is read-only");
    return info.user;
  };

  const view = (name: string): PackageView => {
    const pkg = registry.state.getPackage(name);
    if (!pkg || pkg.unpublished !== null) throw new HttpError(404, `package ${name} not found`);
    return {
      pkg,
      versions: registry.state.versions(name),
      distTags: registry.state.distTags(name),
      owners: registry.state.owners(name),
    };
  };

  // npm gzips some request bodies (audits); Fastify counts the bodyLimit on the inflated stream.
  app.addHook("preParsing", async (req, _reply, payload) => {
    if (req.headers["content-encoding"] !== "gzip") return payload;
    delete req.headers["content-encoding"];
    delete req.headers["content-length"];
    return payload.pipe(createGunzip());
  });

  app.setErrorHandler((err, _req, reply) => {
    const status =
      statusOf(err) === 500 && (err as { statusCode?: number }).statusCode
        ? (err as { statusCode: number }).statusCode
        : statusOf(err);
    if (status >= 500) app.log.error(err);
    reply.code(status).send({ error: status >= 500 ? "internal error" : (err as Error).message });
  });

  app.get("/-/ping", async () => ({}));

  app.get("/-/whoami", async (req) => ({ username: user(req) }));

  app.put("/-/user/:id", async (req, reply) => {
    const id = (req.params as { id: string }).id;
    if (!id.startsWith("org.couchdb.user:")) throw new HttpError(404, "not found");
    const name = id.slice("org.couchdb.user:".length);
    const body = req.body as { name?: unknown; password?: unknown; email?: unknown } | undefined;
    if (typeof body?.password !== "string" || (body.name !== undefined && body.name !== name)) {
      throw new HttpError(400, "adduser needs a name matching the URL and a password");
    }
    if (auth.hasUser(name)) {
      await auth.checkCredentials(name, body.password);
    } else {
      if (!options.openSignup) throw new HttpError(403, "sign-up is closed on this registry");
      await auth.createUser(
        name,
        body.password,
        typeof body.email === "string" ? body.email : undefined,
      );
    }
    const { token } = auth.createToken(name);
    return reply.code(201).send({ ok: true, id: `org.couchdb.user:${name}`, token });
  });

  const cache = new PackumentCache();
  registry.onApplied((names) => cache.invalidate(names));

  const buildPackument = async (
    name: string,
    abbreviated: boolean,
    base: string,
  ): Promise<CachedDocument> => {
    const pkgView = view(name);
    const body = abbreviated
      ? abbreviatedPackument(pkgView, base)
      : await fullPackument(pkgView, base, async (entry) => {
          const bytes = await registry.blobs.get(entry.manifest.sha256);
          if (!bytes) throw new Error(`manifest blob of ${entry.name}@${entry.version} is missing`);
          return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
        });
    const json = JSON.stringify(body);
    const etag = `"${createHash("sha256").update(json).digest("base64url").slice(0, 27)}"`;
    return { json, etag, lastModified: new Date(pkgView.pkg.modified).toUTCString() };
  };

  const packument = async (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const abbreviated = (req.headers.accept ?? "").includes(ABBREVIATED);
    const base = baseUrl(req);
    const variant = `${abbreviated ? "a" : "f"} ${base}`;
    let doc = cache.get(name, variant);
    if (!doc) {
      doc = await buildPackument(name, abbreviated, base);
      cache.set(name, variant, doc);
    }
    reply.header("etag", doc.etag).header("cache-control", "public, max-age=300");
    reply.header("last-modified", doc.lastModified);
    if (req.headers["if-none-match"] === doc.etag) return reply.code(304).send();
    return reply.type(abbreviated ? ABBREVIATED : "application/json").send(doc.json);
  };

  const tarball = async (reply: FastifyReply, name: string, file: string) => {
    // The file is `<unscoped name>-<version>.tgz`: look up that one version.
    const prefix = `${name.slice(name.lastIndexOf("/") + 1)}-`;
    const version =
      file.startsWith(prefix) && file.endsWith(".tgz") ? file.slice(prefix.length, -4) : "";
    const row = registry.state.version(name, version);
    if (!row || row.unpublished !== null) throw new HttpError(404, `${name}: no tarball ${file}`);
    const bytes = await registry.blobs.get(row.entry.artifact.sha256);
    if (!bytes) throw new Error(`tarball blob of ${name}@${row.version} is missing`);
    return reply
      .type("application/octet-stream")
      .header("cache-control", "public, max-age=31536000, immutable")
      .send(bytes);
  };

  const publish = async (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const actor = user(req);
    const parsed = parsePublish(name, req.body);
    await registry.publish({ actor, ...parsed });
    return reply.code(201).send({ ok: true, id: name, success: true });
  };

  /** A packument sent back edited: deprecations, version unpublishes, owner changes. */
  const update = async (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const actor = user(req);
    const changes = packageChanges(view(name), req.body);
    for (const c of changes) {
      if (c.kind === "owner" && c.action === "add" && !auth.hasUser(c.user)) {
        throw new HttpError(404, `no user named ${c.user}`);
      }
    }
    await registry.change(actor, name, changes);
    return reply.code(200).send({ ok: true, id: name });
  };

  /** `PUT /<name>`: a publish when it carries a tarball, else an update. */
  const put = (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const attachments = (req.body as { _attachments?: unknown } | undefined)?._attachments;
    const hasTarball =
      typeof attachments === "object" &&
      attachments !== null &&
      Object.keys(attachments).length > 0;
    return hasTarball ? publish(req, reply, name) : update(req, reply, name);
  };

  const unpublishAll = async (req: FastifyRequest, name: string) => {
    await registry.unpublishPackage(user(req), name);
    return { ok: true };
  };

  // Owners as pnpm changes them (npm edits the packument's maintainers instead).
  app.put("/-/package/:name/owners", async (req, reply) => {
    const name = packageName((req.params as { name: string }).name);
    const owner = (req.body as { user?: unknown } | undefined)?.user;
    if (typeof owner !== "string") throw new HttpError(400, 'the body must be {"user": "<name>"}');
    if (!auth.hasUser(owner)) throw new HttpError(404, `no user named ${owner}`);
    await registry.change(user(req), name, [{ kind: "owner", user: owner, action: "add" }]);
    return reply.code(201).send({ ok: true });
  });
  app.delete("/-/package/:name/owners/:user", async (req) => {
    const { name, user: owner } = req.params as { name: string; user: string };
    await registry.change(user(req), packageName(name), [
      { kind: "owner", user: owner, action: "rm" },
    ]);
    return { ok: true };
  });

  // Search, in the shape of npm's /-/v1/search.
  app.get("/-/v1/search", async (req) => {
    const q = req.query as { text?: string; size?: string; from?: string };
    const size = Math.min(250, Math.max(1, Number.parseInt(q.size ?? "20", 10) || 20));
    const from = Math.max(0, Number.parseInt(q.from ?? "0", 10) || 0);
    await registry.searchSettled(); // read your own publishes
    const { total, hits } = registry.state.search.search(q.text ?? "", from, size);
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

  // No advisory database is configured: audits answer, truthfully, that nothing is known.
  app.post("/-/npm/v1/security/advisories/bulk", async () => ({}));
  app.post("/-/npm/v1/security/audits/quick", async () => ({
    actions: [],
    advisories: {},
    muted: [],
    metadata: {
      vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0 },
      dependencies: 0,
      devDependencies: 0,
      optionalDependencies: 0,
      totalDependencies: 0,
    },
  }));

  // Tokens, as `npm token list|create|revoke` use them.
  app.get("/-/npm/v1/tokens", async (req) => {
    const objects = auth.listTokens(user(req)).map((t) => ({
      token: t.prefix,
      key: t.key,
      readonly: t.readonly,
      cidr_whitelist: null,
      created: t.created,
      updated: t.created,
    }));
    return { objects, total: objects.length, urls: {} };
  });
  app.post("/-/npm/v1/tokens", async (req, reply) => {
    const name = user(req);
    const body = req.body as { password?: unknown; readonly?: unknown } | undefined;
    if (typeof body?.password !== "string")
      throw new HttpError(400, "creating a token needs your password");
    await auth.checkCredentials(name, body.password);
    const created = auth.createToken(name, { readonly: body.readonly === true });
    return reply.code(201).send({
      token: created.token,
      key: created.key,
      readonly: created.readonly,
      cidr_whitelist: null,
      created: created.created,
      updated: created.created,
    });
  });
  app.delete("/-/npm/v1/tokens/token/:key", async (req, reply) => {
    if (!auth.revokeToken(user(req), (req.params as { key: string }).key))
      throw new HttpError(404, "no such token");
    return reply.code(204).send();
  });

  app.get("/-/user/:id", async (req) => {
    const id = (req.params as { id: string }).id;
    const name = id.startsWith("org.couchdb.user:") ? id.slice("org.couchdb.user:".length) : "";
    if (!auth.hasUser(name)) throw new HttpError(404, `no user named ${name}`);
    return { _id: id, name };
  });

  app.get(
    "/-/package/:name/dist-tags",
    async (req) => view(packageName((req.params as { name: string }).name)).distTags,
  );
  app.put("/-/package/:name/dist-tags/:tag", async (req, reply) => {
    const { name, tag } = req.params as { name: string; tag: string };
    if (typeof req.body !== "string")
      throw new HttpError(400, "the body must be the version, as a JSON string");
    await registry.setDistTag(user(req), packageName(name), tag, req.body);
    return reply.code(201).send({ ok: true });
  });
  app.delete("/-/package/:name/dist-tags/:tag", async (req) => {
    const { name, tag } = req.params as { name: string; tag: string };
    await registry.setDistTag(user(req), packageName(name), tag, null);
    return { ok: true };
  });

  // Unscoped: /name, /name/-/file.tgz. Scoped: /@scope%2fname, /@scope/name, /@scope/name/-/file.tgz.
  const plain = (req: FastifyRequest) => packageName((req.params as { name: string }).name);
  const scoped = (req: FastifyRequest) => {
    const { scope, name } = req.params as { scope: string; name: string };
    return `@${scope}/${name}`;
  };
  for (const [prefix, nameOf] of [
    ["/:name", plain],
    ["/@:scope/:name", scoped],
  ] as const) {
    app.get(prefix, (req, reply) => packument(req, reply, nameOf(req)));
    app.get(`${prefix}/-/:file`, (req, reply) =>
      tarball(reply, nameOf(req), (req.params as { file: string }).file),
    );
    app.put(prefix, (req, reply) => put(req, reply, nameOf(req)));
    app.put(`${prefix}/-rev/:rev`, (req, reply) => update(req, reply, nameOf(req)));
    app.delete(`${prefix}/-rev/:rev`, (req) => unpublishAll(req, nameOf(req)));
    // npm deletes the tarball after unpublishing its version; the unpublish entry already covers it.
    app.delete(`${prefix}/-/:file/-rev/:rev`, async (req) => {
      user(req);
      return { ok: true };
    });
  }
}
