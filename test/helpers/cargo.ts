/**
 * Runs the real cargo hermetically: a throwaway CARGO_HOME per run whose
 * config.toml replaces crates.io with the registry under test, so nothing
 * ever reaches the network, and no user configuration leaks in (cargo reads
 * config from the working directory's ancestors and CARGO_HOME only; the
 * working directories are temp directories).
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "smol-toml";

const run = promisify(execFile);

/** Whether cargo can be run at all (the cargo tests skip without it). */
export function cargoAvailable(): boolean {
  try {
    execFileSync("cargo", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The registry crates.io is replaced with. */
export type CargoRegistry =
  | { readonly localRegistry: string }
  | { readonly sparseIndex: string; readonly token?: string };

/** The name of the replacement registry in config.toml, and for `cargo publish --registry`. */
export const CARGO_REGISTRY_NAME = "cairn";

/** Writes a fresh CARGO_HOME at `dir` that sends every crates.io request to `registry`. */
export async function makeCargoHome(dir: string, registry: CargoRegistry): Promise<string> {
  await mkdir(dir, { recursive: true });
  const lines = ["[source.crates-io]", `replace-with = "${CARGO_REGISTRY_NAME}"`, ""];
  if ("localRegistry" in registry) {
    lines.push(
      `[source.${CARGO_REGISTRY_NAME}]`,
      `local-registry = ${JSON.stringify(registry.localRegistry)}`,
    );
    lines.push("", "[net]", "offline = true");
  } else {
    lines.push(
      `[registries.${CARGO_REGISTRY_NAME}]`,
      `index = ${JSON.stringify(`sparse+${registry.sparseIndex}`)}`,
    );
    lines.push("", "[net]", "retry = 0", "", "[http]", "timeout = 30");
    if (registry.token !== undefined) {
      lines.push("", "[registry]", 'global-credential-providers = ["cargo:token"]');
      await writeFile(
        join(dir, "credentials.toml"),
        `[registries.${CARGO_REGISTRY_NAME}]\ntoken = ${JSON.stringify(registry.token)}\n`,
      );
    }
  }
  await writeFile(join(dir, "config.toml"), `${lines.join("\n")}\n`);
  return dir;
}

export interface CargoRun {
  readonly cwd: string;
  readonly cargoHome: string;
  readonly targetDir?: string;
}

/** Runs cargo with only the environment it needs; rejects with cargo's stderr on failure. */
export async function runCargo(
  args: readonly string[],
  options: CargoRun,
): Promise<{ stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  // PATH finds cargo and rustc; HOME and RUSTUP_* let rustup's proxies find the toolchain.
  for (const [key, value] of Object.entries(process.env))
    if (key === "PATH" || key === "HOME" || key.startsWith("RUSTUP_")) env[key] = value;
  env.CARGO_HOME = options.cargoHome;
  env.CARGO_TERM_COLOR = "never";
  env.CARGO_TERM_PROGRESS_WHEN = "never";
  if (options.targetDir) env.CARGO_TARGET_DIR = options.targetDir;
  try {
    return await run("cargo", [...args], { cwd: options.cwd, env, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`cargo ${args.join(" ")} failed in ${options.cwd}:\n${stderr}`, {
      cause: error,
    });
  }
}

export interface LockedPackage {
  readonly name: string;
  readonly version: string;
  readonly source?: string;
  readonly checksum?: string;
}

/** The packages a Cargo.lock pins, as written (the root package has no source or checksum). */
export async function lockedPackages(lockfile: string): Promise<LockedPackage[]> {
  const lock = parse(await readFile(lockfile, "utf8")) as { package?: LockedPackage[] };
  return lock.package ?? [];
}
