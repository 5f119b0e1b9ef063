/** A log written as the origin writes it, in memory: each batch closed by the snapshot entry of its state. */
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import type { Entry, PackageEntry, SnapshotEntry } from "../../src/registry/entries.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { type BuiltSnapshot, snapshotEntry } from "../../src/registry/state-batch.ts";

const TIME = "2026-11-30T06:00:00.000Z";

export class SnapshotLog {
  readonly entries: Entry[] = [];
  state: RegistryState;
  last: BuiltSnapshot | undefined;

  readonly path: string;

  constructor(path = ":memory:") {
    this.path = path;
    this.state = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
  }

  reopen(): void {
    this.state.close();
    this.state = RegistryState.open(this.path, { ecosystems: ECOSYSTEMS });
  }

  append(batchEntries: readonly Entry[], shards: number): SnapshotEntry {
    const batch = this.state.begin(this.entries.length);
    for (const entry of batchEntries) batch.add(entry);
    this.last = batch.snapshot(shards);
    const snapshot = snapshotEntry(this.last, batch.size, { time: TIME });
    batch.add(snapshot);
    batch.commit();
    this.entries.push(...batchEntries, snapshot);
    return snapshot;
  }
}

/** A yank (or unyank) of a crate version by alice. */
export function crateYank(name: string, version: string, yanked = true): PackageEntry {
  return {
    v: 1,
    kind: "yank",
    ecosystem: "cargo",
    name,
    version,
    yanked,
    time: TIME,
    actor: "alice",
  };
}

/** A takedown of a crate version by alice. */
export function crateTakedown(name: string, version: string): PackageEntry {
  return { v: 1, kind: "unpublish", ecosystem: "cargo", name, version, time: TIME, actor: "alice" };
}
