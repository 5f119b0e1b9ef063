/**
 * cargo against Cairn, side by side in one run:
 *
 * 1. `cargo generate-lockfile` and `cargo fetch` of the test application
 *    (test/fixtures/cargo-app, every crate of the corpus) from a plain static
 *    server holding the same index files and `.crate` files (a sparse
 *    registry without Cairn's checks, with ETags and 304s as nginx's), from the origin (`cairn serve`), and
 *    through the verifying proxy (`cairn proxy` reading from a `cairn mirror`
 *    of the origin and checking every index file and `.crate` against the
 *    signed log): cold, a new proxy per round on a fresh data directory, and
 *    warm, one proxy that served the app once before the first round. Each
 *    run has a fresh CARGO_HOME, so an empty index cache; the order of the
 *    four rotates each round; medians and their ratios to the static server.
 *    Every run must lock the same crates with the same checksums.
 * 2. Publishes per second: `PUT /api/v1/crates/new` bodies built before the
 *    clock starts (made-up crates, each name distinct, each padded with
 *    incompressible bytes to the size of a corpus `.crate`, in turn), one at
 *    a time and from several publishers at once, against the same origin,
 *    which fsyncs as `cairn serve` does by default; and crates of about
 *    1 KB one at a time, the size of the npm publish bench's tarballs.
 *
 * The corpus itself reaches the origin by the real `cargo publish`, crate by
 * crate in publish order (timed too: mostly cargo's own packaging).
 *
 *   node bench/cargo.ts [--rounds 5] [--publishes 200] [--concurrency 8] [--keep] [--json]
 *   node bench/cargo.ts --cpu-prof bench/.work/prof     # a profile of each server process
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { dirname, join, normalize, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CARGO_INDEX_PREFIX } from "../src/cargo/read-api.ts";
import { indexPath } from "../src/cargo/rules/index-path.ts";
import { lockedPackages, makeCargoHome, runCargo } from "../test/helpers/cargo.ts";
import { crateFile, crateMetadata, cratePublishBody } from "../test/helpers/crate-body.ts";
import { copyCargoApp, prepareCrateCorpus } from "../test/helpers/crate-corpus.ts";
import { signUp } from "../test/helpers/registry-client.ts";
import {
  count,
  emitResult,
  makeWorkDir,
  positiveInt,
  printTable,
  removeDir,
  seconds,
} from "./common.ts";
import {
  freePort,
  type Proc,
  peakRssOf,
  profileFlags,
  REPO_DIR,
  runToEnd,
  startProcess,
  stopProcess,
  waitForOutput,
} from "./processes.ts";

/** From the issue: verification may cost at most 10% wall time over the plain sparse registry. */
export const TARGET_RATIO = 1.1;

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    publishes: { type: "string" },
    concurrency: { type: "string" },
    "cpu-prof": { type: "string" },
    keep: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "node bench/cargo.ts [--rounds 5] [--publishes 200] [--concurrency 8] [--cpu-prof DIR] [--keep] [--json]",
  );
  process.exit(0);
}
const rounds = positiveInt("rounds", values.rounds, 5);
const publishes = positiveInt("publishes", values.publishes, 200);
const concurrency = positiveInt("concurrency", values.concurrency, 8);
const cpuProfDir = values["cpu-prof"];
/** About the size of the npm publish bench's tarballs, for a figure beside npm's. */
const TINY_CRATE_BYTES = 1024;
const CAIRN_CLI = join(REPO_DIR, "bin", "cairn.ts");

/** `proxy`: a new proxy per run, cold; `warm`: one proxy for every run, which served the app once before. */
type Side = "static" | "origin" | "proxy" | "warm";
const SIDES: readonly Side[] = ["static", "origin", "proxy", "warm"];

interface CargoRun {
  readonly lockMs: number;
  readonly fetchMs: number;
}

interface Median {
  readonly lockMs: number;
  readonly fetchMs: number;
  readonly totalMs: number;
}

interface PublishRate {
  readonly publishes: number;
  readonly concurrency: number;
  readonly ms: number;
  readonly perSecond: number;
  readonly meanCrateBytes: number;
}

export interface CargoBenchResult {
  readonly crates: number;
  readonly rounds: number;
  readonly medians: Record<Side, Median>;
  /** Median total (lock + fetch) over the static server's. */
  readonly ratios: { origin: number; proxy: number; warm: number };
  readonly target: number;
  readonly met: boolean;
  /** The real `cargo publish` of the corpus, one crate after another. */
  readonly cargoPublish: { crates: number; ms: number };
  readonly sequential: PublishRate;
  readonly concurrent: PublishRate;
  /** Crates of about 1 KB, the size of the npm publish bench's tarballs. */
  readonly tiny: PublishRate;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly peakRss: { origin: number; mirror: number; proxy: number; warm: number };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const withSlash = (url: string) => (url.endsWith("/") ? url : `${url}/`);
const sparseUrl = (base: string) => `${base.replace(/\/$/, "")}${CARGO_INDEX_PREFIX}`;

function startCairn(name: string, args: readonly string[], logFile: string): Proc {
  const proc = startProcess(
    name,
    process.execPath,
    [...profileFlags(cpuProfDir), CAIRN_CLI, ...args],
    { logFile },
  );
  if (cpuProfDir) console.log(`${name}: pid ${proc.child.pid}`);
  return proc;
}

async function startOrigin(dir: string): Promise<{ proc: Proc; url: string; key: string }> {
  // Durable, as `cairn serve` runs by default: publishes are acknowledged after fsync.
  const proc = startCairn(
    "cairn serve",
    ["serve", "--data", join(dir, "origin"), "--port", "0"],
    join(dir, "origin.log"),
  );
  const url = (await waitForOutput(proc, /listening on (\S+)/))[1];
  const key = (await waitForOutput(proc, /verifier key: (\S+)/))[1];
  return { proc, url: withSlash(url), key };
}

async function startMirror(dir: string, originUrl: string, key: string) {
  const port = await freePort();
  const args = ["mirror", "--from", originUrl, "--key", key, "--data", join(dir, "mirror")];
  args.push("--port", `${port}`, "--no-durable", "--interval", "3600");
  const proc = startCairn("cairn mirror", args, join(dir, "mirror.log"));
  const url = (await waitForOutput(proc, /listening on (\S+)/))[1];
  await waitForOutput(proc, /synced: size \d+ -> (\d+)/);
  await runToEnd(
    "cairn mirrors add",
    process.execPath,
    [CAIRN_CLI, "mirrors", "add", url, "--data", join(dir, "origin")],
    { logFile: join(dir, "mirrors-add.log") },
  );
  return { proc, url: withSlash(url) };
}

async function startProxy(dir: string, name: string, originUrl: string, key: string) {
  const port = await freePort();
  const args = ["proxy", "--origin", originUrl, "--key", key, "--data", join(dir, name)];
  args.push("--port", `${port}`);
  const proc = startCairn("cairn proxy", args, join(dir, `${name}.log`));
  const url = (await waitForOutput(proc, /listening on (\S+)/))[1];
  const mirrors = (await waitForOutput(proc, /mirrors: +(.*)/))[1];
  return { proc, url: withSlash(url), mirrors };
}

/**
 * A plain static file server, as nginx serves a directory by default: an
 * ETag of the modification time and size, Last-Modified, and 304 when the
 * client sends either back (cargo does when it revalidates an index file).
 */
async function serveStatic(dir: string) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    try {
      if (path.includes("..")) throw new Error("outside");
      const file = join(dir, path);
      const info = await stat(file);
      const etag = `"${Math.floor(info.mtimeMs / 1000).toString(16)}-${info.size.toString(16)}"`;
      const modified = info.mtime.toUTCString();
      const headers = { etag, "last-modified": modified };
      if (
        req.headers["if-none-match"] === etag ||
        (req.headers["if-none-match"] === undefined &&
          req.headers["if-modified-since"] === modified)
      ) {
        res.writeHead(304, headers).end();
        return;
      }
      const data = await readFile(file);
      res.writeHead(200, { ...headers, "content-length": data.length }).end(data);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

async function fetchOk(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * Copies what the origin serves for the corpus into `dir` as a static sparse
 * registry: each crate's index file at its path under `index/`, and every
 * `.crate` the lines name, fetched by the origin's `dl`. Returns the sizes of
 * the `.crate` files.
 */
async function copyToStatic(
  originUrl: string,
  names: readonly string[],
  dir: string,
): Promise<number[]> {
  const index = sparseUrl(originUrl);
  const { dl } = JSON.parse((await fetchOk(`${index}config.json`)).toString()) as { dl: string };
  const sizes: number[] = [];
  for (const name of names) {
    const path = indexPath(name);
    const file = await fetchOk(`${index}${path}`);
    await mkdir(dirname(join(dir, "index", path)), { recursive: true });
    await writeFile(join(dir, "index", path), file);
    for (const line of file.toString().trim().split("\n")) {
      const { name: crate, vers, cksum } = JSON.parse(line) as Record<string, string>;
      const url = dl
        .replaceAll("{crate}", crate)
        .replaceAll("{version}", vers)
        .replaceAll("{sha256-checksum}", cksum);
      const bytes = await fetchOk(url.includes("{") ? `${url}/${crate}/${vers}/download` : url);
      if (createHash("sha256").update(bytes).digest("hex") !== cksum)
        throw new Error(`${crate} ${vers}: the origin's .crate does not match its index line`);
      await writeFile(join(dir, `${crate}-${vers}.crate`), bytes);
      sizes.push(bytes.length);
    }
  }
  return sizes;
}

/** In a fresh CARGO_HOME and a fresh copy of the app: `cargo generate-lockfile`, then `cargo fetch`. */
async function lockAndFetch(index: string, dir: string): Promise<CargoRun & { locked: string }> {
  const cargoHome = await makeCargoHome(join(dir, "home"), { sparseIndex: index });
  const app = await copyCargoApp(join(dir, "app"));
  const t0 = performance.now();
  await runCargo(["generate-lockfile"], { cwd: app, cargoHome });
  const t1 = performance.now();
  await runCargo(["fetch"], { cwd: app, cargoHome });
  const t2 = performance.now();
  const locked = (await lockedPackages(join(app, "Cargo.lock")))
    .filter((p) => p.checksum)
    .map((p) => `${p.name} ${p.version} ${p.checksum}`)
    .sort()
    .join("\n");
  return { lockMs: t1 - t0, fetchMs: t2 - t1, locked };
}

/** Made-up publish bodies: crate `prefix-i`, padded with random bytes to `sizes[i % n]`. */
function publishBodies(
  prefix: string,
  n: number,
  sizes: readonly number[],
): Uint8Array<ArrayBuffer>[] {
  const bodies: Uint8Array<ArrayBuffer>[] = [];
  for (let i = 0; i < n; i++) {
    const crate = { name: `${prefix}-${i}`, version: "1.0.0" };
    // A .crate of a Cargo.toml and a one-line lib is about 300 bytes before the padding.
    const pad = Math.max(0, sizes[i % sizes.length] - 300);
    const file = crateFile(crate, { "src/data.bin": randomBytes(pad) });
    // A Uint8Array as fetch takes it, made before the clock starts.
    bodies.push(new Uint8Array(cratePublishBody(crateMetadata(crate), file)));
  }
  return bodies;
}

/** PUTs every body with `concurrency` publishers; each must be accepted. */
async function publishAll(
  originUrl: string,
  token: string,
  bodies: readonly Uint8Array<ArrayBuffer>[],
  publishers: number,
): Promise<PublishRate> {
  let next = 0;
  const url = new URL("api/v1/crates/new", originUrl);
  const publisher = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await fetch(url, {
        method: "PUT",
        headers: { authorization: token },
        body,
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`publish: ${res.status} ${text}`);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: publishers }, publisher));
  const ms = performance.now() - t0;
  const total = bodies.reduce((n, b) => n + b.length, 0);
  return {
    publishes: bodies.length,
    concurrency: publishers,
    ms,
    perSecond: (bodies.length * 1000) / ms,
    meanCrateBytes: Math.round(total / bodies.length),
  };
}

const work = await makeWorkDir("cargo-");
const procs: Proc[] = [];
let stopStatic: (() => Promise<void>) | undefined;
try {
  const loadBefore = loadavg();
  const crates = await prepareCrateCorpus(join(work, "corpus"));
  console.log(`corpus: ${crates.length} crates`);

  const origin = await startOrigin(work);
  procs.push(origin.proc);
  const token = await signUp(origin.url, "bench", "the bench's long password");
  const publishHome = await makeCargoHome(join(work, "publish-home"), {
    sparseIndex: sparseUrl(origin.url),
    token,
  });
  const tPublish = performance.now();
  // From outside the crate: rustup obeys toolchain files in the working directory.
  for (const crate of crates)
    await runCargo(
      [
        ...["publish", "--registry", "cairn", "--no-verify", "--allow-dirty"],
        ...["--manifest-path", join(crate.dir, "Cargo.toml")],
      ],
      { cwd: work, cargoHome: publishHome, targetDir: join(work, "publish-target") },
    );
  const cargoPublish = { crates: crates.length, ms: performance.now() - tPublish };
  console.log(`cargo publish of the corpus: ${seconds(cargoPublish.ms)}`);

  const staticDir = join(work, "static");
  const crateSizes = await copyToStatic(
    origin.url,
    crates.map((c) => c.name),
    staticDir,
  );
  const statik = await serveStatic(staticDir);
  stopStatic = statik.close;
  await writeFile(
    join(staticDir, "index", "config.json"),
    JSON.stringify({ dl: `${statik.url}{crate}-{version}.crate` }),
  );
  const mirror = await startMirror(work, origin.url, origin.key);
  procs.push(mirror.proc);

  const warm = await startProxy(work, "proxy-warm", origin.url, origin.key);
  procs.push(warm.proc);
  console.log(`proxy mirrors: ${warm.mirrors}`);
  await lockAndFetch(sparseUrl(warm.url), join(work, "warm-up"));

  const runs: Record<Side, CargoRun[]> = { static: [], origin: [], proxy: [], warm: [] };
  const locks = new Set<string>();
  let proxyPeakRss = 0;
  for (let round = 0; round < rounds; round++) {
    const order = SIDES.map((_, i) => SIDES[(i + round) % SIDES.length]);
    for (const side of order) {
      const dir = join(work, `round-${round}-${side}`);
      let index = `${statik.url}index/`;
      let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
      if (side === "origin") index = sparseUrl(origin.url);
      if (side === "warm") index = sparseUrl(warm.url);
      if (side === "proxy") {
        proxy = await startProxy(work, `proxy-${round}`, origin.url, origin.key);
        procs.push(proxy.proc);
        index = sparseUrl(proxy.url);
      }
      const run = await lockAndFetch(index, dir);
      if (proxy) {
        proxyPeakRss = Math.max(proxyPeakRss, await peakRssOf(proxy.proc.child.pid));
        await stopProcess(proxy.proc);
      }
      runs[side].push(run);
      locks.add(run.locked);
      console.log(
        `round ${round + 1} ${side}: lock ${seconds(run.lockMs)}, fetch ${seconds(run.fetchMs)}`,
      );
    }
  }
  if (locks.size !== 1) throw new Error("the servers locked different crates or checksums");
  const locked = [...locks][0].split("\n").length;

  const medians = Object.fromEntries(
    SIDES.map((side) => [
      side,
      {
        lockMs: median(runs[side].map((r) => r.lockMs)),
        fetchMs: median(runs[side].map((r) => r.fetchMs)),
        totalMs: median(runs[side].map((r) => r.lockMs + r.fetchMs)),
      },
    ]),
  ) as Record<Side, Median>;
  const ratio = (side: Side) => medians[side].totalMs / medians.static.totalMs;
  const ratios = { origin: ratio("origin"), proxy: ratio("proxy"), warm: ratio("warm") };

  const sequential = await publishAll(
    origin.url,
    token,
    publishBodies("bench-seq", Math.max(1, Math.round(publishes / 2)), crateSizes),
    1,
  );
  const concurrent = await publishAll(
    origin.url,
    token,
    publishBodies("bench-con", publishes, crateSizes),
    concurrency,
  );
  const tiny = await publishAll(
    origin.url,
    token,
    publishBodies("bench-tiny", Math.max(1, Math.round(publishes / 2)), [TINY_CRATE_BYTES]),
    1,
  );
  const result: CargoBenchResult = {
    crates: locked,
    rounds,
    medians,
    ratios,
    target: TARGET_RATIO,
    met: ratios.proxy <= TARGET_RATIO,
    cargoPublish,
    sequential,
    concurrent,
    tiny,
    loadBefore,
    loadAfter: loadavg(),
    peakRss: {
      origin: await peakRssOf(origin.proc.child.pid),
      mirror: await peakRssOf(mirror.proc.child.pid),
      proxy: proxyPeakRss,
      warm: await peakRssOf(warm.proc.child.pid),
    },
  };

  const ms = (m: Median) => `${seconds(m.lockMs)} + ${seconds(m.fetchMs)} = ${seconds(m.totalMs)}`;
  const rate = (r: PublishRate) =>
    `${count(r.perSecond)}/s (${count(r.publishes)} in ${seconds(r.ms)}, ${count(r.meanCrateBytes)} B each)`;
  const load = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(" ");
  console.log(`\n${locked} crates locked and fetched, ${rounds} rounds, medians`);
  printTable([
    ["what", "lock + fetch", "vs static"],
    ["static sparse registry", ms(medians.static), "1.00x"],
    ["cairn serve (origin)", ms(medians.origin), `${ratios.origin.toFixed(2)}x`],
    [
      "cairn proxy -> mirror, cold",
      ms(medians.proxy),
      `${ratios.proxy.toFixed(2)}x (target <= ${TARGET_RATIO.toFixed(2)}x: ${result.met ? "met" : "MISSED"})`,
    ],
    ["cairn proxy -> mirror, warm", ms(medians.warm), `${ratios.warm.toFixed(2)}x`],
    ["cargo publish of the corpus", `${seconds(cargoPublish.ms)} for ${cargoPublish.crates}`, ""],
    ["PUT /api/v1/crates/new, 1 publisher", rate(sequential), ""],
    [`PUT /api/v1/crates/new, ${concurrency} publishers`, rate(concurrent), ""],
    ["PUT /api/v1/crates/new, 1 publisher, ~1 KB crates", rate(tiny), ""],
  ]);
  console.log(`load average before ${load(loadBefore)}, after ${load(result.loadAfter)}`);
  if (values.json) emitResult(result);
} finally {
  for (const proc of procs.reverse()) await stopProcess(proc);
  await stopStatic?.();
  if (values.keep) console.log(`kept ${resolve(work)}`);
  else await removeDir(work);
}
