/** Locates the shared test data (vectors, corpus) that sits beside the project. */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export const PROJECT_ROOT = projectRoot;

export function sharedPath(...parts: string[]): string {
  const fromEnv = process.env.CAIRN_SHARED_DIR;
  const base = fromEnv ?? resolve(projectRoot, "..", "shared");
  const path = join(base, ...parts);
  if (!existsSync(path))
    throw new Error(`shared test data not found at ${path} (set CAIRN_SHARED_DIR)`);
  return path;
}
