/** Hand-made cargo log entries, for folding a state without an origin. */
import { createHash } from "node:crypto";
import type { PublishEntry } from "../../src/registry/entries.ts";

/** A SHA-256 made up from a label, for artifacts and manifests no test downloads. */
export const madeUpHash = (what: string) => createHash("sha256").update(what).digest("hex");

/** One normal dependency on the same registry, as an index line lists it. */
export function crateDependency(name: string, req: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    req,
    features: [],
    optional: false,
    default_features: true,
    target: null,
    kind: "normal",
    ...extra,
  };
}

/** A publish of `name@version` by alice depending on serde ^1.0 (with `derive`), `extra` on top. */
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
    artifact: { sha256: madeUpHash(`crate ${name}@${version}`), size: 10 },
    manifest: { sha256: madeUpHash(`meta ${name}@${version}`), size: 10 },
    resolution: {
      deps: [crateDependency("serde", "^1.0", { features: ["derive"] })],
      features: {},
    },
    ...extra,
  };
}
