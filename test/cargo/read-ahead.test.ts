import assert from "node:assert/strict";
import { test } from "node:test";
import { crateDependencyNames } from "../../src/cargo/read-ahead.ts";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { crateDependency, cratePublish } from "../helpers/crate-entries.ts";

test("the crates read ahead: the newest live versions' dependencies on this registry, by published name, no dev-dependencies", () => {
  const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
  const withDeps = (version: string, ...deps: ReturnType<typeof crateDependency>[]) =>
    cratePublish("app", version, { resolution: { deps, features: {} } });
  state.apply(0, [
    withDeps("0.1.0", crateDependency("too-old", "1")),
    withDeps("0.2.0", crateDependency("older", "1")),
    withDeps("0.3.0", crateDependency("old", "1")),
    withDeps(
      "0.4.0",
      crateDependency("serde", "1"),
      crateDependency("json", "1", { package: "serde_json" }),
      crateDependency("cc", "1", { kind: "build" }),
      crateDependency("proptest", "1", { kind: "dev" }),
      crateDependency("elsewhere", "1", { registry: "https://example.org/index" }),
    ),
    withDeps("0.5.0", crateDependency("yanked-only", "1")),
    {
      v: 1,
      ecosystem: "cargo",
      name: "app",
      kind: "yank",
      version: "0.5.0",
      yanked: true,
      time: "2026-11-30T06:00:00.000Z",
      actor: "alice",
    },
  ]);
  const doc = state.table("cargo").document("app");
  assert.ok(doc);
  assert.deepEqual(crateDependencyNames(doc).sort(), ["cc", "old", "older", "serde", "serde_json"]);
});
