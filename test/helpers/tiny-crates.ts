/**
 * Tiny made-up crates, published straight into a test origin through its
 * neutral publish with the metadata `cargo publish` sends (checked and
 * projected by cargo's publish rules), so the index lines are the ones a
 * real publish makes. The `.crate` holds what cargo unpacks and reads:
 * `Cargo.toml` and `src/lib.rs` under `<name>-<version>/`.
 */

import { checkMetadata } from "../../src/cargo/rules/publish-body.ts";
import { canonicalJsonBytes } from "../../src/registry/canonical-json.ts";
import { crateMetadata } from "./crate-body.ts";
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

/** Publishes a tiny crate as `actor` (alice by default); resolves once it is sequenced. */
export async function publishTinyCrate(
  origin: TestOrigin,
  name: string,
  version: string,
  deps: readonly TinyDependency[] = [],
  actor = "alice",
): Promise<void> {
  const meta = crateMetadata({ name, version, deps });
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
