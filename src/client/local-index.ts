/**
 * The local index: a SQLite copy of the registry state on the user's
 * machine, kept current by streaming only new log entries.
 *
 * A new index starts from the origin's newest SQLite snapshot: the last
 * entry under the checkpoint is a snapshot entry naming the newest
 * `database` entry; the database blob is checked against that entry, and
 * its rows against the snapshot entry ending the prefix it reflects. Then
 * every entry after it is applied, each snapshot entry checked on the way.
 * Everything is fetched through the LogClient, so from any mirror, and
 * verified against the signed checkpoint. The index keeps what it applies
 * (registry/history.ts), so diffs between states need no network.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import { adoptDatabaseFile, decompressDatabaseFile } from "../registry/database-file.ts";
import {
  type DatabaseEntry,
  decodeEntry,
  type Entry,
  type SnapshotEntry,
} from "../registry/entries.ts";
import { recordHistory, startHistory } from "../registry/history.ts";
import { RegistryState } from "../registry/state.ts";
import { decodeLogEntries } from "../registry/void-entries.ts";
import type { LogClient } from "./log-client.ts";

export interface IndexSyncReport {
  readonly fromSize: number;
  readonly toSize: number;
  /** The log size of the SQLite snapshot the index started from, if this sync created it. */
  readonly bootstrappedAt?: number;
  readonly entries: number;
  /** The snapshot id of the state reached. */
  readonly snapshot: string | undefined;
  readonly bytes: number;
  readonly requests: number;
}

export interface IndexSyncOptions {
  /** Told the log size reached after each applied bundle. */
  readonly onProgress?: (progress: { size: number; toSize: number }) => void;
}

/** Meta keys the local index adds: where it syncs from. */
export const INDEX_ORIGIN_KEY = "index_origin";
export const INDEX_VERIFIER_KEY = "index_key";

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function entryAt(client: LogClient, index: number): Promise<Entry> {
  for await (const { first, entries } of client.entries(index, index + 1))
    if (first === index) return decodeEntry(entries[0]);
  throw new Error(`entry ${index} was not read`);
}

/**
 * Creates the index at `path` from the newest SQLite snapshot the log
 * names, or empty if it names none. Returns the log size it reflects.
 */
async function bootstrap(client: LogClient, path: string, size: number): Promise<number> {
  await mkdir(dirname(path), { recursive: true });
  const last = size > 0 ? await entryAt(client, size - 1) : undefined;
  const databaseIndex = last?.kind === "snapshot" ? last.database : undefined;
  if (databaseIndex === undefined) {
    RegistryState.open(path, { ecosystems: ECOSYSTEMS }).close();
    return 0;
  }
  const database = (await entryAt(client, databaseIndex)) as DatabaseEntry;
  if (database.kind !== "database")
    throw new Error(`entry ${databaseIndex} is a ${database.kind} entry, not a database entry`);
  const snapshot = (await entryAt(client, database.size - 1)) as SnapshotEntry;
  if (snapshot.kind !== "snapshot")
    throw new Error(`the database reflects log size ${database.size}, which no snapshot ends`);
  // The newest popularity entry the database's snapshot names: what peers share by.
  const popularity =
    snapshot.popularity === undefined ? undefined : await entryAt(client, snapshot.popularity);
  if (popularity !== undefined && popularity.kind !== "popularity")
    throw new Error(`entry ${snapshot.popularity} is a ${popularity.kind} entry, not popularity`);
  const registryKeys =
    snapshot.keys === undefined ? undefined : await entryAt(client, snapshot.keys);
  if (registryKeys !== undefined && registryKeys.kind !== "registry-keys")
    throw new Error(`entry ${snapshot.keys} is a ${registryKeys.kind} entry, not registry-keys`);
  // Downloaded and unpacked file to file: a registry's snapshot is gigabytes.
  const tmp = join(dirname(path), `.index-${randomBytes(6).toString("hex")}`);
  try {
    await client.blobToFile(database.blob, `${tmp}.zst`);
    await decompressDatabaseFile(`${tmp}.zst`, `${tmp}.sqlite`, database.rawSize);
  } finally {
    await rm(`${tmp}.zst`, { force: true });
  }
  adoptDatabaseFile(
    `${tmp}.sqlite`,
    ECOSYSTEMS,
    database.size,
    snapshot,
    popularity,
    registryKeys,
  ).close();
  await rename(`${tmp}.sqlite`, path);
  return database.size;
}

/** Brings the index at `path` up to the log's newest verified checkpoint. */
export async function syncIndex(
  client: LogClient,
  path: string,
  options: IndexSyncOptions = {},
): Promise<IndexSyncReport> {
  const before = client.pool.traffic();
  const checkpoint = await client.refresh();
  const toSize = checkpoint.size;
  let bootstrappedAt: number | undefined;
  if (!(await exists(path))) {
    try {
      bootstrappedAt = await bootstrap(client, path, toSize);
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
  }
  const state = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
  const fromSize = state.logSize;
  let snapshot: string | undefined;
  try {
    startHistory(state);
    if (fromSize > toSize)
      throw new Error(`the index is at log size ${fromSize}, beyond the checkpoint's ${toSize}`);
    for await (const { first, entries } of client.entries(fromSize, toSize)) {
      const decoded = decodeLogEntries(first, entries);
      state.apply(first, decoded, recordHistory(state, first, decoded));
      options.onProgress?.({ size: first + entries.length, toSize });
    }
    snapshot = state.snapshot?.id;
  } finally {
    state.close();
  }
  const after = client.pool.traffic();
  return {
    fromSize,
    toSize,
    ...(bootstrappedAt !== undefined ? { bootstrappedAt } : {}),
    entries: toSize - fromSize,
    snapshot,
    bytes: after.bytes - before.bytes,
    requests: after.requests - before.requests,
  };
}
