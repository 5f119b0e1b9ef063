/**
 * Edits to a project's package.json for `cairn install <pkg>@<range>` and
 * `cairn uninstall <pkg>`, made as npm makes them (arborist's
 * add-rm-pkg-deps and @npmcli/package-json), so the file ends the same
 * after either tool:
 * - the indent and line ending are those of the file (the whitespace
 *   after the opening brace's line break, as json-parse-even-better-errors
 *   detects them; two spaces and `\n` for `{}`), and the text ends with a
 *   line ending, as npm writes it (a file on one line stays on one line,
 *   without one);
 * - adding removes the name from the fields it must not also be in
 *   (a production dependency leaves devDependencies and peerDependencies),
 *   keeps the field a name already has when none is asked for, and an
 *   optional dependency is not repeated in dependencies;
 * - every dependency field is sorted by name (`localeCompare(…, "en")`),
 *   and a field left empty is removed; other fields keep their order.
 */
import { InstallError } from "./install-error.ts";
import { isObject } from "./json-input.ts";
import { parseManifest } from "./project.ts";

export type SaveType = "prod" | "dev" | "optional" | "peer" | "peerOptional";

const FIELD: Record<SaveType, string> = {
  dev: "devDependencies",
  optional: "optionalDependencies",
  prod: "dependencies",
  peerOptional: "peerDependencies",
  peer: "peerDependencies",
};
const DEP_FIELDS = ["dependencies", "optionalDependencies", "devDependencies", "peerDependencies"];

const FORMAT = /^\s*[{[]((?:\r?\n)+)([\s\t]*)/;
const EMPTY = /^(?:\{\}|\[\])((?:\r?\n)+)?$/;
const collator = new Intl.Collator("en");

type Json = Record<string, unknown>;
type Deps = Record<string, string>;

interface Parsed {
  readonly pkg: Json;
  readonly indent: string;
  readonly newline: string;
}

function parse(text: string): Parsed {
  const clean = text.replace(/^\uFEFF/, "");
  const pkg = parseManifest(clean);
  // A file on one line matches neither: npm then writes it on one line, with no line ending at all.
  const match = EMPTY.exec(clean) ?? FORMAT.exec(clean) ?? [null, "", ""];
  return { pkg, newline: match[1] ?? "\n", indent: match[2] ?? "  " };
}

function format({ pkg, indent, newline }: Parsed): string {
  return `${JSON.stringify(pkg, null, indent)}\n`.replace(/\n/g, newline);
}

const deps = (pkg: Json, field: string): Deps | undefined =>
  isObject(pkg[field]) ? (pkg[field] as Deps) : undefined;

function deleteFrom(pkg: Json, field: string, name: string): void {
  const map = deps(pkg, field);
  if (!map || !Object.hasOwn(map, name)) return;
  delete map[name];
  if (field === "peerDependencies" && isObject(pkg.peerDependenciesMeta)) {
    delete pkg.peerDependenciesMeta[name];
    if (Object.keys(pkg.peerDependenciesMeta).length === 0) delete pkg.peerDependenciesMeta;
  }
  if (Object.keys(map).length === 0) delete pkg[field];
}

/** arborist's inferSaveType: the field the name is already in, else a production dependency. */
function inferSaveType(pkg: Json, name: string): SaveType {
  for (const type of ["dev", "optional", "prod", "peerOptional"] as const) {
    if (!deps(pkg, FIELD[type]) || !Object.hasOwn(deps(pkg, FIELD[type]) as Deps, name)) continue;
    if (type !== "peerOptional") return type;
    const meta = isObject(pkg.peerDependenciesMeta) ? pkg.peerDependenciesMeta[name] : undefined;
    return isObject(meta) && meta.optional === true ? "peerOptional" : "peer";
  }
  return "prod";
}

/** @npmcli/package-json's updateDependencies: fields sorted, optional ones out of dependencies, empty ones gone. */
function tidy(pkg: Json): void {
  for (const field of DEP_FIELDS) {
    const map = deps(pkg, field);
    if (!map) continue;
    const sorted = Object.keys(map).sort(collator.compare);
    pkg[field] = Object.fromEntries(sorted.map((k) => [k, map[k]]));
  }
  const optional = deps(pkg, "optionalDependencies");
  const prod = deps(pkg, "dependencies");
  if (optional && prod) for (const name of Object.keys(optional)) delete prod[name];
  for (const field of DEP_FIELDS) {
    const map = deps(pkg, field);
    if (map && Object.keys(map).length === 0) delete pkg[field];
  }
}

/** The spec npm saves for an installed version: `^1.2.3`, or `1.2.3` with save-exact. */
export function savedSpec(version: string, options: { exact?: boolean; prefix?: string } = {}) {
  return options.exact ? version : `${options.prefix ?? "^"}${version}`;
}

/** package.json `text` with `name` depending on `spec` in the field `type` names (inferred when absent). */
export function addDependency(text: string, name: string, spec: string, type?: SaveType): string {
  if (name === "" || name === "__proto__")
    throw new InstallError("bad-field", `${JSON.stringify(name)} is not a package name`);
  const parsed = parse(text);
  const { pkg } = parsed;
  const saveType = type ?? inferSaveType(pkg, name);
  if (saveType === "prod") {
    deleteFrom(pkg, "devDependencies", name);
    deleteFrom(pkg, "peerDependencies", name);
  } else if (saveType === "dev") deleteFrom(pkg, "dependencies", name);
  else if (saveType === "optional") deleteFrom(pkg, "peerDependencies", name);
  else {
    deleteFrom(pkg, "dependencies", name);
    deleteFrom(pkg, "optionalDependencies", name);
  }
  const field = FIELD[saveType];
  const map: Deps = deps(pkg, field) ?? {};
  pkg[field] = map;
  if (spec !== "*" || map[name] === undefined) map[name] = spec;
  if (saveType === "peer" || saveType === "peerOptional") {
    const pdm: Json = isObject(pkg.peerDependenciesMeta) ? pkg.peerDependenciesMeta : {};
    const entry = pdm[name];
    if (saveType === "peer" && isObject(entry) && entry.optional) entry.optional = false;
    else if (saveType === "peerOptional") {
      pdm[name] = { ...(isObject(entry) ? entry : {}), optional: true };
      pkg.peerDependenciesMeta = pdm;
    }
    const dev = deps(pkg, "devDependencies");
    if (dev && dev[name] !== undefined) dev[name] = spec;
  }
  tidy(pkg);
  return format(parsed);
}

/** package.json `text` without `name` in any dependency field or bundleDependencies. */
export function removeDependency(text: string, name: string): string {
  const parsed = parse(text);
  const { pkg } = parsed;
  for (const field of DEP_FIELDS) deleteFrom(pkg, field, name);
  const bundled = pkg.bundleDependencies;
  if (Array.isArray(bundled)) {
    const kept = bundled.filter((n) => n !== name);
    if (kept.length === 0) delete pkg.bundleDependencies;
    else pkg.bundleDependencies = kept;
  }
  tidy(pkg);
  return format(parsed);
}
