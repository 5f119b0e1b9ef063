/**
 * npm changes a package by sending its whole packument back, edited: `npm
 * deprecate` sets `versions[v].deprecated`, `npm unpublish pkg@v` drops a
 * version, `npm owner add|rm` edits `maintainers`. This turns such a body
 * into the explicit changes it asks for, against the current state; other
 * edits are ignored, as the registry's own fields are derived from the log.
 */
import type { PackageChange } from "../origin/registry.ts";
import type { PackageView } from "./packument.ts";

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function packageChanges(view: PackageView, body: unknown): PackageChange[] {
  if (!isObject(body)) return [];
  const changes: PackageChange[] = [];
  if (isObject(body.versions)) {
    const sent = body.versions;
    for (const row of view.versions) {
      if (row.unpublished !== null) continue;
      const version = sent[row.version];
      if (version === undefined) {
        changes.push({ kind: "unpublish", version: row.version });
        continue;
      }
      if (!isObject(version)) continue;
      const wanted = typeof version.deprecated === "string" ? version.deprecated : "";
      if (wanted !== (row.deprecated ?? ""))
        changes.push({ kind: "deprecate", version: row.version, message: wanted });
    }
  }
  if (Array.isArray(body.maintainers)) {
    const wanted = new Set(
      body.maintainers.flatMap((m) => (isObject(m) && typeof m.name === "string" ? [m.name] : [])),
    );
    for (const user of wanted)
      if (!view.owners.includes(user)) changes.push({ kind: "owner", user, action: "add" });
    for (const user of view.owners)
      if (!wanted.has(user)) changes.push({ kind: "owner", user, action: "rm" });
  }
  return changes;
}
