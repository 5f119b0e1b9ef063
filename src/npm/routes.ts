/**
 * The npm registry API of the origin: the read side (src/npm/read-api.ts)
 * over its Registry, and the write side as npm, pnpm and yarn use it:
 * adduser/login, whoami, tokens, publish, packument updates, unpublish,
 * dist-tag and owner changes. Handlers only translate HTTP to calls on the
 * registry; error codes become statuses in one place (http-common.ts).
 */
import { setTimeout as delay } from "node:timers/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AuthStore } from "../origin/auth.ts";
import type { Registry } from "../origin/registry.ts";
import { type PackageReader, storeReads } from "../registry/package-reader.ts";
import { DEFAULT_TARBALL_LIMITS, type TarballLimits } from "../registry/tarball-limits.ts";
import { forwardAudit } from "../upstream/audit.ts";
import type { UplinkImporter } from "../upstream/importer.ts";
import { REFUSAL_DELAY_MS } from "./guards.ts";
import {
  HttpError,
  livePackageView,
  PACKAGE_PREFIXES,
  packageName,
  registerNpmCommon,
} from "./http-common.ts";
import { parsePublish, publishBodyLimit, tooLarge } from "./publish.ts";
import { registerPublishBodyParser, streamedAttachments } from "./publish-body.ts";
import { publishNpm } from "./publish-request.ts";
import { registerNpmReadApi } from "./read-api.ts";
import { distTagProblem } from "./rules/dist-tag-name.ts";
import { TarballError } from "./tarball.ts";
import { checkRevision, packageChanges } from "./update.ts";

/** A publish refused only after its tarball was inflated to a cap: the one costly refusal. */
function inflatedTooFar(err: unknown): boolean {
  const cause = (err as { cause?: unknown }).cause;
  return (
    cause instanceof TarballError &&
    (cause.code === "compression-ratio" || cause.code === "too-large")
  );
}

export interface NpmApiOptions {
  readonly registry: Registry;
  readonly auth: AuthStore;
  /** Anyone may create an account with `npm adduser`. */
  readonly openSignup: boolean;
  /** Caps on a published tarball; the defaults of tarball.ts if absent. */
  readonly tarballLimits?: TarballLimits;
  /** The pull-through cache of the configured uplinks, if any. */
  readonly uplinks?: UplinkImporter;
  /** Called for each tarball served whole through the npm API. */
  readonly onTarball?: (name: string, version: string) => void;
}

/**
 * The whole API of the origin: what every copy serves, and the writes only
 * it accepts. Returns the reader the read side serves from.
 */
export function registerNpmApi(app: FastifyInstance, options: NpmApiOptions): PackageReader {
  const { registry, auth } = options;
  const local = {
    ...storeReads(registry.state, registry.blobs),
    ownerEmail: (user: string) => auth.email(user),
  };
  const { uplinks } = options;
  const reader = uplinks ? uplinks.reader(local) : local;
  registerNpmReadApi(app, reader, {
    ...(uplinks ? { audit: (request) => forwardAudit(uplinks.routes.uplinks[0], request) } : {}),
    ...(options.onTarball ? { onTarball: options.onTarball } : {}),
  });
  registerNpmWriteApi(app, options);
  return reader;
}

/** The user a request's bearer token belongs to; refuses no token, or a read-only one on a write. */
export function tokenUser(auth: AuthStore, req: FastifyRequest): string {
  const header = req.headers.authorization ?? "";
  const token = /^Bearer (\S+)$/i.exec(header)?.[1];
  const info = token ? auth.lookupToken(token) : undefined;
  if (!info) throw new HttpError("unauthorized", "authentication required: log in with npm login");
  if (info.readonly && req.method !== "GET" && req.method !== "HEAD")
    throw new HttpError("forbidden", "this token is read-only");
  return info.user;
}

export function registerNpmWriteApi(app: FastifyInstance, options: NpmApiOptions): void {
  registerNpmCommon(app);
  const { registry, auth } = options;
  const limits = options.tarballLimits ?? DEFAULT_TARBALL_LIMITS;
  registerPublishBodyParser(app, limits);

  const user = (req: FastifyRequest): string => tokenUser(auth, req);

  /** Refuses a dist-tag name outside the rule (src/npm/rules/dist-tag-name.ts). */
  const checkTag = (tag: string) => {
    const problem = distTagProblem(tag);
    if (problem)
      throw new HttpError(
        "invalid-tag",
        `invalid dist-tag ${JSON.stringify(tag.slice(0, 64))}: ${problem}`,
      );
  };

  /** The live package's view, once `actor` is known to own it. */
  const ownedView = (actor: string, name: string) => {
    registry.assertOwner(actor, "npm", name);
    return livePackageView(name, registry.state.table("npm").document(name));
  };

  /** Owners are added by name; whether a name exists is told only to the package's owners. */
  const checkUserExists = (name: string) => {
    if (!auth.hasUser(name)) throw new HttpError("not-found", `no user named ${name}`);
  };

  app.get("/-/whoami", async (req) => ({ username: user(req) }));

  app.put("/-/user/:id", async (req, reply) => {
    const id = (req.params as { id: string }).id;
    if (!id.startsWith("org.couchdb.user:")) throw new HttpError("not-found", "not found");
    const name = id.slice("org.couchdb.user:".length);
    const body = req.body as { name?: unknown; password?: unknown; email?: unknown } | undefined;
    if (typeof body?.password !== "string" || (body.name !== undefined && body.name !== name)) {
      throw new HttpError("bad-request", "adduser needs a name matching the URL and a password");
    }
    if (auth.hasUser(name)) {
      await auth.checkCredentials(name, body.password);
    } else {
      if (!options.openSignup)
        throw new HttpError("signup-closed", "sign-up is closed on this registry");
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
    const parsed = await parsePublish(name, req.body, limits, streamedAttachments(req)).catch(
      async (err: unknown) => {
        // Inflating a bomb up to a cap cost this server; its sender waits, as for a 429.
        if (inflatedTooFar(err)) await delay(REFUSAL_DELAY_MS);
        throw err;
      },
    );
    checkTag(parsed.tag);
    // A new name that routes to an uplink is the upstream's if the upstream has it:
    // imported first, the publish is then refused rather than shadowing it.
    await options.uplinks?.ensure(name);
    await publishNpm(registry, { actor, ...parsed });
    return reply.code(201).send({ ok: true, id: name, success: true });
  };

  /**
   * A packument sent back edited: deprecations, version unpublishes, owner
   * changes. Checked and turned into changes in one synchronous step, so the
   * revision checked is the state the changes are computed against.
   */
  const update = async (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const actor = user(req);
    const view = ownedView(actor, name);
    checkRevision(view, (req.params as { rev?: string }).rev, req.body);
    const changes = packageChanges(view, req.body);
    for (const c of changes) if (c.kind === "owner" && c.action === "add") checkUserExists(c.user);
    await registry.change(actor, "npm", name, changes);
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
    const actor = user(req);
    checkRevision(ownedView(actor, name), (req.params as { rev: string }).rev, undefined);
    await registry.unpublishPackage(actor, "npm", name);
    return { ok: true };
  };

  // Owners as pnpm lists and changes them (npm reads and edits the packument's maintainers instead).
  app.get("/-/package/:name/owners", async (req) => {
    const name = packageName((req.params as { name: string }).name);
    const view = livePackageView(name, registry.state.table("npm").document(name));
    return view.owners.map((username) => ({ username, email: auth.email(username) ?? "" }));
  });
  app.put("/-/package/:name/owners", async (req, reply) => {
    const name = packageName((req.params as { name: string }).name);
    const actor = user(req);
    registry.assertOwner(actor, "npm", name);
    const owner = (req.body as { user?: unknown } | undefined)?.user;
    if (typeof owner !== "string")
      throw new HttpError("bad-request", 'the body must be {"user": "<name>"}');
    checkUserExists(owner);
    await registry.change(actor, "npm", name, [{ kind: "owner", user: owner, action: "add" }]);
    return reply.code(201).send({ ok: true });
  });
  app.delete("/-/package/:name/owners/:user", async (req) => {
    const { name, user: owner } = req.params as { name: string; user: string };
    await registry.change(user(req), "npm", packageName(name), [
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
      throw new HttpError("bad-request", "creating a token needs your password");
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
      throw new HttpError("not-found", "no such token");
    return reply.code(204).send();
  });

  // What `npm owner add` reads before adding someone: only for a signed-in user, and the email only for oneself.
  app.get("/-/user/:id", async (req) => {
    const caller = user(req);
    const id = (req.params as { id: string }).id;
    const name = id.startsWith("org.couchdb.user:") ? id.slice("org.couchdb.user:".length) : "";
    checkUserExists(name);
    const email = name === caller ? auth.email(name) : undefined;
    return { _id: id, name, ...(email ? { email } : {}) };
  });

  app.put("/-/package/:name/dist-tags/:tag", async (req, reply) => {
    const { name, tag } = req.params as { name: string; tag: string };
    checkTag(tag);
    if (typeof req.body !== "string")
      throw new HttpError("bad-request", "the body must be the version, as a JSON string");
    await registry.setDistTag(user(req), "npm", packageName(name), tag, req.body);
    return reply.code(201).send({ ok: true });
  });
  app.delete("/-/package/:name/dist-tags/:tag", async (req) => {
    const { name, tag } = req.params as { name: string; tag: string };
    const actor = user(req);
    // Only a tag that is set can be removed: nothing else reaches the log.
    if (!Object.hasOwn(ownedView(actor, packageName(name)).distTags, tag))
      throw new HttpError(
        "not-found",
        `${packageName(name)} has no dist-tag ${JSON.stringify(tag.slice(0, 64))}`,
      );
    await registry.setDistTag(actor, "npm", packageName(name), tag, null);
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
      registry.assertOwner(user(req), "npm", nameOf(req));
      return { ok: true };
    });
  }
}
