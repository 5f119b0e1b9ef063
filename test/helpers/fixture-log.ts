/** The fixture log test/fixtures/logs/npm-v1 (see test/registry/fixture-replay.test.ts), for tests that start from it. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseVerifierKey } from "../../src/log/index.ts";
import type { SnapshotEntry } from "../../src/registry/entries.ts";
import { treeEntries } from "./entries.ts";

export const FIXTURE_LOG = join(import.meta.dirname, "..", "fixtures", "logs", "npm-v1");

/**
 * A database file of schema 2 (before the core tables were keyed by
 * ecosystem): the fixture log's state at its full size, copied by
 * `copyCoreTables` and compressed by the release before that change
 * (commit a8cc63c). `size` is its raw size, as a database entry names it.
 */
export const V2_DATABASE = { blob: join(FIXTURE_LOG, "database-v2.sqlite.zst"), size: 61440 };

export interface FixtureExpected {
  readonly size: number;
  readonly finalId: string;
  readonly documents: Readonly<Record<string, string>>;
  readonly listPackages: unknown;
}

export async function fixtureExpected(): Promise<FixtureExpected> {
  return JSON.parse(await readFile(join(FIXTURE_LOG, "expected.json"), "utf8")) as FixtureExpected;
}

/** The snapshot entry that ends the fixture log (the V2 database reflects the log up to it). */
export async function fixtureLastSnapshot(): Promise<SnapshotEntry> {
  const verifier = parseVerifierKey((await readFile(join(FIXTURE_LOG, "vkey.txt"), "utf8")).trim());
  const entries = await treeEntries(join(FIXTURE_LOG, "tree"), verifier);
  const last = entries[entries.length - 1];
  if (last.kind !== "snapshot")
    throw new Error("the fixture log does not end with a snapshot entry");
  return last;
}
