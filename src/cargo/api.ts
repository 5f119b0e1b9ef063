/**
 * cargo's web API on the origin (`{api}/api/v1/...`), as cargo 1.95 calls
 * it: publish, yank and unyank, owners (list, add, remove) and search,
 * each write a log entry like its npm counterpart. Tokens are the origin's
 * own (the ones `npm login` and `npm token create` hand out); cargo sends
 * one raw in `Authorization`, with no scheme. Errors answer as crates.io
 * does, `{"errors":[{"detail":"..."}]}` (cargo prints the details), with
 * the status from the one status table, and `code` beside `detail`.
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AuthStore } from "../origin/auth.ts";
import type { Registry } from "../origin/registry.ts";
import { parseStrictJson } from "../util/strict-json.ts";
import { CargoApiError, cargoErrorBody } from "./api-error.ts";
import { type CargoLimits, DEFAULT_CARGO_LIMITS, oneAtATime, publishCrate } from "./publish.ts";
import { readBody } from "./request-body.ts";
import { CARGO } from "./rules/ecosystem.ts";
import { keyName } from "./rules/name.ts";
import { maxPublishBodyBytes } from "./rules/publish-body.ts";
import { compareVersionStrings } from "./rules/version.ts";

export interface CargoApiOptions {
  readonly registry: Registry;
  readonly auth: AuthStore;
  /** The status and coded body of an error (the server's one table). */
  readonly errorResponse: (
    err: unknown,
    requestId: string,
  ) => { status: number; body: { error: string; code: string } };
  readonly limits?: CargoLimits;
}

/** The routes that write, for the guards in front of them (rate limits, a damaged tree). */
export const CARGO_WRITE_ROUTES: readonly (readonly ["PUT" | "DELETE", string])[] = [
  ["PUT", "/api/v1/crates/new"],
  ["DELETE", "/api/v1/crates/:name/:version/yank"],
  ["PUT", "/api/v1/crates/:name/:version/unyank"],
  ["PUT", "/api/v1/crates/:name/owners"],
  ["DELETE", "/api/v1/crates/:name/owners"],
];

/** An owners request's body, `{"users": [...]}`, is small. */
const MAX_OWNERS_BODY = 64 * 1024;
/** cargo search's `--limit`: 10 by default, at most 100. */
const DEFAULT_PER_PAGE = 10;
const MAX_PER_PAGE = 100;

/** crates.io's success answer to a publish: cargo prints any `other` warning. */
const PUBLISHED = { warnings: { invalid_categories: [], invalid_badges: [], other: [] } };

/**
 * The token in an `Authorization` header as cargo sends it: raw, or after
 * "Bearer " (some registries hand tokens out to paste that way). The rate
 * limits read it here too, so no spelling reaches the API unattributed.
 */
export function authorizationToken(header: string | undefined): string | undefined {
  return header?.trim().replace(/^Bearer\s+/i, "") || undefined;
}

export function registerCargoApi(app: FastifyInstance, options: CargoApiOptions): void {
  const { registry, auth } = options;
  const limits = options.limits ?? DEFAULT_CARGO_LIMITS;
  const table = () => registry.state.table(CARGO);

  /** The user whose token came raw in `Authorization`; a read-only token may not write. */
  const user = (req: FastifyRequest): string => {
    const token = authorizationToken(req.headers.authorization);
    const info = token ? auth.lookupToken(token) : undefined;
    if (!info)
      throw new CargoApiError(
        "unauthorized",
        "this action requires a valid token: `cargo login --registry <name>` with a token from `npm login` or `npm token create`",
      );
    if (info.readonly) throw new CargoApiError("forbidden", "this token is read-only");
    return info.user;
  };

  /** The crate as published (its first spelling), or 404. */
  const crateNamed = (name: string): string => {
    const row = table().getPackage(keyName(name));
    if (!row || row.unpublished !== null)
      throw new CargoApiError("not-found", `crate \`${name}\` does not exist`);
    return row.spelling ?? row.name;
  };

  const yank = async (req: FastifyRequest, yanked: boolean) => {
    const actor = user(req);
    const params = req.params as { name: string; version: string };
    // After the crate's earlier writes: two yanks at once log one entry, as one yank would.
    return oneAtATime(registry, params.name, () => yankChecked(actor, params, yanked));
  };

  const yankChecked = async (
    actor: string,
    params: { name: string; version: string },
    yanked: boolean,
  ) => {
    const name = crateNamed(params.name);
    const row = table().version(keyName(name), params.version);
    if (!row || row.unpublished !== null)
      throw new CargoApiError(
        "not-found",
        `crate \`${name}\` does not have a version \`${params.version}\``,
      );
    registry.assertOwner(actor, CARGO, name);
    // As on crates.io, asking again for the state a version is in succeeds and logs nothing.
    if ((row.yanked !== undefined) !== yanked)
      await registry.change(actor, CARGO, name, [
        { kind: "yank", version: params.version, yanked },
      ]);
    return { ok: true };
  };

  const ownersBody = async (req: FastifyRequest): Promise<string[]> => {
    const bytes = await readBody(req.body as FastifyRequest["raw"], req.headers, MAX_OWNERS_BODY);
    const malformed = () =>
      new CargoApiError("bad-request", 'the body must be {"users": ["<login>", ...]}');
    // {"users": [...]} is two levels deep; anything deeper is not an owners body.
    const parsed = parseStrictJson(bytes.toString("utf8"), 2, malformed);
    const users = (parsed as { users?: unknown } | null)?.users;
    if (!Array.isArray(users) || users.length === 0 || users.some((u) => typeof u !== "string"))
      throw malformed();
    return [...new Set(users as string[])];
  };

  app.register(async (scope) => {
    // cargo sends its publish body with no content type, and the rest as JSON: each
    // handler reads its own body, within its own cap.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
    scope.setErrorHandler((err, req, reply: FastifyReply) => {
      const { status, body } = options.errorResponse(err, req.id);
      if (status >= 500) req.log.error({ err, code: body.code, status }, "request failed");
      reply.code(status).header("x-request-id", req.id).send(cargoErrorBody(body.error, body.code));
    });

    scope.put("/api/v1/crates/new", async (req) => {
      const actor = user(req);
      const body = await readBody(
        req.body as FastifyRequest["raw"],
        req.headers,
        maxPublishBodyBytes(limits.publish),
      );
      await publishCrate(registry, actor, body, limits);
      return PUBLISHED;
    });
    scope.delete("/api/v1/crates/:name/:version/yank", (req) => yank(req, true));
    scope.put("/api/v1/crates/:name/:version/unyank", (req) => yank(req, false));

    scope.get("/api/v1/crates/:name/owners", async (req) => {
      const name = crateNamed((req.params as { name: string }).name);
      const owners = table().owners(keyName(name));
      return { users: owners.map((login, i) => ({ id: i + 1, login, name: null })) };
    });
    scope.put("/api/v1/crates/:name/owners", async (req) => {
      const actor = user(req);
      const name = crateNamed((req.params as { name: string }).name);
      registry.assertOwner(actor, CARGO, name);
      const users = await ownersBody(req);
      for (const login of users)
        if (!auth.hasUser(login))
          throw new CargoApiError("not-found", `could not find user with login \`${login}\``);
      await registry.change(
        actor,
        CARGO,
        name,
        users.map((login) => ({ kind: "owner", user: login, action: "add" })),
      );
      const msg = `user ${users.join(", ")} has been added as an owner of crate ${name}`;
      return { ok: true, msg };
    });
    scope.delete("/api/v1/crates/:name/owners", async (req) => {
      const actor = user(req);
      const name = crateNamed((req.params as { name: string }).name);
      const users = await ownersBody(req);
      await registry.change(
        actor,
        CARGO,
        name,
        users.map((login) => ({ kind: "owner", user: login, action: "rm" })),
      );
      return { ok: true, msg: "owners successfully removed" };
    });

    scope.get("/api/v1/crates", async (req) => {
      const query = req.query as { q?: unknown; per_page?: unknown };
      const q = typeof query.q === "string" ? query.q : "";
      const asked = Number(query.per_page ?? DEFAULT_PER_PAGE);
      const perPage = Number.isInteger(asked)
        ? Math.min(Math.max(asked, 1), MAX_PER_PAGE)
        : DEFAULT_PER_PAGE;
      const result = table().search.search(q, 0, perPage);
      return {
        crates: result.hits.map((hit) => ({
          name: hit.name,
          max_version: maxVersion(registry, hit.name) ?? hit.version,
          description: hit.description === "" ? null : hit.description,
        })),
        meta: { total: result.total },
      };
    });
  });
}

/** The highest version not yanked (crates.io's `max_version`), or the highest if all are. */
function maxVersion(registry: Registry, name: string): string | undefined {
  const live = registry.state
    .table(CARGO)
    .versions(keyName(name))
    .filter((row) => row.unpublished === null);
  const unyanked = live.filter((row) => row.yanked === undefined);
  const pool = unyanked.length > 0 ? unyanked : live;
  return pool
    .map((row) => row.version)
    .sort(compareVersionStrings)
    .at(-1);
}
