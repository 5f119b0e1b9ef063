/**
 * cargo's rules as the registry core applies them (src/registry/ecosystem.ts):
 * a crate's key is its crates.io canonical name (lowercase, `-` as `_`), so
 * `Foo-Bar` and `foo_bar` are one crate under its first spelling; versions
 * are semver 2.0.0 with build metadata; a `.crate` is named by its SHA-256
 * alone (cargo's `cksum`); a resolution is exactly a version's index-line
 * dependencies and features, in canonical form. Versions are yanked, never
 * deprecated or tagged.
 */
import type { Ecosystem, PackageEntryKind } from "../../registry/ecosystem.ts";
import { type EntryCheck, EntryError, type PackageEntry } from "../../registry/entries.ts";
import { currentVersion } from "./current.ts";
import { CargoError } from "./errors.ts";
import { indexFile } from "./index-file.ts";
import { checkResolution } from "./index-line.ts";
import { indexPath } from "./index-path.ts";
import { checkCrateName, keyName } from "./name.ts";
import { isVersion } from "./version.ts";

/** The entries' `ecosystem`, and the table the state keeps crates in. */
export const CARGO = "cargo";

const KINDS: ReadonlySet<PackageEntryKind> = new Set([
  "publish",
  "yank",
  "owner",
  "unpublish",
  "takedown",
  "restore",
]);

function check(entry: PackageEntry, mode: EntryCheck): void {
  checkCrateName(entry.name);
  if ("version" in entry && typeof entry.version === "string" && !isVersion(entry.version))
    throw new CargoError("bad-version", `${JSON.stringify(entry.version)} is not a semver version`);
  if (entry.kind !== "publish") return;
  const { sha1, sha512 } = entry.artifact;
  if (sha1 !== undefined || sha512 !== undefined)
    throw new CargoError("bad-metadata", "a .crate is named by its SHA-256 alone");
  if (entry.tag !== undefined) throw new CargoError("bad-metadata", "cargo has no dist-tags");
  // A logged resolution was canonical when appended; reading only bounds its depth (the envelope's).
  if (mode === "append") checkResolution(entry.resolution);
}

export const cargo: Ecosystem = {
  id: CARGO,
  keyName,
  kinds: KINDS,
  checkEntry(entry, mode) {
    try {
      check(entry, mode);
    } catch (error) {
      if (error instanceof CargoError) throw new EntryError("bad-field", error.message);
      throw error;
    }
  },
  current: currentVersion,
  afterVersionRemoved() {},
  artifactMatches: () => false,
  *dependencyNames(resolution) {
    const deps = (resolution as { deps?: readonly Record<string, unknown>[] }).deps ?? [];
    for (const dep of deps) {
      if (dep.registry !== undefined || dep.kind === "dev") continue;
      const name = typeof dep.package === "string" ? dep.package : dep.name;
      if (typeof name === "string") yield keyName(name);
    }
  },
  nativeIndex: { indexFile, indexPath },
};
