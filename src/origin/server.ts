/**
 * The origin server: opens (or creates) the registry in its data directory,
 * and serves the static tree under /-/cairn/ beside the npm API.
 */
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { Appender, FsLogStorage } from "../log/index.ts";
import type { OriginConfig } from "./config.ts";
import { loadOrCreateKey, type OriginKey } from "./keys.ts";
import { readTreeFile } from "./static-tree.ts";

export const TREE_PREFIX = "/-/cairn/";

export interface RunningOrigin {
  readonly url: string;
  readonly key: OriginKey;
  readonly appender: Appender;
  close(): Promise<void>;
}

export function dataPaths(dataDir: string) {
  return { key: join(dataDir, "key"), tree: join(dataDir, "tree") };
}

export async function startOrigin(config: OriginConfig): Promise<RunningOrigin> {
  const paths = dataPaths(config.data);
  const key = await loadOrCreateKey(paths.key, config.origin);
  const storage = await FsLogStorage.open(paths.tree, { durable: config.durable });
  let app: FastifyInstance | undefined;
  try {
    const appender = await Appender.open(storage, {
      origin: key.origin,
      signer: key.signer,
      verifier: key.verifier,
    });
    app = buildApp(paths.tree);
    const address = await app.listen({ host: config.host, port: config.port });
    const server = app;
    return {
      url: `${address}/`,
      key,
      appender,
      close: async () => {
        await server.close();
        await storage.close();
      },
    };
  } catch (err) {
    await app?.close();
    await storage.close();
    throw err;
  }
}

function buildApp(treeDir: string): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get("/-/ping", async () => ({}));
  app.get(`${TREE_PREFIX}*`, async (req, reply) => {
    const path = (req.params as { "*": string })["*"];
    const file = await readTreeFile(treeDir, path);
    return reply.code(file.status).headers(file.headers).send(file.body);
  });
  app.setNotFoundHandler(async (req, reply) =>
    reply.code(404).send({ error: `not found: ${req.method} ${req.url}` }),
  );
  return app;
}
