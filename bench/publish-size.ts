/**
 * Large and hostile publishes: real `npm publish` of packages of
 * incompressible content (30 MB and 100 MB by default), and a gzip bomb
 * (480 MiB of zeros in about 500 KB) sent while another client reads the
 * checkpoint. Prints the publish times (npm's, and one PUT of a prebuilt
 * body of the same size: the origin's share), the origin's event-loop delay
 * during the bomb, and the checkpoint latency a reader sees meanwhile.
 *
 *   node bench/publish-size.ts [--sizes 30,100] [--bomb-mib 480] [--json]
 *
 * The origin runs in this process (the server `cairn serve` runs, durable),
 * so its event loop can be watched; npm runs as a child process. The bomb
 * is sent twice: under the default caps (refused by its compression ratio)
 * and under caps raised so that it is inflated to 400 MiB before a 413.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { startOrigin } from "../src/npm/origin-server.ts";
import { DEFAULT_CONFIG, type OriginConfig } from "../src/origin/config.ts";
import { runNpm, writeNpmrc } from "../test/helpers/npm-client.ts";
import { publishBody } from "../test/helpers/publish-body.ts";
import { putJson, signUp } from "../test/helpers/registry-client.ts";
import { gzipBomb, packageJson, rawTgz } from "../test/helpers/tar.ts";
import { emitResult, makeWorkDir, percentile, printTable, removeDir, seconds } from "./common.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "30,100" },
    "bomb-mib": { type: "string", default: "480" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log("node bench/publish-size.ts [--sizes 30,100] [--bomb-mib 480] [--json]");
  process.exit(0);
}
const sizes = values.sizes
  .split(",")
  .filter((s) => s !== "")
  .map(Number);
const bombMib = Number(values["bomb-mib"]);

async function origin(dir: string, extra: Partial<OriginConfig> = {}) {
  const running = await startOrigin({
    ...DEFAULT_CONFIG,
    data: dir,
    port: 0,
    databaseInterval: 0,
    ...extra,
  });
  const token = await signUp(running.url, "alice", "pw-alice-bench");
  return { running, token };
}

async function npmPublish(work: string, url: string, token: string, megabytes: number) {
  const pkg = join(work, `pkg-${megabytes}`);
  const name = `big-${megabytes}`;
  await mkdir(pkg);
  await writeFile(join(pkg, "package.json"), JSON.stringify({ name, version: "1.0.0" }));
  await writeFile(join(pkg, "blob.bin"), randomBytes(megabytes * 1_000_000));
  const npmrc = await writeNpmrc(pkg, url, token);
  // npm runs in its own process: this one's event loop is the origin's alone.
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const start = performance.now();
  const result = await runNpm(["publish"], pkg, npmrc, join(work, "npm-cache"));
  const ms = performance.now() - start;
  delay.disable();
  if (result.code !== 0) throw new Error(`npm publish of ${megabytes} MB failed: ${result.stderr}`);
  return { ms, loopDelayMaxMs: delay.max / 1e6 };
}

/** The same size sent as one prebuilt publish body: the origin's own share of the time. */
async function directPublish(url: string, token: string, megabytes: number) {
  const name = `direct-${megabytes}`;
  const tgz = rawTgz([
    packageJson(name, "1.0.0"),
    { name: "package/blob.bin", data: randomBytes(megabytes * 1_000_000) },
  ]);
  const body = JSON.stringify(publishBody({ name, version: "1.0.0" }, tgz));
  const start = performance.now();
  const res = await putJson(url, `/${name}`, token, body);
  const ms = performance.now() - start;
  if (res.status !== 201)
    throw new Error(`publish of ${megabytes} MB: ${res.status} ${await res.text()}`);
  return ms;
}

/**
 * Reads the checkpoint in a loop until `send` settles (or `quietReads` reads
 * when there is nothing to send, for the baseline); watches this process's
 * event loop meanwhile.
 */
async function readCheckpointsDuring(url: string, send?: () => Promise<number>, quietReads = 300) {
  // The first fetch loads the HTTP client: not the origin's cost.
  await (await fetch(new URL("-/cairn/checkpoint", url))).arrayBuffer();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const latencies: number[] = [];
  let answered = false;
  delay.enable();
  const start = performance.now();
  const sent = (send ?? (async () => 0))().then((status) => {
    answered = true;
    return status;
  });
  while (send ? !answered : latencies.length < quietReads) {
    const t = performance.now();
    await (await fetch(new URL("-/cairn/checkpoint", url))).arrayBuffer();
    latencies.push(performance.now() - t);
  }
  const status = await sent;
  const ms = performance.now() - start;
  delay.disable();
  latencies.sort((a, b) => a - b);
  return {
    status,
    ms,
    loopDelayMaxMs: delay.max / 1e6,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    checkpointReads: latencies.length,
    checkpointP99Ms: percentile(latencies, 99),
    checkpointMaxMs: latencies.at(-1) ?? Number.NaN,
  };
}

/** Sends the bomb while reading the checkpoint. */
function bomb(url: string, token: string) {
  const tgz = gzipBomb("bomb", "1.0.0", bombMib);
  const body = JSON.stringify(publishBody({ name: "bomb", version: "1.0.0" }, tgz));
  return readCheckpointsDuring(url, async () => {
    const res = await putJson(url, "/bomb", token, body);
    await res.arrayBuffer();
    return res.status;
  });
}

const work = await makeWorkDir("publish-size");
try {
  const plain = await origin(join(work, "origin"));
  const publishes: {
    megabytes: number;
    npmMs: number;
    loopDelayMaxMs: number;
    originMs: number;
  }[] = [];
  for (const megabytes of sizes) {
    const { url } = plain.running;
    const npm = await npmPublish(work, url, plain.token, megabytes);
    publishes.push({
      megabytes,
      npmMs: npm.ms,
      loopDelayMaxMs: npm.loopDelayMaxMs,
      originMs: await directPublish(url, plain.token, megabytes),
    });
  }
  const quiet = await readCheckpointsDuring(plain.running.url);
  const refused = await bomb(plain.running.url, plain.token);
  await plain.running.close();
  const raised = await origin(join(work, "raised"), {
    maxCompressionRatio: 100_000,
    maxUnpackedBytes: 400 * 1024 * 1024,
  });
  const inflated = await bomb(raised.running.url, raised.token);
  await raised.running.close();

  const result = { kind: "publish-size", publishes, bombMib, quiet, refused, inflated };
  if (values.json) emitResult(result);
  printTable([
    ["publish", "npm publish", "origin loop delay max", "one PUT of the same size"],
    ...publishes.map((p) => [
      `${p.megabytes} MB incompressible`,
      seconds(p.npmMs),
      `${p.loopDelayMaxMs.toFixed(0)} ms`,
      seconds(p.originMs),
    ]),
  ]);
  console.log();
  printTable([
    ["checkpoint reads", "status", "answered in", "loop delay max", "p99", "reads", "p99", "max"],
    ...[
      ["alone (baseline)", quiet],
      ["during a gzip bomb, default caps", refused],
      ["during a gzip bomb, caps raised to 400 MiB", inflated],
    ].map(([label, b]) => {
      const r = b as typeof refused;
      return [
        label as string,
        String(r.status),
        seconds(r.ms),
        `${r.loopDelayMaxMs.toFixed(0)} ms`,
        `${r.loopDelayP99Ms.toFixed(0)} ms`,
        String(r.checkpointReads),
        `${r.checkpointP99Ms.toFixed(1)} ms`,
        `${r.checkpointMaxMs.toFixed(1)} ms`,
      ];
    }),
  ]);
} finally {
  await removeDir(work);
}
