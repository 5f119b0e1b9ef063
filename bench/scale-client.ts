/**
 * Scale, the client's side: a new client and a following one against the
 * npm-sized registry `scale.ts --keep` left behind.
 *
 *   node bench/scale-client.ts [--dir bench/.work/scale-XXXX] [--json]
 *
 * The kept tree is served over HTTP the way the origin serves it
 * (readTreeFile: gzip for bundles and JSON blobs), first under the
 * checkpoint from before the 1,000 incremental publishes, then under the
 * real one. Against it, the real `cairn` CLI:
 * 1. bootstrap: `cairn sync` into an empty index (the SQLite snapshot, then
 *    the entries after it), then `cairn resolve` of the corpus app: bytes
 *    on the wire and seconds until the answer;
 * 2. the incremental sync after the 1,000 publishes: bytes and seconds;
 * 3. warm `resolve` of the corpus app against the index, in process.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { readTreeFile } from "../src/store/static-tree.ts";
import { count, emitResult, mib, printTable, seconds, WORK_DIR } from "./common.ts";
import { outputTail, peakRssOf, profileFlags, REPO_DIR, startProcess } from "./processes.ts";
import { APP_PACKAGE_JSON, measureWarmResolve } from "./warm-resolve.ts";

const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    profile: { type: "string" },
    json: { type: "boolean", default: false },
    "keep-index": { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "usage: node bench/scale-client.ts [--dir <scale.ts --keep work dir>] [--profile <dir>] [--keep-index] [--json]\n" +
      "  --profile: CPU profiles of every cairn command into <dir>\n" +
      "  --keep-index: leave the client's home (its index) in bench/.work for bench/warm-resolve.ts",
  );
  process.exit(0);
}

interface Kept {
  readonly dataDir: string;
  readonly verifierKey: string;
  readonly sizeBeforeIncremental: number;
  readonly checkpointBeforeIncremental: string;
  readonly size: number;
  readonly result: { readonly incremental: { readonly publishes: number } };
}

/** The newest kept scale registry, unless --dir names one. */
function keptDir(): string {
  if (values.dir) return values.dir;
  const kept = readdirSync(WORK_DIR)
    .filter(
      (d) =>
        d.startsWith("scale-") &&
        statSync(join(WORK_DIR, d, "scale.json"), { throwIfNoEntry: false }),
    )
    .map((d) => join(WORK_DIR, d))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (kept.length === 0) throw new Error("no kept registry: run node bench/scale.ts --keep first");
  return kept[0];
}

const dir = keptDir();
const kept = JSON.parse(readFileSync(join(dir, "scale.json"), "utf8")) as Kept;
const treeDir = join(dir, kept.dataDir, "tree");

// The tree over HTTP, with the checkpoint of the phase, counting what goes on the wire.
let checkpoint = readFileSync(join(dir, kept.checkpointBeforeIncremental));
const wire = { bytes: 0, requests: 0 };
const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://x").pathname.replace(/^\/-\/cairn\//, "");
  const answer = async () => {
    if (path === "checkpoint") return { status: 200, headers: {}, body: checkpoint };
    return readTreeFile(treeDir, path, { acceptEncoding: req.headers["accept-encoding"] });
  };
  answer().then(
    (file) => {
      wire.requests++;
      if (file.body instanceof Readable) {
        res.writeHead(file.status, file.headers);
        file.body.on("data", (chunk: Buffer) => {
          wire.bytes += chunk.length;
        });
        file.body.pipe(res);
        return;
      }
      const body = typeof file.body === "string" ? Buffer.from(file.body) : file.body;
      wire.bytes += body.length;
      res.writeHead(file.status, { ...file.headers, "content-length": body.length }).end(body);
    },
    () => res.writeHead(500).end(),
  );
});
await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
const { port } = server.address() as { port: number };
const origin = `http://127.0.0.1:${port}/`;

const home = await mkdtemp(join(WORK_DIR, "scale-client-"));
const index = join(home, "index.sqlite");
const env = { ...process.env, CAIRN_HOME: home };
const node = process.execPath;
const cli = join(REPO_DIR, "bin", "cairn.ts");

/** Runs `cairn ...args`: wall time, peak RSS, and the server's bytes and requests during it. */
async function timed(name: string, args: string[]) {
  const before = { ...wire };
  const started = performance.now();
  const proc = startProcess(name, node, [...profileFlags(values.profile), cli, ...args], {
    env,
    logFile: join(home, `${name}.log`),
  });
  let rss = 0;
  const sampler = setInterval(async () => {
    const peak = await peakRssOf(proc.child.pid);
    if (Number.isFinite(peak)) rss = Math.max(rss, peak);
  }, 200);
  const code = await proc.exited;
  clearInterval(sampler);
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`cairn ${args[0]} failed (${code}):\n${outputTail(proc)}`);
  return {
    ms,
    peakRss: rss,
    bytes: wire.bytes - before.bytes,
    requests: wire.requests - before.requests,
    stdout: proc.out.stdout,
  };
}

try {
  console.log(`scale client: the registry in ${dir}, served at ${origin}`);
  // 1. A new client: bootstrap, then the first answer.
  const bootstrap = await timed("bootstrap", [
    "sync",
    "--origin",
    origin,
    "--key",
    kept.verifierKey,
    "--index",
    index,
  ]);
  console.log(
    `bootstrap: ${mib(bootstrap.bytes)} in ${seconds(bootstrap.ms)}\n${bootstrap.stdout.trim()}`,
  );
  const firstResolve = await timed("resolve", [
    "resolve",
    "--package-json",
    APP_PACKAGE_JSON,
    "--index",
    index,
    "--json",
  ]);
  const nodes = Object.keys(JSON.parse(firstResolve.stdout).nodes).length;
  console.log(`cairn resolve: ${count(nodes)} packages in ${seconds(firstResolve.ms)}`);

  // 2. The 1,000 publishes: the origin's checkpoint moves on.
  checkpoint = readFileSync(join(treeDir, "checkpoint"));
  const incremental = await timed("incremental", ["sync", "--index", index]);
  console.log(`incremental: ${mib(incremental.bytes)} in ${seconds(incremental.ms)}`);

  // 3. Warm resolve in process, as a long-lived client (or the proxy) would run it.
  const warmResolve = measureWarmResolve(index);
  const result = {
    kind: "scale-client",
    size: kept.size,
    sizeBeforeIncremental: kept.sizeBeforeIncremental,
    bootstrap: { ...bootstrap, stdout: undefined },
    indexBytes: statSync(index).size,
    firstResolve: { ms: firstResolve.ms, nodes },
    untilResolveMs: bootstrap.ms + firstResolve.ms,
    incremental: {
      ...incremental,
      stdout: undefined,
      publishes: kept.result.incremental.publishes,
      entries: kept.size - kept.sizeBeforeIncremental,
    },
    warmResolve,
  };
  console.log();
  printTable([
    ["new and following client", "bytes on the wire", "requests", "seconds", "peak RSS"],
    [
      "bootstrap (cairn sync, empty index)",
      mib(bootstrap.bytes),
      count(bootstrap.requests),
      seconds(bootstrap.ms),
      mib(bootstrap.peakRss),
    ],
    [
      "first cairn resolve (corpus app)",
      "0",
      "0",
      seconds(firstResolve.ms),
      mib(firstResolve.peakRss),
    ],
    [
      `incremental sync (${count(result.incremental.publishes)} publishes, ${count(result.incremental.entries)} entries)`,
      `${(incremental.bytes / 1024).toFixed(1)} KiB`,
      count(incremental.requests),
      seconds(incremental.ms),
      mib(incremental.peakRss),
    ],
    [
      `warm resolve, in process (${count(warmResolve.nodes)} packages)`,
      "",
      "",
      `${result.warmResolve.p50.toFixed(1)} ms p50`,
      "",
    ],
  ]);
  console.log(
    `\nindex on disk: ${mib(result.indexBytes)}; until the first answer: ${seconds(result.untilResolveMs)}`,
  );
  if (values.json) emitResult(result);
} finally {
  server.close();
  if (values["keep-index"]) console.log(`kept the client's index: ${index}`);
  else await rm(home, { recursive: true, force: true });
}
