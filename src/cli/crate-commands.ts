/**
 * What `cairn show` and `cairn resolve` print for crates (`--ecosystem
 * cargo`): a version's index-line data, and a resolution in Cargo.lock's
 * shape, each from the local index alone.
 */
import { readFile } from "node:fs/promises";
import {
  type LockedCrate,
  lockedOf,
  resolveRoot,
  rootOfRequests,
  showCrate,
} from "../cargo/index-queries.ts";
import { currentVersion } from "../cargo/rules/current.ts";
import { type CrateResolution, indexLine } from "../cargo/rules/index-line.ts";
import { parseRootManifest } from "../cargo/rules/manifest.ts";
import type { RegistryState } from "../registry/state.ts";
import { printJson } from "./output.ts";

/** `cairn show -e cargo name[@req]`. */
export function showCrateCommand(
  state: RegistryState,
  request: string,
  flags: { json?: boolean },
): void {
  const at = request.indexOf("@");
  const { document, version, detail } = showCrate(
    state,
    at < 0 ? request : request.slice(0, at),
    at < 0 ? undefined : request.slice(at + 1),
  );
  const artifact = "artifact" in detail ? detail.artifact : undefined;
  const resolution = detail.resolution as unknown as CrateResolution;
  // The line the sparse index serves for it (or served, before a takedown).
  const line =
    artifact &&
    (JSON.parse(
      indexLine(document.name, version, resolution, artifact.sha256, detail.yanked !== undefined),
    ) as Record<string, unknown>);
  const shown = {
    name: document.name,
    version,
    description: detail.description,
    keywords: detail.keywords,
    published: detail.time,
    publisher: detail.actor,
    logIndex: detail.index,
    ...(artifact ? { crate: { sha256: artifact.sha256, size: artifact.size } } : {}),
    manifest: detail.manifest,
    ...(detail.yanked !== undefined ? { yanked: detail.yanked } : {}),
    ...(detail.unpublished !== undefined ? { unpublished: detail.unpublished } : {}),
    current: currentVersion(document),
    owners: document.owners,
    index: line,
  };
  if (flags.json) {
    printJson(shown);
    return;
  }
  const lines = [
    `${document.name}@${version}${detail.description ? `: ${detail.description}` : ""}`,
  ];
  if (detail.yanked !== undefined) lines.push(`YANKED on ${detail.yanked}`);
  if (detail.unpublished !== undefined) lines.push(`TAKEN DOWN on ${detail.unpublished}`);
  lines.push(`published ${detail.time} by ${detail.actor}, log entry ${detail.index}`);
  if (artifact) lines.push(`cksum ${artifact.sha256} (${artifact.size} bytes)`);
  lines.push(`current ${shown.current ?? "-"}`, `owners ${document.owners.join(", ")}`);
  if (resolution.links !== undefined) lines.push(`links ${resolution.links}`);
  if (resolution.rust_version !== undefined) lines.push(`rust-version ${resolution.rust_version}`);
  const features = { ...resolution.features, ...resolution.features2 };
  const names = Object.keys(features).sort();
  if (names.length > 0) lines.push("features:");
  for (const name of names) lines.push(`  ${name} = [${features[name].join(", ")}]`);
  if (resolution.deps.length > 0) lines.push("dependencies:");
  for (const dep of resolution.deps) {
    const marks = [
      dep.kind !== "normal" && dep.kind,
      dep.optional && "optional",
      !dep.default_features && "no default features",
      dep.features.length > 0 && `features ${dep.features.join(", ")}`,
      dep.target !== null && `target ${dep.target}`,
      dep.package !== undefined && `package ${dep.package}`,
      dep.registry !== undefined && `registry ${dep.registry}`,
    ].filter(Boolean);
    lines.push(`  ${dep.name} ${dep.req}${marks.length > 0 ? ` (${marks.join("; ")})` : ""}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** Cargo.lock's `[[package]]` tables (without `source`: the index does not know the registry's URL). */
function lockfileText(packages: readonly LockedCrate[]): string {
  const versions = new Map<string, number>();
  for (const p of packages) versions.set(p.name, (versions.get(p.name) ?? 0) + 1);
  const blocks = packages.map((p) => {
    const lines = [
      "[[package]]",
      `name = ${JSON.stringify(p.name)}`,
      `version = ${JSON.stringify(p.version)}`,
    ];
    if (p.checksum !== undefined) lines.push(`checksum = ${JSON.stringify(p.checksum)}`);
    if (p.yanked) lines.push("# yanked: used because the Cargo.lock pins it");
    if (p.dependencies.length > 0) {
      lines.push("dependencies = [");
      // cargo names a dependency's version only when the graph holds more than one of its name.
      for (const d of p.dependencies)
        lines.push(
          ` ${JSON.stringify((versions.get(d.name) ?? 0) > 1 ? `${d.name} ${d.version}` : d.name)},`,
        );
      lines.push("]");
    }
    return lines.join("\n");
  });
  return `${blocks.join("\n\n")}\n`;
}

/** `cairn resolve -e cargo`: a Cargo.toml's or `name@req` arguments' resolution. */
export async function resolveCratesCommand(
  state: RegistryState,
  requests: readonly string[],
  flags: { cargoToml?: string; cargoLock?: string; json?: boolean },
): Promise<void> {
  if (flags.cargoToml !== undefined && requests.length > 0)
    throw new Error("give either --cargo-toml or name@req arguments, not both");
  if (flags.cargoToml === undefined && requests.length === 0)
    throw new Error("nothing to resolve: give name@req arguments or --cargo-toml");
  const root =
    flags.cargoToml !== undefined
      ? parseRootManifest(await readFile(flags.cargoToml, "utf8"))
      : rootOfRequests(requests);
  const locked =
    flags.cargoLock !== undefined ? lockedOf(await readFile(flags.cargoLock, "utf8")) : [];
  const packages = resolveRoot(state, root, locked);
  if (flags.json) {
    printJson({ root: { name: root.name, version: root.version }, packages });
    return;
  }
  process.stdout.write(lockfileText(packages));
  process.stderr.write(`${packages.length} packages\n`);
}
