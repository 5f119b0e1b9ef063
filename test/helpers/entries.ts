/** Log entries in tests: read back from a static tree, or made up for the derived state. */
import { createHash } from "node:crypto";
import {
  bundlePath,
  DirectorySource,
  MAX_BUNDLE_BYTES,
  MAX_CHECKPOINT_BYTES,
  type NoteVerifier,
  openCheckpoint,
  parseBundle,
  TILE_WIDTH,
} from "../../src/log/index.ts";
import {
  type ArtifactEntry,
  decodeEntry,
  type Entry,
  type ImportEntry,
  isPackageEntry,
  type PackageEntry,
  type PublishEntry,
  uplinkActor,
} from "../../src/registry/entries.ts";

/** Every entry under the tree's signed checkpoint. */
export async function treeEntries(treeDir: string, verifier: NoteVerifier): Promise<Entry[]> {
  const source = new DirectorySource(treeDir);
  const note = await source.read("checkpoint", MAX_CHECKPOINT_BYTES);
  const { size } = openCheckpoint(note, [verifier], verifier.name);
  const entries: Entry[] = [];
  for (let bundle = 0; bundle * TILE_WIDTH < size; bundle++) {
    const width = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH);
    const bytes = await source.read(bundlePath(bundle, width), MAX_BUNDLE_BYTES);
    entries.push(...parseBundle(bytes, width).map(decodeEntry));
  }
  return entries;
}

/**
 * The tree's changes to packages: the log without its registry entries
 * (snapshot, database, keys) and without the origin's own registry
 * signatures, which follow every version it binds.
 */
export async function packageEntries(
  treeDir: string,
  verifier: NoteVerifier,
): Promise<PackageEntry[]> {
  return (await treeEntries(treeDir, verifier)).filter(
    (e): e is PackageEntry => isPackageEntry(e) && e.kind !== "signature",
  );
}

/** A publish entry with made-up blob hashes, for tests of the derived state. */
export function publishEntry(
  name: string,
  version: string,
  options: {
    actor?: string;
    tag?: string;
    time?: string;
    resolution?: PublishEntry["resolution"];
  } = {},
): PublishEntry {
  const fake = (what: string) =>
    createHash("sha256").update(`${what} ${name}@${version}`).digest("hex");
  return {
    v: 1,
    kind: "publish",
    ecosystem: "npm",
    name,
    version,
    time: options.time ?? "2026-11-21T06:00:00.000Z",
    actor: options.actor ?? "alice",
    ...(options.tag ? { tag: options.tag } : {}),
    artifact: {
      sha256: fake("tarball"),
      sha512: `${"A".repeat(86)}==`,
      sha1: "b".repeat(40),
      size: 1,
    },
    manifest: { sha256: fake("manifest"), size: 1 },
    resolution: options.resolution ?? {},
  };
}

/** An import entry from uplink `npm` with made-up hashes, for tests of the derived state. */
export function importEntry(
  name: string,
  version: string,
  options: { published?: string; sha512?: string; sha1?: string } = {},
): ImportEntry {
  const fake = (what: string) =>
    createHash("sha256").update(`${what} ${name}@${version}`).digest("hex");
  const sha512 = options.sha512 ?? `${"A".repeat(86)}==`;
  return {
    v: 1,
    kind: "import",
    ecosystem: "npm",
    name,
    version,
    time: "2026-11-21T06:00:00.000Z",
    actor: uplinkActor("npm"),
    uplink: "npm",
    ...(options.published ? { published: options.published } : {}),
    integrity: { sha512, ...(options.sha1 ? { sha1: options.sha1 } : {}) },
    manifest: { sha256: fake("manifest"), size: 1 },
    resolution: {},
  };
}

/** The artifact entry binding an imported version's tarball (hashes as `importEntry` made them). */
export function artifactEntry(
  name: string,
  version: string,
  options: { sha512?: string; sha1?: string } = {},
): ArtifactEntry {
  return {
    v: 1,
    kind: "artifact",
    ecosystem: "npm",
    name,
    version,
    time: "2026-11-21T06:00:01.000Z",
    actor: uplinkActor("npm"),
    artifact: {
      sha256: createHash("sha256").update(`tarball ${name}@${version}`).digest("hex"),
      sha512: options.sha512 ?? `${"A".repeat(86)}==`,
      sha1: options.sha1 ?? "b".repeat(40),
      size: 1,
    },
  };
}
