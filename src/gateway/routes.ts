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
import { type BlockAddress, type BlockSource, parseCid } from "../store/cid.ts";
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

export interface GatewayOptions {
  /**
   * Throws (a coded error the server's handler answers) for a block this
   * server withholds: a taken-down tarball answers 451 here as on the tree.
   */
  readonly refuse?: (address: BlockAddress) => void;
}

/** The block a CID names, if it parses; the handler refuses what does not. */
function addressOf(cid: string): BlockAddress | undefined {
  try {
    return parseCid(cid);
  } catch {
    return undefined;
  }
}

export function registerGateway(
  app: FastifyInstance,
  source: BlockSource,
  options: GatewayOptions = {},
): void {
  app.route({
    method: ["GET", "HEAD"],
    url: "/ipfs/:cid",
    exposeHeadRoute: false,
    handler: async (req, reply) => {
      const { cid } = req.params as { cid: string };
      const address = options.refuse && addressOf(cid);
      if (address) options.refuse?.(address);
      const answer = await serveGateway(source, {
        method: req.method === "HEAD" ? "HEAD" : "GET",
        cid,
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
