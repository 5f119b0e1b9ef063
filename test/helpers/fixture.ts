/** A throwaway registry for an end-to-end test: a temporary directory and `cairn serve` on it. */
import { join } from "node:path";
import {
  DirectorySource,
  parseVerifierKey,
  type VerifyLogResult,
  verifyLog,
} from "../../src/log/index.ts";
import type { PackageEntry } from "../../src/registry/entries.ts";
import { packageEntries } from "./entries.ts";
import { tempDir } from "./log.ts";
import { writeNpmrc } from "./npm-client.ts";
import { signUp } from "./registry-client.ts";
import { type ServeProcess, startServe } from "./serve.ts";

export interface RegistryFixture {
  readonly dir: { readonly path: string };
  readonly server: ServeProcess;
  /** A package-manager cache inside the fixture, so every test starts cold. */
  readonly cache: string;
  /** Signs `user` up and writes an .npmrc with their token in the fixture's directory. */
  npmrcFor(user: string, password?: string): Promise<string>;
  /** Stops the server and audits its whole log; returns the result and its package entries. */
  stopAndVerifyLog(): Promise<VerifyLogResult & { packageEntries: PackageEntry[] }>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** `args` go to `cairn serve` after the data directory. */
export async function registryFixture(args: string[] = []): Promise<RegistryFixture> {
  const dir = await tempDir();
  const server = await startServe(["--data", join(dir.path, "data"), "--no-durable", ...args]);
  return {
    dir,
    server,
    cache: join(dir.path, "cache"),
    npmrcFor: async (user, password = `pw-${user}`) =>
      writeNpmrc(dir.path, server.url, await signUp(server.url, user, password)),
    stopAndVerifyLog: async () => {
      await server.stop();
      const treeDir = join(dir.path, "data", "tree");
      const verifier = parseVerifierKey(server.verifierKey);
      const result = await verifyLog(new DirectorySource(treeDir), [verifier]);
      return { ...result, packageEntries: await packageEntries(treeDir, verifier) };
    },
    [Symbol.asyncDispose]: async () => {
      await server.stop();
      await dir[Symbol.asyncDispose]();
    },
  };
}
