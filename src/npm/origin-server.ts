/**
 * The origin server: opens (or creates) the registry in its data directory,
 * and serves the static tree under /-/cairn/ beside the npm API.
 */
import type { FastifyInstance } from "fastify";
import { registerCargoApi } from "../cargo/api.ts";
import { cargoLimits } from "../cargo/publish.ts";
import { cargoStateReads, registerCargoReadApi } from "../cargo/read-api.ts";
import { registerGateway } from "../gateway/index.ts";
import { collectDataDir } from "../gc/run.ts";
import { scheduleGc } from "../gc/schedule.ts";
import { DirectorySource, type NoteVerifier } from "../log/index.ts";
import { TREE_PATH } from "../log/urls.ts";
import { AuthStore } from "../origin/auth.ts";
import { limitsOf, type OriginConfig, type OriginLimits, tarballLimits } from "../origin/config.ts";
import { dataPaths } from "../origin/data-paths.ts";
import { loadOriginKey } from "../origin/key-rotation.ts";
import type { OriginKey } from "../origin/keys.ts";
import { passwordHasher } from "../origin/password-hasher.ts";
import { DownloadCounter } from "../origin/popularity.ts";
import { type PublishedDatabase, type PublishedPopularity, Registry } from "../origin/registry.ts";
import { loadOrCreateRegistrySigner } from "../origin/registry-signer.ts";
import {
  checkStoredTree,
  RECENT_BUNDLES,
  startScrub,
  TreeHealth,
  TreeHealthError,
} from "../origin/tree-health.ts";
import { type WitnessSubmitter, witnessSubmitterFor } from "../origin/witnesses.ts";
import { addRecordedRoots, RootIndexer } from "../registry/artifact-dag.ts";
import { BlobError } from "../registry/blob-check.ts";
import { refuseWithheld, refuseWithheldBlock, withholdingOf } from "../registry/withheld.ts";
import { BlockIndex } from "../store/block-index.ts";
import { deltaEnds } from "../store/delta-path.ts";
import { blobOfTreePath, readTreeFile } from "../store/static-tree.ts";
import { Follower } from "../upstream/follower.ts";
import { UplinkImporter } from "../upstream/importer.ts";
import { UplinkRoutes } from "../upstream/routes.ts";
import { errorResponse } from "./error-status.ts";
import { FileDeltas } from "./file-deltas.ts";
import { backfillVersionFiles } from "./file-versions-backfill.ts";
import { registerGuards } from "./guards.ts";
import { createHttpApp } from "./http-app.ts";
import { publishBodyLimit } from "./publish.ts";
import { registerNpmApi } from "./routes.ts";
import { registerTakedownRoutes } from "./takedown-routes.ts";
import { versionFilesOfTarball } from "./version-files.ts";
import { mirrorCheck, mountWeb } from "./web-source.ts";

/** Where the static tree is served: the path every Cairn URL names it by. */
export const TREE_PREFIX = `/${TREE_PATH}`;
/** The origin's health as JSON: the tree's damage, the scrub, the sign-ins waiting for a hash. */
export const STATUS_PATH = "/-/cairn-status";

export interface RunningOrigin {
  readonly url: string;
  readonly key: OriginKey;
  readonly registry: Registry;
  /** What the start-up check and the scrub found. */
  readonly health: TreeHealth;
  /** The pull-through cache of the configured uplinks, if any. */
  readonly uplinks?: UplinkImporter;
  /** One per uplink with packages to follow, syncing in the background. */
  readonly followers: readonly Follower[];
  /** Submits each checkpoint to the configured witnesses, if any. */
  readonly witnesses?: WitnessSubmitter;
  /** Publishes a SQLite snapshot now (what SIGHUP does); undefined if the newest is current or it failed. */
  publishDatabase(): Promise<PublishedDatabase | undefined>;
  /** Publishes the popularity sketch of the downloads counted so far, ending the interval; undefined when counting is off or it failed. */
  publishPopularity(): Promise<PublishedPopularity | undefined>;
  /** Resolves once the per-file deltas of every durable publish so far are made (file-deltas.ts). */
  deltasIdle(): Promise<void>;
  /** Resolves once the gateway knows the blocks of every durable large tarball so far. */
  blocksIdle(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Milliseconds since the epoch, for the rate limits; injectable so tests can move time. */
  readonly now?: () => number;
  /** Where operator-facing lines go (damage found); standard error by default. */
  readonly log?: (line: string) => void;
  /** Entry bundles the start-up check reads, newest first; RECENT_BUNDLES by default. */
  readonly recentBundles?: number;
  /** false: followers are made but not started (a test calls their sync). */
  readonly follow?: boolean;
}

/** Lists damage for an error message, a few files at most. */
function describeDamage(damage: readonly { path: string; problem: string }[]): string {
  const shown = damage.slice(0, 5).map((d) => `${d.path}: ${d.problem}`);
  if (damage.length > shown.length) shown.push(`and ${damage.length - shown.length} more`);
  return shown.join("; ");
}

/**
 * Opens the registry; if that fails on a damaged tree, says which files are
 * damaged rather than how recovery tripped over them.
 */
async function openRegistry(
  config: OriginConfig,
  key: OriginKey,
  witnesses: WitnessSubmitter | undefined,
): Promise<Registry> {
  try {
    return await Registry.open({
      dataDir: config.data,
      key,
      registrySigner: await loadOrCreateRegistrySigner(dataPaths(config.data).registryKey),
      durable: config.durable,
      snapshotShards: config.snapshotShards || undefined,
      ...(witnesses ? { cosign: (checkpoint) => witnesses.cosign(checkpoint) } : {}),
    });
  } catch (err) {
    const tree = dataPaths(config.data).tree;
    const { damage } = await checkStoredTree(tree, key.verifier, { recent: 1, hashBlobs: false });
    if (damage.length === 0) throw err;
    throw new TreeHealthError(
      "tree-damaged",
      `the static tree in ${tree} is damaged at its right edge, so the log cannot be opened: ` +
        `${describeDamage(damage)}. Restore these files from a mirror and start again ` +
        "(cairn serve --check lists every damaged file)",
      { cause: err },
    );
  }
}

export async function startOrigin(
  config: OriginConfig,
  options: StartOptions = {},
): Promise<RunningOrigin> {
  const paths = dataPaths(config.data);
  const limits = limitsOf(config);
  passwordHasher.configure({ workers: limits.passwordHashers, maxQueue: 32 });
  const key = await loadOriginKey(config.data, config.origin);
  const operatorLog = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const witnesses = witnessSubmitterFor(
    config,
    key.verifier,
    new DirectorySource(paths.tree),
    operatorLog,
  );
  const registry = await openRegistry(config, key, witnesses).catch(async (err: unknown) => {
    await witnesses?.close();
    throw err;
  });
  witnesses?.attach(registry.appender);
  await backfillVersionFiles(registry.state, (sha256) => registry.blobs.get(sha256));
  const isWithheld = (sha256: string) => withholdingOf(registry.state.sql, sha256) !== undefined;
  const health = new TreeHealth(operatorLog);
  let stopScrub = async () => {};
  let stopGc = async () => {};
  const auth = AuthStore.open(paths.auth);
  const deltas = new FileDeltas(paths.tree, registry, {
    durable: config.durable,
    onError: ({ name, version }, err) =>
      process.emitWarning(
        `making the deltas of ${name}@${version} failed: ${(err as Error).message}`,
      ),
  });
  registry.onDurable((entries) => deltas.enqueue(entries));
  // Large tarballs' leaves and nodes for the gateway: every root recorded so far, then each as it lands.
  const blocks = new BlockIndex(registry.blobs);
  await addRecordedRoots(blocks, registry.state);
  const roots = new RootIndexer(blocks, (err) =>
    process.emitWarning(`indexing a UnixFS root failed: ${(err as Error).message}`),
  );
  registry.onDurable((entries) => roots.enqueue(entries));
  let app: FastifyInstance | undefined;
  let timer: NodeJS.Timeout | undefined;
  let popularityTimer: NodeJS.Timeout | undefined;
  const counter =
    (config.popularityInterval ?? 0) > 0
      ? new DownloadCounter({
          window: config.popularityWindow,
          threshold: config.popularityThreshold || undefined,
          ...(options.now ? { now: options.now } : {}),
        })
      : undefined;
  const publishPopularity = async () => {
    if (!counter || health.damaged) return undefined;
    return registry.publishPopularity(counter.roll()).catch((err: unknown) => {
      process.emitWarning(`publishing the popularity sketch failed: ${(err as Error).message}`);
      return undefined;
    });
  };
  const publishDatabase = () =>
    (health.damaged ? Promise.resolve(undefined) : registry.publishDatabase()).catch(
      (err: unknown) => {
        process.emitWarning(`publishing the SQLite snapshot failed: ${(err as Error).message}`);
        return undefined;
      },
    );
  try {
    const atStart = await checkStoredTree(paths.tree, key.verifier, {
      recent: options.recentBundles ?? RECENT_BUNDLES,
      hashBlobs: false,
      isWithheld,
    });
    health.report(atStart.damage);
    let uplinks: UplinkImporter | undefined;
    ({ app, uplinks } = await buildApp({
      treeDir: paths.tree,
      verifier: key.verifier,
      registry,
      auth,
      config,
      health,
      limits,
      now: options.now,
      counter,
      blocks,
      witnesses,
    }));
    const address = await app.listen({ host: config.host, port: config.port });
    const server = app;
    if (config.databaseInterval > 0) {
      // The first one now if the log names none, so new clients need not replay it all.
      if (registry.state.database === undefined && registry.appender.size > 0)
        void publishDatabase();
      timer = setInterval(publishDatabase, config.databaseInterval * 1000);
      timer.unref();
    }
    if (counter) {
      popularityTimer = setInterval(publishPopularity, (config.popularityInterval ?? 0) * 1000);
      popularityTimer.unref();
    }
    if (limits.scrubRate > 0)
      stopScrub = startScrub(paths.tree, key.verifier, health, limits.scrubRate, isWithheld);
    if ((config.gcInterval ?? 0) > 0)
      stopGc = scheduleGc(
        (config.gcInterval ?? 0) * 1000,
        () =>
          collectDataDir({
            dataDir: config.data,
            blobs: registry.blobs,
            isNamed: (hex) => registry.state.namesBlob(hex),
          }),
        (result) => {
          if (result instanceof Error)
            server.log.warn({ err: result }, "garbage collection failed");
          else server.log.info({ gc: result }, "garbage collected");
        },
      );
    const followers = (uplinks?.routes.uplinks ?? [])
      .filter((uplink) => uplink.follow.length > 0)
      .map((uplink) => new Follower(registry, uplinks as UplinkImporter, uplink, uplink.follow));
    if (options.follow !== false)
      for (const follower of followers) {
        let sync = 0;
        follower.start((report) => {
          const { packages, versions, missing } = report;
          server.log.info(
            { uplink: follower.uplink, sync: ++sync, packages, versions },
            "followed",
          );
          for (const line of missing) server.log.warn({ follow: line }, "not followed");
        });
      }
    return {
      url: `${address}/`,
      key,
      registry,
      health,
      ...(uplinks ? { uplinks } : {}),
      ...(witnesses ? { witnesses } : {}),
      followers,
      publishDatabase,
      publishPopularity,
      deltasIdle: () => deltas.idle(),
      blocksIdle: () => roots.idle(),
      close: async () => {
        clearInterval(timer);
        clearInterval(popularityTimer);
        await Promise.all(followers.map((f) => f.stop()));
        await stopGc();
        await stopScrub();
        await server.close();
        await uplinks?.close();
        await deltas.close();
        await witnesses?.close();
        await registry.close();
        auth.close();
      },
    };
  } catch (err) {
    await stopScrub();
    await app?.close();
    await deltas.close();
    await witnesses?.close();
    await registry.close();
    auth.close();
    throw err;
  }
}

interface AppParts {
  readonly treeDir: string;
  readonly registry: Registry;
  readonly auth: AuthStore;
  readonly config: OriginConfig;
  readonly health: TreeHealth;
  readonly limits: OriginLimits;
  readonly now?: () => number;
  /** Counts tarball and file-index downloads, when popularity sketches are on. */
  readonly counter?: DownloadCounter;
  /** The blocks the trustless gateway serves. */
  readonly blocks: BlockIndex;
  readonly verifier: NoteVerifier;
  readonly witnesses?: WitnessSubmitter;
}

async function buildApp(
  parts: AppParts,
): Promise<{ app: FastifyInstance; uplinks?: UplinkImporter }> {
  const { treeDir, registry, auth, health, limits, config } = parts;
  const { logLevel, logStream, signup: openSignup } = config;
  const tarballs = tarballLimits(config);
  const app = createHttpApp({
    logLevel,
    logStream,
    bodyLimit: publishBodyLimit(tarballs),
    trustProxy: limits.trustProxy,
  });
  registerGuards(app, {
    limits,
    auth,
    hasher: passwordHasher,
    now: parts.now,
    refuseWrites: () => health.refuseWrites(),
  });
  const { counter } = parts;
  if (counter) registry.state.indexVersionBlobs();
  const countBlob =
    counter &&
    ((path: string) => {
      const sha256 = blobOfTreePath(path);
      const version = sha256 === undefined ? undefined : registry.state.versionOfBlob(sha256);
      if (version) counter.count(version.ecosystem, version.name, version.version);
    });
  app.get(`${TREE_PREFIX}*`, async (req, reply) => {
    const path = (req.params as { "*": string })["*"];
    if (health.isDamaged(path)) {
      return reply.code(503).send({
        error: `${path} is damaged on this server; a mirror may serve it`,
        code: "damaged-file",
      });
    }
    // A blob, or a delta from or to a file that only taken-down versions list.
    for (const hex of [blobOfTreePath(path), ...(deltaEnds(path) ?? [])])
      if (hex) refuseWithheld(withholdingOf(registry.state.sql, hex));
    const file = await readTreeFile(treeDir, path, {
      acceptEncoding: req.headers["accept-encoding"],
    });
    if (countBlob && file.status === 200 && req.method === "GET") countBlob(path);
    return reply.code(file.status).headers(file.headers).send(file.body);
  });
  registerGateway(app, parts.blocks, {
    refuse: (address) =>
      refuseWithheldBlock(
        (sha256) => withholdingOf(registry.state.sql, sha256),
        address.sha256,
        parts.blocks.ownersOf(address),
      ),
  });
  const routes = UplinkRoutes.fromConfig(config);
  const uplinks =
    routes &&
    (await UplinkImporter.open(registry, routes, {
      log: app.log,
      missingFile: dataPaths(config.data).uplinkMissing,
      versionFiles: versionFilesOfTarball,
      ...(parts.now ? { now: parts.now } : {}),
    }));
  app.get(STATUS_PATH, async (_req, reply) => {
    // The size then covers every tarball already served from an uplink.
    await uplinks?.settled();
    return reply.header("cache-control", "no-store").send({
      size: registry.appender.size,
      ...health.status(),
      signIns: { hashing: passwordHasher.load },
      ...(parts.witnesses ? { witnesses: parts.witnesses.status() } : {}),
    });
  });
  const packages = registerNpmApi(app, {
    registry,
    auth,
    openSignup,
    tarballLimits: tarballs,
    uplinks,
    ...(counter ? { onTarball: (name, version) => counter.count("npm", name, version) } : {}),
  });
  registerTakedownRoutes(app, { registry, auth, moderators: config.moderators ?? [] });
  registerCargoApi(app, {
    registry,
    auth,
    errorResponse,
    limits: cargoLimits(config.maxTarballBytes),
  });
  registerCargoReadApi(
    app,
    cargoStateReads(() => registry.state),
  );
  mountWeb(app, {
    role: "origin",
    packages,
    state: () => registry.state,
    blob: async (ref) => {
      const bytes = await registry.blobs.get(ref.sha256);
      if (!bytes) throw new BlobError("missing", `blob ${ref.sha256} is missing on this server`);
      return bytes;
    },
    log: new DirectorySource(treeDir),
    verifier: parts.verifier,
    // The check reads this server's own list and checkpoint over HTTP, as a client would.
    mirrors: mirrorCheck({
      origin: () => `${app.listeningOrigin}/`,
      verifier: parts.verifier,
      stateDir: dataPaths(config.data).mirrorCheck,
    }),
  });
  return { app, uplinks };
}
