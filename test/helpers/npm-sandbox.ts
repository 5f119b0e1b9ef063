/**
 * The setting of a test that runs the real npm: a temporary folder and a
 * local upstream registry serving the corpus, made before the tests of the
 * calling `describe` and removed after them, and npm run against it with a
 * shared cache.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before } from "node:test";
import { tempDir } from "./log.ts";
import { type ClientResult, runNpm, writeNpmrc } from "./npm-client.ts";
import { startUpstreamRegistry, type UpstreamRegistry } from "./upstream-registry.ts";

export interface NpmSandbox {
  /** The temporary folder (valid inside the tests). */
  readonly dir: string;
  readonly upstream: UpstreamRegistry;
  /** Runs npm in `path` against the upstream, with `npmrcLines` added to its user config. */
  npm(path: string, args: string[], npmrcLines?: string[]): Promise<ClientResult>;
}

export function npmSandbox(): NpmSandbox {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  let upstream: UpstreamRegistry | undefined;
  before(async () => {
    dir = await tempDir();
    upstream = await startUpstreamRegistry();
  });
  after(async () => {
    await upstream?.close();
    await dir?.[Symbol.asyncDispose]();
  });
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("npmSandbox is used outside its tests");
    return value;
  };
  return {
    get dir() {
      return need(dir).path;
    },
    get upstream() {
      return need(upstream);
    },
    async npm(path, args, npmrcLines = []) {
      const npmrc = await writeNpmrc(path, need(upstream).url);
      if (npmrcLines.length > 0)
        await writeFile(npmrc, `${await readFile(npmrc, "utf8")}${npmrcLines.join("\n")}\n`);
      return runNpm(args, path, npmrc, join(need(dir).path, "npm-cache"));
    },
  };
}
