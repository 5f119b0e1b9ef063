/**
 * The project being installed: its package.json and, when it declares
 * npm's `workspaces`, each workspace's folder and package.json, found the
 * way @npmcli/map-workspaces finds them: `workspaces` is an array of glob
 * patterns (or `{"packages": [...]}`), a leading `./` or `/` is dropped, a
 * pattern starting with an odd number of `!` excludes what it matches
 * (only paths listed before it, so a later pattern can bring them back),
 * a match is a folder holding a package.json outside any node_modules,
 * and a workspace is named by its package.json's name, else its folder.
 * Two workspaces with one name are refused, as npm refuses them.
 *
 * Where Cairn is stricter than npm: a pattern or folder outside the
 * project (`../x`) is refused, and symbolic links are not followed while
 * searching, so a workspace is always a real folder inside the project.
 */
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { minimatch } from "minimatch";
import { InstallError } from "./install-error.ts";
import { isObject, parseJsonObject } from "./json-input.ts";
import { nameFromFolder } from "./lockfile.ts";

/** A package.json is small; npm's own registry refuses manifests past a few MB. */
export const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
/** Folders looked at while matching workspace patterns. */
export const MAX_WORKSPACE_SEARCH = 100_000;

/** The project or one of its workspaces: a folder with a package.json whose dependencies are installed. */
export interface Importer {
  /** `""` for the project, else the workspace's folder relative to it, with forward slashes. */
  readonly location: string;
  readonly name: string;
  readonly manifest: Readonly<Record<string, unknown>>;
}

export interface Project {
  readonly root: Importer;
  /** In location order. */
  readonly workspaces: readonly Importer[];
  /**
   * The folders whose listings decided the workspaces (relative, `""` for
   * the project's): a folder added or removed in one changes its mtime.
   * Absent for a project not read from disk.
   */
  readonly searched?: readonly string[];
}

const SPEC_FIELDS = [
  "dependencies",
  "devDependencies",
  "optionalDependencies",
  "peerDependencies",
  "acceptDependencies",
] as const;

/** A package.json's text as an object whose dependency fields have the shapes npm reads. */
export function parseManifest(text: string, where = "package.json"): Record<string, unknown> {
  const data = parseJsonObject(text, where, MAX_MANIFEST_BYTES);
  for (const field of SPEC_FIELDS) {
    const deps = data[field];
    if (deps === undefined) continue;
    if (!isObject(deps) || !Object.values(deps).every((v) => typeof v === "string"))
      throw new InstallError("bad-field", `${where}: ${field} is not a map of names to ranges`);
  }
  for (const field of ["name", "version"]) {
    if (data[field] !== undefined && typeof data[field] !== "string")
      throw new InstallError("bad-field", `${where}: ${field} is not a string`);
  }
  return data;
}

export interface WorkspacePatterns {
  readonly patterns: readonly string[];
  readonly negated: readonly string[];
}

/** map-workspaces' getPatterns and appendNegatedPatterns. */
export function workspacePatterns(workspaces: unknown): WorkspacePatterns {
  if (workspaces === undefined) return { patterns: [], negated: [] };
  const list =
    isObject(workspaces) && Array.isArray(workspaces.packages) ? workspaces.packages : workspaces;
  if (!Array.isArray(list) || !list.every((p) => typeof p === "string"))
    throw new InstallError(
      "bad-workspaces",
      "package.json: workspaces is not an array of patterns",
    );
  const patterns: string[] = [];
  let negated: string[] = [];
  for (const raw of list) {
    const bangs = /^!+/.exec(raw)?.[0].length ?? 0;
    const pattern = raw
      .slice(bangs)
      .replace(/\\/g, "/")
      .replace(/^\.?\/+/, "");
    if (pattern.split("/").includes(".."))
      throw new InstallError(
        "unsafe-path",
        `package.json: workspace pattern ${raw} leaves the project`,
      );
    if (bangs % 2 === 1) negated.push(pattern);
    else {
      negated = negated.filter((n) => !minimatch(pattern, n));
      patterns.push(pattern);
    }
  }
  return { patterns: patterns.filter((p) => !negated.some((n) => minimatch(p, n))), negated };
}

async function readManifestFile(path: string, where: string) {
  return parseManifest(await readFile(path, "utf8"), where);
}

async function hasFile(path: string): Promise<boolean> {
  const stat = await lstat(path).catch(() => undefined);
  return stat?.isFile() === true;
}

/** The folders below `dir` that a workspace pattern matches and that hold a package.json. */
async function workspaceFolders(dir: string, { patterns, negated }: WorkspacePatterns) {
  const found: string[] = [];
  const searched: string[] = [];
  let visited = 0;
  const walk = async (rel: string): Promise<void> => {
    searched.push(rel);
    const entries = await readdir(join(dir, rel), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      // Symbolic links are not followed: a workspace is a real folder inside the project.
      if (!entry.isDirectory() || entry.name === "node_modules") continue;
      if (++visited > MAX_WORKSPACE_SEARCH)
        throw new InstallError(
          "too-large",
          `workspace patterns match more than ${MAX_WORKSPACE_SEARCH} folders`,
        );
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (negated.some((n) => minimatch(path, n))) continue;
      if (
        patterns.some((p) => minimatch(path, p)) &&
        (await hasFile(join(dir, path, "package.json")))
      )
        found.push(path);
      if (patterns.some((p) => minimatch(path, p, { partial: true }))) await walk(path);
    }
  };
  if (patterns.length > 0) await walk("");
  return { found: found.sort(), searched: searched.sort() };
}

/** Reads the project in `dir`: its package.json and its workspaces'. */
export async function readProject(dir: string): Promise<Project> {
  const manifest = await readManifestFile(join(dir, "package.json"), "package.json");
  const root: Importer = {
    location: "",
    name: typeof manifest.name === "string" ? manifest.name : "",
    manifest,
  };
  const { found: folders, searched } = await workspaceFolders(
    dir,
    workspacePatterns(manifest.workspaces),
  );
  const workspaces: Importer[] = [];
  const byName = new Map<string, string>();
  for (const location of folders) {
    const where = `${location}/package.json`;
    const m = await readManifestFile(join(dir, location, "package.json"), where);
    const name = typeof m.name === "string" && m.name !== "" ? m.name : nameFromFolder(location);
    const other = byName.get(name);
    if (other !== undefined)
      throw new InstallError(
        "bad-workspaces",
        `workspaces ${other} and ${location} are both named ${name}`,
      );
    byName.set(name, location);
    workspaces.push({ location, name, manifest: m });
  }
  return { root, workspaces, searched };
}
