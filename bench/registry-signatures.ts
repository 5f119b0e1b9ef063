/**
 * Registry signatures on the corpus: what they add to the log and to each
 * packument, and how long the real `npm audit signatures` takes on the
 * corpus app installed from the origin and through a sparse proxy.
 *
 *   node bench/registry-signatures.ts [--runs 3] [--json]
 *
 * The corpus (433 versions) is imported with `cairn import`, served by
 * `cairn serve`; `cairn proxy` reads it package by package. npm runs with
 * test/helpers/no-sigstore-tuf.cjs preloaded (offline: it takes its keys
 * from /-/npm/v1/keys, as for any registry Sigstore does not list).
 */
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { decodeEntry } from "../src/registry/entries.ts";
import { importCorpus } from "../test/helpers/cli.ts";
import { CORPUS_APP_PACKAGE_JSON, corpusManifest } from "../test/helpers/corpus.ts";
import { runNpmOffline } from "../test/helpers/npm-audit.ts";
import { startProxyOf, startServe } from "../test/helpers/serve.ts";
import { emitResult, makeWorkDir, percentile, printTable, removeDir, seconds } from "./common.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log("node bench/registry-signatures.ts [--runs 3] [--json]");
  process.exit(0);
}
const runs = Number(values.runs);

/** Bytes of every packument of the corpus as served, and without its dist.signatures. */
async function packumentBytes(url: string, accept: string) {
  const names = [...new Set((await corpusManifest()).map((t) => t.name))];
  let served = 0;
  let unsigned = 0;
  let versions = 0;
  for (const name of names) {
    const res = await fetch(new URL(name.replace("/", "%2f"), url), { headers: { accept } });
    const text = await res.text();
    const body = JSON.parse(text) as {
      versions: Record<string, { dist: { signatures?: unknown } }>;
    };
    served += Buffer.byteLength(text);
    for (const version of Object.values(body.versions)) {
      delete version.dist.signatures;
      versions++;
    }
    unsigned += Buffer.byteLength(JSON.stringify(body));
  }
  return { served, unsigned, versions };
}

/** The signature entries in the origin's log, read back from its entry bundles. */
async function signatureEntryBytes(url: string): Promise<{ count: number; bytes: number }> {
  const checkpoint = await (await fetch(new URL("-/cairn/checkpoint", url))).text();
  const size = Number(checkpoint.split("\n")[1]);
  let count = 0;
  let bytes = 0;
  for (let bundle = 0; bundle * 256 < size; bundle++) {
    const width = Math.min(256, size - bundle * 256);
    const path = `-/cairn/tile/entries/${String(bundle).padStart(3, "0")}${width < 256 ? `.p/${width}` : ""}`;
    const data = Buffer.from(await (await fetch(new URL(path, url))).arrayBuffer());
    for (let at = 0; at < data.length; ) {
      const length = data.readUInt16BE(at);
      const entry = data.subarray(at + 2, at + 2 + length);
      if (decodeEntry(entry).kind === "signature") {
        count++;
        bytes += length + 2;
      }
      at += 2 + length;
    }
  }
  return { count, bytes };
}

async function auditTimes(app: string, registry: string, cache: string) {
  const times: number[] = [];
  let audited = "";
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const result = await runNpmOffline(["audit", "signatures"], app, registry, cache);
    times.push(performance.now() - started);
    if (result.code !== 0)
      throw new Error(`npm audit signatures failed: ${result.stdout}${result.stderr}`);
    audited = /audited (\d+) packages/.exec(result.stdout)?.[1] ?? "?";
  }
  return {
    median: percentile(
      [...times].sort((a, b) => a - b),
      0.5,
    ),
    audited,
  };
}

const work = await makeWorkDir("registry-signatures-");
try {
  const data = join(work, "origin");
  const imported = await importCorpus(data);
  if (imported.code !== 0) throw new Error(imported.stderr);
  const origin = await startServe(["--data", data, "--no-durable", "--database-interval", "0"]);
  const proxy = await startProxyOf(origin, join(work, "proxy"));
  try {
    const log = await signatureEntryBytes(origin.url);
    const full = await packumentBytes(origin.url, "application/json");
    const abbreviated = await packumentBytes(origin.url, "application/vnd.npm.install-v1+json");
    const audits: Record<string, { median: number; audited: string }> = {};
    for (const [name, url] of [
      ["origin", origin.url],
      ["proxy", proxy.url],
    ] as const) {
      const app = join(work, `app-${name}`);
      await mkdir(app);
      await copyFile(CORPUS_APP_PACKAGE_JSON, join(app, "package.json"));
      const cache = join(work, `cache-${name}`);
      const install = await runNpmOffline(["install", "--ignore-scripts"], app, url, cache);
      if (install.code !== 0) throw new Error(install.stderr);
      audits[name] = await auditTimes(app, url, cache);
    }
    const perVersion = (p: { served: number; unsigned: number; versions: number }) =>
      (p.served - p.unsigned) / p.versions;
    const result = {
      signatureEntries: log.count,
      bytesPerSignatureEntry: log.bytes / log.count,
      fullPackumentBytesPerVersion: perVersion(full),
      abbreviatedPackumentBytesPerVersion: perVersion(abbreviated),
      fullPackumentIncrease: (full.served - full.unsigned) / full.unsigned,
      abbreviatedPackumentIncrease:
        (abbreviated.served - abbreviated.unsigned) / abbreviated.unsigned,
      auditOriginMs: audits.origin.median,
      auditProxyMs: audits.proxy.median,
      audited: audits.origin.audited,
    };
    if (values.json) emitResult(result);
    printTable([
      ["measure", "value"],
      ["signature entries in the log", String(result.signatureEntries)],
      [
        "bytes per signature entry (with its length prefix)",
        result.bytesPerSignatureEntry.toFixed(0),
      ],
      ["full packument: bytes added per version", result.fullPackumentBytesPerVersion.toFixed(0)],
      [
        "abbreviated packument: bytes added per version",
        result.abbreviatedPackumentBytesPerVersion.toFixed(0),
      ],
      [
        "full packuments of the corpus: increase",
        `${(result.fullPackumentIncrease * 100).toFixed(1)}%`,
      ],
      [
        "abbreviated packuments: increase",
        `${(result.abbreviatedPackumentIncrease * 100).toFixed(1)}%`,
      ],
      [
        `npm audit signatures, origin (${result.audited} packages, median of ${runs})`,
        seconds(result.auditOriginMs),
      ],
      [`npm audit signatures, sparse proxy (median of ${runs})`, seconds(result.auditProxyMs)],
    ]);
  } finally {
    await proxy.stop();
    await origin.stop();
  }
} finally {
  await removeDir(work);
}
