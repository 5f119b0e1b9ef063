/** Registry states in tests. */
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { npm } from "../../src/npm/rules/ecosystem.ts";
import type { Ecosystems } from "../../src/registry/ecosystem.ts";
import type { SnapshotEntry } from "../../src/registry/entries.ts";
import { RegistryState } from "../../src/registry/state.ts";
import { snapshotEntry } from "../../src/registry/state-batch.ts";
import { publishEntry } from "./entries.ts";

/**
 * The registry's ecosystems and "toy": npm's rules under another id, so a
 * test can put the same names in two ecosystems with the entries it has.
 */
export const WITH_TOY: Ecosystems = new Map([...ECOSYSTEMS, ["toy", { ...npm, id: "toy" }]]);

/** A state of three packages ending in an honest snapshot entry, and that entry. */
export function buildState(path: string): { state: RegistryState; snapshot: SnapshotEntry } {
  const state = RegistryState.open(path, { ecosystems: ECOSYSTEMS });
  const batch = state.begin(0);
  for (const e of [
    publishEntry("a", "1.0.0", { tag: "latest" }),
    publishEntry("a", "1.1.0", { tag: "latest" }),
    publishEntry("@s/b", "2.0.0", { tag: "latest", resolution: { dependencies: { a: "^1" } } }),
    publishEntry("c", "0.1.0", { tag: "latest" }),
  ])
    batch.add(e);
  const built = batch.snapshot(2);
  const snapshot = snapshotEntry(built, 4);
  batch.add(snapshot);
  batch.commit();
  return { state, snapshot };
}
