/**
 * The origin server: opens (or creates) the registry in its data directory,
 * and serves the static tree under /-/cairn/ beside the npm API.
 */
import type { FastifyInstance } from "fastify";
import { AuthStore } from "../origin/auth.ts";
import { type OriginConfig, tarballLimits } from "../origin/config.ts";
import { dataPaths } from "../origin/data-paths.ts";
import { loadOrCreateKey, type OriginKey } from "../origin/keys.ts";
import { type PublishedDatabase, Registry } from "../origin/registry.ts";
import { readTreeFile } from "../store/static-tree.ts";
import { createHttpApp } from "./http-app.ts";
import { publishBodyLimit } from "./publish.ts";
import { registerNpmApi } from "./routes.ts";

export const TREE_PREFIX = "/-/cairn/";

export interface RunningOrigin {
  readonly url: string;
  readonly key: OriginKey;
  readonly registry: Registry;
  /** Publishes a SQLite snapshot now (what SIGHUP does); undefined if the newest is current or it failed. */
  publishDatabase(): Promise<PublishedDatabase | undefined>;
  close(): Promise<void>;
}

export async function startOrigin(config: OriginConfig): Promise<RunningOrigin> {
  const paths = dataPaths(config.data);
  const key = await loadOrCreateKey(paths.key, config.origin);
  const registry = await Registry.open({
    dataDir: config.data,
    key,
    durable: config.durable,
    snapshotShards: config.snapshotShards || undefined,
  });
  const auth = AuthStore.open(paths.auth);
  let app: FastifyInstance | undefined;
  let timer: NodeJS.Timeout | undefined;
  const publishDatabase = () =>
    registry.publishDatabase().catch((err: unknown) => {
      process.emitWarning(`publishing the SQLite snapshot failed: ${(err as Error).message}`);
      return undefined;
    });
  try {
    app = buildApp(paths.tree, registry, auth, config);
    const address = await app.listen({ host: config.host, port: config.port });
    const server = app;
    if (config.databaseInterval > 0) {
      // The first one now if the log names none, so new clients need not replay it all.
      if (registry.state.database === undefined && registry.appender.size > 0)
        void publishDatabase();
      timer = setInterval(publishDatabase, config.databaseInterval * 1000);
      timer.unref();
    }
    return {
      url: `${address}/`,
      key,
      registry,
      publishDatabase,
      close: async () => {
        clearInterval(timer);
        await server.close();
        await registry.close();
        auth.close();
      },
    };
  } catch (err) {
    await app?.close();
    await registry.close();
    auth.close();
    throw err;
  }
}

function buildApp(
  treeDir: string,
  registry: Registry,
  auth: AuthStore,
  config: OriginConfig,
): FastifyInstance {
  const { logLevel, logStream, signup: openSignup } = config;
  const limits = tarballLimits(config);
  const app = createHttpApp({ logLevel, logStream, bodyLimit: publishBodyLimit(limits) });
  app.get(`${TREE_PREFIX}*`, async (req, reply) => {
    const path = (req.params as { "*": string })["*"];
    const file = await readTreeFile(treeDir, path, {
      acceptEncoding: req.headers["accept-encoding"],
    });
    return reply.code(file.status).headers(file.headers).send(file.body);
  });
  registerNpmApi(app, { registry, auth, openSignup, tarballLimits: limits });
  return app;
}
