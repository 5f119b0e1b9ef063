/**
 * Verdaccio 6 for the benchmarks that compare Cairn with it: installed with
 * the machine's npm into bench/.work/registry-tools (not a project
 * dependency; kept between runs, with autocannon beside it), configured in
 * the run's work directory and run as a tracked child process on this node
 * binary, listening on 127.0.0.1 only.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cleanEnv } from "../test/helpers/npm-client.ts";
import { WORK_DIR } from "./common.ts";
import {
  freePort,
  type Proc,
  profileFlags,
  runToEnd,
  startProcess,
  waitUntilUp,
} from "./processes.ts";

/** Where Verdaccio and autocannon are installed: outside the project's dependencies, kept between runs. */
export const TOOLS_DIR = join(WORK_DIR, "registry-tools");
const TOOLS_PACKAGE = {
  name: "cairn-bench-tools",
  private: true,
  dependencies: { verdaccio: "^6.0.0", autocannon: "^8.0.0" },
  // Verdaccio asks for `node-fetch@cjs`; a registry without that dist-tag cannot resolve it,
  // and 2.7.0 is the CommonJS release the tag names.
  overrides: { "node-fetch": "2.7.0" },
};

/** Installs Verdaccio 6 and autocannon with the machine's npm, unless a previous run did; returns Verdaccio's version. */
export async function ensureTools(): Promise<string> {
  const manifest = `${JSON.stringify(TOOLS_PACKAGE, null, 2)}\n`;
  const manifestPath = join(TOOLS_DIR, "package.json");
  const installed = async () => {
    const read = (pkg: string) =>
      readFile(join(TOOLS_DIR, "node_modules", pkg, "package.json"), "utf8").then(
        (text) => JSON.parse(text) as { version: string },
        () => undefined,
      );
    const [verdaccio, autocannon] = await Promise.all([read("verdaccio"), read("autocannon")]);
    return verdaccio && autocannon ? verdaccio.version : undefined;
  };
  const current = await readFile(manifestPath, "utf8").catch(() => "");
  const version = current === manifest ? await installed() : undefined;
  if (version) return version;
  await mkdir(TOOLS_DIR, { recursive: true });
  await writeFile(manifestPath, manifest);
  console.log(`installing verdaccio@6 and autocannon into ${TOOLS_DIR} with npm ...`);
  await runToEnd(
    "npm install of verdaccio",
    "npm",
    ["install", "--ignore-scripts", "--no-audit", "--no-fund"],
    {
      cwd: TOOLS_DIR,
      env: cleanEnv({}),
      logFile: join(TOOLS_DIR, "install.log"),
    },
  );
  const after = await installed();
  if (!after) throw new Error(`verdaccio is missing from ${TOOLS_DIR} after npm install`);
  return after;
}

/** An upstream registry Verdaccio proxies every package to, as its docs set one up. */
export interface VerdaccioUplink {
  readonly name: string;
  readonly url: string;
  /** Verdaccio's `maxage` in seconds; its default (2m) when absent. */
  readonly maxAgeSeconds?: number;
}

export interface VerdaccioOptions {
  /** Signed JWT API tokens instead of its default ("legacy") ones, checked with bcrypt per request. */
  readonly jwt?: boolean;
  /** Without one Verdaccio is offline: a miss is a 404, never a fetch from the internet. */
  readonly uplink?: VerdaccioUplink;
  readonly cpuProfDir?: string;
}

/**
 * Verdaccio's config: local storage, open sign-up, anyone reads, users
 * publish; with an uplink, `'**': proxy: <uplink>` as in its docs. By
 * default its API tokens are "legacy" ones, which carry the password
 * (encrypted) and are checked against htpasswd (bcrypt) on every
 * authenticated request; `jwt` makes them signed JWTs instead.
 */
function verdaccioConfig(dir: string, port: number, options: VerdaccioOptions): string {
  const { uplink } = options;
  const uplinks = uplink
    ? [
        "uplinks:",
        `  ${uplink.name}:`,
        `    url: ${JSON.stringify(uplink.url)}`,
        ...(uplink.maxAgeSeconds === undefined ? [] : [`    maxage: ${uplink.maxAgeSeconds}s`]),
      ]
    : ["uplinks: {}"];
  return [
    `storage: ${JSON.stringify(join(dir, "storage"))}`,
    "auth:",
    "  htpasswd:",
    `    file: ${JSON.stringify(join(dir, "htpasswd"))}`,
    "    max_users: 1000000",
    ...uplinks,
    "packages:",
    "  '**':",
    "    access: $all",
    "    publish: $authenticated",
    "    unpublish: $authenticated",
    ...(uplink ? [`    proxy: ${uplink.name}`] : []),
    "max_body_size: 200mb",
    // The default allows 1,000 user-endpoint requests per 15 minutes; not what is measured here.
    "userRateLimit:",
    "  windowMs: 1000",
    "  max: 100000",
    "log: { type: stdout, format: pretty, level: warn }",
    `listen: 127.0.0.1:${port}`,
    ...(options.jwt
      ? ["security:", "  api:", "    jwt:", "      sign:", "        expiresIn: 7d"]
      : []),
    "",
  ].join("\n");
}

export interface Verdaccio {
  readonly url: string;
  readonly process: Proc;
  /** Where it keeps packages: a folder per package with its package.json and tarballs. */
  readonly storage: string;
}

/** Writes the config into `dir` and starts Verdaccio (installed by ensureTools) on a free port. */
export async function startVerdaccio(dir: string, options: VerdaccioOptions): Promise<Verdaccio> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const config = join(dir, "config.yaml");
  await writeFile(config, verdaccioConfig(dir, port, options));
  const bin = join(TOOLS_DIR, "node_modules", "verdaccio", "bin", "verdaccio");
  const spawned = startProcess(
    "verdaccio",
    process.execPath,
    [...profileFlags(options.cpuProfDir), bin, "--config", config],
    { cwd: dir, logFile: join(dir, "server.log") },
  );
  const url = `http://127.0.0.1:${port}/`;
  await waitUntilUp("verdaccio", url, spawned);
  return { url, process: spawned, storage: join(dir, "storage") };
}
