/**
 * The npm registry API of the origin: the read side (src/npm/read-api.ts)
 * over its Registry, and the write side as npm, pnpm and yarn use it:
 * adduser/login, whoami, tokens, publish, packument updates, unpublish,
 * dist-tag and owner changes. Handlers only translate HTTP to calls on the
 * registry; error codes become statuses in one place (http-common.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AuthStore } from "../origin/auth.ts";
import type { Registry } from "../origin/registry.ts";
import {
  HttpError,
  livePackageView,
  PACKAGE_PREFIXES,
  packageName,
  registerNpmCommon,
} from "./http-common.ts";
import { parsePublish, publishBodyLimit, tooLarge } from "./publish.ts";
import { registerPublishBodyParser, streamedAttachments } from "./publish-body.ts";
import { registerNpmReadApi, storeReads } from "./read-api.ts";
import { DEFAULT_TARBALL_LIMITS, type TarballLimits } from "./tarball.ts";
import { packageChanges } from "./update.ts";

export interface NpmApiOptions {
  readonly registry: Registry;
  readonly auth: AuthStore;
  /** Anyone may create an account with `npm adduser`. */
  readonly openSignup: boolean;
  /** Caps on a published tarball; the defaults of tarball.ts if absent. */
  readonly tarballLimits?: TarballLimits;
}

/** The whole API of the origin: what every copy serves, and the writes only it accepts. */
export function registerNpmApi(app: FastifyInstance, options: NpmApiOptions): void {
  const { registry } = options;
  registerNpmReadApi(app, storeReads(registry.state, registry.blobs));
  registerNpmWriteApi(app, options);
}

export function registerNpmWriteApi(app: FastifyInstance, options: NpmApiOptions): void {
  registerNpmCommon(app);
  const { registry, auth } = options;
  const limits = options.tarballLimits ?? DEFAULT_TARBALL_LIMITS;
  registerPublishBodyParser(app, limits);

  const user = (req: FastifyRequest): string => {
    const header = req.headers.authorization ?? "";
    const token = /^Bearer (\S+)$/i.exec(header)?.[1];
    const info = token ? auth.lookupToken(token) : undefined;
    if (!info) throw new HttpError(401, "authentication required: log in with npm login");
    if (info.readonly && req.method !== "GET") throw new HttpError(403, "this token is read-only");
    return info.user;
  };

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

  const publish = async (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const actor = user(req);
    const parsed = await parsePublish(name, req.body, limits, streamedAttachments(req));
    await registry.publish({ actor, ...parsed });
    return reply.code(201).send({ ok: true, id: name, success: true });
  };

  /** A packument sent back edited: deprecations, version unpublishes, owner changes. */
  const update = async (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const actor = user(req);
    const changes = packageChanges(livePackageView(name, registry.state.document(name)), req.body);
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

  // Owners as pnpm lists and changes them (npm reads and edits the packument's maintainers instead).
  app.get("/-/package/:name/owners", async (req) => {
    const name = packageName((req.params as { name: string }).name);
    const view = livePackageView(name, registry.state.document(name));
    return view.owners.map((username) => ({ username, email: auth.email(username) ?? "" }));
  });
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

  // A body too large for any publish is refused before it is read, naming the limit.
  const refuseHugeBody = async (req: FastifyRequest) => {
    if (Number(req.headers["content-length"]) > publishBodyLimit(limits)) throw tooLarge(limits);
  };
  for (const [prefix, nameOf] of PACKAGE_PREFIXES) {
    app.put(prefix, { onRequest: refuseHugeBody }, (req, reply) => put(req, reply, nameOf(req)));
    app.put(`${prefix}/-rev/:rev`, (req, reply) => update(req, reply, nameOf(req)));
    app.delete(`${prefix}/-rev/:rev`, (req) => unpublishAll(req, nameOf(req)));
    // npm deletes the tarball after unpublishing its version; the unpublish entry already covers it.
    app.delete(`${prefix}/-/:file/-rev/:rev`, async (req) => {
      user(req);
      return { ok: true };
    });
  }
}
