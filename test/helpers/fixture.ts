/** A throwaway registry for an end-to-end test: a temporary directory and `cairn serve` on it. */
import { join } from "node:path";
import { tempDir } from "./log.ts";
import { type ServeProcess, startServe } from "./serve.ts";

export interface RegistryFixture {
  readonly dir: { readonly path: string };
  readonly server: ServeProcess;
  /** A package-manager cache inside the fixture, so every test starts cold. */
  readonly cache: string;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function registryFixture(): Promise<RegistryFixture> {
  const dir = await tempDir();
  const server = await startServe(["--data", join(dir.path, "data"), "--no-durable"]);
  return {
    dir,
    server,
    cache: join(dir.path, "cache"),
    [Symbol.asyncDispose]: async () => {
      await server.stop();
      await dir[Symbol.asyncDispose]();
    },
  };
}
