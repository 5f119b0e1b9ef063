/**
 * The real npm as `npm audit signatures` needs it offline: with
 * no-sigstore-tuf.cjs preloaded (see there), so it takes its keys from the
 * registry's /-/npm/v1/keys, exactly as for any registry Sigstore's TUF
 * repository does not list.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { type ClientResult, cleanEnv, writeNpmrc } from "./npm-client.ts";
import { PROJECT_ROOT } from "./shared.ts";

const PRELOAD = join(PROJECT_ROOT, "test", "helpers", "no-sigstore-tuf.cjs");

/** npm in `cwd`, its user config (written there) pointing at `registry`, its cache `cache`. */
export async function runNpmOffline(
  args: string[],
  cwd: string,
  registry: string,
  cache: string,
): Promise<ClientResult> {
  const npmrc = await writeNpmrc(cwd, registry);
  return new Promise((resolve) => {
    execFile(
      "npm",
      args,
      {
        cwd,
        env: cleanEnv({
          npm_config_userconfig: npmrc,
          npm_config_cache: cache,
          NODE_OPTIONS: `--require ${PRELOAD}`,
        }),
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
