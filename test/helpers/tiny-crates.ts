/**
 * Tiny made-up crates, published straight into a test origin through its
 * neutral publish with the metadata `cargo publish` sends (checked and
 * projected by cargo's publish rules), so the index lines are the ones a
 * real publish makes. The `.crate` holds what cargo unpacks and reads:
 * `Cargo.toml` and `src/lib.rs` under `<name>-<version>/`.
 */

import { checkMetadata } from "../../src/cargo/rules/publish-body.ts";
import { canonicalJsonBytes } from "../../src/registry/canonical-json.ts";
import type { TestOrigin } from "./origin.ts";
import { rawTgz } from "./tar.ts";

/** A dependency on another crate of the same registry: `[name, requirement]`. */
export type TinyDependency = readonly [name: string, req: string];

/** A crate's `.crate` bytes; `body` distinguishes crates of the same name and version (a fork). */
export function tinyCrate(
  name: string,
  version: string,
  deps: readonly TinyDependency[] = [],
  body = "",
): Buffer {
  const root = `${name}-${version}`;
  const manifest = [
    "[package]",
    `name = ${JSON.stringify(name)}`,
    `version = ${JSON.stringify(version)}`,
    'edition = "2021"',
    "",
    "[dependencies]",
    ...deps.map(([dep, req]) => `${dep} = ${JSON.stringify(req)}`),
    "",
  ].join("\n");
  return rawTgz([
    { name: `${root}/Cargo.toml`, data: manifest },
    { name: `${root}/src/lib.rs`, data: `pub fn ${name.replaceAll("-", "_")}() {}\n${body}` },
  ]);
}

/** The metadata JSON `cargo publish` sends for a tiny crate (NewCrate, in cargo's field order). */
function publishMetadata(name: string, version: string, deps: readonly TinyDependency[]) {
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
    description: `the tiny crate ${name}`,
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

/** Publishes a tiny crate as `actor` (alice by default); resolves once it is sequenced. */
export async function publishTinyCrate(
  origin: TestOrigin,
  name: string,
  version: string,
  deps: readonly TinyDependency[] = [],
  actor = "alice",
): Promise<void> {
  const meta = publishMetadata(name, version, deps);
  const checked = checkMetadata(meta);
  await origin.registry.publish({
    actor,
    ecosystem: "cargo",
    name: checked.name,
    version: checked.version,
    artifact: tinyCrate(name, version, deps),
    metadata: canonicalJsonBytes(meta),
    resolution: checked.resolution as unknown as Record<string, never>,
  });
}
