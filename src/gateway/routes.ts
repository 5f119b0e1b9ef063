/**
 * Mounts the trustless gateway on a Fastify server at `/ipfs/:cid`. The
 * npm routes stay whole: `/ipfs` is still the packument of a package
 * named `ipfs`, and `/ipfs/-/<file>.tgz` its tarball (the router prefers
 * that longer route), since only a single segment after `/ipfs/` is taken.
 * Refusals go through the server's error handler, which maps GatewayError
 * codes to statuses.
 */
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { BlockSource } from "../store/cid.ts";
import { GatewayError } from "./errors.ts";
import { serveGateway } from "./handler.ts";
import type { Query } from "./negotiate.ts";

/** The query, refused when a parameter is given twice (which of them would count is anyone's guess). */
function singleValued(req: FastifyRequest): Query {
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.query as Record<string, unknown>)) {
    if (typeof value !== "string")
      throw new GatewayError("bad-param", `give ${key.slice(0, 40)} once`);
    query[key] = value;
  }
  return query;
}

const header = (req: FastifyRequest, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
};

export function registerGateway(app: FastifyInstance, source: BlockSource): void {
  app.route({
    method: ["GET", "HEAD"],
    url: "/ipfs/:cid",
    exposeHeadRoute: false,
    handler: async (req, reply) => {
      const answer = await serveGateway(source, {
        method: req.method === "HEAD" ? "HEAD" : "GET",
        cid: (req.params as { cid: string }).cid,
        query: singleValued(req),
        accept: header(req, "accept"),
        ifNoneMatch: header(req, "if-none-match"),
      });
      reply.code(answer.status).headers(answer.headers);
      const { body } = answer;
      if (body === undefined) return reply.send();
      if (body instanceof Uint8Array)
        return reply.send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
      return reply.send(Readable.from(body, { objectMode: false }));
    },
  });
}
