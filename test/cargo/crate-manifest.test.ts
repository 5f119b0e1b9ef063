/** The corpus's manifest rewriting on a small manifest with every case in it. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "smol-toml";
import { rewriteManifest } from "../helpers/crate-manifest.ts";

const MANIFEST = `
[package]
name = "demo"
version = "1.0.0"
links = "demo"

[dependencies.kept]
version = "1"

[dependencies.gone]
version = "1"
optional = true

[dependencies.core]
version = "1"
optional = true
package = "rustc-std-workspace-core"

[dependencies.optkept]
version = "2"
optional = true

[dev-dependencies.tester]
version = "1"

[target."cfg(windows)".dependencies.winapi]
version = "0.3"

[target."cfg(unix)".dependencies.kept]
version = "1"
features = ["plain"]

[target."cfg(unix)".dev-dependencies.tester]
version = "1"

[features]
default = ["std", "gone"]
std = ["optkept"]
extra = ["dep:gone", "std"]
more = ["extra"]
fancy = ["kept/fancy"]
plain = ["kept/plain", "optkept?/x"]
rustc-dep-of-std = ["core"]
`;

const corpus = new Set(["kept", "optkept"]);
const featuresOf = (crate: string) => new Set(crate === "kept" ? ["plain"] : ["x"]);

test("a rewritten manifest keeps only the corpus and the features that still work", () => {
  const rewritten = rewriteManifest(MANIFEST, (crate) => corpus.has(crate), featuresOf);
  assert.deepEqual(rewritten.featureTable, {
    default: ["std"],
    std: ["optkept"],
    plain: ["kept/plain", "optkept?/x"],
  });
  assert.deepEqual([...rewritten.features].sort(), ["default", "optkept", "plain", "std"]);
  assert.deepEqual(
    rewritten.dependencies.map((dep) => [dep.key, dep.kind, dep.target ?? null]),
    [
      ["kept", "normal", null],
      ["optkept", "normal", null],
      ["kept", "normal", "cfg(unix)"],
    ],
  );
  assert.equal(rewritten.links, "demo");
  const written = parse(rewritten.text);
  assert.deepEqual(Object.keys(written).sort(), ["dependencies", "features", "package", "target"]);
  assert.deepEqual(Object.keys(written.target as object), ["cfg(unix)"]);
});

test("a required dependency outside the corpus is refused", () => {
  assert.throws(
    () => rewriteManifest(MANIFEST, (crate) => crate === "optkept", featuresOf),
    /demo needs kept/,
  );
});

test("a dependency asking for a feature the corpus removed is refused", () => {
  assert.throws(
    () =>
      rewriteManifest(
        MANIFEST,
        (crate) => corpus.has(crate),
        () => new Set(["x"]),
      ),
    /asks kept for feature plain/,
  );
});
