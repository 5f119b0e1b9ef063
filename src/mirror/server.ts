/**
 * `cairn mirror`: keeps a verified copy of another server's tree and serves
 * it, as the origin does, under `/-/cairn/`, beside the npm read API derived
 * from the copy (packuments, tarballs, search). It never accepts a publish.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { TREE_PATH } from "../client/urls.ts";
import { registerNpmReadApi, registerReadOnlyRefusals, stateReads } from "../npm/read-api.ts";
import { BlobError, verifyIntegrity } from "../registry/blob-check.ts";
import { readTreeFile } from "../store/static-tree.ts";
import { Mirror, type MirrorOptions, type SyncResult } from "./mirror.ts";

export interface MirrorServerOptions extends MirrorOptions {
  readonly host: string;
  readonly port: number;
  /** Milliseconds between syncs; 0 syncs once and then only serves. */
  readonly intervalMs: number;
  /** Told of each sync that finished or failed. */
  readonly onSync?: (result: SyncResult | Error) => void;
}

export interface RunningMirror {
  readonly url: string;
  readonly mirror: Mirror;
  /** Syncs now (shared with a sync already running). */
  sync(): Promise<SyncResult>;
  close(): Promise<void>;
}

export async function startMirror(options: MirrorServerOptions): Promise<RunningMirror> {
  const mirror = await Mirror.open(options);
  const local = async (ref: { sha256: string }) => {
    const bytes = await mirror.blobs.get(ref.sha256);
    if (!bytes) throw new BlobError("missing", `blob ${ref.sha256} is not in this mirror`);
    return bytes;
  };
  const sync = () => mirror.sync();
  const report = (result: SyncResult | Error) => options.onSync?.(result);

  let app: FastifyInstance | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  try {
    await sync().then(report, (err: Error) => {
      // With a copy already held, serve it while upstream is away; with none, there is nothing to serve.
      if (!mirror.checkpoint) throw err;
      report(err);
    });
    app = Fastify({ logger: false });
    app.get(`/${TREE_PATH}*`, async (req, reply) => {
      const file = await readTreeFile(mirror.treeDir, (req.params as { "*": string })["*"], {
        acceptEncoding: req.headers["accept-encoding"],
      });
      return reply.code(file.status).headers(file.headers).send(file.body);
    });
    registerNpmReadApi(app, {
      ...stateReads(mirror.state),
      // The store checks each blob's SHA-256 as it reads it; npm checks a tarball's SHA-512 too.
      manifest: (entry) => local(entry.manifest),
      tarball: async (entry) => {
        const bytes = await local(entry.artifact);
        verifyIntegrity(entry.artifact, bytes);
        return bytes;
      },
    });
    registerReadOnlyRefusals(app, options.from);
    const address = await app.listen({ host: options.host, port: options.port });
    if (options.intervalMs > 0) {
      const tick = () => {
        if (closed) return;
        timer = setTimeout(() => sync().then(report, report).finally(tick), options.intervalMs);
      };
      tick();
    }
    const server = app;
    return {
      url: `${address}/`,
      mirror,
      sync,
      close: async () => {
        closed = true;
        clearTimeout(timer);
        await server.close();
        await mirror.settled();
        mirror.close();
      },
    };
  } catch (err) {
    clearTimeout(timer);
    await app?.close();
    mirror.close();
    throw err;
  }
}
