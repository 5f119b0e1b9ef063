/**
 * Installing the corpus app with npm, pnpm, Yarn 4, bun and `cairn install`,
 * side by side against one local Cairn origin, in the scenarios of pnpm's
 * public benchmark:
 *
 *   clean      no cache or store, no lockfile, no node_modules
 *   lockfile   the lockfile, a cold cache, no node_modules
 *   warm       a warm cache or store and the lockfile, no node_modules
 *   unchanged  cache, lockfile and node_modules all there
 *
 * Each round runs the scenarios in that order for every tool, alternating
 * the tools within a scenario (and rotating who goes first each round), so a
 * busy spell on the machine falls on all of them; figures are medians.
 * Targets: Cairn at least as fast as the fastest other tool in every
 * scenario, and under 100 ms when nothing changed (the whole command).
 *
 *   node bench/install.ts                    # 3 rounds (about 10 minutes here)
 *   node bench/install.ts --rounds 1 --only cairn,pnpm
 *   node bench/install.ts --cpu-prof bench/.work/prof   # a profile of every cairn run
 *   node bench/install.ts --baseline ../old/bin/cairn.cjs # and another checkout as cairn-before, for before and after
 *   node bench/install.ts --scenarios warm,unchanged     # only those (after one untimed install each)
 *   node bench/install.ts --cpu-time                     # also bun's and cairn's CPU time (GNU time)
 *   node bench/install.ts --resolve-rounds 3             # and sparse resolution alone, cairn tools alternating
 *
 * The origin is the corpus taken in with `cairn import`, plus stubs of the
 * other platforms' optional bindings (as the e2e test publishes), served by
 * `cairn serve --no-durable`; every tool reads it through a counting proxy,
 * which gives the bytes each install fetched. npm is the machine's; pnpm and
 * Yarn the project's pinned ones (run as the tests run them); bun comes from
 * its npm package, installed into bench/.work/bun-tools. Cairn runs twice
 * over: from the checkout through its `bin/cairn.cjs` (the package's bin, as
 * `npm link` installs it; TypeScript stripped at load, or taken from the
 * compile cache) and as the built package would (`bin/cairn.cjs` over `dist/`, after
 * `npm run build`, from a copy without sources). Scripts are off for all.
 *
 * Then Cairn's resolution alone: a warm store and no lockfile, through the
 * signed snapshot with a cold metadata cache (sparse), against a full local
 * index made by `cairn sync` (`--index`), against the lockfile (no resolve).
 * Last, what Node itself costs for each scenario's work (node-floors.ts):
 * its bare start, linking the tree Cairn made, inflating and hashing the
 * tarballs; no installer written for Node can be faster than these.
 */
import { cp, mkdir, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { parseArgs } from "node:util";
import { cairn } from "../test/helpers/cli.ts";
import { CORPUS_APP_PACKAGE_JSON, corpusTarballs } from "../test/helpers/corpus.ts";
import { type CountingProxy, startCountingProxy } from "../test/helpers/counting-proxy.ts";
import {
  type ClientResult,
  cleanEnv,
  runNpm,
  runPnpm,
  runYarn,
  writeNpmrc,
  writeYarnrc,
} from "../test/helpers/npm-client.ts";
import { publish, signUp } from "../test/helpers/registry-client.ts";
import {
  diskUsage,
  emitResult,
  makeWorkDir,
  mib,
  positiveInt,
  printTable,
  removeDir,
  WORK_DIR,
} from "./common.ts";
import { startCorpusOrigin } from "./corpus-origin.ts";
import { measureNodeFloors, type NodeFloors } from "./node-floors.ts";
import { profileFlags, REPO_DIR, runToEnd, startProcess, stopProcess, tail } from "./processes.ts";

/** From the issue: no faster tool in any scenario, and a no-op under 100 ms. */
export const TARGET_UNCHANGED_MS = 100;
export const SCENARIOS = ["clean", "lockfile", "warm", "unchanged"] as const;
export type Scenario = (typeof SCENARIOS)[number];
const TOOL_NAMES = ["npm", "pnpm", "yarn", "bun", "cairn-before", "cairn", "cairn-dist"] as const;
type ToolName = (typeof TOOL_NAMES)[number];
const BUN_DIR = join(WORK_DIR, "bun-tools");
/** GNU time, which reports a command's CPU time (its threads' included) on stderr. */
const GNU_TIME = "/usr/bin/time";
const CPU_TIME_FORMAT = ["-f", "cpu-time %U %S"];

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    only: { type: "string" },
    baseline: { type: "string" },
    scenarios: { type: "string" },
    "cpu-time": { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
    "resolve-rounds": { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: node bench/install.ts [--rounds N] [--only npm,pnpm,yarn,bun,cairn,cairn-dist] [--baseline OTHER/bin/cairn.cjs] [--scenarios clean,lockfile,warm,unchanged] [--cpu-time] [--cpu-prof DIR] [--resolve-rounds N] [--json]",
  );
  process.exit(0);
}
const profileDir = values["cpu-prof"];
const rounds = positiveInt("--rounds", values.rounds, 3);
const only =
  values.only?.split(",") ??
  TOOL_NAMES.filter((name) => name !== "cairn-before" || values.baseline !== undefined);
if (only.includes("cairn-before") && !values.baseline)
  throw new Error("cairn-before runs the checkout --baseline names");
for (const name of only)
  if (!TOOL_NAMES.includes(name as ToolName))
    throw new Error(`--only takes ${TOOL_NAMES.join(", ")}, got ${name}`);
const scenarios = (values.scenarios?.split(",") ?? [...SCENARIOS]) as Scenario[];
for (const name of scenarios)
  if (!SCENARIOS.includes(name))
    throw new Error(`--scenarios takes ${SCENARIOS.join(", ")}, got ${name}`);
/** Resolution alone is timed only in a full run. */
const allScenarios = SCENARIOS.every((s) => scenarios.includes(s));

/** One package manager in its own sandbox: a project folder and a cache (or store) folder. */
interface Tool {
  readonly name: ToolName;
  readonly version: string;
  readonly project: string;
  /** Everything the tool keeps between installs outside the project. */
  readonly cache: string;
  readonly lockfile: string;
  /** Files in the project that are install state rather than lockfile (Yarn's install-state). */
  readonly state: readonly string[];
  run(): Promise<ClientResult>;
}

interface Run {
  readonly ms: number;
  /** User and system CPU time of the command and its threads (with --cpu-time; bun and cairn only). */
  readonly cpuMs?: number;
  /** The user part alone: system time here is mostly the file system's (see the caveat above). */
  readonly userMs?: number;
  readonly bytes: number;
  readonly requests: number;
}

export interface InstallBenchResult {
  readonly rounds: number;
  readonly loadBefore: number[];
  readonly loadAfter: number[];
  readonly tools: Record<string, { version: string; runs: Record<Scenario, Run[]> }>;
  readonly medians: Record<string, Record<Scenario, Run>>;
  readonly ratios: Record<string, Record<Scenario, number>>;
  readonly sizes: Record<string, { cacheBytes: number; nodeModulesBytes: number }>;
  readonly tarballBytes: number;
  readonly storeFiles: number;
  readonly resolve: { sparseMs: number; indexMs: number; lockfileMs: number } | undefined;
  /** What Node itself costs for the same work (node-floors.ts), with a Cairn tool in the run. */
  readonly floors: NodeFloors | undefined;
  readonly met: boolean;
}

const work = await makeWorkDir("install");
const loadBefore = loadavg();
console.log(`load average before: ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
const tarballs = await corpusTarballs();

const origin = await startCorpusOrigin(work, tarballs);
const { url: originUrl, key } = origin;
await publishNodeGypStub(originUrl);
const proxy: CountingProxy = await startCountingProxy(originUrl, { keepHost: true });
const registry = proxy.url.endsWith("/") ? proxy.url : `${proxy.url}/`;
console.log(`origin ${originUrl}, read by every tool through the counting proxy ${registry}`);

const distCairn = only.includes("cairn-dist") ? await builtCairn() : undefined;
const tools: Tool[] = [];
for (const name of only as ToolName[]) tools.push(await makeTool(name));
for (const t of tools) console.log(`${t.name}: ${t.version}`);

const runs = new Map<ToolName, Record<Scenario, Run[]>>();
for (const t of tools) runs.set(t.name, { clean: [], lockfile: [], warm: [], unchanged: [] });

try {
  // The other scenarios start from a lockfile (and a store) that a clean install left.
  if (!scenarios.includes("clean"))
    for (const tool of tools) {
      await prepare(tool, "clean");
      await timed(tool);
    }
  for (let round = 0; round < rounds; round++) {
    const order = tools.map((_, i) => tools[(i + round) % tools.length]);
    for (const scenario of scenarios) {
      for (const tool of order) {
        await prepare(tool, scenario);
        const run = await timed(tool);
        runs.get(tool.name)?.[scenario].push(run);
        const cpu =
          run.cpuMs === undefined
            ? ""
            : `  (CPU ${ms(run.cpuMs)}, user ${ms(run.userMs as number)})`;
        console.log(
          `round ${round + 1} ${scenario.padEnd(9)} ${tool.name.padEnd(10)} ${ms(run.ms).padStart(9)}  ${mib(run.bytes)} in ${run.requests} requests${cpu}`,
        );
      }
    }
  }
  const sizes: InstallBenchResult["sizes"] = {};
  for (const t of tools)
    sizes[t.name] = {
      cacheBytes: (await diskUsage(t.cache)).bytes,
      nodeModulesBytes: (await diskUsage(join(t.project, "node_modules"))).bytes,
    };
  const tarballBytes = await folderBytes(tarballs);
  const cairnTool = tools.find((t) => t.name === "cairn");
  const storeFiles = cairnTool ? await countStoreFiles(join(cairnTool.cache, "store")) : 0;
  if (values["resolve-rounds"] !== undefined)
    await sparseRounds(positiveInt("--resolve-rounds", values["resolve-rounds"], 3));
  const resolve = cairnTool && allScenarios ? await resolveTimes(cairnTool) : undefined;
  // Cairn's node_modules, as the last warm install left it, is the tree every tool makes.
  const treeTool = tools.find((t) => t.name.startsWith("cairn"));
  const floors =
    treeTool && (await measureNodeFloors(join(treeTool.project, "node_modules"), work, tarballs));
  report(sizes, tarballBytes, storeFiles, resolve, floors);
} finally {
  await proxy.close();
  await stopProcess(origin.proc);
  await removeDir(work);
}

// ---------------------------------------------------------------------------

/**
 * Yarn adds `node-gyp@latest` to the dependencies of a package that builds
 * with it (here @parcel/watcher), even with scripts off, and the corpus has
 * no node-gyp: an empty stand-in, which only Yarn fetches.
 */
async function publishNodeGypStub(url: string): Promise<void> {
  const token = await signUp(url, "bench-node-gyp", "bench-node-gyp-password");
  const res = await publish(url, token, "node-gyp", "11.0.0");
  if (res.status !== 201) throw new Error(`publishing node-gyp: ${res.status} ${await res.text()}`);
}

async function makeTool(name: ToolName): Promise<Tool> {
  const base = join(work, name);
  const project = join(base, "project");
  const cache = join(base, "cache");
  await mkdir(project, { recursive: true });
  await cp(CORPUS_APP_PACKAGE_JSON, join(project, "package.json"));
  const npmrc = await writeNpmrc(project, registry);
  switch (name) {
    case "npm":
      return {
        name,
        version: `npm ${(await runNpm(["--version"], project, npmrc, cache)).stdout.trim()}`,
        project,
        cache,
        lockfile: "package-lock.json",
        state: [],
        run: () => runNpm(["install", "--ignore-scripts"], project, npmrc, cache),
      };
    case "pnpm":
      return {
        name,
        version: `pnpm ${(await runPnpm(["--version"], project, npmrc, cache)).stdout.trim()}`,
        project,
        cache,
        lockfile: "pnpm-lock.yaml",
        state: [],
        run: () => runPnpm(["install", "--ignore-scripts"], project, npmrc, cache),
      };
    case "yarn": {
      await writeYarnrc(project, registry, undefined, join(cache, "cache"));
      // Yarn keeps package metadata in its global folder: inside the cache here, so a cold cache is cold.
      await writeFile(join(project, ".yarnrc.yml"), `globalFolder: "${join(cache, "global")}"\n`, {
        flag: "a",
      });
      return {
        name,
        version: `yarn ${(await runYarn(["--version"], project)).stdout.trim()}`,
        project,
        cache,
        lockfile: "yarn.lock",
        state: [join(".yarn", "install-state.gz")],
        run: () => runYarn(["install", "--mode=skip-build"], project),
      };
    }
    case "bun": {
      const bun = await ensureBun();
      const env = cleanEnv({ BUN_INSTALL_CACHE_DIR: cache, BUN_CONFIG_REGISTRY: registry });
      const exec = (args: string[]) => runCommand(bun, args, project, env);
      return {
        name,
        version: `bun ${(await exec(["--version"])).stdout.trim()}`,
        project,
        cache,
        lockfile: "bun.lock",
        state: [],
        run: () =>
          values["cpu-time"]
            ? runCommand(
                GNU_TIME,
                [...CPU_TIME_FORMAT, bun, "install", "--ignore-scripts"],
                project,
                env,
              )
            : exec(["install", "--ignore-scripts"]),
      };
    }
    case "cairn-before":
    case "cairn":
    case "cairn-dist": {
      const entry =
        name === "cairn"
          ? join(REPO_DIR, "bin", "cairn.cjs")
          : name === "cairn-dist"
            ? (distCairn as string)
            : resolvePath(values.baseline as string);
      const command = [
        ...(values["cpu-time"] ? [GNU_TIME, ...CPU_TIME_FORMAT] : []),
        process.execPath,
        ...profileFlags(profileDir),
        entry,
      ];
      const args = ["install", "--origin", registry, "--key", key, "--no-mirror-list"];
      return {
        name,
        version: name === "cairn-dist" ? "bin/cairn.cjs over dist/" : `node ${entry} (a checkout)`,
        project,
        cache,
        lockfile: "package-lock.json",
        state: [],
        run: () =>
          cairn([...args, "--ignore-scripts"], {
            cwd: project,
            env: { CAIRN_HOME: cache },
            command,
          }),
      };
    }
  }
}

/** Puts the tool's sandbox into the state the scenario starts from. */
async function prepare(tool: Tool, scenario: Scenario): Promise<void> {
  const gone = (path: string) => rm(path, { recursive: true, force: true });
  if (scenario === "unchanged") return;
  await gone(join(tool.project, "node_modules"));
  for (const file of tool.state) await gone(join(tool.project, file));
  if (scenario === "clean") {
    await gone(join(tool.project, tool.lockfile));
    // Yarn takes the repository around bench/.work for its project unless a yarn.lock says otherwise; an empty one locks nothing.
    if (tool.name === "yarn") await writeFile(join(tool.project, tool.lockfile), "");
  }
  if (scenario === "clean" || scenario === "lockfile") await gone(tool.cache);
}

async function timed(tool: Tool): Promise<Run> {
  const requests = proxy.requests.length;
  const bytes = proxy.responseBytes();
  const t0 = performance.now();
  const result = await tool.run();
  const elapsed = performance.now() - t0;
  if (result.code !== 0)
    throw new Error(
      `${tool.name} install failed (${result.code}):\n${tail(result.stderr || result.stdout)}`,
    );
  return {
    ms: elapsed,
    ...cpuTime(result.stderr),
    bytes: proxy.responseBytes() - bytes,
    requests: proxy.requests.length - requests,
  };
}

/**
 * Resolution alone through the signed snapshot, for each Cairn (the
 * baseline included), alternating as the scenarios do: a warm store, no
 * node_modules, no lockfile, no metadata cache (no local index either).
 */
async function sparseRounds(count: number): Promise<void> {
  const cairns = tools.filter((t) => t.name.startsWith("cairn"));
  for (let round = 0; round < count; round++) {
    for (const tool of cairns.map((_, i) => cairns[(i + round) % cairns.length])) {
      await rm(join(tool.project, "node_modules"), { recursive: true, force: true });
      await rm(join(tool.project, tool.lockfile), { force: true });
      await rm(join(tool.cache, "reader"), { recursive: true, force: true });
      const run = await timed(tool);
      const cpu =
        run.cpuMs === undefined ? "" : `  (CPU ${ms(run.cpuMs)}, user ${ms(run.userMs as number)})`;
      console.log(
        `round ${round + 1} sparse    ${tool.name.padEnd(10)} ${ms(run.ms).padStart(9)}  ${run.requests} requests${cpu}`,
      );
    }
  }
}

/** The CPU time GNU time reported on the last line of stderr, if it ran. */
function cpuTime(stderr: string): { cpuMs?: number; userMs?: number } {
  const m = /cpu-time (\d+\.\d+) (\d+\.\d+)\s*$/.exec(stderr);
  return m ? { cpuMs: (Number(m[1]) + Number(m[2])) * 1000, userMs: Number(m[1]) * 1000 } : {};
}

function runCommand(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<ClientResult> {
  const proc = startProcess(command, command, args, { cwd, env, logFile: "/dev/null" });
  return proc.exited.then((code) => ({
    code: typeof code === "number" ? code : 1,
    stdout: proc.out.stdout,
    stderr: proc.out.stderr,
  }));
}

/** bun from its npm package (whose binary comes in a per-platform optional dependency), kept between runs. */
async function ensureBun(): Promise<string> {
  const bin = join(BUN_DIR, "node_modules", ".bin", "bun");
  if (
    await stat(bin).then(
      () => true,
      () => false,
    )
  )
    return bin;
  await mkdir(BUN_DIR, { recursive: true });
  await writeFile(
    join(BUN_DIR, "package.json"),
    `${JSON.stringify({ name: "cairn-bench-bun", private: true, dependencies: { bun: "^1.0.0" } })}\n`,
  );
  console.log(`installing bun into ${BUN_DIR} with npm ...`);
  await runToEnd("npm install bun", "npm", ["install", "--no-audit", "--no-fund"], {
    cwd: BUN_DIR,
    env: cleanEnv({}),
    logFile: join(BUN_DIR, "install.log"),
  });
  return bin;
}

/**
 * The built package as npm would install it: bin/ and dist/ without src/
 * (bin/launch.cjs runs the sources whenever they are there), the project's
 * node_modules beside it. Built with `npm run build` first.
 */
async function builtCairn(): Promise<string> {
  console.log("npm run build ...");
  await runToEnd("npm run build", "npm", ["run", "build"], {
    logFile: join(work, "build.log"),
    env: cleanEnv({}),
  });
  const dir = join(work, "cairn-dist");
  await mkdir(join(dir, "bin"), { recursive: true });
  for (const file of ["bin/cairn.cjs", "bin/launch.cjs", "package.json"])
    await cp(join(REPO_DIR, file), join(dir, file));
  await cp(join(REPO_DIR, "dist"), join(dir, "dist"), { recursive: true });
  await symlink(join(REPO_DIR, "node_modules"), join(dir, "node_modules"));
  return join(dir, "bin", "cairn.cjs");
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

async function countStoreFiles(store: string): Promise<number> {
  return (await diskUsage(store)).files;
}

/**
 * Cairn's resolution alone, each from a warm store in a fresh project copy:
 * no lockfile through the signed snapshot with a cold metadata cache; no
 * lockfile from a full local index (`cairn sync` first); the lockfile.
 */
async function resolveTimes(
  tool: Tool,
): Promise<{ sparseMs: number; indexMs: number; lockfileMs: number }> {
  const home = tool.cache;
  const command = [process.execPath, join(REPO_DIR, "bin", "cairn.cjs")];
  const base = ["--origin", registry, "--key", key, "--no-mirror-list", "--ignore-scripts"];
  const env = { CAIRN_HOME: home };
  const once = async (extra: string[], keepLock: boolean) => {
    await rm(join(tool.project, "node_modules"), { recursive: true, force: true });
    if (!keepLock) await rm(join(tool.project, tool.lockfile), { force: true });
    await rm(join(home, "reader"), { recursive: true, force: true });
    const t0 = performance.now();
    const r = await cairn(["install", ...base, ...extra], { cwd: tool.project, env, command });
    if (r.code !== 0) throw new Error(`cairn install ${extra.join(" ")}: ${r.stderr}`);
    return performance.now() - t0;
  };
  const lockfileMs = await once([], true);
  const sparseMs = await once(["--sparse"], false);
  const index = join(home, "index.sqlite");
  const sync = await cairn(["sync", "--origin", registry, "--key", key, "--index", index], {
    env,
    command,
  });
  if (sync.code !== 0) throw new Error(`cairn sync: ${sync.stderr}`);
  const indexMs = await once(["--index", index], false);
  return { sparseMs, indexMs, lockfileMs };
}

/**
 * Node's own costs for the work of each scenario, beside the fastest other
 * tool: a Node installer can be no faster than these, however it is made.
 */
function printFloors(
  floors: NodeFloors,
  medians: InstallBenchResult["medians"],
  others: readonly Tool[],
): void {
  const fastest = (s: Scenario) => {
    const [best] = others
      .filter((o) => medians[o.name][s] !== undefined)
      .sort((a, b) => medians[a.name][s].ms - medians[b.name][s].ms);
    return best ? `${best.name} ${ms(medians[best.name][s].ms)}` : "-";
  };
  const bestLink = Math.min(floors.linkOneThreadMs, floors.linkTwoThreadsOwnMs);
  console.log("\nwhat Node itself costs for each scenario's work (node-floors.ts), medians:");
  printTable([
    ["scenario", "fastest other", "Node's floor", "what it is"],
    ["unchanged", fastest("unchanged"), ms(floors.startMs), "`node -e 0`"],
    [
      "warm",
      fastest("warm"),
      ms(floors.startMs + bestLink),
      `start + linking ${floors.files} files, ${floors.folders} folders (the faster of ${ms(floors.linkOneThreadMs)} on one thread, ${ms(floors.linkTwoThreadsOwnMs)} on two started beforehand; ${ms(floors.linkTwoThreadsMs)} with their start)`,
    ],
    [
      "clean, lockfile",
      `${fastest("clean")}, ${fastest("lockfile")}`,
      `${ms(floors.unpackCpuMs)} CPU`,
      `inflating ${floors.tarballs} tarballs, their SHA-512 and every file's SHA-256, one thread (before any file is written)`,
    ],
  ]);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function ms(x: number): string {
  return x < 1000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(2)} s`;
}

function report(
  sizes: InstallBenchResult["sizes"],
  tarballBytes: number,
  storeFiles: number,
  resolve: InstallBenchResult["resolve"],
  floors: NodeFloors | undefined,
): void {
  const medians: InstallBenchResult["medians"] = {};
  for (const t of tools) {
    const r = runs.get(t.name);
    if (!r) continue;
    const m = {} as Record<Scenario, Run>;
    for (const s of scenarios)
      m[s] = {
        ms: median(r[s].map((x) => x.ms)),
        ...(r[s].every((x) => x.cpuMs !== undefined)
          ? {
              cpuMs: median(r[s].map((x) => x.cpuMs as number)),
              userMs: median(r[s].map((x) => x.userMs as number)),
            }
          : {}),
        bytes: median(r[s].map((x) => x.bytes)),
        requests: median(r[s].map((x) => x.requests)),
      };
    medians[t.name] = m;
  }
  const others = tools.filter((t) => !t.name.startsWith("cairn"));
  const ratios: InstallBenchResult["ratios"] = {};
  let met = true;
  for (const c of tools.filter((t) => t.name.startsWith("cairn"))) {
    const r = {} as Record<Scenario, number>;
    for (const s of scenarios) {
      const fastest = Math.min(...others.map((o) => medians[o.name][s].ms));
      r[s] = medians[c.name][s].ms / fastest;
      if (r[s] > 1) met = false;
    }
    if (!allScenarios || medians[c.name].unchanged.ms >= TARGET_UNCHANGED_MS) met = false;
    ratios[c.name] = r;
  }
  const loadAfter = loadavg();
  console.log(
    `\nmedians of ${rounds} round${rounds === 1 ? "" : "s"} (wall time of the whole command):`,
  );
  printTable([
    ["tool", ...scenarios],
    ...tools.map((t) => [t.name, ...scenarios.map((s) => ms(medians[t.name][s].ms))]),
    ...Object.entries(ratios).map(([name, r]) => [
      `${name} / fastest other`,
      ...scenarios.map((s) => `${r[s].toFixed(2)}x`),
    ]),
  ]);
  const timed = tools.filter((t) => scenarios.every((s) => medians[t.name][s].cpuMs !== undefined));
  if (timed.length > 0) {
    console.log("\nCPU time, user and system, and user alone (medians):");
    printTable([
      ["tool", ...scenarios],
      ...timed.map((t) => [
        t.name,
        ...scenarios.map(
          (s) =>
            `${ms(medians[t.name][s].cpuMs as number)}, ${ms(medians[t.name][s].userMs as number)}`,
        ),
      ]),
    ]);
  }
  console.log("\nbytes fetched from the origin (median), and requests:");
  printTable([
    ["tool", ...scenarios],
    ...tools.map((t) => [
      t.name,
      ...scenarios.map((s) => `${mib(medians[t.name][s].bytes)} / ${medians[t.name][s].requests}`),
    ]),
  ]);
  console.log(
    `\ncorpus tarballs: ${mib(tarballBytes)}; cache or store after the last warm install:`,
  );
  printTable([
    ["tool", "cache or store", "node_modules"],
    ...tools.map((t) => [
      t.name,
      mib(sizes[t.name].cacheBytes),
      mib(sizes[t.name].nodeModulesBytes),
    ]),
  ]);
  if (storeFiles) console.log(`cairn's store holds ${storeFiles} files`);
  if (resolve)
    console.log(
      `\ncairn install, warm store, no node_modules: no lockfile through the signed snapshot (cold metadata) ${ms(resolve.sparseMs)}; ` +
        `no lockfile from a full local index ${ms(resolve.indexMs)}; from the lockfile ${ms(resolve.lockfileMs)}`,
    );
  if (floors) printFloors(floors, medians, others);
  console.log(
    `\nload average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`,
  );
  console.log(
    `targets (<= fastest other in every scenario, unchanged < ${TARGET_UNCHANGED_MS} ms): ${met ? "met" : "MISSED"}`,
  );
  if (values.json) {
    const result: InstallBenchResult = {
      rounds,
      loadBefore,
      loadAfter,
      tools: Object.fromEntries(
        tools.map((t) => [
          t.name,
          { version: t.version, runs: runs.get(t.name) as Record<Scenario, Run[]> },
        ]),
      ),
      medians,
      ratios,
      sizes,
      tarballBytes,
      storeFiles,
      resolve,
      floors,
      met,
    };
    emitResult(result);
  }
}
