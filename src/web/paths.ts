/**
 * Every page's URL, built and parsed in one place, so links and routes
 * cannot drift. Pages live under `/-/web/`, a prefix no package name can
 * take, beside the npm API; `/` and a package's npm path (`/<name>`) lead
 * a browser there too (routes.ts).
 *
 *   /-/web/search?q=<text>[&page=<n>]       search results (search.json?q=: suggestions)
 *   /-/web/package/<name>                      the latest version
 *   /-/web/package/<name>/v/<version>          one version
 *   /-/web/package/<name>/v/<version>/files/<path>   a folder or a file
 *   /-/web/package/<name>/v/<version>/raw/<path>     a file's bytes
 *   /-/web/package/<name>/v/<version>/manifest       package.json as published
 *   /-/web/package/<name>/v/<version>/manifest/raw   its exact bytes
 *   /-/web/package/<name>/v/<version>/proof          its log entry and inclusion proof
 *   /-/web/package/<name>/diff/<from>/<to>           two versions compared
 *   /-/web/entry/<index>                       one log entry, proved
 *   /-/web/log                                 recent entries (?before=<index>)
 *   /-/web/changes/<from>/<to>                 every change between two registry states
 *                                              (log sizes or snapshot ids; ?start=<index> pages on)
 *   /-/web/mirrors                             the mirror list and each mirror's health
 *
 * Names keep their `@scope/name` slash; versions and paths are
 * percent-encoded segment by segment.
 */
import { WebError } from "./errors.ts";

export const WEB_PREFIX = "/-/web";

const segment = (s: string) => encodeURIComponent(s);
const filePath = (path: string) => path.split("/").map(segment).join("/");
const nameSegments = (name: string) =>
  name.startsWith("@")
    ? `@${segment(name.slice(1, name.indexOf("/")))}/${segment(name.slice(name.indexOf("/") + 1))}`
    : segment(name);

export const paths = {
  home: () => "/",
  search: (text?: string, page?: number) =>
    text === undefined
      ? `${WEB_PREFIX}/search`
      : `${WEB_PREFIX}/search?q=${segment(text)}${page === undefined || page === 1 ? "" : `&page=${page}`}`,
  searchJson: () => `${WEB_PREFIX}/search.json`,
  package: (name: string) => `${WEB_PREFIX}/package/${nameSegments(name)}`,
  version: (name: string, version: string) => `${paths.package(name)}/v/${segment(version)}`,
  files: (name: string, version: string, path = "") =>
    `${paths.version(name, version)}/files${path === "" ? "" : `/${filePath(path)}`}`,
  raw: (name: string, version: string, path: string) =>
    `${paths.version(name, version)}/raw/${filePath(path)}`,
  manifest: (name: string, version: string) => `${paths.version(name, version)}/manifest`,
  manifestRaw: (name: string, version: string) => `${paths.manifest(name, version)}/raw`,
  proof: (name: string, version: string) => `${paths.version(name, version)}/proof`,
  diff: (name: string, from: string, to: string) =>
    `${paths.package(name)}/diff/${segment(from)}/${segment(to)}`,
  entry: (index: number) => `${WEB_PREFIX}/entry/${index}`,
  log: (before?: number) => `${WEB_PREFIX}/log${before === undefined ? "" : `?before=${before}`}`,
  changes: (from: string | number, to: string | number, start?: number) =>
    `${WEB_PREFIX}/changes/${segment(String(from))}/${segment(String(to))}${start === undefined ? "" : `?start=${start}`}`,
  mirrors: () => `${WEB_PREFIX}/mirrors`,
  asset: (file: string) => `${WEB_PREFIX}/assets/${file}`,
};

/** What a path under /-/web/package/ names. */
export type PackageView =
  | { readonly view: "overview"; readonly name: string; readonly version?: string }
  | {
      readonly view: "files";
      readonly name: string;
      readonly version: string;
      readonly path: string;
    }
  | { readonly view: "raw"; readonly name: string; readonly version: string; readonly path: string }
  | { readonly view: "manifest"; readonly name: string; readonly version: string }
  | { readonly view: "manifest-raw"; readonly name: string; readonly version: string }
  | { readonly view: "proof"; readonly name: string; readonly version: string }
  | { readonly view: "diff"; readonly name: string; readonly from: string; readonly to: string };

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new WebError("bad-request", "the path is not valid percent-encoding");
  }
}

/** Parses the part of a URL after `/-/web/package/` (still percent-encoded, no query). */
export function parsePackagePath(rest: string): PackageView {
  const parts = rest.split("/");
  const first = decode(parts[0]);
  let name: string;
  if (first.startsWith("@") && !first.includes("/")) {
    if (parts.length < 2) throw new WebError("bad-request", "a scoped name needs its package part");
    name = `${first}/${decode(parts[1])}`;
    parts.splice(0, 2);
  } else {
    // A scoped name may come as one encoded segment (`@scope%2fname`).
    name = first;
    parts.splice(0, 1);
  }
  if (name === "" || name.split("/").length > 2 || (name.includes("/") && !name.startsWith("@")))
    throw new WebError("bad-request", "not a package name");
  if (parts.length === 0 || (parts.length === 1 && parts[0] === ""))
    return { view: "overview", name };
  if (parts[0] === "diff" && parts.length === 3)
    return { view: "diff", name, from: decode(parts[1]), to: decode(parts[2]) };
  if (parts[0] !== "v" || parts.length < 2 || parts[1] === "")
    throw new WebError("not-found", "no such page");
  const version = decode(parts[1]);
  const [view, ...path] = parts.slice(2);
  const file = path.map(decode).join("/");
  switch (view) {
    case undefined:
    case "":
      return { view: "overview", name, version };
    case "files":
      return { view: "files", name, version, path: file };
    case "raw":
      if (file === "") throw new WebError("bad-request", "name a file");
      return { view: "raw", name, version, path: file };
    case "manifest":
      if (path.length === 1 && path[0] === "raw") return { view: "manifest-raw", name, version };
      if (path.length > 0) throw new WebError("not-found", "no such page");
      return { view, name, version };
    case "proof":
      if (path.length > 0) throw new WebError("not-found", "no such page");
      return { view, name, version };
    default:
      throw new WebError("not-found", "no such page");
  }
}

/** A registry state as /-/web/changes/ names it: a log size, or a snapshot id. */
export type StateRef =
  | { readonly kind: "size"; readonly size: number }
  | { readonly kind: "snapshot"; readonly id: string };

/** Parses one state of a changes URL (already decoded). */
export function parseStateRef(text: string): StateRef {
  if (/^(0|[1-9]\d{0,14})$/.test(text)) return { kind: "size", size: Number(text) };
  if (/^[0-9a-f]{64}$/.test(text)) return { kind: "snapshot", id: text };
  throw new WebError("bad-request", "a state is a log size or a snapshot id (64 hex digits)");
}
