/**
 * Packages the prepared corpus with `cargo package --no-verify`, crate by
 * crate in publish order. cargo resolves a lockfile for each crate against
 * the registry its CARGO_HOME names, so a crate's dependencies must be in
 * that registry first: `afterEach` puts each `.crate` there (a local
 * registry here, a `cargo publish` elsewhere) before the next is packaged.
 */
import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { runCargo } from "./cargo.ts";
import type { CorpusCrate } from "./crate-corpus.ts";

export interface PackagedCrate {
  readonly crate: CorpusCrate;
  /** The `.crate` file, named <name>-<version>.crate. */
  readonly file: string;
}

export async function packageCrates(
  crates: readonly CorpusCrate[],
  options: {
    readonly cargoHome: string;
    readonly outDir: string;
    readonly afterEach?: (packaged: PackagedCrate) => Promise<void>;
  },
): Promise<PackagedCrate[]> {
  await mkdir(options.outDir, { recursive: true });
  const packaged: PackagedCrate[] = [];
  for (const crate of crates) {
    const targetDir = join(options.outDir, ".target");
    // Run from outside the crate: rustup obeys toolchain files in the working directory.
    await runCargo(
      ["package", "--no-verify", "--allow-dirty", "--manifest-path", join(crate.dir, "Cargo.toml")],
      { cwd: options.outDir, cargoHome: options.cargoHome, targetDir },
    );
    const name = `${crate.name}-${crate.version}.crate`;
    const file = join(options.outDir, name);
    await rename(join(targetDir, "package", name), file);
    const done = { crate, file };
    await options.afterEach?.(done);
    packaged.push(done);
  }
  return packaged;
}
