/**
 * For a server that only copies the registry (a mirror, a proxy): every
 * request that would change the registry or sign someone in answers 405 and
 * names the origin, so `npm publish` or `npm login` pointed at the copy fail
 * with a message that says where to go. The routes are the write side's
 * PUT, POST and DELETE routes (src/npm/routes.ts); audits stay with the read API.
 * test/npm/read-api.test.ts checks that the two lists stay the same.
 */
import type { FastifyInstance, HTTPMethods } from "fastify";
import { PACKAGE_PREFIXES } from "./http-common.ts";

/** The write side's routes that change something, in Fastify's path syntax. */
export function writeRoutes(): [HTTPMethods, string][] {
  const routes: [HTTPMethods, string][] = [
    ["PUT", "/-/user/:id"],
    ["POST", "/-/npm/v1/tokens"],
    ["DELETE", "/-/npm/v1/tokens/token/:key"],
    ["PUT", "/-/package/:name/owners"],
    ["DELETE", "/-/package/:name/owners/:user"],
    ["PUT", "/-/package/:name/dist-tags/:tag"],
    ["DELETE", "/-/package/:name/dist-tags/:tag"],
  ];
  for (const [prefix] of PACKAGE_PREFIXES) {
    routes.push(
      ["PUT", prefix],
      ["PUT", `${prefix}/-rev/:rev`],
      ["DELETE", `${prefix}/-rev/:rev`],
      ["DELETE", `${prefix}/-/:file/-rev/:rev`],
    );
  }
  return routes;
}

export function registerReadOnlyRefusals(app: FastifyInstance, originUrl: string): void {
  const error = `this is a read-only copy of the registry: publish and sign in at ${originUrl}`;
  const readable = new Set(PACKAGE_PREFIXES.map(([prefix]) => prefix));
  for (const [method, url] of writeRoutes()) {
    // A 405 lists the methods the resource does allow; only packuments are readable here.
    const allow = readable.has(url) ? "GET, HEAD" : "";
    app.route({
      method,
      url,
      handler: async (_req, reply) =>
        reply.code(405).header("allow", allow).send({ error, code: "read-only" }),
    });
  }
}
