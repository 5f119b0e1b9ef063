/**
 * npm changes a package by sending its whole packument back, edited: `npm
 * deprecate` sets `versions[v].deprecated`, `npm unpublish pkg@v` drops a
 * version, `npm owner add|rm` edits `maintainers`. This turns such a body
 * into the explicit changes it asks for, against the current state; other
 * edits are ignored, as the registry's own fields are derived from the log.
 *
 * Such a body says what is absent only relative to the copy it was edited
 * from, so it must echo that copy's `_rev` (in the body or, as `npm owner`
 * does, in the URL); any other revision is refused with 409, as CouchDB and
 * npm's registry do, before absence is read as an unpublish. npm does not
 * retry a 409 itself: it fails, and running the command again re-reads.
 */
import type { PackageChange } from "../origin/registry.ts";
import { HttpError } from "./http-common.ts";
import { type PackageView, packumentRevision } from "./packument.ts";

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

/**
 * Throws "stale-revision" unless the revision the client sent (`urlRev`
 * from `/-rev/<rev>`, else the body's `_rev`) is the package's current one.
 */
export function checkRevision(view: PackageView, urlRev: string | undefined, body: unknown): void {
  const bodyRev = isObject(body) && typeof body._rev === "string" ? body._rev : undefined;
  if (urlRev !== undefined && bodyRev !== undefined && urlRev !== bodyRev)
    throw new HttpError("bad-request", `the URL names revision ${urlRev}, the body ${bodyRev}`);
  const sent = urlRev ?? bodyRev;
  const current = packumentRevision(view);
  if (sent === undefined)
    throw new HttpError(
      "stale-revision",
      `a change to ${view.pkg.name} must carry the _rev of the packument it edits (now ${current})`,
    );
  if (sent !== current)
    throw new HttpError(
      "stale-revision",
      `${view.pkg.name} changed since revision ${sent} was read (now ${current}): fetch it and try again`,
    );
}
