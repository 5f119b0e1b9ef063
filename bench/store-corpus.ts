/**
 * The per-file store on the corpus: every tarball added to an empty store,
 * then all linked into a fresh folder; then again with the store warm (each
 * add finds its index), and a second project linked. Reports times, the
 * store's size against the tarballs' and the unpacked files', and how many
 * files deduplication saved.
 *
 *   node bench/store-corpus.ts [--keep]
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pLimit from "p-limit";
import { linkPackage } from "../src/install/link.ts";
import { PackageStore } from "../src/install/store.ts";
import type { FileIndex } from "../src/npm/file-index.ts";
import { corpusManifest, corpusTarballs } from "../test/helpers/corpus.ts";
import {
  count,
  diskUsage,
  emitResult,
  makeWorkDir,
  mib,
  printTable,
  removeDir,
  seconds,
} from "./common.ts";

export interface StoreCorpusResult {
  readonly tarballs: number;
  readonly tarballBytes: number;
  readonly unpackedFiles: number;
  readonly unpackedBytes: number;
  readonly storeFiles: number;
  readonly storeBytes: number;
  readonly storeAllocated: number;
  readonly addColdMs: number;
  readonly linkColdMs: number;
  readonly addWarmMs: number;
  readonly linkWarmMs: number;
  readonly linked: number;
  readonly copied: number;
}

const { values } = parseArgs({ options: { keep: { type: "boolean", default: false } } });
const work = await makeWorkDir("store-corpus");
try {
  const dir = await corpusTarballs();
  const corpus = await corpusManifest();
  const tarballs = await Promise.all(
    corpus.map(async (t) => ({ ...t, bytes: await readFile(join(dir, t.file)) })),
  );
  const store = await PackageStore.open(join(work, "store"));
  const limit = pLimit(16);
  const addAll = () =>
    Promise.all(
      tarballs.map((t) =>
        limit(() =>
          store.addTarball(t.bytes, { integrity: t.integrity, name: t.name, version: t.version }),
        ),
      ),
    );
  const linkAll = (indexes: readonly FileIndex[], into: string) =>
    Promise.all(
      indexes.map((index, i) =>
        linkPackage(store, index, join(work, into, tarballs[i].file.replace(/\.tgz$/, ""))),
      ),
    );

  let t0 = performance.now();
  const indexes = await addAll();
  const addColdMs = performance.now() - t0;
  t0 = performance.now();
  const links = await linkAll(indexes, "project-a");
  const linkColdMs = performance.now() - t0;
  t0 = performance.now();
  await addAll();
  const addWarmMs = performance.now() - t0;
  t0 = performance.now();
  await linkAll(indexes, "project-b");
  const linkWarmMs = performance.now() - t0;

  const usage = await diskUsage(join(work, "store", "v1", "files"));
  const files = indexes.flatMap((i) => [...i.files.values()]);
  const result: StoreCorpusResult = {
    tarballs: tarballs.length,
    tarballBytes: tarballs.reduce((n, t) => n + t.bytes.length, 0),
    unpackedFiles: files.length,
    unpackedBytes: files.reduce((n, f) => n + f.size, 0),
    storeFiles: usage.files,
    storeBytes: usage.bytes,
    storeAllocated: usage.allocated,
    addColdMs,
    linkColdMs,
    addWarmMs,
    linkWarmMs,
    linked: links.reduce((n, l) => n + l.linked, 0),
    copied: links.reduce((n, l) => n + l.copied, 0),
  };
  printTable([
    ["", "value"],
    ["tarballs", `${count(result.tarballs)}, ${mib(result.tarballBytes)}`],
    ["files unpacked", `${count(result.unpackedFiles)}, ${mib(result.unpackedBytes)}`],
    [
      "store files",
      `${count(result.storeFiles)}, ${mib(result.storeBytes)} (${mib(result.storeAllocated)} on disk)`,
    ],
    ["add all, empty store", seconds(addColdMs)],
    ["link all, fresh folder", `${seconds(linkColdMs)} (${count(result.linked)} links)`],
    ["add all again (held)", seconds(addWarmMs)],
    ["link all, second folder", seconds(linkWarmMs)],
  ]);
  emitResult(result);
} finally {
  if (!values.keep) await removeDir(work);
}
