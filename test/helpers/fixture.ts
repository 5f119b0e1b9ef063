/** A throwaway registry for an end-to-end test: a temporary directory and `cairn serve` on it. */
import { join } from "node:path";
import {
  DirectorySource,
  parseVerifierKey,
  type VerifyLogResult,
  verifyLog,
} from "../../src/log/index.ts";
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
  /** Stops the server and audits its whole log. */
  stopAndVerifyLog(): Promise<VerifyLogResult>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function registryFixture(): Promise<RegistryFixture> {
  const dir = await tempDir();
  const server = await startServe(["--data", join(dir.path, "data"), "--no-durable"]);
  return {
    dir,
    server,
    cache: join(dir.path, "cache"),
    npmrcFor: async (user, password = `pw-${user}`) =>
      writeNpmrc(dir.path, server.url, await signUp(server.url, user, password)),
    stopAndVerifyLog: async () => {
      await server.stop();
      const tree = new DirectorySource(join(dir.path, "data", "tree"));
      return verifyLog(tree, [parseVerifierKey(server.verifierKey)]);
    },
    [Symbol.asyncDispose]: async () => {
      await server.stop();
      await dir[Symbol.asyncDispose]();
    },
  };
}
