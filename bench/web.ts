/**
 * The web interface's speed: server time of a search and of a package page.
 *
 * (a) On the npm-sized synthetic registry of scale.ts (227k packages): the
 * publish, deprecate and dist-tag entries are folded straight into a
 * RegistryState (no log, no signatures: only the derived state the pages
 * read), the web interface is mounted on a Fastify app over it, and
 * requests go one at a time. Server time is Fastify's reply.elapsedTime,
 * taken in an onResponse hook: from the request's arrival to the last byte
 * handed to the socket, compression included. Manifests are synthesized
 * (the synthetic entries' hashes are fake), so a package page renders a
 * readme of a realistic size.
 *
 * (b) With --verdaccio: on the corpus registry, Verdaccio 6's web UI data
 * endpoints against Cairn's search and package page, side by side in one
 * run (bench/web-verdaccio.ts).
 *
 *   node bench/web.ts                       # 227k packages (builds the state: minutes)
 *   node bench/web.ts --packages 20000      # a seeded sample
 *   node bench/web.ts --keep                # keep the state in bench/.work/web-XXXXXX/state.db
 *   node bench/web.ts --state bench/.work/web-XXXXXX/state.db   # reuse it
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Fastify from "fastify";
import { ECOSYSTEMS } from "../src/ecosystems/index.ts";
import { mountWeb } from "../src/npm/web-source.ts";
import { BlobError } from "../src/registry/blob-check.ts";
import { stateReads } from "../src/registry/package-reader.ts";
import { RegistryState } from "../src/registry/state.ts";
import { StateBatch } from "../src/registry/state-batch.ts";
import { paths } from "../src/web/paths.ts";
import {
  benchKeys,
  count,
  emitResult,
  makeWorkDir,
  percentile,
  positiveInt,
  printTable,
  prng,
  removeDir,
  seconds,
} from "./common.ts";
import {
  readCorpusReleases,
  readNpmPackages,
  SyntheticRegistry,
  samplePackages,
} from "./synthetic-registry.ts";

/** From the issue: server time of a package page and of a search. */
export const TARGET_P50_MS = 20;
export const TARGET_P99_MS = 50;

export interface Timing {
  readonly what: string;
  readonly requests: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Responses that were not 200. */
  readonly failed: number;
}

export interface WebBenchResult {
  readonly bench: "web";
  readonly packages: number;
  readonly buildMs: number;
  readonly timings: readonly Timing[];
}

const { values } = parseArgs({
  options: {
    packages: { type: "string" },
    seed: { type: "string" },
    queries: { type: "string" },
    pages: { type: "string" },
    state: { type: "string" },
    keep: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "usage: node bench/web.ts [--packages N=all] [--seed S=1] [--queries N=2000] [--pages N=500]\n" +
      "                         [--state path/to/state.db] [--keep] [--json]",
  );
  process.exit(0);
}

const seed = positiveInt("seed", values.seed, 1);
const queryCount = positiveInt("queries", values.queries, 2000);
const pageCount = positiveInt("pages", values.pages, 500);
const all = await readNpmPackages();
const packages = samplePackages(all, positiveInt("packages", values.packages, all.length), seed);
const synthetic = new SyntheticRegistry(packages, seed, await readCorpusReleases());

/** Folds the synthetic registry's entries into a state, in windows of one transaction each. */
function buildState(path: string): void {
  const state = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
  let batch = new StateBatch(state, 0);
  let inBatch = 0;
  let deferred: Parameters<StateBatch["add"]>[0][] = [];
  const flush = () => {
    batch.commit();
    const size = batch.size;
    batch = new StateBatch(state, size);
    inBatch = 0;
    const ready = deferred;
    deferred = [];
    for (const entry of ready) batch.add(entry);
    inBatch += ready.length;
  };
  const order = synthetic.order();
  let done = 0;
  for (const index of order) {
    const { publishes, changes } = synthetic.history(index);
    for (const entry of publishes) batch.add(entry);
    inBatch += publishes.length;
    deferred.push(...changes);
    if (inBatch >= 8192) flush();
    if (++done % 20000 === 0) console.log(`  ${count(done)} packages folded in`);
  }
  flush();
  batch.commit();
  state.close();
}

const work = values.state ? undefined : await makeWorkDir("web");
const statePath = values.state ?? join(work as string, "state.db");
let buildMs = 0;
if (!values.state || !existsSync(statePath)) {
  console.log(`web: folding ${count(packages.length)} synthetic packages into ${statePath}`);
  const t = performance.now();
  buildState(statePath);
  buildMs = performance.now() - t;
  console.log(`web: state built in ${seconds(buildMs)}`);
}

const state = RegistryState.open(statePath, { readOnly: true, ecosystems: ECOSYSTEMS });
const names = state.table("npm").packageNames();
const byVersions = (
  state.db
    .prepare("SELECT name, count(*) AS n FROM versions GROUP BY name ORDER BY n DESC LIMIT 100")
    .all() as { name: string; n: number }[]
).map((r) => r.name);

const app = Fastify({ logger: false });
const elapsed: number[] = [];
const statuses: number[] = [];
app.addHook("onResponse", async (_req, reply) => {
  elapsed.push(reply.elapsedTime);
  statuses.push(reply.statusCode);
});
const encoder = new TextEncoder();
mountWeb(app, {
  role: "origin",
  packages: {
    ...stateReads(state),
    // The synthetic entries name fake hashes: a manifest of a usual size stands in.
    manifest: async (entry) =>
      encoder.encode(
        JSON.stringify({
          name: entry.name,
          version: entry.version,
          description: `The ${entry.name} package.`,
          readme: `# ${entry.name}\n\n${"Some words about what it does, with `code` and [a link](https://example.com).\n\n".repeat(40)}`,
          license: "MIT",
        }),
      ),
    tarball: async (entry) => {
      throw new BlobError("missing", `${entry.name}@${entry.version}: no tarballs in this bench`);
    },
  },
  state: () => state,
  blob: async () => {
    throw new BlobError("missing", "no blobs in this bench");
  },
  log: {
    name: "none",
    read: async () => {
      throw new BlobError("missing", "no log in this bench");
    },
  },
  verifier: benchKeys().verifier,
});
await app.listen({ host: "127.0.0.1", port: 0 });
const address = app.server.address();
if (!address || typeof address === "string") throw new Error("no port");
const base = `http://127.0.0.1:${address.port}`;

/** Requests one at a time; the server's own time for each. */
async function timeRequests(what: string, urls: readonly string[]): Promise<Timing> {
  elapsed.length = 0;
  statuses.length = 0;
  for (const url of urls) {
    const res = await fetch(base + url, {
      headers: { accept: "text/html", "accept-encoding": "br, gzip" },
    });
    await res.arrayBuffer();
  }
  const sorted = [...elapsed].sort((a, b) => a - b);
  return {
    what,
    requests: urls.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? 0,
    failed: statuses.filter((s) => s !== 200).length,
  };
}

const WORDS = [
  "parser",
  "plugin",
  "react",
  "webpack",
  "eslint",
  "loader",
  "cli",
  "test",
  "http",
  "css",
];

/** A typing session's queries: every prefix of real names, whole names, and description words. */
function queryMix(n: number): {
  prefixes: string[];
  short: string[];
  whole: string[];
  words: string[];
} {
  const random = prng(seed ^ 0x5ea7c4);
  const pickName = () => names[Math.floor(random() * names.length)];
  const prefixes: string[] = [];
  const short: string[] = [];
  while (prefixes.length < n) {
    const name = pickName();
    for (let i = 1; i <= Math.min(name.length, 12) && prefixes.length < n; i++) {
      const prefix = name.slice(0, i);
      prefixes.push(prefix);
      if (i <= 2) short.push(prefix);
    }
  }
  const whole = Array.from({ length: Math.ceil(n / 4) }, pickName);
  const words = Array.from(
    { length: Math.ceil(n / 4) },
    () => WORDS[Math.floor(random() * WORDS.length)],
  );
  return { prefixes, short, whole, words };
}

try {
  const mix = queryMix(queryCount);
  const random = prng(seed ^ 0x9a6e);
  const randomPages = Array.from({ length: pageCount }, () =>
    paths.package(names[Math.floor(random() * names.length)]),
  );
  const search = (q: string) => paths.search(q);
  const suggest = (q: string) => `${paths.searchJson()}?q=${encodeURIComponent(q)}`;
  // Warm the statement caches and the page cache of the file.
  await timeRequests("warm-up", mix.whole.slice(0, 50).map(search));
  const timings = [
    await timeRequests("search page: prefixes of names as typed", mix.prefixes.map(search)),
    await timeRequests("search page: 1- and 2-letter prefixes", mix.short.map(search)),
    await timeRequests("search page: whole names", mix.whole.map(search)),
    await timeRequests("search page: description words", mix.words.map(search)),
    await timeRequests("suggestions (search.json): prefixes as typed", mix.prefixes.map(suggest)),
    await timeRequests("package page: random packages", randomPages),
    await timeRequests("package page: the 100 most-versioned", byVersions.map(paths.package)),
  ];
  const rows = [
    ["server time (ms)", "requests", "p50", "p99", "max", "not 200", "target"],
    ...timings.map((t) => [
      t.what,
      count(t.requests),
      t.p50.toFixed(2),
      t.p99.toFixed(2),
      t.max.toFixed(1),
      String(t.failed),
      t.p50 <= TARGET_P50_MS && t.p99 <= TARGET_P99_MS ? "met" : "MISSED",
    ]),
  ];
  console.log(`web: ${count(names.length)} packages`);
  printTable(rows);
  const result: WebBenchResult = { bench: "web", packages: names.length, buildMs, timings };
  if (values.json) console.log(JSON.stringify(result, null, 2));
  emitResult(result);
} finally {
  await app.close();
  state.close();
  if (work && !values.keep) await removeDir(work);
  else console.log(`web: state kept at ${statePath}`);
}
