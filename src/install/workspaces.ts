/**
 * A project's workspaces from npm's `workspaces` field (an array of folder
 * globs, or `{ packages: [...] }`), as @npmcli/map-workspaces finds them:
 * each matching folder with a package.json is a workspace, named by that
 * package.json's `name`; `*` matches one folder name (not a dot-folder),
 * `**` any depth; `node_modules` is never searched; a pattern starting with
 * `!` removes what it matches. Two workspaces with one name are an error.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CodedError } from "../util/coded-error.ts";
import type { WorkspaceInput } from "./ideal-tree.ts";

/** Not HTTP errors: they stop an install before anything is fetched. */
export type WorkspaceErrorCode =
  | "workspace-unnamed"
  | "workspace-duplicate"
  | "workspace-bad-manifest";

export class WorkspaceError extends CodedError<WorkspaceErrorCode> {}

/** The patterns of a package.json's `workspaces` field. */
export function workspacePatterns(manifest: Readonly<Record<string, unknown>>): string[] {
  const field = manifest.workspaces;
  const list = Array.isArray(field)
    ? field
    : field && typeof field === "object"
      ? (field as { packages?: unknown }).packages
      : undefined;
  return Array.isArray(list) ? list.filter((p): p is string => typeof p === "string") : [];
}

/** Whether the folder `path` (relative, forward slashes) matches `pattern`. */
export function matchesWorkspace(pattern: string, path: string): boolean {
  const want = pattern.replace(/^\.\//, "").replace(/\/+$/, "").split("/");
  const have = path.split("/");
  const match = (i: number, j: number): boolean => {
    if (i === want.length) return j === have.length;
    if (want[i] === "**") return match(i + 1, j) || (j < have.length && match(i, j + 1));
    if (j === have.length) return false;
    return segmentMatches(want[i], have[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

function segmentMatches(pattern: string, name: string): boolean {
  if (name.startsWith(".") && !pattern.startsWith(".")) return false;
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  return new RegExp(`^${source}$`).test(name);
}

/** Every folder under `projectDir` (relative paths), but node_modules and dot-folders. */
async function folders(projectDir: string, maxDepth: number): Promise<string[]> {
  const found: string[] = [];
  const walk = async (relative: string, depth: number) => {
    if (depth > maxDepth) return;
    const entries = await readdir(join(projectDir, relative), { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!entry.isDirectory() || entry.name === "node_modules" || entry.name.startsWith("."))
        continue;
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      found.push(path);
      await walk(path, depth + 1);
    }
  };
  await walk("", 1);
  return found;
}

/** The workspaces of the project in `projectDir` whose package.json is `manifest`. */
export async function findWorkspaces(
  projectDir: string,
  manifest: Readonly<Record<string, unknown>>,
): Promise<WorkspaceInput[]> {
  const patterns = workspacePatterns(manifest);
  if (patterns.length === 0) return [];
  const deep = patterns.some((p) => p.includes("**"));
  const maxDepth = deep ? 16 : Math.max(...patterns.map((p) => p.split("/").length));
  const include = patterns.filter((p) => !p.startsWith("!"));
  const exclude = patterns.filter((p) => p.startsWith("!")).map((p) => p.slice(1));
  const workspaces: WorkspaceInput[] = [];
  const names = new Map<string, string>();
  for (const folder of await folders(projectDir, maxDepth)) {
    if (!include.some((p) => matchesWorkspace(p, folder))) continue;
    if (exclude.some((p) => matchesWorkspace(p, folder))) continue;
    let text: string;
    try {
      text = await readFile(join(projectDir, folder, "package.json"), "utf8");
    } catch {
      continue;
    }
    const workspace = parseManifest(text, folder);
    const name = workspace.name;
    if (typeof name !== "string" || name === "")
      throw new WorkspaceError("workspace-unnamed", `the workspace in ${folder} has no name`);
    const other = names.get(name);
    if (other !== undefined)
      throw new WorkspaceError(
        "workspace-duplicate",
        `${other} and ${folder} are both workspace ${name}`,
      );
    names.set(name, folder);
    workspaces.push({ folder, manifest: workspace });
  }
  return workspaces;
}

function parseManifest(text: string, folder: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new WorkspaceError("workspace-bad-manifest", `${folder}/package.json is not JSON`, {
      cause,
    });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new WorkspaceError("workspace-bad-manifest", `${folder}/package.json is not an object`);
  return parsed as Record<string, unknown>;
}
