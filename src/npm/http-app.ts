/**
 * The Fastify instance every Cairn server starts from (origin, mirror,
 * proxy): structured JSON logs on standard error at a chosen level, a
 * random id per request that every log line of it carries, per-request
 * lines only at "debug", and path parameters long enough for any valid
 * package name and tarball file name.
 */
import { randomUUID } from "node:crypto";
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { DEFAULT_LOG_LEVEL, type LogLevel } from "../util/log-level.ts";
import { errorResponse } from "./error-status.ts";

/**
 * A name (214) and a version (256) in `<name>-<version>.tgz`, with room to
 * spare for percent-encoding; Fastify's default of 100 answers 414 to
 * valid names.
 */
export const MAX_PARAM_LENGTH = 1024;

export interface HttpAppOptions {
  readonly logLevel?: LogLevel;
  /** Where log lines go; standard error by default. */
  readonly logStream?: NodeJS.WritableStream;
  readonly bodyLimit?: number;
  /** Proxies whose X-Forwarded-For is believed (Fastify's trustProxy); none by default. */
  readonly trustProxy?: string;
}

/** Request lines at "debug", so "info" logs failures and warnings, not traffic. */
class QuietRequests extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    request.log.debug(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ...(error ? { err: error } : {}),
      },
      "request completed",
    );
  }
}

export function createHttpApp(options: HttpAppOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: {
      level: options.logLevel ?? DEFAULT_LOG_LEVEL,
      stream: options.logStream ?? process.stderr,
    },
    logController: new QuietRequests(),
    genReqId: () => randomUUID(),
    ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Off unless configured: otherwise anyone could pick the address they are limited as.
    trustProxy: options.trustProxy ? options.trustProxy : false,
    // A URL the router cannot decode answers in the same shape as every other error.
    frameworkErrors: (err, req, reply) => {
      const { status, body } = errorResponse(err, req.id);
      (reply as FastifyReply).code(status).header("x-request-id", req.id).send(body);
    },
  });
  app.setNotFoundHandler(async (req, reply) =>
    reply.code(404).send({ error: `not found: ${req.method} ${req.url}`, code: "not-found" }),
  );
  return app;
}
