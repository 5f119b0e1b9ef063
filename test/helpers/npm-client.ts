/** Runs a real package manager (npm, pnpm, yarn) against a test registry, isolated from the user's config. */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without npm's own script variables, so the outer `npm test` does not leak in. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
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
