/**
 * `cairn proxy`: a local npm registry endpoint in front of untrusted
 * mirrors. Every packument it serves comes from verified log entries and
 * every tarball is checked against the log's SHA-256 and SHA-512 before its
 * first byte is sent. It also reports where its bytes came from, at
 * `/-/cairn-proxy/sources`.
 */

import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { crateDependencyNames } from "../cargo/read-ahead.ts";
import { registerCargoReadApi } from "../cargo/read-api.ts";
import { CARGO } from "../cargo/rules/ecosystem.ts";
import { VerifyingReader, type VerifyingReaderOptions } from "../client/verifying-reader.ts";
import { registerGateway } from "../gateway/index.ts";
import { openSource, withFullTileFallback } from "../log/index.ts";
import { treeUrl } from "../log/urls.ts";
import { createHttpApp, type HttpAppOptions } from "../npm/http-app.ts";
import { registerNpmReadApi, registerReadOnlyRefusals } from "../npm/read-api.ts";
import { mirrorCheck, mountWeb } from "../npm/web-source.ts";
import { storeUnixfsNodes, tarballDag, unixfsRootOf } from "../registry/artifact-dag.ts";
import type { VersionEntry } from "../registry/entries.ts";
import { type PackageDocument, versionEntryOf } from "../registry/package-document.ts";
import type { PackageReader } from "../registry/package-reader.ts";
import { blobsOfVersion } from "../registry/withheld.ts";
import { BlockIndex } from "../store/block-index.ts";

export interface ProxyOptions extends VerifyingReaderOptions, HttpAppOptions {
  readonly host: string;
  readonly port: number;
}

export interface RunningProxy {
  readonly url: string;
  readonly reader: VerifyingReader;
  close(): Promise<void>;
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const reader = await VerifyingReader.open(options);
  let app: FastifyInstance | undefined;
  try {
    await reader.update();
    app = createHttpApp(options);
    const blocks = new BlockIndex(reader.cache);
    /** A taken-down version's cached bytes go when its document says so; reads refuse it anyway. */
    const dropWithheld = async (doc: PackageDocument | undefined) => {
      for (const v of Object.values(doc?.versions ?? {}))
        if (v.takenDown) for (const ref of blobsOfVersion(v)) await reader.cache.remove(ref.sha256);
      return doc;
    };
    const packages: PackageReader = {
      revision: (name) => reader.revision(name),
      document: async (name) => dropWithheld(await reader.document(name)),
      version: async (name, version) => {
        const row = await reader.version(name, version);
        if (row?.takenDown) await dropWithheld(await reader.document(name));
        return row;
      },
      registryKeys: () => reader.registryKeys(),
      search: reader.search,
      manifest: (entry) => reader.manifest(entry),
      tarball: async (entry) => {
        const bytes = await reader.tarball(entry);
        await indexLargeTarball(blocks, reader, entry, bytes);
        return bytes;
      },
      beforeRead: () => reader.beforeRead(),
    };
    registerNpmReadApi(app, packages);
    // Crates as npm packages are: documents through the verified snapshot, `.crate` files checked against them.
    registerCargoReadApi(
      app,
      {
        document: async (key) => {
          const doc = await reader.documentOf(CARGO, key);
          // cargo asks for the dependencies' index files next, level by level: have them verified by then.
          if (doc) reader.readAheadOf(CARGO, doc, crateDependencyNames);
          return doc;
        },
        revision: (key) => reader.revisionOf(CARGO, key),
        beforeRead: () => reader.beforeRead(),
      },
      {
        api: options.origin.replace(/\/+$/, ""),
        downloads: {
          crate: (doc, version) =>
            reader.tarball(versionEntryOf(doc, version, doc.versions[version])),
        },
      },
    );
    mountWeb(app, {
      role: "proxy",
      packages,
      state: () => reader.state,
      blob: (ref) => reader.blob(ref),
      // The proxy keeps no tree of its own: the log's files come from the origin, unchecked (the browser checks them).
      log: withFullTileFallback(
        openSource(treeUrl(options.origin), { timeoutMs: options.timeoutMs }),
      ),
      verifier: options.verifier,
      currentVerifier: () => reader.client.currentVerifier,
      // Its own client: a check must not move the reader's checkpoint under it.
      mirrors: mirrorCheck({
        origin: () => options.origin,
        verifier: options.verifier,
        policy: options.policy,
        stateDir: join(options.dataDir, "mirror-check"),
      }),
    });
    registerGateway(app, blocks);
    registerReadOnlyRefusals(app, options.origin);
    app.get("/-/cairn-proxy/sources", async () => sourceReport(reader));
    const address = await app.listen({ host: options.host, port: options.port });
    const server = app;
    return {
      url: `${address}/`,
      reader,
      close: async () => {
        await server.close();
        await reader.close();
      },
    };
  } catch (err) {
    await app?.close();
    await reader.close();
    throw err;
  }
}

/**
 * Makes a large tarball's UnixFS nodes (checked against the root its entry
 * records) and teaches the gateway its leaves, so the proxy serves every
 * block of what it holds. A tarball of one chunk is its own raw block.
 */
async function indexLargeTarball(
  blocks: BlockIndex,
  reader: VerifyingReader,
  entry: VersionEntry,
  bytes: Uint8Array,
): Promise<void> {
  const root = entry.artifact && unixfsRootOf(entry.artifact);
  // Adding a root twice is harmless but would make its DAG again.
  if (!root || blocks.learnt(root.sha256)) return;
  const dag = await tarballDag(bytes);
  if (dag?.root !== root.root) return;
  await storeUnixfsNodes(dag, reader.cache);
  await blocks.add(root);
}

/** The verified head and, per source, requests, bytes and failures so far. */
export function sourceReport(reader: VerifyingReader) {
  const { pool, checkpoint } = reader.client;
  return {
    checkpoint: checkpoint ? { origin: checkpoint.origin, size: checkpoint.size } : null,
    sources: [...pool.stats()].map(([url, stats]) => ({
      url,
      origin: url === pool.origin.url,
      ...stats,
      benched: pool.isBenched(url),
    })),
  };
}
