/**
 * `cairn mirror`: keeps a verified copy of another server's tree and serves
 * it, as the origin does, under `/-/cairn/`, beside the npm read API derived
 * from the copy (packuments, tarballs, search). It never accepts a publish.
 *
 * A mirror that does not hold the log yet (its first sync of a big
 * registry takes a while) serves the npm API at once all the same: package
 * by package through the signed snapshot upstream (a sparse
 * VerifyingReader), until the first sync lands and its own copy takes over.
 */

import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { cargoStateReads, registerCargoReadApi } from "../cargo/read-api.ts";
import { CARGO } from "../cargo/rules/ecosystem.ts";
import { VerifyingReader } from "../client/verifying-reader.ts";
import { registerGateway } from "../gateway/index.ts";
import type { GcReport } from "../gc/gc.ts";
import { collectDataDir } from "../gc/run.ts";
import { scheduleGc } from "../gc/schedule.ts";
import { DirectorySource, withFullTileFallback } from "../log/index.ts";
import { TREE_PATH } from "../log/urls.ts";
import { createHttpApp, type HttpAppOptions } from "../npm/http-app.ts";
import { registerNpmReadApi, registerReadOnlyRefusals } from "../npm/read-api.ts";
import { registerTakedownList } from "../npm/takedown-routes.ts";
import { mirrorCheck, mountWeb } from "../npm/web-source.ts";
import { addRecordedRoots } from "../registry/artifact-dag.ts";
import { BlobError } from "../registry/blob-check.ts";
import { versionEntryOf } from "../registry/package-document.ts";
import { type PackageReader, storeReads } from "../registry/package-reader.ts";
import { refuseWithheld, refuseWithheldBlock } from "../registry/withheld.ts";
import { BlockIndex } from "../store/block-index.ts";
import { blobOfTreePath, readTreeFile } from "../store/static-tree.ts";
import { Mirror, type MirrorOptions, type SyncResult } from "./mirror.ts";

export interface MirrorServerOptions extends MirrorOptions, HttpAppOptions {
  readonly host: string;
  readonly port: number;
  /** Milliseconds between syncs; 0 syncs once and then only serves. */
  readonly intervalMs: number;
  /** Told of each sync that finished or failed. */
  readonly onSync?: (result: SyncResult | Error) => void;
  /** Milliseconds between garbage collections of the copy (0 or absent: never), each between two syncs. */
  readonly gcIntervalMs?: number;
  /** Told of each garbage collection that finished or failed. */
  readonly onGc?: (result: GcReport | Error) => void;
}

export interface RunningMirror {
  readonly url: string;
  readonly mirror: Mirror;
  /** Syncs now (shared with a sync already running). */
  sync(): Promise<SyncResult>;
  /** Settles when the first sync has finished or failed (at once if a copy was held). */
  readonly firstSync: Promise<void>;
  close(): Promise<void>;
}

export async function startMirror(options: MirrorServerOptions): Promise<RunningMirror> {
  const mirror = await Mirror.open(options);
  const own: PackageReader = {
    ...storeReads(mirror.state, mirror.blobs),
    // A copy past the witness policy's maximum age (or held from a run without the policy) is not served.
    beforeRead: async () => mirror.client.checkFresh(),
  };
  const blocks = new BlockIndex(mirror.blobs);
  await addRecordedRoots(blocks, mirror.state);
  // A collection waits for the sync in progress, and a sync for the collection in progress.
  let collecting: Promise<unknown> | undefined;
  const collect = () => {
    const run = mirror
      .settled()
      .then(() => collectDataDir({ dataDir: options.dataDir, blobs: mirror.blobs }));
    collecting = run.finally(() => {
      collecting = undefined;
    });
    return run;
  };
  // Each sync may bring large tarballs whose leaves the gateway serves.
  const sync = async () => {
    while (collecting) await collecting.catch(() => {});
    return mirror.sync().then(async (result) => {
      // A sync that brought no entries brought no roots: no scan of every version.
      if (result.toSize !== result.fromSize) await addRecordedRoots(blocks, mirror.state);
      return result;
    });
  };
  const report = (result: SyncResult | Error) => options.onSync?.(result);

  let app: FastifyInstance | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopGc = async () => {};
  let closed = false;
  let sparse: VerifyingReader | undefined;
  let firstSync: Promise<void>;
  try {
    if (mirror.checkpoint) {
      // With a copy already held, serve it while upstream is away.
      await sync().then(report, report);
      firstSync = Promise.resolve();
    } else {
      // No copy yet: read upstream package by package until the first sync lands.
      sparse = await VerifyingReader.open({
        origin: options.from,
        verifier: options.verifier,
        policy: options.policy,
        dataDir: join(options.dataDir, "sparse"),
        useMirrorList: false,
        timeoutMs: options.timeoutMs,
        onProblem: options.onProblem,
      });
      // Upstream must answer once: with neither a copy nor a checkpoint there is nothing to serve.
      await sparse.update();
      firstSync = sync().then(report, report);
    }
    const reader = (): PackageReader => (mirror.checkpoint || !sparse ? own : sparse);
    app = createHttpApp(options);
    app.get(`/${TREE_PATH}*`, async (req, reply) => {
      const path = (req.params as { "*": string })["*"];
      const blob = blobOfTreePath(path);
      if (blob) refuseWithheld(mirror.withholding(blob));
      const file = await readTreeFile(mirror.treeDir, path, {
        acceptEncoding: req.headers["accept-encoding"],
      });
      return reply.code(file.status).headers(file.headers).send(file.body);
    });
    registerGateway(app, blocks, {
      refuse: (address) =>
        refuseWithheldBlock(
          (sha256) => mirror.withholding(sha256),
          address.sha256,
          blocks.ownersOf(address),
        ),
    });
    const packages: PackageReader = {
      revision: (name) => reader().revision(name),
      document: (name) => reader().document(name),
      version: (name, version) => reader().version(name, version),
      registryKeys: () => reader().registryKeys(),
      search: own.search,
      manifest: (entry) => reader().manifest(entry),
      tarball: (entry) => reader().tarball(entry),
      beforeRead: async () => reader().beforeRead?.(),
    };
    registerNpmReadApi(app, packages);
    registerTakedownList(app, () => (mirror.checkpoint ? mirror.state : undefined));
    const held = sparse;
    const ownCrates = cargoStateReads(() => mirror.state);
    // Publishes, yanks and owners go to the origin; downloads come from this mirror's tree.
    registerCargoReadApi(
      app,
      {
        document: (key) =>
          mirror.checkpoint || !held ? ownCrates.document(key) : held.documentOf(CARGO, key),
        // Index files are kept by revision only from the mirror's own copy.
        revision: (key) =>
          mirror.checkpoint || !held ? ownCrates.revision(key) : held.revisionOf(CARGO, key),
        beforeRead: async () => reader().beforeRead?.(),
      },
      {
        api: options.from.replace(/\/+$/, ""),
        // Until its copy is held the tree has no blobs: crates come through the verified reads.
        downloads: {
          crate: (doc, version) =>
            reader().tarball(versionEntryOf(doc, version, doc.versions[version])),
          fromTree: () => mirror.checkpoint !== undefined,
        },
      },
    );
    mountWeb(app, {
      role: "mirror",
      packages,
      state: () => (mirror.checkpoint ? mirror.state : undefined),
      blob: async (ref) => {
        if (!mirror.checkpoint && held) return held.blob(ref);
        const bytes = await mirror.blobs.get(ref.sha256);
        if (!bytes) throw new BlobError("missing", `blob ${ref.sha256} is missing on this mirror`);
        return bytes;
      },
      // A mirror that synced past a size never had its partial tiles.
      log: withFullTileFallback(new DirectorySource(mirror.treeDir)),
      verifier: options.verifier,
      currentVerifier: () => mirror.client.currentVerifier,
      mirrors: mirrorCheck({
        origin: () => options.from,
        verifier: options.verifier,
        policy: options.policy,
        stateDir: join(options.dataDir, "mirror-check"),
      }),
    });
    registerReadOnlyRefusals(app, options.from);
    const address = await app.listen({ host: options.host, port: options.port });
    if (options.intervalMs > 0) {
      const tick = () => {
        if (closed) return;
        timer = setTimeout(() => sync().then(report, report).finally(tick), options.intervalMs);
      };
      firstSync.finally(tick);
    }
    if ((options.gcIntervalMs ?? 0) > 0)
      stopGc = scheduleGc(options.gcIntervalMs ?? 0, collect, (r) => options.onGc?.(r));
    const server = app;
    return {
      url: `${address}/`,
      mirror,
      sync,
      firstSync,
      close: async () => {
        closed = true;
        clearTimeout(timer);
        await stopGc();
        await server.close();
        await firstSync;
        await mirror.settled();
        await sparse?.close();
        mirror.close();
      },
    };
  } catch (err) {
    clearTimeout(timer);
    await app?.close();
    await sparse?.close();
    mirror.close();
    throw err;
  }
}
