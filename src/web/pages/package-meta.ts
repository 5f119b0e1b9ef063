/**
 * What a package page reads out of a manifest as published: its links
 * (repository, homepage, bugs), license, dependencies of each kind, and
 * the install commands for this server. Manifests are whatever a publisher
 * wrote, so every field is read defensively, and only http(s) URLs ever
 * become links.
 */
import { registryDependency } from "../../npm/rules/dependencies.ts";
import { isObject } from "../../util/is-object.ts";

/** The URL if it is http(s), else undefined: nothing else becomes a link. */
export function httpUrl(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  try {
    const url = new URL(value.trim());
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

const HOSTED: Record<string, string> = {
  github: "https://github.com/",
  gitlab: "https://gitlab.com/",
  bitbucket: "https://bitbucket.org/",
  gist: "https://gist.github.com/",
};

/** A repository as npm's manifests name one, as a web link: shorthands, git+https:, git:, ssh. */
export function repositoryUrl(repository: unknown): string | undefined {
  const raw = isObject(repository) ? repository.url : repository;
  if (typeof raw !== "string") return undefined;
  let url = raw.trim();
  const hosted = /^(github|gitlab|bitbucket|gist):([\w.-]+(?:\/[\w.-]+)?)$/.exec(url);
  if (hosted) url = `${HOSTED[hosted[1]]}${hosted[2]}`;
  else if (/^[\w.-]+\/[\w.-]+$/.test(url)) url = `${HOSTED.github}${url}`;
  else {
    // scp-like `git@host:user/repo.git`
    const scp = /^[\w.-]+@([\w.-]+):(?!\/)(.+)$/.exec(url);
    if (scp) url = `https://${scp[1]}/${scp[2]}`;
    url = url.replace(/^git\+/, "").replace(/^(git|ssh):\/\/(?:[^@/]+@)?/, "https://");
  }
  const web = httpUrl(url.replace(/\.git(?=$|[#?])/, ""));
  if (web === undefined) return undefined;
  const directory = isObject(repository) ? repository.directory : undefined;
  if (typeof directory === "string" && directory !== "" && /^https:\/\/github\.com\//.test(web))
    return `${web.replace(/\/$/, "")}/tree/HEAD/${directory.split("/").map(encodeURIComponent).join("/")}`;
  return web;
}

/** The bug tracker's URL: `bugs` as a string or `{ url }`. */
export function bugsUrl(bugs: unknown): string | undefined {
  return httpUrl(isObject(bugs) ? bugs.url : bugs);
}

/** The license as text: an SPDX expression, a `{ type }` object, or the legacy `licenses` list. */
export function licenseOf(manifest: Record<string, unknown>): string | undefined {
  const name = (value: unknown): string | undefined =>
    typeof value === "string" ? value : isObject(value) ? name(value.type) : undefined;
  const single = name(manifest.license);
  if (single) return single;
  if (Array.isArray(manifest.licenses)) {
    const names = manifest.licenses.map(name).filter((n) => n !== undefined);
    if (names.length > 0) return names.join(" OR ");
  }
  return undefined;
}

export const DEPENDENCY_KINDS = [
  "dependencies",
  "devDependencies",
  "peerDependencies",
  "optionalDependencies",
  "bundleDependencies",
] as const;

export type DependencyKind = (typeof DEPENDENCY_KINDS)[number];

export interface Dependency {
  readonly name: string;
  /** The range, tag, alias or URL as written; empty for a bundled one. */
  readonly spec: string;
  /** The registry package it installs (an `npm:` alias's target); undefined for git, file, URL specs. */
  readonly target: string | undefined;
  /** A peer marked optional in peerDependenciesMeta. */
  readonly optional: boolean;
}

function bundled(manifest: Record<string, unknown>): string[] {
  const value = manifest.bundleDependencies ?? manifest.bundledDependencies;
  if (Array.isArray(value)) return value.filter((n): n is string => typeof n === "string");
  // `true` bundles every dependency.
  if (value === true && isObject(manifest.dependencies)) return Object.keys(manifest.dependencies);
  return [];
}

/** The manifest's dependencies of one kind, in the order written. */
export function dependenciesOf(
  manifest: Record<string, unknown>,
  kind: DependencyKind,
): Dependency[] {
  if (kind === "bundleDependencies")
    return bundled(manifest).map((name) => ({ name, spec: "", target: name, optional: false }));
  const deps = manifest[kind];
  if (!isObject(deps)) return [];
  const meta = isObject(manifest.peerDependenciesMeta) ? manifest.peerDependenciesMeta : {};
  return Object.entries(deps).map(([name, spec]) => {
    const peerMeta = Object.hasOwn(meta, name) ? meta[name] : undefined;
    return {
      name,
      spec: typeof spec === "string" ? spec : JSON.stringify(spec),
      target: registryDependency(name, spec)?.name,
      optional: kind === "peerDependencies" && isObject(peerMeta) && peerMeta.optional === true,
    };
  });
}

export interface InstallCommand {
  readonly client: string;
  /** One or more lines to type. */
  readonly lines: readonly string[];
}

/**
 * How each client installs `spec` from this server. npm, pnpm and bun take
 * a `--registry` for one command; Yarn 2+ has no such flag, so it gets the
 * one-time config line first; cairn names the origin and its key, which it
 * checks everything against.
 */
export function installCommands(spec: string, base: string, verifierKey: string): InstallCommand[] {
  const registry = `${base.replace(/\/$/, "")}/`;
  return [
    { client: "npm", lines: [`npm install ${spec} --registry ${registry}`] },
    { client: "pnpm", lines: [`pnpm add ${spec} --registry ${registry}`] },
    {
      client: "yarn",
      lines: [`yarn config set npmRegistryServer ${registry}`, `yarn add ${spec}`],
    },
    { client: "bun", lines: [`bun add ${spec} --registry ${registry}`] },
    { client: "cairn", lines: [`cairn install ${spec} --origin ${registry} --key ${verifierKey}`] },
  ];
}
