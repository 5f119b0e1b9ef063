/**
 * Serves a PeerHandler from a Fastify app: GET and HEAD of every path go
 * to it (a peer has no other routes, so an unknown path gets the handler's
 * "not here" too), and its answer is sent as it is, headers and all.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { PeerHandler, PeerRequest, PeerResponse } from "./response.ts";

function peerRequestOf(req: FastifyRequest): PeerRequest {
  return { method: req.method, url: req.url, headers: req.headers, ip: req.ip };
}

function sendPeerResponse(reply: FastifyReply, response: PeerResponse): FastifyReply {
  reply.code(response.status).headers(response.headers);
  return response.body === undefined ? reply.send() : reply.send(response.body);
}

/** Routes every GET and HEAD under `prefix` (default: all) to `handler`. */
export function mountPeerHandler(app: FastifyInstance, handler: PeerHandler, prefix = "/"): void {
  app.route({
    method: ["GET", "HEAD"],
    url: `${prefix}*`,
    exposeHeadRoute: false,
    handler: async (req, reply) => sendPeerResponse(reply, await handler(peerRequestOf(req))),
  });
}
