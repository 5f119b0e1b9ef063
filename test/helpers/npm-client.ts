/** Runs a real package manager (npm, pnpm, yarn) against a test registry, isolated from the user's config. */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment without npm's own script variables (so the outer `npm test`
 * does not leak in) and without CI, under which Yarn and pnpm refuse to write
 * lockfiles: the clients should behave as on a user's machine.
 */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|CI$)/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export async function writeNpmrc(
  dir: string,
  registryUrl: string,
  token?: string,
): Promise<string> {
  const url = new URL(registryUrl);
  const lines = [`registry=${registryUrl}`, "audit=false", "fund=false", "update-notifier=false"];
  if (token) lines.push(`//${url.host}${url.pathname}:_authToken=${token}`);
  const path = join(dir, ".npmrc");
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
}

export function runNpm(
  args: string[],
  cwd: string,
  npmrc: string,
  cacheDir: string,
): Promise<ClientResult> {
  return new Promise((resolve) => {
    execFile(
      "npm",
      args,
      {
        cwd,
        env: cleanEnv({ npm_config_userconfig: npmrc, npm_config_cache: cacheDir }),
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const binDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "node_modules");

function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<ClientResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: cleanEnv(env), maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The project's pinned pnpm, with `npmrc` as its user config and its own store and metadata cache. */
export function runPnpm(
  args: string[],
  cwd: string,
  npmrc: string,
  storeDir: string,
): Promise<ClientResult> {
  return run(join(binDir, ".bin", "pnpm"), args, cwd, {
    npm_config_userconfig: npmrc,
    // The pinned pnpm (12) takes its own settings from pnpm_config_* only: given as
    // npm_config_store_dir, the store was the user's (~/.local/share/pnpm/store), shared by every run.
    pnpm_config_store_dir: storeDir,
    pnpm_config_cache_dir: join(storeDir, "cache"),
  });
}

/** Writes the .yarnrc.yml that points modern Yarn at a test registry. */
export async function writeYarnrc(
  dir: string,
  registryUrl: string,
  token: string | undefined,
  cacheDir: string,
): Promise<void> {
  const lines = [
    `npmRegistryServer: "${registryUrl.replace(/\/$/, "")}"`,
    `unsafeHttpWhitelist: ["${new URL(registryUrl).hostname}"]`,
    ...(token ? [`npmAuthToken: "${token}"`] : []),
    "enableTelemetry: false",
    "enableGlobalCache: false",
    "enableMirror: false",
    `cacheFolder: "${cacheDir}"`,
    "nodeLinker: node-modules",
    // Yarn holds back versions younger than a day by default; a fresh test registry has nothing older.
    "npmMinimalAgeGate: 0",
  ];
  await writeFile(join(dir, ".yarnrc.yml"), `${lines.join("\n")}\n`);
}

/** The project's pinned modern Yarn, run by the pinned Node. */
export function runYarn(args: string[], cwd: string): Promise<ClientResult> {
  return run(
    process.execPath,
    [join(binDir, "@yarnpkg", "cli-dist", "bin", "yarn.js"), ...args],
    cwd,
    {
      YARN_ENABLE_PROGRESS_BARS: "false",
    },
  );
}
