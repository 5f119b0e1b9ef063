/**
 * Web interfaces side by side on the corpus registry, in one run: Verdaccio
 * 6's web UI against Cairn's pages, both servers set up as
 * registry-vs-verdaccio.ts sets them up (Verdaccio seeded over HTTP, Cairn
 * by `cairn import`).
 *
 * What each UI asks its server for:
 *   search        Verdaccio: GET /-/verdaccio/data/search/<text> (JSON its UI renders)
 *                 Cairn:     GET /-/web/search?q=<text>          (the whole page, HTML)
 *   package page  Verdaccio: GET /-/verdaccio/data/sidebar/<name> and
 *                            GET /-/verdaccio/data/package/readme/<name> (its UI's two calls)
 *                 Cairn:     GET /-/web/package/<name>           (the whole page, HTML)
 * Times are round trips on loopback, one request at a time over a kept-alive
 * connection, the same client for both; Cairn's own server time
 * (its Server-Timing header) is shown beside them.
 *
 *   node bench/web-verdaccio.ts [--rounds N=2] [--keep]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { paths } from "../src/web/paths.ts";
import {
  count,
  emitResult,
  makeWorkDir,
  percentile,
  positiveInt,
  printTable,
  removeDir,
  seconds,
} from "./common.ts";
import { REPO_DIR, stopProcess } from "./processes.ts";
import { PHASES, QUICK, type RunOptions, type Server, setUp } from "./registry-vs-verdaccio.ts";
import { ensureTools } from "./verdaccio.ts";

export interface WebSideBySide {
  readonly what: string;
  readonly requests: number;
  readonly verdaccioP50: number;
  readonly verdaccioP99: number;
  readonly cairnP50: number;
  readonly cairnP99: number;
  readonly cairnServerP50: number;
  readonly cairnServerP99: number;
  readonly failed: number;
}

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: node bench/web-verdaccio.ts [--rounds N=2] [--keep]");
  process.exit(0);
}
const rounds = positiveInt("rounds", values.rounds, 2);

interface Sample {
  readonly ms: number;
  readonly serverMs?: number;
  readonly ok: boolean;
}

/** GETs the URLs in turn; the round trip of all of them, and the server time they report. */
async function timed(urls: readonly string[], accept: string): Promise<Sample> {
  let serverMs: number | undefined;
  let ok = true;
  const t = performance.now();
  for (const url of urls) {
    const get = () => fetch(url, { headers: { accept, "accept-encoding": "br, gzip" } });
    // A kept-alive connection the server closed as the request went out: once more, on a new one.
    const res = await get().catch(get);
    await res.arrayBuffer();
    ok &&= res.status === 200;
    const timing = /dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "");
    if (timing) serverMs = (serverMs ?? 0) + Number(timing[1]);
  }
  return { ms: performance.now() - t, serverMs, ok };
}

const p = (xs: number[], q: number) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    q,
  );

const started = performance.now();
const verdaccioVersion = await ensureTools();
const dir = await makeWorkDir("web-verdaccio");
const servers: Server[] = [];
const options: RunOptions = {
  settings: QUICK,
  phases: new Set(PHASES),
  installs: 0,
  verdaccioJwt: false,
  cpuProfDir: undefined,
  cairnCli: join(REPO_DIR, "bin", "cairn.ts"),
  cairnDurable: false,
};
try {
  await setUp(dir, servers, options);
  const [verdaccio, cairn] = servers;
  const base = (s: Server) => s.url.replace(/\/$/, "");
  // The corpus's names, as Verdaccio's UI lists them (both servers hold the same packages).
  const all = (await (await fetch(`${base(verdaccio)}/-/verdaccio/data/packages`)).json()) as {
    name: string;
  }[];
  const listed = all.map((x) => x.name).filter((n) => n !== "bench-read");
  if (listed.length === 0) throw new Error("verdaccio lists no packages");
  // Verdaccio 6.8's sidebar dies (an uncaught TypeError ends the process) on a latest
  // version whose contributors or maintainers are strings: those packages are left out.
  const names: string[] = [];
  for (const name of listed) {
    const doc = (await (
      await fetch(`${base(cairn)}/${name.replace("/", "%2f")}`, {
        headers: { accept: "application/json" },
      })
    ).json()) as {
      "dist-tags": { latest: string };
      versions: Record<string, Record<string, unknown>>;
    };
    const latest = doc.versions[doc["dist-tags"].latest] ?? {};
    const people = [latest.contributors, latest.maintainers].flatMap((x) =>
      Array.isArray(x) ? x : [],
    );
    if (people.every((p) => typeof p === "object")) names.push(name);
  }
  console.log(
    `${count(names.length)} of ${count(listed.length)} packages (the rest would crash Verdaccio's sidebar)`,
  );
  const queries = names.flatMap((n) => [n.slice(0, 1), n.slice(0, 3), n]);
  const enc = encodeURIComponent;
  const scoped = (n: string) => (n.startsWith("@") ? n : enc(n));
  const cases = [
    {
      what: "search",
      items: queries,
      verdaccio: (q: string) => [`${base(verdaccio)}/-/verdaccio/data/search/${enc(q)}`],
      cairn: (q: string) => [`${base(cairn)}${paths.search(q)}`],
    },
    {
      what: "package page",
      items: names,
      verdaccio: (n: string) => [
        `${base(verdaccio)}/-/verdaccio/data/sidebar/${scoped(n)}`,
        `${base(verdaccio)}/-/verdaccio/data/package/readme/${scoped(n)}`,
      ],
      cairn: (n: string) => [`${base(cairn)}${paths.package(n)}`],
    },
  ];
  const results: WebSideBySide[] = [];
  for (const c of cases) {
    const v: Sample[] = [];
    const k: Sample[] = [];
    // A warm-up round each, then the rounds measured, interleaved so both see the same machine.
    for (let round = 0; round <= rounds; round++) {
      console.log(`  ${c.what}: ${round === 0 ? "warm-up" : `round ${round} of ${rounds}`}`);
      for (const item of c.items) {
        const a = await timed(c.verdaccio(item), "application/json").catch((err) => {
          throw new Error(`verdaccio: ${c.what} of ${item}`, { cause: err });
        });
        const b = await timed(c.cairn(item), "text/html").catch((err) => {
          throw new Error(`cairn: ${c.what} of ${item}`, { cause: err });
        });
        if (round === 0) continue;
        v.push(a);
        k.push(b);
      }
    }
    const verdaccioMs = v.map((s) => s.ms);
    const cairnMs = k.map((s) => s.ms);
    const serverMs = k.map((s) => s.serverMs ?? Number.NaN);
    results.push({
      what: c.what,
      requests: v.length,
      verdaccioP50: p(verdaccioMs, 50),
      verdaccioP99: p(verdaccioMs, 99),
      cairnP50: p(cairnMs, 50),
      cairnP99: p(cairnMs, 99),
      cairnServerP50: p(serverMs, 50),
      cairnServerP99: p(serverMs, 99),
      failed: [...v, ...k].filter((s) => !s.ok).length,
    });
    console.log(`  ${c.what}: ${JSON.stringify(results.at(-1))}`);
  }
  console.log(
    `\n== web UIs on the corpus registry (${count(names.length)} packages): verdaccio ${verdaccioVersion} vs cairn, ${seconds(performance.now() - started)} ==`,
  );
  printTable([
    [
      "round trip (ms)",
      "requests",
      "verdaccio p50",
      "p99",
      "cairn p50",
      "p99",
      "cairn server p50",
      "p99",
      "not 200",
    ],
    ...results.map((r) => [
      r.what,
      count(r.requests),
      r.verdaccioP50.toFixed(2),
      r.verdaccioP99.toFixed(2),
      r.cairnP50.toFixed(2),
      r.cairnP99.toFixed(2),
      r.cairnServerP50.toFixed(2),
      r.cairnServerP99.toFixed(2),
      String(r.failed),
    ]),
  ]);
  emitResult({
    bench: "web-verdaccio",
    verdaccioVersion,
    packages: names.length,
    left: listed.length - names.length,
    results,
  });
} finally {
  for (const server of servers) await stopProcess(server.process);
  if (values.keep) console.log(`kept ${dir}`);
  else await removeDir(dir);
}
