/** cargo log entries with made-up blob hashes, for tests of the derived state. */
import { createHash } from "node:crypto";
import type { PackageEntry, PublishEntry } from "../../src/registry/entries.ts";

const hex = (what: string) => createHash("sha256").update(what).digest("hex");

/** A crate publish depending on serde ^1.0, with made-up `.crate` and metadata hashes. */
export function cratePublish(
  name: string,
  version: string,
  extra: Partial<PublishEntry> = {},
): PublishEntry {
  return {
    v: 1,
    kind: "publish",
    ecosystem: "cargo",
    name,
    version,
    time: "2026-11-30T06:00:00.000Z",
    actor: "alice",
    artifact: { sha256: hex(`crate ${name}@${version}`), size: 10 },
    manifest: { sha256: hex(`meta ${name}@${version}`), size: 10 },
    resolution: {
      deps: [
        {
          name: "serde",
          req: "^1.0",
          features: ["derive"],
          optional: false,
          default_features: true,
          target: null,
          kind: "normal",
        },
      ],
      features: {},
    },
    ...extra,
  };
}

/** A yank (or unyank) of a crate version. */
export function crateYank(name: string, version: string, yanked = true): PackageEntry {
  return {
    v: 1,
    kind: "yank",
    ecosystem: "cargo",
    name,
    version,
    yanked,
    time: "2026-11-30T06:00:00.000Z",
    actor: "alice",
  };
}
