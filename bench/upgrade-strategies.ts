/**
 * Upgrades: what crosses the wire. For real consecutive versions of corpus
 * packages, the bytes a client that holds the old version's files (in its
 * per-file store) must download to get the new version, for each way of
 * shipping it: the whole tarball; the missing files only (raw, gzip'd,
 * zstd'd, or in one zstd stream); a zstd `--patch-from` style delta of the
 * new version's files against the old's; zstd with a dictionary trained on
 * the package's earlier versions. Also the CPU each costs the origin to
 * produce and the client to apply, and every file the client rebuilds is
 * checked against the new version's file index before it counts.
 *
 *   node bench/upgrade-strategies.ts [--packages a,b] [--history N] [--level N] [--no-cli]
 *
 * The installed version of each package is the corpus's (../shared); the
 * other versions are fetched once from the registry `npm config get
 * registry` names and kept in bench/.work/upgrade-cache, so reruns are
 * offline. Needs the shared corpus, and the network on the first run.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { constants, gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { Parser, type ReadEntry } from "tar";
import { canonicalJsonBytes } from "../src/registry/canonical-json.ts";
import { sha256Hex } from "../src/util/sha256.ts";
import { localSharedPath } from "../test/helpers/shared.ts";
import { count, emitResult, peakRss, positiveInt, printTable, size, WORK_DIR } from "./common.ts";
import {
  corpusVersion,
  DEFAULT_PACKAGES,
  packument,
  pickVersions,
  registryUrl,
  tarball,
} from "./upgrade-pairs.ts";

interface PackageFile {
  readonly path: string;
  readonly mode: number;
  readonly bytes: Buffer;
  readonly sha256: string;
}

interface Version {
  readonly version: string;
  readonly tgz: Buffer;
  /** Sorted by path: the canonical order the concatenations use. */
  readonly files: readonly PackageFile[];
}

/** Strategy names, in the order the tables print them. */
const STRATEGIES = [
  "tarball",
  "missing-raw",
  "missing-gzip",
  "missing-zstd",
  "missing-zstd-stream",
  "patch-from",
  "patch-from-cli",
  "file-deltas",
  "dictionary",
] as const;
type Strategy = (typeof STRATEGIES)[number];

const DESCRIPTIONS: Record<Strategy, string> = {
  tarball: "(1) whole tarball, as published",
  "missing-raw": "(2a) missing files, raw",
  "missing-gzip": "(2b) missing files, each gzip'd",
  "missing-zstd": "(2c) missing files, each zstd'd",
  "missing-zstd-stream": "(2d) missing files, one zstd stream",
  "patch-from": "(3) patch-from delta, node:zlib",
  "file-deltas": "(3b) missing files, each a delta from its old path",
  "patch-from-cli": "(3') zstd --patch-from, the CLI",
  dictionary: "(4) missing files, trained dictionary",
};

interface Cost {
  /** Bytes the client downloads, the new file index included where it needs one. */
  readonly bytes: number;
  /** Requests: one per blob fetched by hash, plus the index. */
  readonly requests: number;
  /** CPU (user + system) the origin spends making it once; 0 where it is already there. */
  readonly produceMs: number;
  /** CPU the client spends rebuilding and verifying every new file. */
  readonly applyMs: number;
  /** Bytes the origin or a mirror keeps for this version beyond what it keeps for the old one. */
  readonly storedBytes: number;
  /** Dictionary bytes, downloaded once per package and stored once per package. */
  readonly dictionaryBytes?: number;
}

interface PairResult {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly files: number;
  readonly unpackedBytes: number;
  readonly missingFiles: number;
  readonly missingBytes: number;
  readonly indexBytes: number;
  readonly indexZstdBytes: number;
  readonly indexDeltaBytes: number;
  readonly trainedOn?: readonly string[];
  readonly costs: Partial<Record<Strategy, Cost>>;
  readonly notes: readonly string[];
}

// ---------------------------------------------------------------- files and indexes

/** The regular files of a tarball, paths relative to its top folder, sorted by path. */
function unpack(tgz: Buffer): PackageFile[] {
  const files: PackageFile[] = [];
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => chunks.push(chunk));
      entry.on("end", () => {
        if (entry.type !== "File" && entry.type !== "OldFile") return;
        const bytes = Buffer.concat(chunks);
        const path = entry.path.slice(entry.path.indexOf("/") + 1);
        files.push({ path, mode: entry.mode ?? 0o644, bytes, sha256: sha256Hex(bytes) });
      });
    },
  });
  parser.write(gunzipSync(tgz));
  parser.end();
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The file index the origin would publish: path -> {sha256, mode, size}, canonical JSON. */
function fileIndex(files: readonly PackageFile[]): Buffer {
  const entries: Record<string, { sha256: string; mode: number; size: number }> = {};
  for (const f of files) entries[f.path] = { sha256: f.sha256, mode: f.mode, size: f.bytes.length };
  return Buffer.from(canonicalJsonBytes({ files: entries }));
}

function concatenation(files: readonly PackageFile[]): Buffer {
  return Buffer.concat(files.map((f) => f.bytes));
}

/** Files of `next` whose content `held` lacks, one per distinct hash. */
function missingFiles(held: readonly PackageFile[], next: readonly PackageFile[]): PackageFile[] {
  const have = new Set(held.map((f) => f.sha256));
  const seen = new Set<string>();
  return next.filter((f) => {
    if (have.has(f.sha256) || seen.has(f.sha256)) return false;
    seen.add(f.sha256);
    return true;
  });
}

// ---------------------------------------------------------------- timing

/** CPU of this process and of the children it waited for, in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  // Fields 16 and 17 of /proc/self/stat: children's user and system time, in clock ticks (100/s).
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const childTicks = Number(fields[13]) + Number(fields[14]);
  return (user + system) / 1000 + childTicks * 10;
}

function timed<T>(work: () => T): { value: T; ms: number } {
  const started = cpuMs();
  const value = work();
  return { value, ms: cpuMs() - started };
}

// ---------------------------------------------------------------- verification

class VerifyError extends Error {}

/** The client's check: the index matches its hash, and every rebuilt file matches the index. */
function verifyFiles(
  index: Buffer,
  indexSha: string,
  expected: readonly PackageFile[],
  rebuilt: ReadonlyMap<string, Buffer>,
): void {
  if (sha256Hex(index) !== indexSha) throw new VerifyError("the file index does not match");
  const entries = (
    JSON.parse(index.toString("utf8")) as { files: Record<string, { sha256: string }> }
  ).files;
  if (Object.keys(entries).length !== expected.length || rebuilt.size !== expected.length)
    throw new VerifyError("file count differs from the index");
  for (const [path, bytes] of rebuilt) {
    if (entries[path] === undefined || sha256Hex(bytes) !== entries[path].sha256)
      throw new VerifyError(`${path} does not match the index`);
  }
}

/** Rebuilds the new version from the held files and fetched blobs (checked by hash on arrival). */
function fromStore(
  held: ReadonlyMap<string, Buffer>,
  next: readonly PackageFile[],
  blobs: ReadonlyMap<string, Buffer>,
): Map<string, Buffer> {
  for (const [hash, bytes] of blobs)
    if (sha256Hex(bytes) !== hash) throw new VerifyError(`blob ${hash} does not match its name`);
  const out = new Map<string, Buffer>();
  for (const f of next) {
    const bytes = held.get(f.sha256) ?? blobs.get(f.sha256);
    if (bytes === undefined) throw new VerifyError(`${f.path}: blob ${f.sha256} missing`);
    out.set(f.path, bytes);
  }
  return out;
}

/** Splits a concatenation back into files by the index's sizes, in path order. */
function split(next: readonly PackageFile[], whole: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let at = 0;
  for (const f of next) {
    out.set(f.path, whole.subarray(at, at + f.bytes.length));
    at += f.bytes.length;
  }
  if (at !== whole.length) throw new VerifyError("the delta rebuilt the wrong number of bytes");
  return out;
}

// ---------------------------------------------------------------- strategies

/** The new file index as shipped, and how the client gets it back. */
interface IndexForm {
  readonly bytes: Buffer;
  readonly decode: () => Buffer;
}

/**
 * gzip'd and zstd'd, as a blob any source can serve; and as a delta from
 * the old version's index, which an upgrading client holds (its hashes are
 * most of its bytes, and they do not compress).
 */
function indexForms(
  oldIndex: Buffer,
  index: Buffer,
  level: number,
): Record<"gzip" | "zstd" | "delta", IndexForm> {
  const gzip = gzipSync(index, { level: 9 });
  const zstd = zstdCompressSync(index, zstdParams(level));
  const delta = zstdCompressSync(index, { dictionary: oldIndex, ...zstdParams(level) });
  return {
    gzip: { bytes: gzip, decode: () => gunzipSync(gzip) },
    zstd: { bytes: zstd, decode: () => zstdDecompressSync(zstd) },
    delta: { bytes: delta, decode: () => zstdDecompressSync(delta, { dictionary: oldIndex }) },
  };
}

interface Pair {
  readonly name: string;
  readonly old: Version;
  readonly next: Version;
  readonly earlier: readonly Version[];
}

interface Context {
  readonly level: number;
  readonly cli: boolean;
  readonly tmp: string;
}

function zstdParams(level: number, extra: Record<number, number> = {}) {
  return { params: { [constants.ZSTD_c_compressionLevel]: level, ...extra } };
}

/**
 * Window for a delta: the new bytes must reach back across the whole
 * reference, so the window covers both; long-distance matching finds
 * moved blocks beyond the normal search.
 */
function deltaWindowLog(referenceBytes: number, targetBytes: number): number {
  return Math.min(30, Math.max(20, Math.ceil(Math.log2(referenceBytes + targetBytes + 1))));
}

function measurePair(pair: Pair, ctx: Context): PairResult {
  const { old, next } = pair;
  const notes: string[] = [];
  const index = fileIndex(next.files);
  const indexSha = sha256Hex(index);
  const held = new Map(old.files.map((f) => [f.sha256, f.bytes]));
  const missing = missingFiles(old.files, next.files);
  const costs: Partial<Record<Strategy, Cost>> = {};
  const forms = indexForms(fileIndex(old.files), index, ctx.level);

  // 1. The tarball: the client unpacks it and checks every file against the index.
  {
    const apply = timed(() => {
      const files = unpack(next.tgz);
      verifyFiles(index, indexSha, next.files, new Map(files.map((f) => [f.path, f.bytes])));
    });
    costs.tarball = {
      bytes: next.tgz.length,
      requests: 1,
      produceMs: 0,
      applyMs: apply.ms,
      storedBytes: next.tgz.length,
    };
  }

  // 2. Missing files by hash, each its own blob, stored once per distinct content.
  const perBlob = (
    strategy: Strategy,
    encode: (bytes: Buffer, file: PackageFile) => Buffer,
    decode: (bytes: Buffer, file: PackageFile) => Buffer,
    indexForm: IndexForm,
  ): void => {
    const produced = timed(() => missing.map((f) => [f, encode(f.bytes, f)] as const));
    const blobBytes = produced.value.reduce((sum, [, b]) => sum + b.length, 0);
    const apply = timed(() => {
      // The client knows what each blob should become (and its base) from the indexes.
      const blobs = new Map(produced.value.map(([f, b]) => [f.sha256, decode(b, f)]));
      verifyFiles(indexForm.decode(), indexSha, next.files, fromStore(held, next.files, blobs));
    });
    costs[strategy] = {
      bytes: blobBytes + indexForm.bytes.length,
      requests: missing.length + 1,
      produceMs: produced.ms,
      applyMs: apply.ms,
      storedBytes: blobBytes + indexForm.bytes.length,
    };
  };
  perBlob(
    "missing-raw",
    (b) => b,
    (b) => b,
    forms.gzip,
  );
  perBlob(
    "missing-gzip",
    (b) => gzipSync(b, { level: 9 }),
    (b) => gunzipSync(b),
    forms.gzip,
  );
  perBlob(
    "missing-zstd",
    (b) => zstdCompressSync(b, zstdParams(ctx.level)),
    (b) => zstdDecompressSync(b),
    forms.zstd,
  );

  // 2d. The same missing files in one zstd stream, made on request (nothing to store but the blobs).
  {
    const produced = timed(() => zstdCompressSync(concatenation(missing), zstdParams(ctx.level)));
    const apply = timed(() => {
      const whole = zstdDecompressSync(produced.value);
      const blobs = new Map<string, Buffer>();
      let at = 0;
      for (const f of missing) {
        blobs.set(f.sha256, whole.subarray(at, at + f.bytes.length));
        at += f.bytes.length;
      }
      verifyFiles(forms.zstd.decode(), indexSha, next.files, fromStore(held, next.files, blobs));
    });
    costs["missing-zstd-stream"] = {
      bytes: produced.value.length + forms.zstd.bytes.length,
      requests: 2,
      produceMs: produced.ms,
      applyMs: apply.ms,
      storedBytes: costs["missing-zstd"]?.storedBytes ?? 0,
    };
  }

  // 3. patch-from: the new concatenation compressed with the old one as a raw-content dictionary.
  {
    const reference = concatenation(old.files);
    const target = concatenation(next.files);
    const windowLog = deltaWindowLog(reference.length, target.length);
    const produced = timed(() =>
      zstdCompressSync(target, {
        dictionary: reference,
        ...zstdParams(ctx.level, {
          [constants.ZSTD_c_windowLog]: windowLog,
          [constants.ZSTD_c_enableLongDistanceMatching]: 1,
        }),
      }),
    );
    const apply = timed(() => {
      const ref = concatenation(old.files);
      const whole = zstdDecompressSync(produced.value, {
        dictionary: ref,
        params: { [constants.ZSTD_d_windowLogMax]: windowLog },
      });
      verifyFiles(forms.delta.decode(), indexSha, next.files, split(next.files, whole));
    });
    costs["patch-from"] = {
      bytes: produced.value.length + forms.delta.bytes.length,
      requests: 2,
      produceMs: produced.ms,
      applyMs: apply.ms,
      storedBytes: produced.value.length,
    };
    if (ctx.cli)
      costs["patch-from-cli"] = patchFromCli(pair, ctx, reference, target, forms.delta, indexSha);
  }

  // 3b. Per file: each missing file a patch-from delta against the old file at the same path
  // (plain zstd where there is none), so a blob is still one file, named by (base, target) hashes.
  {
    const oldByPath = new Map(old.files.map((f) => [f.path, f]));
    const baseOf = (f: PackageFile) => {
      const base = oldByPath.get(f.path);
      return base && base.bytes.length > 0 ? base.bytes : undefined;
    };
    const deltaParams = (base: Buffer, target: number) =>
      zstdParams(ctx.level, {
        [constants.ZSTD_c_windowLog]: deltaWindowLog(base.length, target),
        [constants.ZSTD_c_enableLongDistanceMatching]: 1,
      });
    perBlob(
      "file-deltas",
      (b, f) => {
        const base = baseOf(f);
        return base
          ? zstdCompressSync(b, { dictionary: base, ...deltaParams(base, b.length) })
          : zstdCompressSync(b, zstdParams(ctx.level));
      },
      (b, f) => {
        const base = baseOf(f);
        return base
          ? zstdDecompressSync(b, {
              dictionary: base,
              params: {
                [constants.ZSTD_d_windowLogMax]: deltaWindowLog(base.length, f.bytes.length),
              },
            })
          : zstdDecompressSync(b);
      },
      forms.delta,
    );
  }

  // 4. A dictionary trained on the files of the package's earlier versions, then per-blob zstd.
  const trainedOn = [...pair.earlier.map((v) => v.version), old.version];
  if (ctx.cli) {
    const dictionary = trainDictionary(pair, ctx);
    if (typeof dictionary === "string") notes.push(`dictionary: ${dictionary}`);
    else {
      perBlob(
        "dictionary",
        (b) => zstdCompressSync(b, { dictionary: dictionary.value, ...zstdParams(ctx.level) }),
        (b) => zstdDecompressSync(b, { dictionary: dictionary.value }),
        forms.zstd,
      );
      const c = costs.dictionary;
      if (c)
        costs.dictionary = {
          ...c,
          produceMs: c.produceMs + dictionary.ms,
          dictionaryBytes: dictionary.value.length,
        };
    }
  }

  return {
    name: pair.name,
    from: old.version,
    to: next.version,
    files: next.files.length,
    unpackedBytes: next.files.reduce((sum, f) => sum + f.bytes.length, 0),
    missingFiles: missing.length,
    missingBytes: missing.reduce((sum, f) => sum + f.bytes.length, 0),
    indexBytes: index.length,
    indexZstdBytes: forms.zstd.bytes.length,
    indexDeltaBytes: forms.delta.bytes.length,
    trainedOn,
    costs,
    notes,
  };
}

/** The zstd CLI's own --patch-from, to check node:zlib's dictionary does the same job. */
function patchFromCli(
  pair: Pair,
  ctx: Context,
  reference: Buffer,
  target: Buffer,
  indexForm: IndexForm,
  indexSha: string,
): Cost {
  const ref = join(ctx.tmp, "reference");
  const tgt = join(ctx.tmp, "target");
  const delta = join(ctx.tmp, "delta.zst");
  const back = join(ctx.tmp, "rebuilt");
  writeFileSync(ref, reference);
  writeFileSync(tgt, target);
  const windowLog = deltaWindowLog(reference.length, target.length);
  const produced = timed(() =>
    zstd([
      "-q",
      "-f",
      `-${ctx.level}`,
      `--long=${windowLog}`,
      `--patch-from=${ref}`,
      tgt,
      "-o",
      delta,
    ]),
  );
  const bytes = readFileSync(delta);
  const apply = timed(() => {
    zstd(["-q", "-f", "-d", `--long=${windowLog}`, `--patch-from=${ref}`, delta, "-o", back]);
    const files = split(pair.next.files, readFileSync(back));
    verifyFiles(indexForm.decode(), indexSha, pair.next.files, files);
  });
  return {
    bytes: bytes.length + indexForm.bytes.length,
    requests: 2,
    produceMs: produced.ms,
    applyMs: apply.ms,
    storedBytes: bytes.length,
  };
}

function zstd(args: readonly string[]): void {
  const result = spawnSync("zstd", args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (result.status !== 0) throw new Error(`zstd ${args.join(" ")}: ${result.stderr}`);
}

/**
 * `zstd --train` on every distinct file of the earlier versions and the old
 * one, each file a sample. Returns why not when zstd refuses (too few or too
 * small samples: a package of four files has nothing to train on).
 */
function trainDictionary(pair: Pair, ctx: Context): { value: Buffer; ms: number } | string {
  const samples = join(ctx.tmp, "samples");
  const out = join(ctx.tmp, "dictionary");
  rmSync(samples, { recursive: true, force: true });
  mkdirSync(samples, { recursive: true });
  const seen = new Set<string>();
  let total = 0;
  for (const v of [...pair.earlier, pair.old])
    for (const f of v.files) {
      if (seen.has(f.sha256) || f.bytes.length === 0) continue;
      seen.add(f.sha256);
      total += f.bytes.length;
      writeFileSync(join(samples, f.sha256), f.bytes);
    }
  // zstd's advice: a dictionary about a hundredth of the samples, 110 KiB at most.
  const maxDict = Math.max(4096, Math.min(112_640, Math.floor(total / 100)));
  try {
    const trained = timed(() =>
      zstd(["-q", "-f", "--train", "-r", samples, `--maxdict=${maxDict}`, "-o", out]),
    );
    return { value: readFileSync(out), ms: trained.ms };
  } catch (err) {
    return `zstd --train refused (${seen.size} samples, ${count(total)} bytes): ${String(
      (err as Error).message,
    )
      .split("\n")
      .slice(1)
      .join(" ")
      .trim()
      .slice(0, 120)}`;
  }
}

// ---------------------------------------------------------------- the run

async function loadPair(
  registry: () => string,
  corpusDir: string,
  corpusNames: readonly string[],
  name: string,
  history: number,
): Promise<Pair> {
  const doc = await packument(registry(), name);
  const installed = corpusVersion(corpusDir, corpusNames, name);
  const { from, to, earlier } = pickVersions(doc, installed, history);
  const load = async (version: string): Promise<Version> => {
    const tgz = await tarball(doc, name, version);
    return { version, tgz, files: unpack(tgz) };
  };
  const versions: Version[] = [];
  for (const v of [...earlier, from, to]) versions.push(await load(v));
  return {
    name,
    old: versions.at(-2) as Version,
    next: versions.at(-1) as Version,
    earlier: versions.slice(0, -2),
  };
}

/** Where a package has nothing to train on, shipping per-blob zstd without a dictionary is what is left. */
function withFallback(r: PairResult, triedTraining: boolean): PairResult {
  if (!triedTraining || r.costs.dictionary || !r.costs["missing-zstd"]) return r;
  return { ...r, costs: { ...r.costs, dictionary: r.costs["missing-zstd"] } };
}

function ms(n: number): string {
  return n < 10 ? `${n.toFixed(1)} ms` : `${count(n)} ms`;
}

function percent(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(1)}%`;
}

function printCosts(costs: Partial<Record<Strategy, Cost>>, tarballBytes: number): void {
  const rows = [
    ["strategy", "wire", "of tgz", "requests", "produce CPU", "apply CPU", "stored", "dictionary"],
  ];
  for (const s of STRATEGIES) {
    const c = costs[s];
    if (!c) continue;
    rows.push([
      DESCRIPTIONS[s],
      size(c.bytes),
      percent(c.bytes, tarballBytes),
      count(c.requests),
      ms(c.produceMs),
      ms(c.applyMs),
      size(c.storedBytes),
      c.dictionaryBytes === undefined ? "" : size(c.dictionaryBytes),
    ]);
  }
  printTable(rows);
}

function totals(results: readonly PairResult[]): Partial<Record<Strategy, Cost>> {
  const out: Partial<Record<Strategy, Cost>> = {};
  for (const s of STRATEGIES) {
    const all = results.map((r) => r.costs[s]).filter((c): c is Cost => c !== undefined);
    if (all.length !== results.length) continue;
    const sum = (key: keyof Cost) => all.reduce((n, c) => n + (c[key] ?? 0), 0);
    out[s] = {
      bytes: sum("bytes"),
      requests: sum("requests"),
      produceMs: sum("produceMs"),
      applyMs: sum("applyMs"),
      storedBytes: sum("storedBytes"),
      ...(s === "dictionary" ? { dictionaryBytes: sum("dictionaryBytes") } : {}),
    };
  }
  return out;
}

function zstdCliAvailable(): boolean {
  return spawnSync("zstd", ["--version"], { stdio: "ignore" }).status === 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      packages: { type: "string" },
      history: { type: "string" },
      level: { type: "string" },
      "no-cli": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: node bench/upgrade-strategies.ts [--packages a,b,...] [--history N] [--level N] [--no-cli] [--json]\n" +
        `  --packages  corpus packages to upgrade (default: ${DEFAULT_PACKAGES.join(",")})\n` +
        "  --history   earlier versions a dictionary is trained on, besides the old one (default 4)\n" +
        "  --level     zstd level of stored blobs, deltas and streams (default 19)\n" +
        "  --no-cli    skip what needs the zstd command (the CLI's --patch-from, dictionary training)",
    );
    return;
  }
  const corpusDir = localSharedPath("corpus", "npm");
  if (!corpusDir) {
    console.log("upgrade-strategies: no shared corpus (set CAIRN_SHARED_DIR); nothing measured");
    return;
  }
  const names = values.packages ? values.packages.split(",") : DEFAULT_PACKAGES;
  const history = positiveInt("history", values.history, 4);
  const level = positiveInt("level", values.level, 19);
  const cli = !values["no-cli"] && zstdCliAvailable();
  if (!values["no-cli"] && !cli)
    console.log(
      "no zstd command on the PATH (apt-get install zstd): CLI patch-from and dictionaries skipped",
    );
  let registry: string | undefined;
  const registryOnce = () => {
    registry ??= registryUrl();
    return registry;
  };
  const corpusNames = await readdir(corpusDir);
  await mkdir(WORK_DIR, { recursive: true });
  const tmp = await mkdtemp(join(WORK_DIR, "upgrade-"));
  const loadBefore = loadavg()[0];
  const started = performance.now();
  const results: PairResult[] = [];
  const skipped: string[] = [];
  try {
    for (const name of names) {
      let pair: Pair;
      try {
        pair = await loadPair(registryOnce, corpusDir, corpusNames, name, history);
      } catch (err) {
        skipped.push(`${name}: ${(err as Error).message}`);
        console.log(`skipped ${name}: ${(err as Error).message}`);
        continue;
      }
      const r = withFallback(measurePair(pair, { level, cli, tmp }), cli);
      results.push(r);
      console.log(
        `\n== ${r.name} ${r.from} -> ${r.to}: ${count(r.files)} files, ${size(r.unpackedBytes)} unpacked; ` +
          `${count(r.missingFiles)} missing (${size(r.missingBytes)}), index ${size(r.indexBytes)} ` +
          `(zstd ${size(r.indexZstdBytes)}, delta ${size(r.indexDeltaBytes)})` +
          (cli ? `; dictionary trained on ${r.trainedOn?.join(", ")}` : "") +
          " ==",
      );
      for (const note of r.notes) console.log(`  ${note}`);
      printCosts(r.costs, r.costs.tarball?.bytes ?? 1);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const sums = totals(results);
  const tarballBytes = sums.tarball?.bytes ?? 1;
  console.log(
    `\n== totals over ${results.length} upgrades, zstd level ${level}, ${((performance.now() - started) / 1000).toFixed(1)} s, ` +
      `load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after ==`,
  );
  printCosts(sums, tarballBytes);
  console.log(
    "\nwire: bytes downloaded, the new file index included (gzip'd for 2a and 2b, a delta from the old " +
      "index for 3, 3' and 3b, zstd'd otherwise); " +
      "a dictionary is downloaded once per package, apart. stored: what the origin keeps for the new version " +
      "beyond the old one's.",
  );
  if (skipped.length > 0) console.log(`skipped: ${skipped.join("; ")}`);
  if (values.json)
    emitResult({
      kind: "upgrade-strategies",
      level,
      history,
      cli,
      load: [loadBefore, loadavg()[0]],
      results,
      totals: sums,
      skipped,
      peakRss: peakRss(),
    });
}

await main();
