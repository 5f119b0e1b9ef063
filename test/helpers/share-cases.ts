/**
 * A registry with one package for each case of the share policy, a policy
 * over it, and an install store holding some of its versions.
 */
import assert from "node:assert/strict";
import { PackageStore } from "../../src/install/store.ts";
import { loadPopularity, SharePolicy } from "../../src/peer/policy.ts";
import type { BlobRef } from "../../src/registry/entries.ts";
import { startTestOrigin, type TestOrigin } from "./origin.ts";

/** An origin whose state has each case, and a popularity entry counting three downloads of some. */
export async function registryOfCases(): Promise<TestOrigin> {
  const origin = await startTestOrigin({
    settings: { popularityInterval: 3600, popularityThreshold: 3 },
  });
  await origin.publish("plain", "1.0.0");
  await origin.publish("plain", "1.1.0");
  await origin.publish("hot", "1.0.0");
  await origin.publish("hot", "2.0.0");
  await origin.publish("secret", "1.0.0", { cairn: { share: false } });
  await origin.publish("secret", "1.1.0");
  await origin.publish("gone", "1.0.0");
  await origin.publish("gone", "1.1.0");
  for (const [name, version] of [
    ["hot", "1.0.0"],
    ["secret", "1.0.0"],
    ["gone", "1.1.0"],
  ]) {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(new URL(`${name}/-/${name}-${version}.tgz`, origin.url));
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
  }
  await origin.registry.change("alice", "npm", "gone", [{ kind: "unpublish", version: "1.1.0" }]);
  assert.ok(await origin.publishPopularity());
  return origin;
}

export async function policyOf(origin: TestOrigin, threshold?: number): Promise<SharePolicy> {
  const state = origin.registry.state;
  const newest = state.popularity;
  assert.ok(newest);
  const blob = async (ref: BlobRef) => {
    const bytes = await origin.registry.blobs.get(ref.sha256);
    assert.ok(bytes);
    return bytes;
  };
  return new SharePolicy({
    document: (name) => state.table("npm").document(name),
    popularity: await loadPopularity(newest.entry, blob),
    ...(threshold !== undefined ? { threshold } : {}),
  });
}

/** What a test checks of a stored version: the blob of its file index and of its package.json. */
export interface StoredVersion {
  readonly index: string;
  readonly packageJson: string;
}

/** Adds the logged tarballs of `specs` (`name@version`) to a store in `dir`. */
export async function storeOfCases(
  origin: TestOrigin,
  dir: string,
  specs: readonly string[],
): Promise<{ store: PackageStore; held: Map<string, StoredVersion> }> {
  const store = await PackageStore.open(dir);
  const state = origin.registry.state;
  const held = new Map<string, StoredVersion>();
  for (const spec of specs) {
    const [name, version] = spec.split("@");
    const entry = state.table("npm").version(name, version)?.entry;
    assert.ok(entry?.artifact && entry.files);
    const tgz = await origin.registry.blobs.get(entry.artifact.sha256);
    assert.ok(tgz);
    const index = await store.addTarball(tgz, {
      integrity: `sha512-${entry.artifact.sha512}`,
      name,
      version,
    });
    held.set(spec, {
      index: entry.files.sha256,
      packageJson: index.files.get("package.json")?.sha256 ?? "",
    });
  }
  return { store, held };
}
