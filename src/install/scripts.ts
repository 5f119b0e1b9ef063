/**
 * Lifecycle scripts. A dependency's install scripts run arbitrary code with
 * the user's rights, so they are off unless the project names the package
 * as trusted, in either of the fields users already write for this:
 * bun's `trustedDependencies` and pnpm's `pnpm.onlyBuiltDependencies`
 * (a project moving from either keeps its list). The project's own
 * scripts are its author's code and run as npm runs them. Scripts run
 * through npm's own runner (@npmcli/run-script: npm's environment, PATH
 * with every enclosing node_modules/.bin, node-gyp for a binding.gyp
 * without an install script), deepest packages first, as npm builds.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InstallError } from "./install-error.ts";
import type { ProjectTree } from "./tree.ts";

/** The scripts an install runs for each package, in order. */
const DEPENDENCY_EVENTS = ["preinstall", "install", "postinstall"] as const;
/** The project's own: npm also runs `prepare` (with its pre and post) on a plain `npm install`. */
const ROOT_EVENTS = [...DEPENDENCY_EVENTS, "preprepare", "prepare", "postprepare"] as const;

/** The names a project trusts to run install scripts. */
export function trustedDependencies(manifest: Readonly<Record<string, unknown>>): Set<string> {
  const names = new Set<string>();
  const add = (list: unknown) => {
    if (Array.isArray(list)) for (const n of list) if (typeof n === "string") names.add(n);
  };
  add(manifest.trustedDependencies);
  const pnpm = manifest.pnpm;
  if (typeof pnpm === "object" && pnpm !== null)
    add((pnpm as Record<string, unknown>).onlyBuiltDependencies);
  return names;
}

export interface ScriptsReport {
  /** `name@version` of each dependency whose scripts ran. */
  readonly ran: readonly string[];
  /** Names of dependencies with install scripts that were not trusted, so did not run. */
  readonly skipped: readonly string[];
}

/**
 * Runs the install scripts of the trusted packages of `tree` (those whose
 * manifest says they have some), then the project's own. Output is
 * inherited on a terminal, so a build's errors reach the user. A failing
 * script fails the install, naming the package and the event.
 */
export async function runInstallScripts(
  projectDir: string,
  tree: ProjectTree,
  trusted: ReadonlySet<string>,
  options: { readonly root: boolean; readonly stdio: "inherit" | "pipe" },
): Promise<ScriptsReport> {
  const ran: string[] = [];
  const skipped = new Set<string>();
  const withScripts = [...tree.packages.values()].filter(
    (p) => p.manifest.hasInstallScript === true && !p.link && !p.inBundle,
  );
  // Deepest first: a package's dependencies are built before it.
  const depth = (location: string) => location.split("/node_modules/").length;
  withScripts.sort(
    (a, b) => depth(b.location) - depth(a.location) || (a.location < b.location ? -1 : 1),
  );
  for (const pkg of withScripts) {
    if (!trusted.has(pkg.name)) {
      skipped.add(pkg.name);
      continue;
    }
    const path = join(projectDir, pkg.location);
    await runEvents(path, DEPENDENCY_EVENTS, `${pkg.name}@${pkg.version}`, options.stdio);
    ran.push(`${pkg.name}@${pkg.version}`);
  }
  if (options.root) await runEvents(projectDir, ROOT_EVENTS, "the project", options.stdio);
  return { ran, skipped: [...skipped].sort() };
}

async function runEvents(
  path: string,
  events: readonly string[],
  who: string,
  stdio: "inherit" | "pipe",
): Promise<void> {
  const pkg = JSON.parse(await readFile(join(path, "package.json"), "utf8")) as Record<
    string,
    unknown
  >;
  // Loaded when a script may run: an install with scripts off never needs npm's runner.
  const { default: runScript } = await import("@npmcli/run-script");
  for (const event of events) {
    try {
      await runScript({ event, path, pkg, stdio, binPaths: false });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new InstallError(
        "script-failed",
        `${who}: the ${event} script failed${code === undefined ? "" : ` (exit ${code})`}`,
        { cause: err },
      );
    }
  }
}
