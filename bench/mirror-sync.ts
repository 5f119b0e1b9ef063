/**
 * Mirror sync: how long and how many bytes a mirror of the corpus registry
 * takes to sync from nothing, and then after 100 new publishes at the
 * origin. The alternative a user would otherwise pick is copying the whole
 * tree again (say `wget --mirror` of a static copy), so the incremental sync
 * is reported against the size of the tree.
 *
 *   node bench/mirror-sync.ts [--publishes N]
 *
 * Everything runs in this process on loopback: the origin (`cairn serve`'s
 * server, seeded with `cairn import`'s importer), and the mirror's sync.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Mirror, type SyncResult } from "../src/mirror/mirror.ts";
import { findTarballs, importTarballs } from "../src/npm/import.ts";
import { startOrigin } from "../src/npm/origin-server.ts";
import { parsePublish } from "../src/npm/publish.ts";
import { publishNpm } from "../src/npm/publish-request.ts";
import { publishBody } from "../test/helpers/publish-body.ts";
import { sharedPath } from "../test/helpers/shared.ts";
import { packageJson, rawTgz } from "../test/helpers/tar.ts";
import {
  diskUsage,
  emitResult,
  makeWorkDir,
  mib,
  peakRss,
  positiveInt,
  printTable,
  removeDir,
  seconds,
} from "./common.ts";

export interface MirrorSyncResult {
  readonly kind: "mirror-sync";
  readonly packages: number;
  readonly treeBytes: number;
  readonly fromZero: {
    ms: number;
    bytes: number;
    requests: number;
    entries: number;
    blobs: number;
  };
  readonly incremental: {
    publishes: number;
    ms: number;
    bytes: number;
    requests: number;
    blobs: number;
  };
  readonly peakRss: number;
}

const { values } = parseArgs({
  options: { publishes: { type: "string" }, json: { type: "boolean" } },
});
const publishes = positiveInt("publishes", values.publishes, 100);

const work = await makeWorkDir("mirror-sync-");
try {
  const origin = await startOrigin({
    data: join(work, "origin"),
    host: "127.0.0.1",
    port: 0,
    durable: false,
    signup: false,
    databaseInterval: 0,
    snapshotShards: 0,
  });
  const files = await findTarballs([sharedPath("corpus", "npm")]);
  const imported = await importTarballs(origin.registry, "bench", files);
  const mirror = await Mirror.open({
    from: origin.url,
    verifier: origin.key.verifier,
    dataDir: join(work, "mirror"),
    durable: true,
  });
  const timed = async (): Promise<SyncResult & { ms: number }> => {
    const started = performance.now();
    const result = await mirror.sync();
    return { ...result, ms: performance.now() - started };
  };
  const first = await timed();
  const tree = await diskUsage(mirror.treeDir);

  for (let i = 0; i < publishes; i++) {
    const name = `bench-new-${i}`;
    const tgz = rawTgz([packageJson(name, "1.0.0", { description: `package ${i}` })]);
    await publishNpm(origin.registry, {
      actor: "bench",
      ...(await parsePublish(name, publishBody({ name, version: "1.0.0" }, tgz))),
    });
  }
  const second = await timed();
  mirror.close();
  await origin.close();

  const result: MirrorSyncResult = {
    kind: "mirror-sync",
    packages: imported.published,
    treeBytes: tree.bytes,
    fromZero: {
      ms: first.ms,
      bytes: first.bytes,
      requests: first.requests,
      entries: first.toSize - first.fromSize,
      blobs: first.blobs,
    },
    incremental: {
      publishes,
      ms: second.ms,
      bytes: second.bytes,
      requests: second.requests,
      blobs: second.blobs,
    },
    peakRss: peakRss(),
  };
  printTable([
    ["mirror sync", "entries", "time", "fetched", "requests", "blobs"],
    [
      `from zero (${result.packages} packages)`,
      String(result.fromZero.entries),
      seconds(result.fromZero.ms),
      mib(result.fromZero.bytes),
      String(result.fromZero.requests),
      String(result.fromZero.blobs),
    ],
    [
      `after ${publishes} publishes`,
      String(publishes),
      seconds(result.incremental.ms),
      `${(result.incremental.bytes / 1024).toFixed(1)} KiB`,
      String(result.incremental.requests),
      String(result.incremental.blobs),
    ],
  ]);
  console.log(
    `tree on disk ${mib(result.treeBytes)}; the incremental sync fetched ` +
      `${((100 * result.incremental.bytes) / result.treeBytes).toFixed(2)}% of it ` +
      `(${Math.round(result.incremental.bytes / publishes)} bytes per new publish); peak RSS ${mib(result.peakRss)}`,
  );
  if (values.json) emitResult(result);
} finally {
  await removeDir(work);
}
