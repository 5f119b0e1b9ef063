/** The dependents index: kept as `latest` moves, rebuilt when a SQLite snapshot is adopted or an older state opened. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { adoptDatabaseFile, copyCoreTables } from "../../src/registry/database-file.ts";
import type { PackageEntry } from "../../src/registry/entries.ts";
import { DATABASE_SCHEMA, RegistryState } from "../../src/registry/state.ts";
import { publishEntry } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { buildState } from "../helpers/state.ts";

function applied(state: RegistryState, entries: readonly PackageEntry[]): void {
  state.apply(state.logSize, entries);
}

test("dependents follow each package's latest version, aliases and every registry field", () => {
  const state = RegistryState.open(":memory:", { ecosystems: ECOSYSTEMS });
  applied(state, [
    publishEntry("base", "1.0.0", { tag: "latest" }),
    publishEntry("app", "1.0.0", {
      tag: "latest",
      resolution: {
        dependencies: { base: "^1.0.0", "aliased-name": "npm:lib@^2" },
        optionalDependencies: { opt: "*" },
        peerDependencies: { peer: "^1", app: "*" },
      },
    }),
    publishEntry("tool", "1.0.0", { tag: "latest", resolution: { dependencies: { base: "1" } } }),
    // A git dependency names nothing in the registry.
    publishEntry("gitty", "1.0.0", {
      tag: "latest",
      resolution: { dependencies: { base: "github:someone/base" } },
    }),
  ]);
  assert.deepEqual(state.table("npm").dependents("base", 10), ["app", "tool"]);
  assert.equal(state.table("npm").dependentCount("base"), 2);
  assert.deepEqual(state.table("npm").dependents("lib", 10), ["app"]);
  assert.deepEqual(state.table("npm").dependents("aliased-name", 10), []);
  assert.deepEqual(state.table("npm").dependents("opt", 10), ["app"]);
  assert.deepEqual(state.table("npm").dependents("peer", 10), ["app"]);
  // A package never depends on itself.
  assert.deepEqual(state.table("npm").dependents("app", 10), []);
  assert.deepEqual(state.table("npm").dependents("base", 1), ["app"]);

  // A new latest that drops a dependency removes the dependent; a prerelease off latest changes nothing.
  applied(state, [
    publishEntry("tool", "2.0.0", { tag: "latest", resolution: {} }),
    publishEntry("app", "2.0.0-beta.1", {
      tag: "next",
      resolution: { dependencies: { other: "1" } },
    }),
  ]);
  assert.deepEqual(state.table("npm").dependents("base", 10), ["app"]);
  assert.equal(state.table("npm").dependentCount("base"), 1);
  assert.deepEqual(state.table("npm").dependents("other", 10), []);

  // Moving latest back brings it back; unpublishing the package takes it away.
  const retag: PackageEntry = {
    v: 1,
    kind: "dist-tag",
    ecosystem: "npm",
    name: "tool",
    time: "2026-11-21T07:00:00.000Z",
    actor: "alice",
    tag: "latest",
    version: "1.0.0",
  };
  applied(state, [retag]);
  assert.deepEqual(state.table("npm").dependents("base", 10), ["app", "tool"]);
  const unpublish: PackageEntry = {
    v: 1,
    kind: "unpublish",
    ecosystem: "npm",
    name: "app",
    time: "2026-11-21T08:00:00.000Z",
    actor: "alice",
  };
  applied(state, [unpublish]);
  assert.deepEqual(state.table("npm").dependents("base", 10), ["tool"]);
  assert.equal(state.table("npm").dependentCount("base"), 1);
  assert.deepEqual(state.table("npm").dependents("lib", 10), []);
  assert.equal(state.table("npm").dependentCount("lib"), 0);
  state.close();
});

test("an adopted SQLite snapshot gets its dependents; a state made before the index is rebuilt", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "state.sqlite");
  const { state, snapshot } = buildState(path);
  assert.deepEqual(state.table("npm").dependents("a", 10), ["@s/b"]);
  state.close();

  const copy = join(dir.path, "copy.sqlite");
  copyCoreTables(path, copy);
  const adopted = adoptDatabaseFile(copy, ECOSYSTEMS, 5, snapshot);
  assert.deepEqual(adopted.table("npm").dependents("a", 10), ["@s/b"]);
  assert.equal(adopted.table("npm").dependentCount("a"), 1);
  adopted.close();

  // The published file keeps its own schema number; the index changed only derived tables.
  const published = join(dir.path, "published.sqlite");
  copyCoreTables(path, published);
  const file = new DatabaseSync(published, { readOnly: true });
  const { user_version } = file.prepare("PRAGMA user_version").get() as { user_version: number };
  assert.equal(user_version, DATABASE_SCHEMA);
  file.close();

  // A state of the schema before the index is emptied on opening, for the log to rebuild.
  const older = new DatabaseSync(path);
  older.exec("DROP TABLE dependents; DROP TABLE dependent_counts; PRAGMA user_version = 2");
  older.close();
  const reopened = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
  assert.equal(reopened.logSize, 0);
  assert.deepEqual(reopened.table("npm").dependents("a", 10), []);
  reopened.close();
});
