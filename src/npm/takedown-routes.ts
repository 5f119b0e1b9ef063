/**
 * Moderation over HTTP, on the origin: the public list of takedowns in
 * force, and the moderators' API that records one or restores it.
 *
 *   GET    /-/cairn/takedowns                 {"takedowns":[{ecosystem,name,version?,reason,entry,time}]}
 *   PUT    /-/cairn/takedown   {"name":"evil","version":"1.0.2","reason":"Malware","purge":false}
 *   DELETE /-/cairn/takedown   {"name":"evil","version":"1.0.2","reason":"Report withdrawn"}
 *
 * A restore of purged bytes adds `tarball` (and `manifest`), base64: the
 * origin checks them against the entry before it appends the restore.
 *
 * `ecosystem` defaults to npm; no `version` means the whole package. The
 * writes take a bearer token of a user the origin's config lists as a
 * moderator, and both call Registry.takedown, as `cairn takedown` does.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AuthStore } from "../origin/auth.ts";
import type { Registry, TakedownRequest } from "../origin/registry.ts";
import type { RegistryState } from "../registry/state.ts";
import { takedownList } from "../registry/withheld.ts";
import { isObject } from "../util/is-object.ts";
import { HttpError, registerNpmCommon } from "./http-common.ts";
import { restoredBytesOf } from "./purged-restore.ts";
import { tokenUser } from "./routes.ts";

export const TAKEDOWNS_PATH = "/-/cairn/takedowns";
export const TAKEDOWN_PATH = "/-/cairn/takedown";
/** The moderators' writes: they extend the log, so the origin's write guards stand in front of them. */
export const TAKEDOWN_WRITE_ROUTES: readonly (readonly ["PUT" | "DELETE", string])[] = [
  ["PUT", TAKEDOWN_PATH],
  ["DELETE", TAKEDOWN_PATH],
];

const FIELDS = new Set(["ecosystem", "name", "version", "reason", "purge", "tarball", "manifest"]);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The request a moderation body asks for; strict, so a typo is refused rather than ignored. */
export function takedownRequestOf(
  body: unknown,
  kind: TakedownRequest["kind"],
  actor: string,
): TakedownRequest {
  if (!isObject(body) || Object.keys(body).some((k) => !FIELDS.has(k)))
    throw new HttpError("bad-request", `give ${[...FIELDS].join(", ")} as a JSON object`);
  const { ecosystem = "npm", name, version, reason, purge } = body;
  const text = (value: unknown) => typeof value === "string" && value.length > 0;
  if (!text(ecosystem) || !text(name) || !text(reason))
    throw new HttpError("bad-request", "ecosystem, name and reason must be non-empty strings");
  if (version !== undefined && !text(version))
    throw new HttpError("bad-request", "version must be a non-empty string when given");
  if (purge !== undefined && (typeof purge !== "boolean" || kind === "restore"))
    throw new HttpError("bad-request", "purge is true or false, and only for a takedown");
  for (const field of ["tarball", "manifest"] as const) {
    const value = body[field];
    if (
      value !== undefined &&
      (kind !== "restore" || typeof value !== "string" || !BASE64.test(value))
    )
      throw new HttpError("bad-request", `${field} is base64, and only for a restore`);
  }
  if (body.manifest !== undefined && body.tarball === undefined)
    throw new HttpError("bad-request", "a manifest comes with the tarball");
  return {
    kind,
    actor,
    ecosystem: ecosystem as string,
    name: name as string,
    ...(version !== undefined ? { version: version as string } : {}),
    reason: reason as string,
    ...(purge === true ? { purge } : {}),
  };
}

/** The public list of takedowns in force, from a copy's own state (origin or mirror), once it holds one. */
export function registerTakedownList(
  app: FastifyInstance,
  state: () => RegistryState | undefined,
): void {
  app.get(TAKEDOWNS_PATH, async (_req, reply) => {
    const held = state();
    if (!held)
      throw new HttpError(
        "not-implemented",
        "this copy has not synced the log yet: the list of takedowns needs its own replay",
      );
    const takedowns = takedownList(held.sql).map(({ version, index, ...rest }) => ({
      ...rest,
      ...(version !== "" ? { version } : {}),
      entry: index,
    }));
    return reply.header("cache-control", "public, max-age=60").send({ takedowns });
  });
}

export function registerTakedownRoutes(
  app: FastifyInstance,
  options: {
    readonly registry: Registry;
    readonly auth: AuthStore;
    readonly moderators: readonly string[];
  },
): void {
  registerNpmCommon(app);
  const { registry, auth } = options;
  const moderators = new Set(options.moderators);
  registerTakedownList(app, () => registry.state);
  const moderate = (kind: TakedownRequest["kind"]) => async (req: FastifyRequest) => {
    const actor = tokenUser(auth, req);
    if (!moderators.has(actor))
      throw new HttpError("forbidden", `${actor} is not a moderator of this registry`);
    const request = takedownRequestOf(req.body, kind, actor);
    const { tarball, manifest } = req.body as { tarball?: string; manifest?: string };
    const bytes =
      tarball === undefined
        ? undefined
        : await restoredBytesOf(
            registry.state,
            request,
            Buffer.from(tarball, "base64"),
            manifest === undefined ? undefined : Buffer.from(manifest, "base64"),
          );
    const { index } = await registry.takedown({ ...request, ...(bytes ? { bytes } : {}) });
    return { ok: true, entry: index };
  };
  app.put(TAKEDOWN_PATH, moderate("takedown"));
  app.delete(TAKEDOWN_PATH, moderate("restore"));
}
