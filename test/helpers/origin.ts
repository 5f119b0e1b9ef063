/** An origin registry in this process, with helpers to publish small packages straight into it. */
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type RunningOrigin, startOrigin } from "../../src/npm/origin-server.ts";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import type { OriginConfig } from "../../src/origin/config.ts";
import { tempDir } from "./log.ts";
import { publishBody } from "./publish-body.ts";
import { packageJson, type RawTarEntry, rawTgz } from "./tar.ts";

export interface TestOrigin extends RunningOrigin {
  readonly dataDir: string;
  readonly treeDir: string;
  /** Publishes `name@version` (a tiny package, with `files` beside its package.json) as `actor`. */
  publish(
    name: string,
    version: string,
    extra?: Record<string, unknown>,
    files?: readonly RawTarEntry[],
  ): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface TestOriginOptions {
  /** Sign with a copy of this key file (another origin's `key`): a second log under the same key, a fork. */
  readonly keyFile?: string;
  /** Settings on top of testOriginConfig's. */
  readonly settings?: Partial<OriginConfig>;
  /** Start on this existing data directory (a restart): closing leaves it in place. */
  readonly dataDir?: string;
}

/** An origin's settings for a test: loopback, any port, no fsync, no timers; `settings` on top. */
export function testOriginConfig(data: string, settings: Partial<OriginConfig> = {}): OriginConfig {
  return {
    data,
    host: "127.0.0.1",
    port: 0,
    durable: false,
    signup: true,
    databaseInterval: 0,
    snapshotShards: 0,
    origin: "test.cairn.example/origin",
    ...settings,
  };
}

export async function startTestOrigin(options: TestOriginOptions = {}): Promise<TestOrigin> {
  const dir = options.dataDir === undefined ? await tempDir("cairn-origin-") : undefined;
  const dataDir = options.dataDir ?? join((dir as { path: string }).path, "data");
  if (options.keyFile) {
    await mkdir(dataDir);
    await copyFile(options.keyFile, join(dataDir, "key"));
  }
  const origin = await startOrigin(testOriginConfig(dataDir, options.settings));
  return {
    ...origin,
    dataDir,
    treeDir: join(dataDir, "tree"),
    publish: async (name, version, extra = {}, files = []) => {
      const tgz = rawTgz([packageJson(name, version, extra), ...files]);
      await publishNpm(origin.registry, {
        actor: "alice",
        ...(await parsePublish(name, publishBody({ name, version, ...extra }, tgz))),
      });
    },
    [Symbol.asyncDispose]: async () => {
      await origin.close();
      await dir?.[Symbol.asyncDispose]();
    },
  };
}
