/** cargo publish bodies and tiny crates made by hand, for tests that control every byte. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { rawTgz } from "./tar.ts";

/** `u32le(n) ‖ json ‖ u32le(m) ‖ crate`, as cargo sends it. */
export function cratePublishBody(metadata: unknown, crate: Uint8Array): Buffer {
  const json = Buffer.from(typeof metadata === "string" ? metadata : JSON.stringify(metadata));
  const head = Buffer.alloc(4);
  head.writeUInt32LE(json.length);
  const mid = Buffer.alloc(4);
  mid.writeUInt32LE(crate.length);
  return Buffer.concat([head, json, mid, crate]);
}

export interface MadeCrate {
  readonly name: string;
  readonly version: string;
  /** Dependencies on this registry: [crate, version_req]. */
  readonly deps?: readonly (readonly [string, string])[];
}

/** The metadata cargo 1.95 sends for `crate` (its fields in cargo's order). */
export function crateMetadata({ name, version, deps = [] }: MadeCrate) {
  return {
    name,
    vers: version,
    deps: deps.map(([dep, req]) => ({
      optional: false,
      default_features: true,
      name: dep,
      features: [],
      version_req: req,
      target: null,
      kind: "normal",
    })),
    features: {},
    authors: [],
    description: `the ${name} crate`,
    documentation: null,
    homepage: null,
    readme: null,
    readme_file: null,
    keywords: [],
    categories: [],
    license: "MIT",
    license_file: null,
    repository: null,
    badges: {},
    links: null,
    rust_version: null,
  };
}

function cargoToml({ name, version, deps = [] }: MadeCrate): string {
  const lines = [
    "[package]",
    `name = ${JSON.stringify(name)}`,
    `version = ${JSON.stringify(version)}`,
    'edition = "2021"',
    `description = "the ${name} crate"`,
    'license = "MIT"',
  ];
  if (deps.length > 0) lines.push("", "[dependencies]");
  for (const [dep, req] of deps) lines.push(`${dep} = ${JSON.stringify(req)}`);
  return `${lines.join("\n")}\n`;
}

/** A `.crate` of `crate`: its Cargo.toml and a one-line lib. */
export function crateFile(crate: MadeCrate, extra: Record<string, Uint8Array> = {}): Buffer {
  const root = `${crate.name}-${crate.version}`;
  return rawTgz([
    { name: `${root}/Cargo.toml`, data: cargoToml(crate) },
    { name: `${root}/src/lib.rs`, data: "pub fn it() {}\n" },
    ...Object.entries(extra).map(([path, data]) => ({ name: `${root}/${path}`, data })),
  ]);
}

/** The body cargo would send to publish `crate`. */
export function madeCrateBody(crate: MadeCrate): Buffer {
  return cratePublishBody(crateMetadata(crate), crateFile(crate));
}

/** A crate's sources for the real cargo to package, under `dir`; returns its folder. */
export async function writeCrateSources(
  dir: string,
  crate: MadeCrate,
  extra: Record<string, Uint8Array> = {},
): Promise<string> {
  const root = join(dir, `${crate.name}-${crate.version}`);
  await mkdir(join(root, "src"), { recursive: true });
  await writeFile(join(root, "Cargo.toml"), cargoToml(crate));
  await writeFile(join(root, "src", "lib.rs"), "pub fn it() {}\n");
  for (const [path, data] of Object.entries(extra)) await writeFile(join(root, path), data);
  return root;
}
