/**
 * Locates test data: the fixtures kept in the repository, and the optional
 * shared copy beside the project (CAIRN_SHARED_DIR overrides where) that the
 * benchmarks need and the tests use when it is there.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A file or directory under test/fixtures. */
export function fixturePath(...parts: string[]): string {
  return join(PROJECT_ROOT, "test", "fixtures", ...parts);
}

function sharedBase(): string {
  return process.env.CAIRN_SHARED_DIR ?? resolve(PROJECT_ROOT, "..", "shared");
}

/** A path in the shared data, or undefined when there is no shared copy of it. */
export function localSharedPath(...parts: string[]): string | undefined {
  const path = join(sharedBase(), ...parts);
  return existsSync(path) ? path : undefined;
}

/** A path in the shared data, which must be there (the benchmarks' data sets). */
export function sharedPath(...parts: string[]): string {
  const path = localSharedPath(...parts);
  if (!path)
    throw new Error(
      `shared data not found at ${join(sharedBase(), ...parts)} (set CAIRN_SHARED_DIR)`,
    );
  return path;
}
