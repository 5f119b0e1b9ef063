/**
 * Upgrades as `cairn install` ships them: what crosses the wire, and how
 * long it takes, when a store that holds the old versions of corpus
 * packages takes their next versions by file index, per-file deltas and
 * blobs (src/install/file-fetch.ts), against the same store taking the
 * tarballs (what npm, pnpm, Yarn and bun download). Real parts throughout:
 * an origin that imported the old versions and then the new ones (making
 * the deltas as it does after any publish), read through the verifying
 * reader via a counting proxy, so the bytes are the wire's (gzip where the
 * origin sends it).
 *
 *   node bench/upgrade-install.ts [--packages a,b,...]
 *
 * The pairs are bench/upgrade-strategies.ts's (upgrade-pairs.ts): needs the
 * shared corpus, and the network on the first run.
 */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { VerifyingReader } from "../src/client/verifying-reader.ts";
import { addByFiles } from "../src/install/file-fetch.ts";
import { PackageStore } from "../src/install/store.ts";
import { findTarballs, importTarballs } from "../src/npm/import.ts";
import { startOrigin } from "../src/npm/origin-server.ts";
import { versionEntryOf } from "../src/registry/package-document.ts";
import { startCountingProxy } from "../test/helpers/counting-proxy.ts";
import { localSharedPath } from "../test/helpers/shared.ts";
import { count, emitResult, makeWorkDir, printTable, removeDir, seconds, size } from "./common.ts";
import {
  corpusVersion,
  DEFAULT_PACKAGES,
  packument,
  pickVersions,
  registryUrl,
  tarball,
} from "./upgrade-pairs.ts";

interface Row {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly files: number;
  readonly deltas: number;
  readonly tarballWire: number;
  readonly tarballMs: number;
  readonly filesWire: number;
  readonly filesMs: number;
}

const { values } = parseArgs({
  options: { packages: { type: "string" }, json: { type: "boolean", default: false } },
});
const corpusDir = localSharedPath("corpus", "npm");
if (!corpusDir) {
  console.log("upgrade-install: no shared corpus (set CAIRN_SHARED_DIR); nothing measured");
  process.exit(0);
}
const names = values.packages ? values.packages.split(",") : DEFAULT_PACKAGES;
const corpusNames = await readdir(corpusDir);
const registry = registryUrl();
const work = await makeWorkDir("upgrade-install-");
const loadBefore = loadavg()[0];
try {
  const pairs: { name: string; from: string; to: string }[] = [];
  for (const name of names) {
    const doc = await packument(registry, name);
    const { from, to } = pickVersions(doc, corpusVersion(corpusDir, corpusNames, name), 0);
    for (const [version, folder] of [
      [from, "old"],
      [to, "new"],
    ]) {
      await mkdir(join(work, folder), { recursive: true });
      await writeFile(
        join(work, folder, `${name.replace("/", "-")}-${version}.tgz`),
        await tarball(doc, name, version),
      );
    }
    pairs.push({ name, from, to });
  }

  const origin = await startOrigin({
    data: join(work, "origin"),
    host: "127.0.0.1",
    port: 0,
    durable: false,
    signup: false,
    databaseInterval: 0,
    snapshotShards: 0,
  });
  const proxy = await startCountingProxy(origin.url);
  try {
    await importTarballs(origin.registry, "bench", await findTarballs([join(work, "old")]));
    const reader = await VerifyingReader.open({
      origin: proxy.url,
      verifier: origin.key.verifier,
      dataDir: join(work, "reader"),
      useMirrorList: false,
      cacheTarballs: false,
    });
    // Two stores holding the old versions, as after an install of them.
    const byFiles = await PackageStore.open(join(work, "store-files"));
    const byTarball = await PackageStore.open(join(work, "store-tarball"));
    await reader.update();
    for (const { name, from } of pairs) {
      const v = (await reader.document(name))?.versions[from];
      if (!v) throw new Error(`${name}@${from} is not in the origin`);
      const entry = versionEntryOf({ ecosystem: "npm", name }, from, v);
      const tgz = await reader.tarball(entry);
      for (const store of [byFiles, byTarball])
        await store.addTarball(tgz, { integrity: `sha512-${entry.artifact?.sha512}`, name });
    }

    const imported = performance.now();
    await importTarballs(origin.registry, "bench", await findTarballs([join(work, "new")]));
    await origin.deltasIdle();
    const deltasMs = performance.now() - imported;
    await reader.update();

    const rows: Row[] = [];
    for (const { name, from, to } of pairs) {
      const v = (await reader.document(name))?.versions[to];
      if (!v?.files || !v.artifact) throw new Error(`${name}@${to} has no file index in the log`);
      const entry = versionEntryOf({ ecosystem: "npm", name }, to, v);
      const integrity = `sha512-${v.artifact.sha512}`;
      const measure = async <T>(work: () => Promise<T>) => {
        const bytes = proxy.responseBytes();
        const started = performance.now();
        const value = await work();
        return { value, ms: performance.now() - started, wire: proxy.responseBytes() - bytes };
      };
      const tarballWay = await measure(async () =>
        byTarball.addTarball(await reader.tarball(entry), { integrity, name, version: to }),
      );
      const base = await byFiles.findIndex(name, from);
      if (!base) throw new Error(`${name}@${from} is not in the store`);
      const filesWay = await measure(() =>
        addByFiles(byFiles, reader, {
          name,
          version: to,
          integrity,
          sha256: v.artifact?.sha256,
          files: v.files as NonNullable<typeof v.files>,
          tarballSize: v.artifact?.size ?? 0,
          base,
        }),
      );
      if (!filesWay.value)
        throw new Error(`${name}@${to}: the files would cost more than the tarball`);
      const same =
        JSON.stringify([...filesWay.value.index.files]) ===
        JSON.stringify([...tarballWay.value.files]);
      if (!same) throw new Error(`${name}@${to}: the two ways gave different indexes`);
      rows.push({
        name,
        from,
        to,
        files: filesWay.value.files,
        deltas: filesWay.value.deltas,
        tarballWire: tarballWay.wire,
        tarballMs: tarballWay.ms,
        filesWire: filesWay.wire,
        filesMs: filesWay.ms,
      });
    }
    await reader.close();

    const sum = (f: (r: Row) => number) => rows.reduce((n, r) => n + f(r), 0);
    const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;
    printTable([
      [
        "package",
        "upgrade",
        "files fetched (deltas)",
        "tarball: wire",
        "time",
        "by files: wire",
        "of tarball",
        "time",
      ],
      ...rows.map((r) => [
        r.name,
        `${r.from} -> ${r.to}`,
        `${count(r.files)} (${count(r.deltas)})`,
        size(r.tarballWire),
        seconds(r.tarballMs),
        size(r.filesWire),
        pct(r.filesWire, r.tarballWire),
        seconds(r.filesMs),
      ]),
      [
        "total",
        `${rows.length} upgrades`,
        `${count(sum((r) => r.files))} (${count(sum((r) => r.deltas))})`,
        size(sum((r) => r.tarballWire)),
        seconds(sum((r) => r.tarballMs)),
        size(sum((r) => r.filesWire)),
        pct(
          sum((r) => r.filesWire),
          sum((r) => r.tarballWire),
        ),
        seconds(sum((r) => r.filesMs)),
      ],
    ]);
    console.log(
      `\nthe origin made the deltas of the ${rows.length} new versions in ${seconds(deltasMs)} ` +
        `(import and deltas); load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`,
    );
    if (values.json) emitResult({ kind: "upgrade-install", rows, deltasMs });
  } finally {
    await proxy.close();
    await origin.close();
  }
} finally {
  await removeDir(work);
}
